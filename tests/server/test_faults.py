"""Invariant: every upstream or client fault reaches the client as an Anthropic error with the
status and type Claude Code reacts to correctly (docs/protocol/claude-code.md §5-§6), before or
during a stream."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from .conftest import CHAT_KEY, SECRET_KEY, free_port, message_body, sse_events

HTTP_FAULTS = [
    # (upstream status, body, headers) -> (status, type, text in message, extra headers)
    (
        401,
        b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
        {},
        (
            401,
            "authentication_error",
            "provider 'fake' refused the API key",
            {"x-should-retry": "false"},
        ),
    ),
    (403, b'{"error":{"message":"no access"}}', {}, (403, "permission_error", "'fake'", {})),
    (
        429,
        b'{"error":{"message":"Rate limit reached","type":"requests",'
        b'"code":"rate_limit_exceeded"}}',
        {"retry-after": "7"},
        (429, "rate_limit_error", "Rate limit reached", {"retry-after": "7"}),
    ),
    (500, b'{"error":{"message":"boom"}}', {}, (500, "api_error", "boom", {})),
    (503, b"Service Unavailable", {}, (529, "overloaded_error", "Service Unavailable", {})),
    (
        400,
        b'{"error":{"message":"This model\'s maximum context length is 128000 tokens. However, '
        b'your messages resulted in 130000 tokens.","type":"invalid_request_error",'
        b'"code":"context_length_exceeded"}}',
        {},
        (400, "invalid_request_error", "prompt is too long: 130000 tokens > 128000 maximum", {}),
    ),
    (
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
        {"content-type": "text/html"},
        (502, "api_error", "502 Bad Gateway", {}),
    ),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("status", "body", "headers", "expected"), HTTP_FAULTS)
async def test_upstream_http_errors_map(
    upstream, make_gateway, stream, status, body, headers, expected
) -> None:
    async def reply(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers=headers)

    upstream.handler = reply
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body(stream=stream))
    want_status, want_type, want_text, want_headers = expected
    assert response.status == want_status  # not a 200 stream: the upstream failed first
    payload = await response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == want_type
    assert want_text in payload["error"]["message"]
    assert response.headers["request-id"].startswith("req_")
    for name, value in want_headers.items():
        assert response.headers[name] == value


async def test_connection_refused_names_provider_and_url(make_gateway) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    client = await make_gateway(base_url=dead)
    response = await client.post("/v1/messages", json=message_body(stream=True))
    # Nothing listens there: final at once, so Claude Code shows it instead of retrying.
    assert response.status == 503 and response.headers["x-should-retry"] == "false"
    error = (await response.json())["error"]
    assert error["type"] == "api_error"
    assert "'fake'" in error["message"] and dead in error["message"]


async def test_stall_mid_stream_pings_then_errors_leaving_block_open(
    upstream, make_gateway
) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(START + BLOCK_START)
        await asyncio.sleep(30)
        return response

    upstream.handler = reply
    client = await make_gateway(ping_interval=0.1, read_timeout=0.5)
    response = await client.post("/v1/messages", json=message_body(stream=True))
    assert response.status == 200
    events = sse_events(await asyncio.wait_for(response.read(), 10))
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "content_block_start"]
    assert "ping" in names
    assert names[-1] == "error"
    assert events[-1][1]["error"]["type"] == "timeout_error"
    assert "content_block_stop" not in names  # Claude Code retries an open block


async def test_stream_cut_mid_block_ends_with_error_event(upstream, make_gateway) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(START + BLOCK_START + b'event: content_block_delta\ndata: {"ty')
        await asyncio.sleep(0.1)
        request.transport.close()  # the upstream dies mid-event
        return response

    upstream.handler = reply
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body(stream=True))
    raw = await response.read()
    events = sse_events(raw)
    assert [n for n, _ in events] == ["message_start", "content_block_start", "error"]
    assert b"content_block_delta" not in raw  # the half event never reaches the client


async def test_slow_first_byte_pings_before_headers_then_streams(upstream, make_gateway) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.5)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(START + BLOCK_START + BLOCK_END + STOP)
        return response

    upstream.handler = reply
    client = await make_gateway(ping_interval=0.1)
    response = await client.post("/v1/messages", json=message_body(stream=True))
    assert response.status == 200
    names = [n for n, _ in sse_events(await response.read())]
    assert names[0] == "ping" and names.count("ping") >= 2
    assert names[-1] == "message_stop"


async def test_upstream_error_after_pings_becomes_sse_error(upstream, make_gateway) -> None:
    async def reply(request: web.Request) -> web.Response:
        await asyncio.sleep(0.4)
        return web.json_response({"error": {"message": "too busy"}}, status=503)

    upstream.handler = reply
    client = await make_gateway(ping_interval=0.1)
    response = await client.post("/v1/messages", json=message_body(stream=True))
    assert response.status == 200  # committed while waiting
    events = sse_events(await response.read())
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == "overloaded_error"


async def test_client_disconnect_closes_upstream(upstream, make_gateway) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(START + BLOCK_START)
        for _ in range(600):
            await asyncio.sleep(0.05)
            await response.write(DELTA)
        return response

    upstream.handler = reply
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body(stream=True))
    await response.content.readany()
    response.close()  # the client goes away mid-stream
    await asyncio.wait_for(upstream.client_gone.wait(), 5)


async def test_in_band_error_chunk_from_chat_upstream(upstream, make_gateway) -> None:
    chunks = [
        {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"error": {"code": 502, "message": "Provider returned error"}},
    ]

    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            await asyncio.sleep(0.1)  # the client holds "Hel" when the error comes
        return response

    upstream.handler = reply
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body("chatty", stream=True))
    events = sse_events(await response.read())
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-1] == "error"
    assert "Provider returned error" in events[-1][1]["error"]["message"]
    assert "message_stop" not in names


async def test_in_band_error_before_the_first_event_is_the_http_error(
    upstream, make_gateway
) -> None:
    """A 200 stream whose first read is already its failure gave the client nothing: with no
    other target to try, the client gets the error as an HTTP error, as if the upstream had
    refused at once (and a fallback chain would move on, tests/server/test_fallback.py)."""

    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"error": {"code": 502, "message": "Provider returned error"}}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        return response

    upstream.handler = reply
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body("chatty", stream=True))
    assert response.status == 502
    error = (await response.json())["error"]
    assert error["type"] == "api_error" and "Provider returned error" in error["message"]


async def test_keys_never_leak_into_replies_or_logs(upstream, make_gateway, caplog) -> None:
    async def reply(request: web.Request) -> web.Response:
        # A hostile upstream echoes the key it was given.
        given = request.headers.get("x-api-key") or request.headers.get("authorization")
        return web.json_response({"error": {"message": f"bad key {given}"}}, status=401)

    upstream.handler = reply
    caplog.set_level("DEBUG")
    client = await make_gateway(log_request_body=True, log_response_body=True)
    seen = []
    for model in ("claude-sonnet-test", "chatty"):
        response = await client.post("/v1/messages", json=message_body(model))
        seen.append(await response.text())
    seen.append(await (await client.get("/healthz")).text())
    seen.append(caplog.text)
    for text in seen:
        assert SECRET_KEY not in text and CHAT_KEY not in text
    assert "[REDACTED]" in seen[0]


async def test_keys_never_leak_into_stream_error_events(upstream, make_gateway) -> None:
    # The JSON error path redacts; once the client's stream is open the error travels as an
    # SSE event instead, which must be redacted too: an upstream refusal after pings, and an
    # in-band error chunk after a 200.
    async def refuse_late(request: web.Request) -> web.Response:
        given = request.headers.get("x-api-key") or request.headers.get("authorization")
        await asyncio.sleep(0.3)
        return web.json_response({"error": {"message": f"bad key {given}"}}, status=401)

    async def error_chunk(request: web.Request) -> web.StreamResponse:
        given = request.headers.get("authorization")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        first = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]}
        await response.write(b"data: " + json.dumps(first).encode() + b"\n\n")
        await asyncio.sleep(0.1)  # the client's stream has begun when the error comes
        chunk = {"error": {"message": f"bad key {given}", "code": 401}}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        return response

    client = await make_gateway(ping_interval=0.1)
    for handler, model in ((refuse_late, "claude-sonnet-test"), (refuse_late, "chatty"),
                           (error_chunk, "chatty")):  # fmt: skip
        upstream.handler = handler
        response = await client.post("/v1/messages", json=message_body(model, stream=True))
        assert response.status == 200
        text = (await response.read()).decode()
        events = sse_events(text.encode())
        assert events[-1][0] == "error", model
        assert SECRET_KEY not in text and CHAT_KEY not in text
        assert "[REDACTED]" in events[-1][1]["error"]["message"]


@pytest.mark.parametrize(
    "newline",
    [
        pytest.param(b"\n", id="lf"),
        pytest.param(b"\r\n", id="crlf"),
        pytest.param(b"\r", id="cr"),
    ],
)
async def test_keys_never_leak_through_a_passed_through_error_event(
    upstream, make_gateway, newline: bytes
) -> None:
    # An Anthropic-native upstream's own error event is forwarded as it came; SSE allows three
    # line endings, and whichever the upstream uses, the key it echoes must not get through.
    async def echo_key(request: web.Request) -> web.StreamResponse:
        given = request.headers["x-api-key"]
        error = {"type": "error", "error": {"type": "api_error", "message": f"bad key {given}"}}
        event = f"event: error\ndata: {json.dumps(error)}\n\n".encode()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write((START + BLOCK_START).replace(b"\n", newline))
        await asyncio.sleep(0.1)  # forwarded before the error: a failure mid-stream
        await response.write(event.replace(b"\n", newline))
        return response

    upstream.handler = echo_key
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body(stream=True))
    assert response.status == 200
    text = (await response.read()).decode()
    assert SECRET_KEY not in text
    assert "bad key [REDACTED]" in text


async def test_json_reply_body_that_stalls_or_is_cut_is_a_gateway_error(
    upstream, make_gateway
) -> None:
    # The headers came (200 or an error status) but the body never finishes: the client gets
    # the same timeout / unreachable error as before the headers, not an internal error.
    async def body_then(status: int, action: str):
        async def reply(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(
                status=status,
                headers={"content-type": "application/json", "content-length": "500"},
            )
            await response.prepare(request)
            await response.write(b'{"type":"message",')
            if action == "cut":
                assert request.transport is not None
                request.transport.close()
            else:
                await asyncio.sleep(3)
            return response

        return reply

    client = await make_gateway(read_timeout=0.3)
    cases = [(200, "stall", 504, "timeout_error"), (200, "cut", 502, "api_error"),
             (500, "stall", 504, "timeout_error")]  # fmt: skip
    for status, action, expected, error_type in cases:
        upstream.handler = await body_then(status, action)
        response = await client.post("/v1/messages", json=message_body())
        assert response.status == expected, (status, action)
        error = (await response.json())["error"]
        assert error["type"] == error_type
        assert "provider 'fake'" in error["message"]


START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
    b'"message","role":"assistant","model":"up-model","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
)
BLOCK_START = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
DELTA = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"x"}}\n\n'
)
BLOCK_END = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
STOP = (
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
    b'"stop_sequence":null},"usage":{"output_tokens":2}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


async def test_a_client_gone_during_pings_is_not_blamed_on_the_upstream(upstream) -> None:
    """A ping that cannot be written means the client left: that must not become the
    provider's 502 (the breaker would count it, the chain would call the next target)."""
    import aiohttp

    from anthroxy.errors import AnthroxyError
    from anthroxy_server.gateway.streaming import open_upstream

    class GoneClient:
        async def ping(self) -> None:
            raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({})

    upstream.handler = slow
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionResetError) as info:
            await open_upstream(
                session, upstream.url + "/v1/messages", data=b"{}", headers={},
                provider="prim", downstream=GoneClient(), ping_interval=0.05,  # type: ignore[arg-type]
            )  # fmt: skip
    assert not isinstance(info.value, AnthroxyError)
