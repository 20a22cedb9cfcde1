"""Fake Anthropic-compatible upstreams for tests/server/test_cleaners.py and
test_learned_fields.py: each refuses exactly what the real endpoint is shown to refuse, with its
real error text (the source next to each), and answers like it otherwise."""

from __future__ import annotations

import json
import re
from typing import Any

import anthropic
from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from .conftest import CHAT_KEY, SECRET_KEY, FakeUpstream

# DeepSeek signs a thinking block with the message id (hermes-agent pull 21048).
DEEPSEEK_SIGNATURE = "91cfbb94-554b-4136-8e21-fa02280d56ed"
TOOL = {"name": "Read", "description": "read", "input_schema": {"type": "object"}}


async def gateway(aiohttp_client: Any, url: str, **server: Any) -> Any:
    """The gateway with four providers on the fake: the catalogue's ``deepseek`` and
    ``anthropic`` (their own cleaners), and ``strict`` (Anthropic dialect) and ``strictchat``
    (Chat Completions), which the catalogue does not know."""
    raw = {
        "server": server,
        "providers": {
            "deepseek": {"base_url": url + "/deepseek", "api_key": SECRET_KEY},
            "anthropic": {
                "base_url": url + "/anthropic",
                "api_key": SECRET_KEY,
                "models": ["claude-opus-4-6"],
            },
            "strict": {"api": "anthropic", "base_url": url + "/strict", "api_key": SECRET_KEY},
            "strictchat": {"api": "chat", "base_url": url + "/v1", "api_key": CHAT_KEY},
        },
        "aliases": {
            "ds": "deepseek/deepseek-v4-pro",
            "claude": "anthropic/claude-opus-4-6",
            "strict": "strict/new-model",
            "strictchat": "strictchat/gpt-x",
        },
        "tiers": {"haiku": "deepseek/deepseek-v4-flash", "default": "deepseek/deepseek-v4-flash"},
    }
    client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))
    return client


def sdk(client: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="client-key", max_retries=0
    )


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def message_events(model: str, blocks: list[dict[str, Any]], stop: str) -> bytes:
    """A whole Anthropic stream for ``blocks`` (thinking with its signature, text, tool_use)."""
    start = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }  # fmt: skip
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(blocks):
        if block["type"] == "thinking":
            shell = {"type": "thinking", "thinking": ""}  # DeepSeek's start has no signature
            deltas = [
                {"type": "thinking_delta", "thinking": block["thinking"]},
                {"type": "signature_delta", "signature": block["signature"]},
            ]
        elif block["type"] == "text":
            shell, deltas = (
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": block["text"]}],
            )
        else:
            shell = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
        events.append({"type": "content_block_start", "index": index, "content_block": shell})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 5},
        }
    )
    events.append({"type": "message_stop"})
    return sse(*events)


async def stream_response(request: web.Request, body: bytes) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(body)
    return response


def thinking_on(body: dict[str, Any]) -> bool:
    return (body.get("thinking") or {}).get("type") != "disabled"


def deepseek_refusal(raw: bytes, body: dict[str, Any]) -> str | None:
    """What api.deepseek.com/anthropic answers 400 to, in its words (none of it is a field it
    names, so nothing here can be learned: the cleaner must know)."""
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "disabled" and "effort" in (body.get("output_config") or {}):
        # https://github.com/deepseek-ai/DeepSeek-V3/issues/1397
        return "thinking options type cannot be disabled when reasoning_effort is set"
    for index, message in enumerate(body["messages"]):
        if message["role"] not in ("user", "assistant"):
            # https://github.com/musistudio/claude-code-router/issues/881
            column = raw.index(b'"role":"system"') + 15
            return (
                "Failed to deserialize the JSON body into the target type: "
                f"messages[{index}].role: unknown variant `{message['role']}`, expected `user` "
                f"or `assistant` at line 1 column {column}"
            )
    user_id = (body.get("metadata") or {}).get("user_id")
    if user_id is not None and not re.fullmatch(r"[a-zA-Z0-9_-]+", user_id):
        # https://github.com/deepseek-ai/awesome-deepseek-agent/issues/67
        return (
            "Invalid 'user_id': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'."
        )
    for message in body["messages"]:
        content = message["content"] if isinstance(message["content"], list) else []
        types = [block.get("type") for block in content]
        lacks_thinking = "tool_use" in types and "thinking" not in types
        if message["role"] == "assistant" and lacks_thinking and thinking_on(body):
            # https://github.com/OEvortex/aether/issues/31
            return "The `content[].thinking` in the thinking mode must be passed back to the API."
    return None


def deepseek(upstream: FakeUpstream, blocks: list[dict[str, Any]] | None = None) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw)
        refusal = deepseek_refusal(raw, body)
        if refusal is not None:
            # DeepSeek's envelope: https://github.com/ding113/claude-code-hub/issues/1257
            error = {"message": refusal, "type": "invalid_request_error", "param": None}
            return web.json_response(
                {"error": {**error, "code": "invalid_request_error"}}, status=400
            )
        answer = blocks or [{"type": "text", "text": "Fix the flaky test"}]
        if thinking_on(body) and not blocks:
            thought = {"type": "thinking", "thinking": "plan", "signature": DEEPSEEK_SIGNATURE}
            answer = [thought, *answer]
        stop = "tool_use" if answer[-1]["type"] == "tool_use" else "end_turn"
        if body.get("stream"):
            return await stream_response(request, message_events(body["model"], answer, stop))
        return web.json_response(
            {
                "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                "content": answer, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            }
        )  # fmt: skip

    return handler
