"""Invariant: the access line of a ``/v1/messages`` call reports the token usage the client saw,
streamed or not, in every dialect: input and output from the final usage of the reply (for an
Anthropic-native stream, ``message_delta``, with ``message_start`` for input when the delta has
none); ``-`` only when the reply never said."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.gateway.logs import ACCESS_LOGGER

from .conftest import fixture_bytes, message_body

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "openai-responses"


def replay(body: bytes, content_type: str = "text/event-stream") -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    return handler


def chunk(**fields: Any) -> bytes:
    payload = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-mini", **fields}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def anthropic_event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


START = anthropic_event(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    },
)
TEXT = anthropic_event(
    "content_block_start",
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
) + anthropic_event(
    "content_block_delta",
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
)
BLOCK_STOP = anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0})
STOP = anthropic_event("message_stop", {"type": "message_stop"})


def delta(usage: dict[str, int]) -> bytes:
    return anthropic_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": usage,
        },
    )


def access_line(caplog: pytest.LogCaptureFixture) -> tuple[str, dict[str, Any]]:
    (record,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    fields: dict[str, Any] = record.fields  # type: ignore[attr-defined]
    return record.getMessage(), fields


async def call(make_gateway: Any, caplog: Any, model: str, *, stream: bool) -> str:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body(model, stream=stream))
    assert response.status == 200
    return await response.text()


async def test_chat_stream_reports_the_upstream_usage(upstream, make_gateway, caplog) -> None:
    # prompt_tokens counts the cached ones, Anthropic's input_tokens does not: 40 - 32 = 8.
    upstream.handler = replay(
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}])
        + chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
        + chunk(
            choices=[],
            usage={
                "prompt_tokens": 40,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 32},
            },
        )
        + b"data: [DONE]\n\n"
    )
    body = await call(make_gateway, caplog, "chatty", stream=True)
    assert '"output_tokens":7' in body
    line, fields = access_line(caplog)
    assert line.endswith(" in=8 out=7")
    assert (fields["input_tokens"], fields["output_tokens"], fields["stream"]) == (8, 7, True)


async def test_responses_stream_reports_the_upstream_usage(upstream, make_gateway, caplog) -> None:
    # The recorded response.completed says input_tokens 255 (none cached), output_tokens 16.
    upstream.handler = replay((RECORDED / "stream_function_call.sse").read_bytes())
    await call(make_gateway, caplog, "resp", stream=True)
    line, _ = access_line(caplog)
    assert line.endswith(" in=255 out=16")


async def test_passthrough_stream_recorded(upstream, make_gateway, caplog) -> None:
    # A real Anthropic stream: message_delta carries input 20 and output 5.
    upstream.handler = replay(fixture_bytes("stream_text.sse"))
    await call(make_gateway, caplog, "claude-sonnet-test", stream=True)
    line, fields = access_line(caplog)
    assert line.endswith(" in=20 out=5")
    assert fields["stream"] is True


async def test_passthrough_input_from_message_start(upstream, make_gateway, caplog) -> None:
    # Compatible upstreams (DeepSeek, Kimi...) put only output_tokens in message_delta.
    upstream.handler = replay(START + TEXT + BLOCK_STOP + delta({"output_tokens": 12}) + STOP)
    await call(make_gateway, caplog, "claude-sonnet-test", stream=True)
    assert access_line(caplog)[0].endswith(" in=3 out=12")


async def test_passthrough_delta_input_wins(upstream, make_gateway, caplog) -> None:
    final = delta({"input_tokens": 30, "output_tokens": 4})
    # CRLF framing, and the final events split across the body in odd places.
    body = (START + TEXT + BLOCK_STOP + final + STOP).replace(b"\n", b"\r\n")

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for start in range(0, len(body), 37):
            await response.write(body[start : start + 37])
        return response

    upstream.handler = handler
    await call(make_gateway, caplog, "claude-sonnet-test", stream=True)
    assert access_line(caplog)[0].endswith(" in=30 out=4")


async def test_cut_passthrough_stream_has_no_output_count(upstream, make_gateway, caplog) -> None:
    upstream.handler = replay(START + TEXT)
    body = await call(make_gateway, caplog, "claude-sonnet-test", stream=True)
    assert "event: error" in body
    # The cut is the stream's outcome: the access line says so after the counts.
    assert access_line(caplog)[0].endswith(" in=3 out=- error=502 api_error")


async def test_json_reply_still_reports_usage(upstream, make_gateway, caplog) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up-model",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 6, "output_tokens": 2},
    }
    upstream.handler = replay(json.dumps(message).encode(), "application/json")
    await call(make_gateway, caplog, "claude-sonnet-test", stream=False)
    line, fields = access_line(caplog)
    assert line.endswith(" in=6 out=2")
    assert fields["stream"] is False
