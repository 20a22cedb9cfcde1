"""The official ``anthropic`` SDK is the judge: its stream accumulator accepts every translated
stream of the golden cases, and the message it builds equals ``from_response`` of the equivalent
non-streaming completion.

The SDK talks to a tiny aiohttp app on 127.0.0.1 that replays the translated SSE bytes.
Fields that legitimately differ: none in content/stop/usage; ``model_dump`` adds SDK-only keys
whose value is None (``container``, ``stop_details``, ``citations``, ``caller``, …), which are
dropped before comparing.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from aiohttp import web

from anthroxy.chat.reply import from_response
from anthroxy.events import encode_all
from tests.core.chat_cases import GOLDEN, make_context, payloads, translate_events, upstream_chunks

CASES = sorted(p for p in (GOLDEN / "chat_stream").iterdir() if p.is_dir())
COMPLETE = [p for p in CASES if p.name not in ("inband_error", "eof_without_finish")]


def drop_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nones(v) for v in value]
    return value


def completion_from_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streaming body an upstream would have sent for the same answer.

    Rebuilt here from the Chat Completions rules (concatenate deltas per field, tool calls per
    index / per id), independently of anthroxy's stream code.
    """
    message: dict[str, Any] = {"role": "assistant", "content": "", "reasoning_content": ""}
    calls: list[dict[str, Any]] = []
    by_index: dict[Any, dict[str, Any]] = {}
    finish, usage, matched, details = None, None, None, []
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices", []):
            delta = choice.get("delta") or {}
            message["content"] += delta.get("content") or ""
            message["content"] += delta.get("refusal") or ""
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            message["reasoning_content"] += reasoning or "".join(
                d.get("text", "") for d in delta.get("reasoning_details") or []
            )
            details += delta.get("reasoning_details") or []
            for entry in delta.get("tool_calls") or []:
                key = entry.get("index", len(calls))
                known = by_index.get(key)
                if known is None or (entry.get("id") and entry["id"] != known["id"]):
                    known = {
                        "id": entry.get("id"),
                        "extra_content": entry.get("extra_content"),
                        "function": {"name": entry["function"].get("name"), "arguments": ""},
                    }
                    by_index[key] = known
                    calls.append(known)
                known["function"]["arguments"] += entry["function"].get("arguments") or ""
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
                matched = choice.get("stop_reason")
            if delta.get("refusal"):
                message["refusal"] = delta["refusal"]
                message["content"] = message["content"].replace(delta["refusal"], "")
    if details:
        message["reasoning_details"] = merge_details(details)
    if calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if v is not None} for c in calls]
    body: dict[str, Any] = {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if matched is not None:
        body["choices"][0]["stop_reason"] = matched
    if usage is not None:
        body["usage"] = usage
    return body


def merge_details(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenRouter's documented accumulation: one item per (type, index), texts concatenated."""
    merged: list[dict[str, Any]] = []
    for item in details:
        if merged and (merged[-1]["type"], merged[-1].get("index")) == (
            item["type"],
            item.get("index"),
        ):
            last = merged[-1]
            last["text"] = last.get("text", "") + item.get("text", "")
            for key, value in item.items():
                if key != "text" and value not in (None, ""):
                    last[key] = value
        else:
            merged.append(dict(item))
    return merged


async def sdk_final_message(aiohttp_server: Any, body: bytes) -> dict[str, Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(body)
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    server = await aiohttp_server(app)
    client = anthropic.AsyncAnthropic(
        base_url=str(server.make_url("")), api_key="test", max_retries=0
    )
    async with client.messages.stream(
        model="claude-x", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = await stream.get_final_message()
    await client.close()
    return drop_nones(final.model_dump())


@pytest.mark.parametrize("case_dir", COMPLETE, ids=lambda p: p.name)
async def test_sdk_final_message_equals_the_non_streaming_translation(
    aiohttp_server: Any, case_dir: Any
) -> None:
    spec = json.loads((case_dir / "context.json").read_text())
    ctx = make_context(spec)
    chunks, _ = upstream_chunks((case_dir / "upstream.sse").read_bytes())
    events = translate_events(ctx, chunks, spec["message_id"])
    final = await sdk_final_message(aiohttp_server, encode_all(events))
    expected = from_response(completion_from_chunks(chunks), ctx, message_id=spec["message_id"])
    assert final == drop_nones(expected)


@pytest.mark.parametrize("case_dir", [p for p in CASES if p not in COMPLETE], ids=lambda p: p.name)
async def test_sdk_raises_on_streams_that_end_in_an_error(
    aiohttp_server: Any, case_dir: Any
) -> None:
    spec = json.loads((case_dir / "context.json").read_text())
    chunks, _ = upstream_chunks((case_dir / "upstream.sse").read_bytes())
    events = translate_events(make_context(spec), chunks, spec["message_id"])
    with pytest.raises(anthropic.APIStatusError) as info:
        await sdk_final_message(aiohttp_server, encode_all(events))
    assert payloads(events)[-1]["error"]["message"] in str(info.value)
