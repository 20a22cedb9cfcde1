"""Scenario routing, fallback targets and claude-<model> names through the real config module
and the real gateway, with fake Anthropic-dialect upstreams on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from .conftest import FakeUpstream, message_body

KEY = "sk-test-not-a-real-key-0000"


def raw_config(url: str, routing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Two Anthropic-dialect providers on one fake server, told apart by their path prefix."""
    provider = {"api": "anthropic", "api_key": KEY, "auth": "x-api-key", "read_timeout": 5.0}
    return {
        "providers": {
            "main": {**provider, "base_url": url + "/main", "models": ["main-model"]},
            "deep": {**provider, "base_url": url + "/deep", "models": ["deep-model"]},
        },
        "tiers": {"default": "main/main-model", "sonnet": "main/main-model"},
        "aliases": {"house": "deep/deep-model"},
        "routing": routing or {},
    }


async def echo_model(request: web.Request) -> web.Response:
    """A minimal Messages reply naming the upstream model it was asked for."""
    body = await request.json()
    return web.json_response(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
    )


@pytest.fixture
async def gateway(aiohttp_client: Any, upstream: FakeUpstream) -> Any:
    upstream.handler = echo_model
    routing = {"scenarios": {"think": "deep/deep-model", "image": "deep-model@deep"}}
    settings = settings_from_config(structure_config(raw_config(upstream.url, routing)), {})
    return await aiohttp_client(create_app(settings))


async def test_think_scenario_goes_to_its_upstream(gateway: Any, upstream: FakeUpstream) -> None:
    plain = await gateway.post("/v1/messages", json=message_body("claude-sonnet-4-6"))
    assert plain.status == 200, await plain.text()
    thinking = message_body(
        "claude-sonnet-4-6", thinking={"type": "enabled", "budget_tokens": 1024}
    )
    deep = await gateway.post("/v1/messages", json=thinking)
    assert deep.status == 200, await deep.text()
    assert [(s.path, s.body["model"]) for s in upstream.seen] == [
        ("/main/v1/messages", "main-model"),
        ("/deep/v1/messages", "deep-model"),
    ]
    # both replies carry the name the client asked for
    assert (await plain.json())["model"] == "claude-sonnet-4-6"
    assert (await deep.json())["model"] == "claude-sonnet-4-6"


async def test_claude_names_sharing_one_upstream_model_each_get_their_own_name_back(
    gateway: Any, upstream: FakeUpstream
) -> None:
    # "house" (an alias), "claude-deep-model" (a claude-<model> name) and "deep/deep-model"
    # (a target) all reach deep-model; every reply names what that call asked for.
    names = ["house", "claude-deep-model", "deep/deep-model", "claude-main-model"]
    for name in names:
        response = await gateway.post("/v1/messages", json=message_body(name))
        assert response.status == 200, await response.text()
        assert (await response.json())["model"] == name
    assert [s.body["model"] for s in upstream.seen] == [
        "deep-model",
        "deep-model",
        "deep-model",
        "main-model",
    ]
    listed = await gateway.get("/v1/models", params={"limit": "1000"})
    ids = [m["id"] for m in (await listed.json())["data"]]
    assert "claude-deep-model" in ids and "claude-main-model" in ids


async def test_claude_name_streams_with_the_requested_name(
    gateway: Any, upstream: FakeUpstream
) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        start = (
            '{"type":"message_start","message":{"id":"msg_1","type":"message","role":'
            f'"assistant","model":"{body["model"]}","content":[],"stop_reason":null,'
            '"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}'
        )
        await response.write(f"event: message_start\ndata: {start}\n\n".encode())
        await response.write(
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
            b'"end_turn","stop_sequence":null},"usage":{"output_tokens":0}}\n\n'
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        )
        return response

    upstream.handler = stream
    response = await gateway.post(
        "/v1/messages", json=message_body("claude-deep-model", stream=True)
    )
    text = await response.text()
    assert response.status == 200, text
    assert '"model":"claude-deep-model"' in text.replace(" ", "")
    assert upstream.seen[0].body["model"] == "deep-model"


def problems_for(routing: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_from_config(structure_config(raw_config("http://127.0.0.1:9", routing)), {})
    return info.value.problems


def test_bad_scenario_targets_are_config_problems_on_their_key() -> None:
    problems = problems_for(
        {
            "scenarios": {
                "think": "grok/grok-4",
                "image": "deep/deep-model",
                "web_search": "no-such-model",
                "long_context_threshold": -5,
            }
        }
    )
    assert len(problems) == 3
    assert problems[0].startswith("routing.scenarios.think: target 'grok/grok-4' names provider")
    assert "configured providers: deep, main" in problems[0]
    assert problems[1].startswith("routing.scenarios.web_search: target 'no-such-model'")
    assert problems[2] == "routing.scenarios.long_context_threshold: must be > 0 tokens, got -5"


def test_bad_fallback_targets_are_config_problems_on_their_key() -> None:
    problems = problems_for(
        {
            "fallbacks": {
                "main/main-model": ["deep/deep-model", "grok/grok-4"],
                "nowhere/x": ["deep/deep-model"],
            }
        }
    )
    assert problems == [
        "routing.fallbacks.\"main/main-model\"[1]: target 'grok/grok-4' names provider "
        "'grok', which is not configured; configured providers: deep, main",
        "routing.fallbacks.\"nowhere/x\": target 'nowhere/x' names provider 'nowhere', "
        "which is not configured; configured providers: deep, main",
    ]


def test_unknown_scenario_key_is_refused_by_the_schema() -> None:
    with pytest.raises(ConfigError) as info:
        structure_config({"routing": {"scenarios": {"thinking": "deep/deep-model"}}})
    assert any("thinking" in p for p in info.value.problems)


def test_two_spellings_of_one_fallback_key_are_a_config_problem() -> None:
    problems = problems_for(
        {"fallbacks": {"main/main-model": ["deep/deep-model"], "main-model@main": []}}
    )
    assert len(problems) == 1
    assert "same target as 'main/main-model'" in problems[0]


def test_good_routing_section_reaches_the_table() -> None:
    routing = {
        "fallbacks": {"main-model@main": ["deep/deep-model", "main/main-model"]},
        "scenarios": {"background": "deep/deep-model", "long_context_threshold": 100},
    }
    settings = settings_from_config(structure_config(raw_config("http://127.0.0.1:9", routing)), {})
    table = settings.routing
    route = table.resolve("claude-haiku-4-5", message_body("claude-haiku-4-5"))
    assert (route.provider, route.rule) == ("deep", "scenario:background")
    primary = table.resolve("claude-sonnet-4-6")
    assert [(r.provider, r.model, r.rule) for r in table.chain(primary)] == [
        ("main", "main-model", "tier:sonnet"),
        ("deep", "deep-model", "fallback:1"),
    ]
    assert table.describe()["long_context_threshold"] == 100


async def test_long_context_routing_estimates_at_most_once_and_only_when_needed(
    aiohttp_client: Any, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The full estimate costs ~1 ms on a Claude Code body: a request whose cheap size bound is
    # already under the threshold must not pay it, and a large one pays it once, not per check.
    from anthroxy.messages import tokens
    from anthroxy.routing import table as routing

    calls: list[int] = []
    real = tokens.estimate_input_tokens

    def counting(body: Any) -> int:
        calls.append(1)
        return real(body)

    monkeypatch.setattr(tokens, "estimate_input_tokens", counting)
    monkeypatch.setattr(routing, "estimate_input_tokens", counting)
    upstream.handler = echo_model
    scenarios = {"long_context": "deep/deep-model", "long_context_threshold": 2000}
    raw = raw_config(upstream.url, {"scenarios": scenarios})
    gateway = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))

    small = await gateway.post("/v1/messages", json=message_body("claude-sonnet-4-6"))
    assert small.status == 200 and calls == []
    long_text = "word " * 3000  # about 3,750 tokens by the estimate
    big = message_body("claude-sonnet-4-6", messages=[{"role": "user", "content": long_text}])
    response = await gateway.post("/v1/messages", json=big)
    assert response.status == 200 and len(calls) == 1
    assert [s.path for s in upstream.seen] == ["/main/v1/messages", "/deep/v1/messages"]
