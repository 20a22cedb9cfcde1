"""``[server] trust_env``: upstream sessions honour HTTP(S)_PROXY / NO_PROXY only when asked.

Invariant: off by default (no per-request proxy lookup); on, an upstream call goes through the
proxy the environment names. The "proxy" here is a local aiohttp app that answers a plain-HTTP
proxied request itself, so no real proxy and no network are involved.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.state import SESSIONS

from .conftest import SECRET_KEY, message_body

# Never resolved: with the proxy in use the gateway only ever connects to the proxy.
UNREACHABLE = "http://upstream.invalid"


def _settings(**server: Any) -> Any:
    raw = {
        "server": server,
        "providers": {
            "fake": {
                "api": "anthropic",
                "base_url": UNREACHABLE,
                "api_key": SECRET_KEY,
                "auth": "x-api-key",
                "models": ["up-model"],
            }
        },
        "tiers": {"default": "fake/up-model"},
    }
    return settings_from_config(structure_config(raw), {})


def test_trust_env_is_off_by_default() -> None:
    assert _settings().config.server.trust_env is False
    assert _settings(trust_env=True).config.server.trust_env is True


@pytest.mark.parametrize("trust", [False, True])
async def test_the_flag_reaches_every_upstream_session(aiohttp_client: Any, trust: bool) -> None:
    client = await aiohttp_client(create_app(_settings(trust_env=trust)))
    sessions = client.app[SESSIONS]
    assert set(sessions) == {"fake"}
    assert sessions["fake"].trust_env is trust


async def test_upstream_calls_go_through_the_environment_proxy(
    aiohttp_client: Any, aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        # A proxied plain-HTTP request names the full target URL in its request line.
        seen.append(str(request.url))
        return web.json_response(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "up-model",
                "content": [{"type": "text", "text": "via proxy"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 2},
            }
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    server = await aiohttp_server(app)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{server.port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = await aiohttp_client(create_app(_settings(trust_env=True)))
    response = await client.post("/v1/messages", json=message_body())
    assert response.status == 200
    assert (await response.json())["content"][0]["text"] == "via proxy"
    assert seen == [f"{UNREACHABLE}/v1/messages"]
