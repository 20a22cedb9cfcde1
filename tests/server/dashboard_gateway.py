"""A gateway for the dashboard tests: providers ``up`` (answers), ``down`` (529 echoing its
key, falls back to ``up``) and ``limited`` (429), all on one fake Anthropic upstream on
loopback, keys from the environment, a ledger in a temporary state directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from .conftest import FakeUpstream, fixture_bytes

KEYS = {
    "KEY_A": "sk-AAAA-dashboard-secret-never-shown-01",
    "KEY_B": "sk-BBBB-dashboard-secret-never-shown-02",
}
FILE_KEY = "sk-file-dashboard-secret-never-shown-03"
TOKEN = "proxy-token-dashboard-secret-0123456789"


def reply(**usage: int) -> dict[str, Any]:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": usage,
    }  # fmt: skip


def raw_config(url: str, **server: Any) -> dict[str, Any]:
    provider = {
        "api": "anthropic", "base_url": url, "auth": "x-api-key",
        "models": ["claude-sonnet-4-5"], "api_keys_env": ["KEY_A"],
    }  # fmt: skip
    return {
        "server": server,
        "providers": {
            "up": provider,
            "down": {**provider, "base_url": url + "/down", "api_keys_env": ["KEY_B"]},
            "limited": {
                **provider,
                "base_url": url + "/limited",
                "api_keys_env": None,
                "api_key": FILE_KEY,
            },
        },
        "tiers": {"default": "up/claude-sonnet-4-5", "sonnet": "up/claude-sonnet-4-5"},
        "aliases": {"falls": "down/claude-sonnet-4-5", "limits": "limited/claude-sonnet-4-5"},
        "routing": {"fallbacks": {"down/claude-sonnet-4-5": ["up/claude-sonnet-4-5"]}},
        "models": {"claude-sonnet-4-5": {"context_window": 150000}},
    }


def answering(upstream: FakeUpstream) -> FakeUpstream:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/down"):
            # Echoes the key it got, as some providers do: the dashboard must never show it.
            message = f"busy (key {request.headers.get('x-api-key')})"
            body = {"type": "error", "error": {"type": "overloaded_error", "message": message}}
            return web.json_response(body, status=529)
        if request.path.startswith("/limited"):
            body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
            return web.json_response(body, status=429, headers={"retry-after": "30"})
        if json.loads(await request.read()).get("stream"):
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            await response.write(fixture_bytes("stream_text.sse"))
            return response
        return web.json_response(reply(input_tokens=1000, output_tokens=200))

    upstream.handler = handle
    return upstream


async def gateway(aiohttp_client: Any, url: str, state: Path | None, **server: Any) -> Any:
    settings = settings_from_config(structure_config(raw_config(url, **server)), KEYS)
    return await aiohttp_client(create_app(settings, state_dir=state))
