"""Invariant: with ``server.auth_token`` set, a request passes when either credential header holds
the token (Claude Code sends both when ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are set), and a
refusal is a final 401 whose message says what arrived and which variable to set, never the
token or what was sent."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import message_body, short_reply

TOKEN = "proxy-token-123456"
STALE_KEY = "sk-ant-stale-anthropic-key"


async def test_right_bearer_passes_beside_a_stale_x_api_key(make_gateway, upstream) -> None:
    upstream.handler = short_reply
    client = await make_gateway(auth_token=TOKEN)
    headers = {"x-api-key": STALE_KEY, "authorization": f"Bearer {TOKEN}"}
    response = await client.post("/v1/messages", json=message_body(), headers=headers)
    assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({}, "no proxy token was sent"),
        ({"x-api-key": STALE_KEY}, "wrong proxy token (sent as x-api-key)"),
        (
            {"x-api-key": STALE_KEY, "authorization": "Bearer nope-123"},
            "wrong proxy token (sent as x-api-key and Authorization: Bearer)",
        ),
    ],
)
async def test_refusal_names_what_arrived_and_the_variable(
    make_gateway, upstream, headers: dict[str, str], said: str
) -> None:
    upstream.handler = short_reply
    client = await make_gateway(auth_token=TOKEN)
    response = await client.post("/v1/messages", json=message_body(), headers=headers)
    assert response.status == 401 and response.headers["x-should-retry"] == "false"
    text = await response.text()
    error: dict[str, Any] = (await response.json())["error"]
    assert error["type"] == "authentication_error"
    assert error["message"].startswith(f"anthroxy: {said}. ")
    assert "set ANTHROPIC_AUTH_TOKEN to that value" in error["message"]
    assert TOKEN not in text and STALE_KEY not in text and "nope-123" not in text
    assert upstream.seen == []
