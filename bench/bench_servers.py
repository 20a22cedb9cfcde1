"""The processes bench_proxy.py measures: a fake upstream, anthroxy, a bare relay, the Node proxy.

The fake upstream speaks the Anthropic Messages API (``/v1/messages``) and OpenAI Chat
Completions (``/v1/chat/completions``) and writes each stream event separately, as a real token
stream arrives. The bare relay is an aiohttp proxy that forwards the same bytes without parsing
them: the floor any aiohttp-based proxy pays. The Node proxy is claude-code-router 2.0, run from
an ``npm install`` outside the repository (``--node-proxy``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

import aiohttp
from aiohttp import web

CHUNKS = 200
KEY = "bench-key-123456"
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "up-model",
    "content": [{"type": "text", "text": "hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 1},
}
# The envelope of every chunk OpenAI's API sends (tests/fixtures/recorded/openai-chat/).
CHAT_ID = {
    "id": "chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc",
    "object": "chat.completion.chunk",
    "created": 1782955818,
    "model": "gpt-4o-mini-2024-07-18",
    "service_tier": "default",
    "system_fingerprint": "fp_d0469e1700",
}
COMPLETION = {
    **CHAT_ID,
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
}


def anthropic_events() -> list[bytes]:
    """A 200-delta Messages stream, one SSE event per element."""
    start = {"type": "message_start", "message": {**MESSAGE, "content": [], "stop_reason": None}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    payloads: list[dict[str, Any]] = [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    payloads += [{**delta, "delta": {"type": "text_delta", "text": "token "}}] * CHUNKS
    payloads += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": CHUNKS},
        },
        {"type": "message_stop"},
    ]
    return [
        f"event: {p['type']}\ndata: {json.dumps(p, separators=(',', ':'))}\n\n".encode()
        for p in payloads
    ]


def chat_events() -> list[bytes]:
    """A Chat Completions stream as OpenAI sends it with ``include_usage``: a role chunk, 200
    content chunks, a finish chunk, a usage chunk with no choices, then ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**CHAT_ID, "choices": [choice], "usage": None, "obfuscation": "auU6fTns"}

    payloads = [chunk({"role": "assistant", "content": "", "refusal": None})]
    payloads += [chunk({"content": f" word{i}"}) for i in range(CHUNKS)]
    payloads.append(chunk({}, "stop"))
    usage = {"prompt_tokens": 10, "completion_tokens": CHUNKS, "total_tokens": 10 + CHUNKS}
    payloads.append({**CHAT_ID, "choices": [], "usage": usage, "obfuscation": "x"})
    lines = [f"data: {json.dumps(p, separators=(',', ':'))}\n\n".encode() for p in payloads]
    return [*lines, b"data: [DONE]\n\n"]


def run_upstream(port: int) -> None:
    def endpoint(whole: dict[str, Any], events: list[bytes]) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.json()
            if not body.get("stream"):
                return web.json_response(whole)
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            for event in events:  # one write per event, like a real token stream
                await response.write(event)
            return response

        return handle

    app = web.Application()
    app.router.add_post("/v1/messages", endpoint(MESSAGE, anthropic_events()))
    app.router.add_post("/v1/chat/completions", endpoint(COMPLETION, chat_events()))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def run_relay(port: int, upstream: str) -> None:
    """Forward every POST to ``upstream`` and copy its answer back, bytes as they come."""

    async def relay(request: web.Request) -> web.StreamResponse:
        session: aiohttp.ClientSession = request.app["session"]
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        body = await request.read()
        async with session.post(upstream + request.path, data=body, headers=headers) as up:
            if up.content_type != "text/event-stream":
                return web.Response(body=await up.read(), status=up.status, headers=headers)
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            async for piece in up.content.iter_any():
                await response.write(piece)
            return response

    async def session_context(app: web.Application) -> Any:
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app["session"].close()

    app = web.Application()
    app.cleanup_ctx.append(session_context)
    app.router.add_post("/{tail:.*}", relay)
    app.router.add_get("/healthz", lambda _: web.Response(text="ok"))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def run_proxy(port: int, upstream: str, fast: bool, gc_freeze: bool, profile: str | None) -> None:
    """The gateway built by ``create_app``; ``fast=False`` forces the standard-library paths
    even when the ``fast`` extra is installed (an older tree without the switch ignores it)."""
    import gc
    import logging

    from anthroxy_server.config import settings_from_config, structure_config
    from anthroxy_server.gateway.app import create_app

    loop = None
    try:
        from anthroxy_server import speedups
    except ImportError:  # the code before the fast extra (--before)
        pass
    else:
        if not fast:
            speedups.disable()
        loop = speedups.new_event_loop()
    logging.getLogger("anthroxy").setLevel(logging.WARNING)
    raw = {
        "providers": {
            "up": {"api": "anthropic", "base_url": upstream, "api_key": KEY},
            "oa": {"api": "chat", "base_url": upstream + "/v1", "api_key": KEY},
        },
        "tiers": {"default": "up/up-model"},
    }
    app = create_app(settings_from_config(structure_config(raw), {}))
    if gc_freeze:
        # What serve.py could do: the objects alive after start-up (modules, the catalogue,
        # the app) move out of the generations the collector keeps rescanning.
        gc.collect()
        gc.freeze()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        handler_cancellation=True,
        loop=loop,
    )
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)


SERVE_CONFIG = """[server]
port = {port}
workers = {workers}
log_level = "warning"
[providers.up]
api = "anthropic"
base_url = "{upstream}"
api_key = "{key}"
[providers.oa]
api = "chat"
base_url = "{upstream}/v1"
api_key = "{key}"
[tiers]
default = "up/up-model"
"""


def serve_command(port: int, upstream: str, workers: int) -> list[str]:
    """The real server (ledger and metrics included) with its state in a temporary home."""
    home = tempfile.mkdtemp(prefix="bench-home-")
    os.environ["HOME"] = home  # inherited by the server; its ledger lands there
    config = os.path.join(home, "bench.toml")
    text = SERVE_CONFIG.format(port=port, upstream=upstream, workers=workers, key=KEY)
    with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as out:
        out.write(text)
    return [sys.executable, "-m", "anthroxy_server", "serve", "--config", config]


def node_proxy(cli: str, port: int, upstream: str) -> tuple[list[str], dict[str, str]]:
    """claude-code-router's ``ccr start`` (its ``dist/cli.js``) with a configuration in a
    temporary home: one Chat Completions provider, the fake upstream, as its default route."""
    home = tempfile.mkdtemp(prefix="bench-ccr-")
    os.mkdir(os.path.join(home, ".claude-code-router"))
    config = {
        "LOG": False,
        "HOST": "127.0.0.1",
        "PORT": port,
        "APIKEY": "bench",
        "Providers": [
            {
                "name": "oa",
                "api_base_url": upstream + "/v1/chat/completions",
                "api_key": KEY,
                "models": ["gpt-4o-mini"],
            }
        ],
        "Router": {"default": "oa,gpt-4o-mini"},
    }
    with open(os.path.join(home, ".claude-code-router", "config.json"), "w") as out:
        json.dump(config, out)
    return ["node", cli, "start"], {**os.environ, "HOME": home}
