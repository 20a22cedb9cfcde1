"""Invariant: ``GET /metrics`` counts what the gateway did, exactly, in Prometheus text; it is
closed without a token when one is configured; its labels stay bounded whatever model names
clients send. Real app, fake Anthropic upstreams on loopback."""

from __future__ import annotations

import asyncio
import json
import random
import string
from typing import Any

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway import reload
from anthroxy_server.gateway.app import create_app

from .conftest import SECRET_KEY, FakeUpstream, free_port, message_body

USAGE = {
    "input_tokens": 7,
    "output_tokens": 3,
    "cache_read_input_tokens": 11,
    "cache_creation_input_tokens": 13,
}
MESSAGE = {
    "id": "msg_up",
    "type": "message",
    "role": "assistant",
    "model": "m2",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": USAGE,
}
OTHER_KEY = "sk-ant-OTHER-k3y-f0r-r0tation-000111222"


def sse(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


START = sse(
    "message_start",
    {"type": "message_start", "message": {**MESSAGE, "content": [], "stop_reason": None,
     "usage": {**USAGE, "output_tokens": 1}}},
)  # fmt: skip
REST = b"".join([
    sse("content_block_start", {"type": "content_block_start", "index": 0,
        "content_block": {"type": "text", "text": ""}}),
    sse("content_block_delta", {"type": "content_block_delta", "index": 0,
        "delta": {"type": "text_delta", "text": "hi"}}),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse("message_delta", {"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 3}}),
    sse("message_stop", {"type": "message_stop"}),
])  # fmt: skip


async def answer(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if not body.get("stream"):
        return web.json_response(MESSAGE)
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(START + REST)
    await response.write_eof()
    return response


def failing(status: int, error_type: str = "api_error") -> Any:
    async def handler(request: web.Request) -> web.Response:
        error = {"type": "error", "error": {"type": error_type, "message": "down"}}
        return web.json_response(error, status=status)

    return handler


@pytest.fixture
async def backup(aiohttp_server: Any) -> FakeUpstream:
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    fake.server = await aiohttp_server(app)
    return fake


def make_settings(
    primary: str, backup: str, server: dict[str, Any] | None = None, read_timeout: float = 5.0
) -> Any:
    provider = {"api": "anthropic", "api_key": SECRET_KEY, "read_timeout": read_timeout}
    raw = {
        "server": server or {},
        "providers": {
            "prim": {**provider, "base_url": primary, "models": ["m1"], "connect_timeout": 2},
            "back": {**provider, "base_url": backup, "models": ["m2"]},
        },
        "tiers": {"default": "prim/m1", "opus": "back/m2", "sonnet": "prim/m1"},
        "aliases": {"solo": "back/m2"},
        "routing": {
            "fallbacks": {"prim/m1": ["back/m2"]},
            "circuit_breaker": {"failures": 1, "cooldown": 600},
        },
    }
    return settings_from_config(structure_config(raw), {})


@pytest.fixture
def gateway(aiohttp_client: Any, upstream: FakeUpstream, backup: FakeUpstream) -> Any:
    async def make(primary: str | None = None, **server: Any) -> Any:
        settings = make_settings(primary or upstream.url, backup.url, server)
        return await aiohttp_client(create_app(settings))

    return make


async def scrape(client: Any, token: str | None = None) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every sample: (name, sorted labels) -> value."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labels(**given: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(given.items()))


SOLO = {"provider": "back", "model": "m2", "client_model": "solo"}


async def test_json_and_streamed_requests_are_counted_exactly(upstream, backup, gateway) -> None:
    backup.handler = answer
    client = await gateway()
    for stream in (False, True):
        response = await client.post("/v1/messages", json=message_body("solo", stream=stream))
        assert response.status == 200
        await response.read()
    got = await scrape(client)
    assert got[("anthroxy_requests_total", labels(**SOLO, status="200"))] == 2
    for kind, each in (("input", 7), ("output", 3), ("cache_read", 11), ("cache_write", 13)):
        assert got[("anthroxy_tokens_total", labels(**SOLO, kind=kind))] == 2 * each
    assert got[("anthroxy_request_duration_seconds_count", labels(**SOLO))] == 2
    assert got[("anthroxy_request_duration_seconds_bucket", labels(**SOLO, le="120.0"))] == 2
    assert got[("anthroxy_time_to_first_token_seconds_count", labels(**SOLO))] == 1
    assert got[("anthroxy_active_streams", ())] == 0
    assert got[("anthroxy_breaker_state", labels(provider="back"))] == 0
    assert not [key for key in got if key[0].startswith("anthroxy_fallbacks_total")]


async def test_a_negative_token_count_is_not_counted(upstream, backup, gateway) -> None:
    # Counters only go up: a garbled usage must not break the request or the scrape.
    async def odd(request: web.Request) -> web.Response:
        return web.json_response({**MESSAGE, "usage": {"input_tokens": -5, "output_tokens": 4}})

    backup.handler = odd
    client = await gateway()
    assert (await client.post("/v1/messages", json=message_body("solo"))).status == 200
    got = await scrape(client)
    assert got[("anthroxy_tokens_total", labels(**SOLO, kind="input"))] == 0
    assert got[("anthroxy_tokens_total", labels(**SOLO, kind="output"))] == 4


async def test_claude_code_names_count_under_their_tier(upstream, backup, gateway) -> None:
    backup.handler = answer
    client = await gateway()
    for model in ("claude-opus-4-1-20250805", "claude-opus-4-5"):
        response = await client.post("/v1/messages", json=message_body(model))
        assert response.status == 200
    got = await scrape(client)
    tier = {"provider": "back", "model": "m2", "client_model": "opus", "status": "200"}
    assert got[("anthroxy_requests_total", labels(**tier))] == 2


async def test_a_fallback_keeps_the_tier_the_client_asked_for(upstream, backup, gateway) -> None:
    upstream.handler = failing(503)
    backup.handler = answer
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body("claude-sonnet-4-5"))
    assert response.headers["x-anthroxy-route"] == "back/m2"
    got = await scrape(client)
    tier = {"provider": "back", "model": "m2", "client_model": "sonnet", "status": "200"}
    assert got[("anthroxy_requests_total", labels(**tier))] == 1


async def test_failure_and_fallback_are_counted(upstream, backup, gateway) -> None:
    upstream.handler = failing(529, "overloaded_error")
    backup.handler = answer
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body("claude-haiku-test"))
    assert response.status == 200
    assert response.headers["x-anthroxy-route"] == "back/m2"
    got = await scrape(client)
    # No configured tier matches the client's name: the default routes it, as "other".
    routed = {"provider": "back", "model": "m2", "client_model": "other"}
    assert got[("anthroxy_requests_total", labels(**routed, status="200"))] == 1
    assert got[("anthroxy_fallbacks_total", labels(from_provider="prim", to_provider="back"))] == 1
    errors = labels(provider="prim", kind="overloaded_error")
    assert got[("anthroxy_upstream_errors_total", errors)] == 1
    assert got[("anthroxy_breaker_state", labels(provider="prim"))] == 2  # open: 1 failure
    assert got[("anthroxy_breaker_failures", labels(provider="prim"))] == 1
    assert got[("anthroxy_breaker_state", labels(provider="back"))] == 0


async def test_unreachable_and_final_failure(backup, gateway) -> None:
    backup.handler = failing(500)
    client = await gateway(f"http://127.0.0.1:{free_port()}")
    response = await client.post("/v1/messages", json=message_body("claude-haiku-test"))
    assert response.status == 500
    got = await scrape(client)
    assert got[("anthroxy_upstream_errors_total", labels(provider="prim", kind="unreachable"))] == 1
    assert got[("anthroxy_upstream_errors_total", labels(provider="back", kind="api_error"))] == 1
    failed = {"provider": "back", "model": "m2", "client_model": "other", "status": "500"}
    assert got[("anthroxy_requests_total", labels(**failed))] == 1


async def test_a_silent_upstream_counts_as_timeout(aiohttp_client, upstream, backup) -> None:
    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response(MESSAGE)

    upstream.handler = silent
    backup.handler = answer
    settings = make_settings(upstream.url, backup.url, read_timeout=0.2)
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/v1/messages", json=message_body("claude-haiku-test"))
    assert response.headers["x-anthroxy-route"] == "back/m2"
    got = await scrape(client)
    assert got[("anthroxy_upstream_errors_total", labels(provider="prim", kind="timeout"))] == 1


async def test_refused_request_is_counted_without_a_route(upstream, gateway) -> None:
    client = await gateway()
    response = await client.post(
        "/v1/messages", data=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status == 400
    got = await scrape(client)
    unrouted = {"provider": "none", "model": "none", "client_model": "none"}
    assert got[("anthroxy_requests_total", labels(**unrouted, status="400"))] == 1
    assert not [k for k in got if k[0] == "anthroxy_request_duration_seconds_count"]


async def test_metrics_need_the_token_when_one_is_set(upstream, gateway) -> None:
    client = await gateway(auth_token="proxy-token-123456", metrics_token="scrape-token-654321")
    for headers in ({}, {"authorization": "Bearer wrong-token-000000"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status == 401
        error = (await response.json())["error"]
        assert error["type"] == "authentication_error"
        assert "metrics_token" in error["message"]
    await scrape(client, "scrape-token-654321")
    await scrape(client, "proxy-token-123456")
    # The scrape token is for /metrics only.
    response = await client.post(
        "/v1/messages",
        json=message_body("solo"),
        headers={"authorization": "Bearer scrape-token-654321"},
    )
    assert response.status == 401


async def test_metrics_token_alone_closes_metrics_only(upstream, gateway) -> None:
    client = await gateway(metrics_token="scrape-token-654321")
    assert (await client.get("/metrics")).status == 401
    await scrape(client, "scrape-token-654321")
    assert (await client.get("/healthz")).status == 200


async def test_random_model_names_keep_labels_bounded(upstream, backup, gateway) -> None:
    upstream.handler = failing(400, "invalid_request_error")  # no fallback, no breaker
    client = await gateway()
    rng = random.Random(17)
    for n in range(100):
        word = "".join(rng.choices(string.ascii_letters, k=12))
        # A provider/model target passes the name upstream; a bare name takes the default tier.
        model = f"prim/{word}" if n % 2 else f"claude-{word}"
        response = await client.post("/v1/messages", json=message_body(model))
        assert response.status == 400
    got = await scrape(client)
    series = {key for key in got if key[0] == "anthroxy_requests_total"}
    assert series == {
        ("anthroxy_requests_total", labels(provider="prim", model="other",
         client_model="other", status="400")),
        ("anthroxy_requests_total", labels(provider="prim", model="m1",
         client_model="other", status="400")),
    }  # fmt: skip
    assert sum(got[key] for key in series) == 100


async def test_active_streams_during_a_slow_stream(upstream, gateway) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(START)
        await release.wait()
        await response.write(REST)
        await response.write_eof()
        return response

    upstream.handler = slow
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body("prim/m1", stream=True))
    assert response.status == 200
    await response.content.readuntil(b"\n\n")  # message_start arrived
    assert (await scrape(client))[("anthroxy_active_streams", ())] == 1
    release.set()
    await response.read()
    await asyncio.sleep(0.05)  # the handler's end runs after the last byte left
    got = await scrape(client)
    assert got[("anthroxy_active_streams", ())] == 0
    routed = {"provider": "prim", "model": "m1", "client_model": "prim/m1"}
    assert got[("anthroxy_time_to_first_token_seconds_count", labels(**routed))] == 1


async def test_credential_cooldown_is_read_at_scrape(aiohttp_client, upstream) -> None:
    async def per_key(request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-api-key") == SECRET_KEY:
            error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
            return web.json_response(error, status=429, headers={"retry-after": "30"})
        return await answer(request)

    upstream.handler = per_key
    raw = {
        "providers": {
            "multi": {
                "api": "anthropic",
                "base_url": upstream.url,
                "auth": "x-api-key",
                "models": ["m1"],
                "api_keys": [SECRET_KEY, OTHER_KEY],
                "rotation": "round-robin",
            }
        },
        "tiers": {"default": "multi/m1"},
    }
    client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))
    response = await client.post("/v1/messages", json=message_body())
    assert response.status == 200
    got = await scrape(client)
    cooling = {
        dict(key[1])["credential"]: value
        for key, value in got.items()
        if key[0] == "anthroxy_credential_cooldown_seconds"
    }
    assert sorted(cooling) == ["api_keys #1", "api_keys #2"]
    assert 29 < cooling["api_keys #1"] <= 30
    assert cooling["api_keys #2"] == 0
    text = await (await client.get("/metrics")).text()
    assert SECRET_KEY not in text and OTHER_KEY not in text


async def test_a_reload_changes_the_token_and_keeps_the_counts(upstream, backup, gateway) -> None:
    backup.handler = answer
    client = await gateway(metrics_token="scrape-token-654321")
    assert (await client.post("/v1/messages", json=message_body("solo"))).status == 200
    new = make_settings(upstream.url, backup.url, {"metrics_token": "rotated-token-987654"})
    assert await reload.reload(client.app, lambda: new)
    assert (await client.get("/metrics", headers=bearer("scrape-token-654321"))).status == 401
    got = await scrape(client, "rotated-token-987654")
    assert got[("anthroxy_requests_total", labels(**SOLO, status="200"))] == 1


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
