"""Credentials given as extra upstream headers are secrets like any provider key."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.logs import settings_secrets

from .conftest import message_body

AZURE_KEY = "azure-header-key-5f0c9e"


def _settings(base_url: str) -> Any:
    raw = {
        "providers": {
            "azure-like": {
                "api": "chat",
                "base_url": base_url,
                "auth": "none",
                "models": ["gpt-x"],
                "headers": {"api-key": AZURE_KEY, "X-Team": "platform-team"},
            }
        },
        "tiers": {"default": "azure-like/gpt-x"},
    }
    return settings_from_config(structure_config(raw), {})


def test_a_credential_header_is_a_secret_and_an_ordinary_one_is_not() -> None:
    secrets = settings_secrets(_settings("http://127.0.0.1:9/v1"))
    assert AZURE_KEY in secrets
    assert "platform-team" not in secrets


async def test_an_upstream_echoing_a_header_key_is_redacted(aiohttp_server, aiohttp_client) -> None:
    async def refuse(request: web.Request) -> web.Response:
        echoed = request.headers["api-key"]
        return web.json_response({"error": {"message": f"bad key {echoed}"}}, status=401)

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", refuse)
    server = await aiohttp_server(upstream)
    client = await aiohttp_client(create_app(_settings(str(server.make_url("/v1")))))

    response = await client.post("/v1/messages", json=message_body("gpt-x"))

    assert response.status == 401
    text = await response.text()
    assert AZURE_KEY not in text
    assert "bad key" in text  # the upstream's message itself still reaches the client
