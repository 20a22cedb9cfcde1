"""Invariant: every request reaches its upstream fitted to the model's limits (built-in table
plus ``[models."..."]`` overrides), and a request that cannot fit is refused without calling the
upstream; ``/v1/models`` reports the same numbers."""

from __future__ import annotations

import json
import re
from typing import Any

import anthropic
import pytest
from aiohttp import web

from anthroxy.messages import tokens
from anthroxy.routing import capabilities
from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.handlers import _InputTokens

from .conftest import SECRET_KEY, FakeUpstream, message_body

MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "x",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}


def settings(url: str, models: dict[str, Any]) -> Any:
    raw = {
        "providers": {
            "fake": {
                "api": "anthropic",
                "base_url": url,
                "api_key": SECRET_KEY,
                "models": ["small-model", "deepseek-v4-pro"],
            },
            "fchat": {"api": "chat", "base_url": url + "/v1", "api_key": SECRET_KEY},
        },
        "tiers": {"default": "fake/small-model"},
        "aliases": {"ds": "fake/deepseek-v4-pro", "mini": "fchat/gpt-4o-mini"},
        "models": models,
    }
    return settings_from_config(structure_config(raw), {})


SMALL = {"context_window": 2000, "max_output_tokens": 4096, "thinking": True}


@pytest.fixture
def gateway(aiohttp_client: Any, upstream: FakeUpstream) -> Any:
    async def make(models: dict[str, Any] | None = None) -> Any:
        overrides = {"small-model": SMALL} if models is None else models
        return await aiohttp_client(create_app(settings(upstream.url, overrides)))

    async def reply(request: web.Request) -> web.Response:
        if request.path.endswith("/chat/completions"):
            return web.json_response(
                {
                    "id": "c",
                    "model": "gpt-4o-mini",
                    "choices": [
                        {"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}
                    ],
                }
            )
        return web.json_response(MESSAGE)

    upstream.handler = reply
    return make


async def test_max_tokens_and_budget_clamped_in_the_body_sent_upstream(upstream, gateway) -> None:
    client = await gateway()
    body = message_body(max_tokens=32_000, thinking={"type": "enabled", "budget_tokens": 31_999})
    response = await client.post("/v1/messages", json=body)
    assert response.status == 200
    sent = upstream.seen[0].body
    assert sent["max_tokens"] == 4096  # the override's cap
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 4095}
    assert sent["model"] == "small-model"


async def test_chat_dialect_gets_the_table_cap(upstream, gateway) -> None:
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body("mini", max_tokens=64_000))
    assert response.status == 200
    assert upstream.seen[0].body["max_tokens"] == 16_384  # gpt-4o family row


async def test_thinking_dropped_for_a_model_without_reasoning(upstream, gateway) -> None:
    client = await gateway({"small-model": {"thinking": False}})
    body = message_body(thinking={"type": "adaptive"}, max_tokens=1000)
    assert (await client.post("/v1/messages", json=body)).status == 200
    assert "thinking" not in upstream.seen[0].body
    assert upstream.seen[0].body["max_tokens"] == 1000  # below the cap: unchanged


async def test_context_window_refusal_never_calls_the_upstream(upstream, gateway) -> None:
    client = await gateway()
    long_text = "word " * 4000  # about 5000 tokens by the 4-characters-per-token estimate
    body = message_body(messages=[{"role": "user", "content": long_text}])
    response = await client.post("/v1/messages", json=body)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    match = re.match(r"prompt is too long: (\d+) tokens > 2000 maximum", error["message"])
    assert match and 4000 < int(match.group(1)) < 7000
    assert response.headers["x-anthroxy-route"] == "fake/small-model"
    assert upstream.seen == []


@pytest.mark.parametrize("stream", [False, True])
async def test_image_on_text_only_model_is_refused(upstream, gateway, stream) -> None:
    client = await gateway()
    content = [{"type": "text", "text": "what is this"}, IMAGE]
    body = message_body("ds", stream=stream, messages=[{"role": "user", "content": content}])
    response = await client.post("/v1/messages", json=body)
    assert response.status == 400
    message = (await response.json())["error"]["message"]
    assert "model 'deepseek-v4-pro' does not accept images" in message
    assert message.endswith("@ $.messages[0].content[1]")
    assert upstream.seen == []


async def test_override_lets_images_through(upstream, gateway) -> None:
    client = await gateway({"deepseek-v4-pro": {"images": True}})
    body = message_body("ds", messages=[{"role": "user", "content": [IMAGE]}])
    assert (await client.post("/v1/messages", json=body)).status == 200
    assert upstream.seen[0].body["messages"][0]["content"] == [IMAGE]


async def test_tools_on_a_model_without_tools_are_refused(upstream, gateway) -> None:
    client = await gateway({"small-model": {"tools": False}})
    tool = {"name": "Bash", "input_schema": {"type": "object"}}
    response = await client.post("/v1/messages", json=message_body(tools=[tool]))
    assert response.status == 400
    assert "does not support tools" in (await response.json())["error"]["message"]
    assert upstream.seen == []


async def test_models_endpoint_shows_limits_and_overrides(gateway) -> None:
    client = await gateway()
    entry = await (await client.get("/v1/models/fake/small-model")).json()
    assert entry["max_input_tokens"] == 2000 and entry["max_tokens"] == 4096
    assert entry["capabilities"] == {
        "image_input": {"supported": True},  # unknown model: the permissive default
        "thinking": {"supported": True},  # from the override
        "tool_use": {"supported": True},
        "tool_choice": {"supported": True},
    }
    listed = await (await client.get("/v1/models?limit=100")).json()
    by_id = {item["id"]: item for item in listed["data"]}
    assert by_id["ds"]["max_input_tokens"] == 1_000_000  # deepseek-v4-pro row
    assert by_id["ds"]["max_tokens"] == 384_000
    assert by_id["ds"]["capabilities"]["image_input"] == {"supported": False}
    assert by_id["mini"]["max_tokens"] == 16_384


def test_bad_override_is_a_config_error(upstream) -> None:
    with pytest.raises(ConfigError, match=r'models\."m"\.max_output_tokens: must be a positive'):
        create_app(settings("http://127.0.0.1:9", {"m": {"max_output_tokens": 0}}))


async def test_sdk_reads_the_limits(gateway) -> None:
    client = await gateway()
    api = anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="k", max_retries=0
    )
    model = await api.models.retrieve("ds")
    assert model.max_input_tokens == 1_000_000 and model.max_tokens == 384_000
    assert model.capabilities is not None
    assert model.capabilities.image_input.supported is False


PNG_1x1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg"
    "=="
)


@pytest.mark.parametrize(
    "content",
    [
        "plain ascii text " * 50,
        "漢字かなカナ한국어" * 40,  # 1 token per character, 3 bytes each
        [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}] * 3,
        [
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_1x1},
            }
        ],
        [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "a"}}],
        [{"type": "tool_use", "id": "t", "name": "x", "input": {"k": [1] * 200}}],
        "",
    ],
)
def test_input_bound_is_never_below_the_estimate(content: Any) -> None:
    """The cheap bound may only skip the estimate when the estimate would also fit."""
    body = message_body(
        messages=[{"role": "user", "content": content}],
        tools=[{"name": f"t{i}", "input_schema": {"type": "object"}} for i in range(30)],
    )
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    estimate = tokens.estimate_input_tokens(body)
    assert _InputTokens(raw, body).bound >= estimate
    tight = capabilities.ModelLimits(estimate, 1, True, True, True, True)
    assert _InputTokens(raw, body).within(tight.context_window) == estimate  # bound too big
