"""Invariant: a client's stream ends right after its last event (``message_stop`` or ``error``),
and the upstream connection is closed then, even when the upstream keeps it open without a word.

Each fake upstream below sends a stream that is over by its own dialect's rules, then stays
silent with the connection open. The client must get the whole stream at once (no pings after
the last event, no wait for the read timeout), and the upstream handler must see its client go.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from .conftest import message_body, sse_events

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "openai-responses"
# Far longer than the test waits: only the gateway can end these streams in time.
SILENCE = 60.0
PROMPTLY = 3.0


def silent_after(parts: tuple[bytes, ...]) -> Any:
    """An upstream that sends ``parts`` a moment apart (so the client already holds the first
    when the next comes), then keeps the connection open and says nothing."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for n, part in enumerate(parts):
            if n:
                await asyncio.sleep(0.2)
            await response.write(part)
        await asyncio.sleep(SILENCE)
        return response

    return handler


def responses_events(*kinds: str) -> bytes:
    """The recorded in-stream failure's events of the given types, as SSE."""
    lines = (RECORDED / "stream_error_then_failed.jsonl").read_text().splitlines()
    payloads = [json.loads(line) for line in lines if line]
    return b"".join(
        f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode()
        for p in payloads
        if p["type"] in kinds
    )


def chat_chunks(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)


def anthropic_events(*payloads: dict[str, Any]) -> bytes:
    return b"".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads)


FIRST_CHUNK = {
    "id": "c1",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}],
}
# OpenRouter's mid-stream failure: a top-level error next to a choice finished with "error".
OPENROUTER_ERROR = {
    "id": "c1",
    "error": {"code": "server_error", "message": "Provider disconnected"},
    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
}
MESSAGE_START = {
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
}
TEXT_BLOCK = [
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
]
MESSAGE_END = [
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 2},
    },
    {"type": "message_stop"},
]
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

CASES = [
    # (model, what the upstream sends before falling silent, the client's last event). A
    # failure comes after the client got the stream's first events: before them, the attempt
    # is not the client's answer yet (tests/server/test_fallback.py).
    pytest.param(
        "resp",
        ((RECORDED / "stream_function_call.sse").read_bytes(),),
        "message_stop",
        id="responses-completed",
    ),
    pytest.param(
        "resp",
        (responses_events("response.created"), responses_events("response.failed")),
        "error",
        id="responses-failed",
    ),
    pytest.param(
        "resp",
        (responses_events("response.created"), responses_events("error")),
        "error",
        id="responses-error",
    ),
    pytest.param(
        "chatty",
        (chat_chunks(FIRST_CHUNK), chat_chunks(OPENROUTER_ERROR)),
        "error",
        id="chat-error-chunk",
    ),
    pytest.param(
        "chatty",
        (
            chat_chunks(FIRST_CHUNK),
            chat_chunks({"error": {"code": 502, "message": "Provider returned error"}}),
        ),
        "error",
        id="chat-bare-error-chunk",
    ),
    pytest.param(
        "claude-sonnet-test",
        (anthropic_events(MESSAGE_START, *TEXT_BLOCK, *MESSAGE_END),),
        "message_stop",
        id="passthrough-message-stop",
    ),
    pytest.param(
        "claude-sonnet-test",
        (anthropic_events(MESSAGE_START, TEXT_BLOCK[0]), anthropic_events(OVERLOADED)),
        "error",
        id="passthrough-error",
    ),
]


@pytest.mark.parametrize(("model", "body", "last"), CASES)
async def test_the_stream_ends_with_its_last_event_and_closes_the_upstream(
    upstream, make_gateway, model: str, body: tuple[bytes, ...], last: str
) -> None:
    upstream.handler = silent_after(body)
    client = await make_gateway(ping_interval=0.1)
    response = await client.post("/v1/messages", json=message_body(model, stream=True))
    assert response.status == 200
    raw = await asyncio.wait_for(response.read(), PROMPTLY)
    names = [name for name, _ in sse_events(raw)]
    assert names[0] == "message_start"
    assert names[-1] == last  # nothing after it: no pings into a finished stream
    await asyncio.wait_for(upstream.client_gone.wait(), PROMPTLY)
