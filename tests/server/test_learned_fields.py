"""Fields an upstream refuses by name are learned: an endpoint anthroxy knows nothing about,
validating strictly as Anthropic's API does, refuses fields a newer Claude Code sends; the first
request succeeds after a retry, a warning says so once, and no later request carries the field.
Driven through the official anthropic SDK."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import anthropic
import pytest
from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from .compat_fakes import TOOL, gateway, message_events, sdk, stream_response
from .conftest import SECRET_KEY, FakeUpstream


def strict_anthropic(upstream: FakeUpstream) -> Any:
    """Validates like Anthropic's API (pydantic, extra fields forbidden) and knows neither
    context_management nor defer_loading; names the first one it meets, as Anthropic does."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        problem = None
        if "context_management" in body:
            problem = "context_management"  # https://github.com/anthropics/claude-code/issues/14135
        else:
            for index, tool in enumerate(body.get("tools", [])):
                if (
                    "defer_loading" in tool
                ):  # https://github.com/anthropics/claude-code/issues/31033
                    problem = f"tools.{index}.custom.defer_loading"
                    break
        if problem is not None:
            await asyncio.sleep(0.15)  # slower than the ping interval: the client saw pings
            error = {
                "type": "invalid_request_error",
                "message": f"{problem}: Extra inputs are not permitted",
            }
            return web.json_response(
                {"type": "error", "error": error, "request_id": "req_011CW9z9GbtaQWp24SzDDZCp"},
                status=400,
            )
        blocks = [{"type": "text", "text": "ok"}]
        if body.get("stream"):
            return await stream_response(request, message_events(body["model"], blocks, "end_turn"))
        return web.json_response(
            {
                "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                "content": blocks, "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            }
        )  # fmt: skip

    return handler


def new_fields_request() -> dict[str, Any]:
    return {
        "model": "strict",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [TOOL, {**TOOL, "name": "Later", "defer_loading": True}],
    }


async def test_a_field_the_upstream_refuses_is_left_out_after_one_retry_and_from_then_on(
    upstream, aiohttp_client, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="anthroxy")
    upstream.handler = strict_anthropic(upstream)
    client = await gateway(aiohttp_client, upstream.url, ping_interval=0.05)
    api = sdk(client)
    extra = {"context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}}

    async with api.messages.stream(**new_fields_request(), extra_body=extra) as stream:
        first = await stream.get_final_message()
    assert first.content[0].text == "ok"
    # One retry per refused field: without context_management, then without defer_loading too.
    assert [
        ("context_management" in s.body, "defer_loading" in json.dumps(s.body))
        for s in upstream.seen
    ] == [
        (True, True),
        (False, True),
        (False, False),
    ]
    assert upstream.seen[2].body["tools"] == [TOOL, {**TOOL, "name": "Later"}]

    second = await api.messages.create(**new_fields_request(), extra_body=extra)
    assert second.content[0].text == "ok"
    assert len(upstream.seen) == 4
    assert "context_management" not in upstream.seen[3].body
    assert "defer_loading" not in json.dumps(upstream.seen[3].body)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "provider strict refused the field context_management" in warnings[0]
    assert "provider strict refused the field tools.*.defer_loading" in warnings[1]


async def test_pings_may_go_out_before_the_retry(upstream, aiohttp_client) -> None:
    upstream.handler = strict_anthropic(upstream)
    client = await gateway(aiohttp_client, upstream.url, ping_interval=0.05)
    body = {**new_fields_request(), "stream": True, "context_management": {"edits": []}}
    response = await client.post("/v1/messages", json=body)
    raw = await response.read()
    assert response.status == 200
    assert raw.startswith(b"event: ping\n")
    assert b"event: message_stop" in raw and b"error" not in raw


async def test_a_refusal_without_a_field_of_the_body_is_passed_on(upstream, aiohttp_client) -> None:
    async def refuse(request: web.Request) -> web.Response:
        error = {
            "type": "invalid_request_error",
            "message": "reasoning: Extra inputs are not permitted",
        }
        return web.json_response({"type": "error", "error": error}, status=400)

    upstream.handler = refuse
    client = await gateway(aiohttp_client, upstream.url)
    with pytest.raises(anthropic.BadRequestError, match="reasoning: Extra inputs"):
        await sdk(client).messages.create(**new_fields_request())
    assert len(upstream.seen) == 1  # "reasoning" was not sent: nothing to leave out, no retry


async def test_a_chat_upstream_s_unknown_parameter_is_learned_too(upstream, aiohttp_client) -> None:
    # OpenAI's wording (https://github.com/teabranch/open-responses-server/issues/41).
    async def chat(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if "stream_options" in body:
            error = {
                "message": "Unknown parameter: 'stream_options'.", "type": "invalid_request_error",
                "param": "stream_options", "code": "unknown_parameter",
            }  # fmt: skip
            return web.json_response({"error": error}, status=400)
        return web.Response(
            text='data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}'
            "\n\ndata: [DONE]\n\n",
            content_type="text/event-stream",
        )

    upstream.handler = chat
    client = await gateway(aiohttp_client, upstream.url)
    api = sdk(client)
    for _ in range(2):
        async with api.messages.stream(**{**new_fields_request(), "model": "strictchat"}) as stream:
            assert (await stream.get_final_message()).content[0].text == "ok"
    assert ["stream_options" in s.body for s in upstream.seen] == [True, False, False]


async def test_learning_can_be_switched_off(upstream, aiohttp_client) -> None:
    upstream.handler = strict_anthropic(upstream)
    raw = {
        "providers": {
            "strict": {
                "api": "anthropic", "base_url": upstream.url + "/strict", "api_key": SECRET_KEY,
                "learn_fields": False, "drop_fields": ["tools.*.defer_loading"],
            }
        },
        "tiers": {"default": "strict/new-model"},
    }  # fmt: skip
    client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))
    with pytest.raises(anthropic.BadRequestError, match="context_management: Extra inputs"):
        await sdk(client).messages.create(
            **new_fields_request(), extra_body={"context_management": {"edits": []}}
        )
    assert len(upstream.seen) == 1
    assert "defer_loading" not in json.dumps(upstream.seen[0].body)  # configured: always out
