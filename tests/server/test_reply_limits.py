"""Memory stays bounded whatever an upstream sends: a non-streamed reply past
``server.max_reply_bytes`` is a 502 naming the provider and the limit (never relayed), and a
streamed line that never ends stops at the SSE decoder's cap with an ``error`` event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from anthroxy import passthrough, sse

from .conftest import message_body, sse_events

LIMIT = 4096


async def _huge_json(request: web.Request) -> web.StreamResponse:
    """200 with a JSON body far over the limit, sent chunked (no Content-Length to trust)."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b'{"id":"msg_1","type":"message","content":[{"type":"text","text":"')
    for _ in range(64):
        await response.write(b"x" * 1024)
    await response.write(b'"}]}')
    await response.write_eof()
    return response


async def _huge_declared(request: web.Request) -> web.Response:
    return web.Response(body=b"{" + b" " * (LIMIT * 4) + b"}", content_type="application/json")


@pytest.mark.parametrize("handler", [_huge_json, _huge_declared])
@pytest.mark.parametrize("model", ["claude-sonnet-test", "chatty"])
async def test_a_reply_over_the_cap_is_a_502_naming_provider_and_limit(
    make_gateway: Any, upstream: Any, handler: Any, model: str
) -> None:
    upstream.handler = handler
    client = await make_gateway(max_reply_bytes=LIMIT)
    resp = await client.post("/v1/messages", json=message_body(model))
    body = await resp.json()
    assert resp.status == 502, body
    assert body["type"] == "error"
    message = body["error"]["message"]
    assert "max_reply_bytes" in message and str(LIMIT) in message
    assert ("'fake'" if model == "claude-sonnet-test" else "'fchat'") in message
    assert "xxxx" not in json.dumps(body)


async def test_a_reply_under_the_cap_is_relayed(make_gateway: Any, upstream: Any) -> None:
    reply = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "up-model",
        "content": [{"type": "text", "text": "y" * 1000}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1},
    }  # fmt: skip

    async def ok(request: web.Request) -> web.Response:
        return web.json_response(reply)

    upstream.handler = ok
    client = await make_gateway(max_reply_bytes=LIMIT)
    resp = await client.post("/v1/messages", json=message_body())
    assert resp.status == 200
    assert (await resp.json())["content"][0]["text"] == "y" * 1000


async def test_an_error_body_over_the_cap_is_not_read_whole(
    make_gateway: Any, upstream: Any
) -> None:
    async def huge_error(request: web.Request) -> web.Response:
        return web.Response(status=400, body=b"e" * (LIMIT * 8), content_type="text/plain")

    upstream.handler = huge_error
    client = await make_gateway(max_reply_bytes=LIMIT)
    resp = await client.post("/v1/messages", json=message_body())
    body = await resp.json()
    assert resp.status == 502 and "max_reply_bytes" in body["error"]["message"]


def test_max_reply_bytes_must_be_positive() -> None:
    from anthroxy_server.config import settings_from_config, structure_config
    from anthroxy_server.config.schema import ConfigError

    with pytest.raises(ConfigError, match=r"server\.max_reply_bytes: must be > 0"):
        settings_from_config(structure_config({"server": {"max_reply_bytes": 0}}), {})


@pytest.mark.parametrize("model", ["claude-sonnet-test", "chatty"])
async def test_a_streamed_line_without_end_stops_at_the_decoder_cap(
    make_gateway: Any, upstream: Any, monkeypatch: Any, model: str
) -> None:
    # The decoders' default cap (sse.MAX_EVENT_BYTES, 32 MiB) made small so the test is quick.
    monkeypatch.setattr(sse.SSEDecoder.__init__, "__defaults__", (LIMIT,))
    monkeypatch.setattr(passthrough.PassthroughStream.__init__, "__kwdefaults__", {
        "marks": None, "max_event_bytes": LIMIT,
    })  # fmt: skip

    async def endless_line(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: message_start\ndata: ")
        for _ in range(1000):  # 1 MB without a newline, unless the gateway hangs up first
            await response.write(b"z" * 1024)
        return response

    upstream.handler = endless_line
    client = await make_gateway()
    resp = await client.post("/v1/messages", json=message_body(model, stream=True))
    raw = await resp.read()
    assert b"zzzz" not in raw
    if resp.status == 200:  # the stream was open already (pings): the error is its last event
        name, error = sse_events(raw)[-1]
        assert name == "error", raw[:300]
    else:
        assert resp.status == 502, raw[:300]
        error = json.loads(raw)
    assert f"larger than {LIMIT} bytes" in error["error"]["message"]
