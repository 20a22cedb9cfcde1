"""A fake upstream that can make every fault, for the load tests (test_load.py) and the bench
scripts (bench/soak.py, bench/hold_streams.py).

It speaks the Anthropic Messages API (``/v1/messages``) and OpenAI Chat Completions
(``/v1/chat/completions``) on the wire; the upstream model name picks the behaviour (``FAULTS``),
so a client chooses a fault with ``model="<provider>/<fault>"``. ``open_connections`` counts the
connections the fake holds open right now (the gateway's upstream connections, idle pooled ones
included); ``active`` the requests it is still answering.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

STALL_SECONDS = 2.0  # longer than the read timeout the load tests give the gateway
HUGE_BYTES = 256 * 1024  # above the max_reply_bytes the load tests give the gateway

FAULTS = (
    "ok", "tool", "http400", "http401", "http403", "http429", "http500", "http503", "http529",
    "notjson", "truncated", "cut", "garbage", "errevent", "stall", "stallmid", "reset",
    "resetmid", "huge", "slow",
)  # fmt: skip

_USAGE = {"input_tokens": 10, "output_tokens": 3}
_ERRORS = {
    "http400": b'{"type":"error","error":{"type":"invalid_request_error","message":"bad field"}}',
    "http401": b'{"type":"error","error":{"type":"authentication_error","message":"bad key"}}',
    "http403": b'{"error":{"message":"no access"}}',
    "http429": b'{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}',
    "http500": b'{"error":{"message":"boom"}}',
    "http503": b"Service Unavailable",
    "http529": b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
}


def _sse(name: str | None, payload: Any) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


def anthropic_message(tool: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "hello"}]
    if tool:
        content.append({"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"p": 1}})
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": content,
        "stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None, "usage": _USAGE,
    }  # fmt: skip


def anthropic_events(tool: bool) -> list[bytes]:
    start = {**anthropic_message(False), "content": [], "stop_reason": None}
    events = [
        _sse("message_start", {"type": "message_start", "message": start}),
        _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "hello"}}),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ]  # fmt: skip
    if tool:
        events += [
            _sse("content_block_start", {"type": "content_block_start", "index": 1,
                 "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Read",
                                   "input": {}}}),
            _sse("content_block_delta", {"type": "content_block_delta", "index": 1,
                 "delta": {"type": "input_json_delta", "partial_json": '{"p": 1}'}}),
            _sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ]  # fmt: skip
    delta = {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None}
    events += [
        _sse("message_delta", {"type": "message_delta", "delta": delta, "usage": _USAGE}),
        _sse("message_stop", {"type": "message_stop"}),
    ]
    return events


def chat_message(tool: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "hello"}
    if tool:
        call = {"name": "Read", "arguments": '{"p": 1}'}
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": call}]
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if tool else "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }  # fmt: skip


def chat_events(tool: bool) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse(None, {"id": "c1", "object": "chat.completion.chunk", "model": "m",
                           "choices": [choice]})  # fmt: skip

    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "hello"})]
    if tool:
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "Read", "arguments": '{"p": 1}'}}  # fmt: skip
        events.append(chunk({"tool_calls": [call]}))
    events.append(chunk({}, "tool_calls" if tool else "stop"))
    return [*events, b"data: [DONE]\n\n"]


class FaultUpstream:
    """The aiohttp app of the fake; ``served`` counts requests per fault."""

    def __init__(self) -> None:
        self.served: dict[str, int] = {}
        self.active = 0  # requests being answered now (idle pooled connections are not)
        self.app = web.Application()
        self.app.router.add_post("/v1/messages", self.handle)
        self.app.router.add_post("/v1/chat/completions", self.handle)
        self.runner: web.AppRunner | None = None

    @property
    def open_connections(self) -> int:
        assert self.runner is not None and self.runner.server is not None
        return len(self.runner.server.connections)

    async def start(self, port: int = 0) -> str:
        self.runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        # The gateway opens a connection per held stream, a thousand at once in
        # bench/hold_streams.py: with the default backlog of 128 the kernel drops the rest and
        # their SYNs are retried after 1, 3, 7 ... s, which stalls the bench (seen: 3 runs in 4).
        site = web.TCPSite(self.runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        host, bound = self.runner.addresses[0][:2]
        return f"http://{host}:{bound}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        try:
            return await self._answer(request)
        finally:
            self.active -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        fault = str(body.get("model", "ok"))
        self.served[fault] = self.served.get(fault, 0) + 1
        chat = request.path.endswith("/chat/completions")
        tool = fault == "tool" or bool(body.get("tools"))
        if fault in _ERRORS:
            return web.Response(status=int(fault[4:]), body=_ERRORS[fault],
                                content_type="application/json")  # fmt: skip
        if fault == "reset":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(1)
        if fault == "stall":
            await asyncio.sleep(STALL_SECONDS)
        if fault == "notjson":
            return web.Response(body=b"<html>gateway error</html>", content_type="text/html")
        if fault == "huge":
            return web.Response(body=b'{"x":"' + b"x" * HUGE_BYTES + b'"}',
                                content_type="application/json")  # fmt: skip
        if body.get("stream") is True:
            return await self._stream(request, fault, chat, tool)
        whole = chat_message(tool) if chat else anthropic_message(tool)
        raw = json.dumps(whole).encode()
        if fault in ("truncated", "cut", "garbage", "resetmid"):
            raw = raw[: len(raw) // 2]
        return web.Response(body=raw, content_type="application/json")

    async def _stream(
        self, request: web.Request, fault: str, chat: bool, tool: bool
    ) -> web.StreamResponse:
        events = chat_events(tool) if chat else anthropic_events(tool)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if fault == "slow":  # the first events, then a ping every 0.2 s until the client leaves
            for event in events[:2]:
                await response.write(event)
            ping = b": keep-alive\n\n" if chat else _sse("ping", {"type": "ping"})
            while True:
                await asyncio.sleep(0.2)
                await response.write(ping)
        half = events[: len(events) // 2]
        if fault == "cut" or fault == "truncated":
            events = [*half, events[len(half)][:20]]
        elif fault == "garbage":
            events = [*half, b"data: {not json at all\n\n", *events[len(half) :]]
        elif fault == "errevent":
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
            events = [*half, _sse("error", error) if not chat else _sse(None, {"error": error})]
        elif fault == "stallmid":
            for event in half:
                await response.write(event)
            await asyncio.sleep(STALL_SECONDS)
        elif fault == "resetmid":
            for event in half:
                await response.write(event)
            assert request.transport is not None
            request.transport.abort()
            return response
        for event in events:
            await response.write(event)
        return response


def gateway_config(upstream_url: str, dead_url: str) -> dict[str, Any]:
    """Providers on the fake: ``a`` (Anthropic pass-through), ``c`` (Chat Completions) and
    ``dead`` (a closed port: connection refused). The breaker is out of the way so every request
    reaches its fault; short timeouts so a stall costs little."""
    common = {"api_key": "load-key-123456", "read_timeout": 0.5, "connect_timeout": 1.0}
    return {
        "server": {"max_reply_bytes": HUGE_BYTES // 2, "ping_interval": 0.3},
        "providers": {
            "a": {"api": "anthropic", "base_url": upstream_url, **common},
            "c": {"api": "chat", "base_url": upstream_url + "/v1", **common},
            "dead": {"api": "anthropic", "base_url": dead_url, **common},
        },
        "tiers": {"default": "a/ok"},
        "routing": {"circuit_breaker": {"failures": 1_000_000_000}},
    }
