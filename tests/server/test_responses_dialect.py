"""Invariant: a Responses API upstream (``api = "responses"``) serves Anthropic clients faithfully,
streamed or not, as judged by the official anthropic SDK. The upstream replays real recorded
OpenAI Responses traffic (tests/fixtures/recorded/openai-responses/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest
from aiohttp import web

from .conftest import message_body, sse_events

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "openai-responses"
CAPITAL_TOOL = {
    "name": "get_capital",
    "description": "capital of a country",
    "input_schema": {
        "type": "object",
        "properties": {"country": {"type": "string"}},
        "required": ["country"],
    },
}


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


def payloads(sse: bytes) -> list[dict[str, Any]]:
    """The data payloads of a recorded SSE body, parsed independently of anthroxy's decoder."""
    return [json.loads(line[5:]) for line in sse.decode().splitlines() if line.startswith("data:")]


def sdk(client: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="client-key", max_retries=0
    )


def replay(body: bytes, content_type: str = "text/event-stream", status: int = 200) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type=content_type)

    return handler


async def test_recorded_function_call_stream_through_sdk(upstream, make_gateway) -> None:
    upstream.handler = replay(recorded("stream_function_call.sse"))
    api = sdk(await make_gateway())
    async with api.messages.stream(
        model="resp",
        max_tokens=200,
        tools=[CAPITAL_TOOL],
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    ) as stream:
        message = await stream.get_final_message()
    (tool,) = message.content
    assert tool.type == "tool_use" and tool.name == "get_capital"
    assert tool.input == {"country": "France"}  # the five argument deltas, joined exactly
    assert message.stop_reason == "tool_use"
    assert message.model == "resp"  # the name the client asked for
    assert (message.usage.input_tokens, message.usage.output_tokens) == (255, 16)
    seen = upstream.seen[0]
    assert seen.path == "/v1/responses"
    assert seen.headers["Authorization"] == "Bearer " + "x" * 12
    assert seen.body["model"] == "gpt-5" and seen.body["stream"] is True
    assert seen.body["tools"][0]["name"] == "get_capital"
    assert seen.body["tools"][0]["strict"] is False  # arbitrary schemas need non-strict tools


async def test_recorded_completed_response_as_json(upstream, make_gateway) -> None:
    """Non-streaming: the recorded ``response.completed`` object served as a JSON reply."""
    completed = next(
        p for p in payloads(recorded("stream_function_call.sse"))
        if p["type"] == "response.completed"
    )  # fmt: skip
    upstream.handler = replay(json.dumps(completed["response"]).encode(), "application/json")
    api = sdk(await make_gateway())
    message = await api.messages.create(
        model="resp",
        max_tokens=200,
        tools=[CAPITAL_TOOL],
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    (tool,) = message.content
    assert tool.input == {"country": "France"} and message.stop_reason == "tool_use"
    assert message.usage.input_tokens == 255
    assert "stream" not in upstream.seen[0].body


async def test_recorded_reasoning_summary_becomes_signed_thinking(upstream, make_gateway) -> None:
    raw = recorded("stream_reasoning_summary_text.sse")
    events = payloads(raw)
    reasoning = next(
        p["item"] for p in events
        if p["type"] == "response.output_item.done" and p["item"]["type"] == "reasoning"
    )  # fmt: skip
    text = next(p["text"] for p in events if p["type"] == "response.output_text.done")
    upstream.handler = replay(raw)
    api = sdk(await make_gateway())
    async with api.messages.stream(
        model="resp",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 20000},
        messages=[{"role": "user", "content": "How do I cross the street?"}],
    ) as stream:
        message = await stream.get_final_message()
    thinking, answer = message.content
    assert thinking.type == "thinking"
    # Four summary parts, one thinking block, parts separated by a blank line.
    assert thinking.thinking == "\n\n".join(s["text"] for s in reasoning["summary"])
    assert thinking.signature  # carries the encrypted reasoning for the next request
    assert answer.type == "text" and answer.text == text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 1680
    body = upstream.seen[0].body
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}  # budget 20000 -> high
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]


async def test_recorded_in_stream_error_is_the_clients_error(upstream, make_gateway) -> None:
    # The recorded failure: response.created, then error and response.failed, in one body.
    # Nothing of it reached the client before the failure, so the client gets the failure
    # itself, as an HTTP error (a fallback chain would have tried its next target).
    lines = recorded("stream_error_then_failed.jsonl").decode().splitlines()
    body = b"".join(
        f"event: {json.loads(line)['type']}\ndata: {line}\n\n".encode() for line in lines if line
    )
    upstream.handler = replay(body)
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body("resp", stream=True))
    assert response.status == 402
    error = (await response.json())["error"]
    # insufficient_quota (docs/protocol/translation-rules.md §7.1)
    assert error["type"] == "billing_error"
    with pytest.raises(anthropic.APIStatusError):
        async with sdk(client).messages.stream(**message_body("resp")) as stream:
            await stream.get_final_message()


async def test_recorded_http_400_names_the_parameter(upstream, make_gateway) -> None:
    (exchange,) = json.loads(recorded("error_400_invalid_param.json"))
    upstream.handler = replay(json.dumps(exchange["response"]["body"]).encode(), status=400)
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body("resp"))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert "Invalid 'temperature'" in error["message"]


async def test_stream_cut_before_terminal_event_is_an_error(upstream, make_gateway) -> None:
    raw = recorded("stream_function_call.sse")
    cut = raw[: raw.index(b"event: response.completed")]
    upstream.handler = replay(cut)
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body("resp", stream=True))
    names = [name for name, _ in sse_events(await response.read())]
    assert names[-1] == "error" and "message_stop" not in names
