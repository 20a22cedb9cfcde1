"""Fixtures: a programmable fake upstream on loopback and the real gateway app in front of it.

``upstream`` is an aiohttp app started by the test on 127.0.0.1; a test sets ``upstream.handler``
(an aiohttp handler) and reads ``upstream.seen`` (every request: path, headers, parsed body) and
``upstream.client_gone`` (set when a streaming handler's client went away). ``make_gateway`` builds
Settings through the config module, exactly as the CLI does, and starts the app.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "server"
# Distinctive, so a test can grep every output for it.
SECRET_KEY = "sk-ant-SECRET-d0n7-l3ak-7h15-k3y-0123456789"
CHAT_KEY = "sk-chat-SECRET-n3v3r-5h0w-m3-9876543210"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeUpstream:
    handler: Handler | None = None
    count_handler: Handler | None = None
    seen: list[Seen] = field(default_factory=list)
    client_gone: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        self.seen.append(Seen(request.path, dict(request.headers), body))
        handler = self.handler
        if request.path.endswith("/count_tokens"):
            handler = self.count_handler
        if handler is None:
            return web.json_response({"error": "no handler"}, status=599)
        try:
            return await handler(request)
        except (asyncio.CancelledError, ConnectionResetError):
            self.client_gone.set()
            raise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def upstream(aiohttp_server: Any) -> FakeUpstream:
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    fake.server = await aiohttp_server(app)
    return fake


def settings_for(upstream_url: str, **server: Any) -> Any:
    """Providers: ``fake`` (anthropic dialect), ``fchat`` (chat), ``fresp`` (responses)."""
    raw = {
        "server": server,
        "providers": {
            "fake": {
                "api": "anthropic",
                "base_url": upstream_url,
                "api_key": SECRET_KEY,
                "auth": "x-api-key",
                "models": ["up-model"],
                "read_timeout": server.pop("read_timeout", 5.0),
                "profile": {"drop_betas": ["context-1m"]},
            },
            "fchat": {
                "api": "chat",
                "base_url": upstream_url + "/v1",
                "api_key": CHAT_KEY,
                "models": ["gpt-4o-mini"],
                "read_timeout": 5.0,
            },
            "fresp": {"api": "responses", "base_url": upstream_url + "/v1", "api_key": "x" * 12},
        },
        "tiers": {"default": "fake/up-model"},
        "aliases": {"chatty": "fchat/gpt-4o-mini", "resp": "fresp/gpt-5"},
    }
    return settings_from_config(structure_config(raw), {})


@pytest.fixture
def make_gateway(aiohttp_client: Any, upstream: FakeUpstream) -> Callable[..., Awaitable[Any]]:
    async def make(base_url: str | None = None, **server: Any) -> TestClient[Any, Any]:
        settings = settings_for(base_url or upstream.url, **server)
        client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
        return client

    return make


def sse_events(raw: bytes) -> list[tuple[str, Any]]:
    """(event name, parsed data) for each event of an SSE body (test helper, LF framing)."""
    out = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if name is not None:
            out.append((name, json.loads("\n".join(data))))
    return out


def message_body(model: str = "claude-sonnet-test", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(extra)
    return body


async def short_reply(request: web.Request) -> web.Response:
    """A fake upstream's handler: a one-word Anthropic message, one token each way."""
    return web.json_response(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )
