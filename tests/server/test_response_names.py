"""Invariant: the model name a reply reports. With ``rewrite_response_model`` on (the default) it
is the name the client asked for; off, it is the upstream model under the name
``routing.response_names`` gives it, or the upstream's own name when it has none. The same in
every dialect, streamed or not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from .conftest import CHAT_KEY, SECRET_KEY, message_body, sse_events

NAMES = {"up-model": "house-name", "gpt-4o-mini": "mini-name"}


def settings(upstream_url: str, routing: dict[str, Any]) -> Any:
    raw = {
        "providers": {
            "fake": {
                "api": "anthropic",
                "base_url": upstream_url,
                "api_key": SECRET_KEY,
                "auth": "x-api-key",
                "models": ["up-model", "other-model"],
            },
            "fchat": {
                "api": "chat",
                "base_url": upstream_url + "/v1",
                "api_key": CHAT_KEY,
                "models": ["gpt-4o-mini"],
            },
        },
        "tiers": {"default": "fake/up-model"},
        "aliases": {"chatty": "fchat/gpt-4o-mini", "other": "fake/other-model"},
        "routing": routing,
    }
    return settings_from_config(structure_config(raw), {})


def anthropic_reply(stream: bool) -> Any:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "whatever-upstream-says",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }

    async def handler(request: web.Request) -> web.Response:
        if not stream:
            return web.json_response(message)
        start = {"type": "message_start", "message": {**message, "content": []}}
        body = f"event: message_start\ndata: {json.dumps(start)}\n\n"
        body += 'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        return web.Response(body=body.encode(), content_type="text/event-stream")

    return handler


def chat_reply(stream: bool) -> Any:
    async def handler(request: web.Request) -> web.Response:
        if not stream:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "stop",
            }
            return web.json_response(
                {"id": "c1", "object": "chat.completion", "model": "x", "choices": [choice]}
            )
        choices = [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]
        chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "x", "choices": choices}
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
        return web.Response(body=body.encode(), content_type="text/event-stream")

    return handler


async def reported_model(client: Any, model: str, stream: bool) -> str:
    response = await client.post("/v1/messages", json=message_body(model, stream=stream))
    assert response.status == 200
    if not stream:
        name: str = (await response.json())["model"]
        return name
    events = sse_events(await response.read())
    assert events[0][0] == "message_start"
    name = events[0][1]["message"]["model"]
    return name


# (requested name, upstream reply, expected reported name) with rewriting off.
CASES = [
    ("claude-sonnet-test", anthropic_reply, "house-name"),  # default tier -> up-model
    ("fake/up-model", anthropic_reply, "house-name"),
    ("other", anthropic_reply, "other-model"),  # no response name: the upstream's own
    ("chatty", chat_reply, "mini-name"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("requested", "reply", "expected"), CASES)
async def test_response_names_when_rewriting_is_off(
    aiohttp_client: Any, upstream: Any, requested: str, reply: Any, expected: str, stream: bool
) -> None:
    upstream.handler = reply(stream)
    routing = {"rewrite_response_model": False, "response_names": NAMES}
    client = await aiohttp_client(create_app(settings(upstream.url, routing)))
    assert await reported_model(client, requested, stream) == expected


@pytest.mark.parametrize("stream", [False, True])
async def test_response_names_are_ignored_while_rewriting(
    aiohttp_client: Any, upstream: Any, stream: bool
) -> None:
    upstream.handler = anthropic_reply(stream)
    client = await aiohttp_client(create_app(settings(upstream.url, {"response_names": NAMES})))
    assert await reported_model(client, "claude-sonnet-test", stream) == "claude-sonnet-test"
