"""Invariant: the gateway judges a request once, by one set of rules, whatever dialect serves it.

The body is parsed at most once per request, when the first translating (chat or responses)
target needs it, then fitted to each target of the fallback chain; an Anthropic upstream gets the
client's body unparsed. Real app, fake upstreams on loopback.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from anthroxy.messages import request as messages_request
from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway import handlers
from anthroxy_server.gateway.app import create_app

from .conftest import SECRET_KEY, FakeUpstream, message_body

ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "up-model",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5",
    "output": [
        {
            "type": "message",
            "id": "msg_o",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "from responses"}],
        }
    ],
    "usage": {"input_tokens": 3, "output_tokens": 2},
}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"thinking": {"type": "enabled", "budget_tokens": True}},
            "'budget_tokens' must be an integer of at least 1024, got true "
            "@ $.thinking.budget_tokens",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": -5}},
            "'budget_tokens' must be an integer of at least 1024, got -5 "
            "@ $.thinking.budget_tokens",
        ),
        ({"stop_sequences": [""]}, "a stop sequence must not be empty @ $.stop_sequences[0]"),
    ],
)
async def test_chat_and_responses_answer_the_same_400(
    upstream: FakeUpstream, make_gateway: Any, extra: dict[str, Any], message: str
) -> None:
    client = await make_gateway()
    for model in ("chatty", "resp"):
        response = await client.post("/v1/messages", json=message_body(model, **extra))
        assert response.status == 400, model
        answer = await response.json()
        assert answer["type"] == "error"
        assert answer["error"] == {"type": "invalid_request_error", "message": message}
    assert upstream.seen == []  # refused before any upstream was called


async def test_an_anthropic_upstream_gets_the_body_unparsed(
    upstream: FakeUpstream, make_gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block type anthroxy does not know yet is the Anthropic upstream's to judge."""

    async def reply(request: web.Request) -> web.Response:
        return web.json_response(ANTHROPIC_MESSAGE)

    upstream.handler = reply
    parses: list[Any] = []
    monkeypatch.setattr(handlers, "parse_request", lambda body: parses.append(body))
    client = await make_gateway()
    block = {"type": "block_from_the_future", "x": 1}
    body = message_body(messages=[{"role": "user", "content": [block]}])
    assert (await client.post("/v1/messages", json=body)).status == 200
    assert upstream.seen[0].body["messages"][0]["content"] == [block]
    assert parses == []
    monkeypatch.undo()
    refused = await client.post("/v1/messages", json={**body, "model": "chatty"})
    assert refused.status == 400
    assert (await refused.json())["error"]["message"] == (
        "unsupported content block type 'block_from_the_future' @ $.messages[0].content[0]"
    )


@pytest.fixture
async def backup(aiohttp_server: Any) -> FakeUpstream:
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    fake.server = await aiohttp_server(app)
    return fake


async def test_a_fallback_chain_parses_once_and_fits_each_target(
    upstream: FakeUpstream,
    backup: FakeUpstream,
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chat primary (output cap 16384) fails; the responses fallback (cap 128000) answers."""

    async def down(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "down"}}, status=503)

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(RESPONSE)

    upstream.handler, backup.handler = down, answer
    raw = {
        "providers": {
            "pchat": {"api": "chat", "base_url": upstream.url + "/v1", "api_key": SECRET_KEY},
            "presp": {"api": "responses", "base_url": backup.url + "/v1", "api_key": SECRET_KEY},
        },
        "tiers": {"default": "pchat/gpt-4o"},
        "routing": {"fallbacks": {"pchat/gpt-4o": ["presp/gpt-5"]}},
    }
    client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))
    parses: list[Any] = []

    def counting(body: Any) -> Any:
        parses.append(body)
        return messages_request.parse_request(body)

    monkeypatch.setattr(handlers, "parse_request", counting)
    body = message_body(max_tokens=64_000, stop_sequences=["END"])
    response = await client.post("/v1/messages", json=body)
    assert response.status == 200
    assert (await response.json())["content"] == [{"type": "text", "text": "from responses"}]
    assert len(parses) == 1
    assert upstream.seen[0].body["max_tokens"] == 16_384  # fitted to gpt-4o
    assert upstream.seen[0].body["stop"] == ["END"]
    assert backup.seen[0].body["max_output_tokens"] == 64_000  # fitted to gpt-5
