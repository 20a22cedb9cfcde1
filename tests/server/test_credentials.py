"""Several keys per provider: a fake upstream on loopback answers per key (429 with retry-after,
401, or a message), and the gateway in front of it must step over the bad keys without the
client noticing, rest a rate-limited key for as long as it was told, never use a refused one
again, keep a conversation on its key, and show each key's state without its value."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.cli.credential_view import credential_section
from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway import reload
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.breaker import CircuitBreakers
from anthroxy_server.gateway.fallback import BREAKERS
from anthroxy_server.providers.credentials import (
    CREDENTIAL_POOLS,
    CredentialPools,
)

from .conftest import FakeUpstream, fixture_bytes, message_body, sse_events

KEYS = {
    "KEY_A": "sk-AAAA-secret-never-shown-0000000001",
    "KEY_B": "sk-BBBB-secret-never-shown-0000000002",
    "KEY_C": "sk-CCCC-secret-never-shown-0000000003",
}
WHO = {secret: name for name, secret in KEYS.items()}
SESSION = "x-claude-code-session-id"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reply(text: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up-model",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def error(status: int, kind: str, message: str, **headers: str) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def rate_limited(seconds: str) -> web.Response:
    return error(429, "rate_limit_error", "slow down", **{"retry-after": seconds})


def revoked() -> web.Response:
    return error(401, "authentication_error", "invalid x-api-key")


class PerKey:
    """The fake's behaviour per key: name -> a function giving the answer (default: a reply)."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self.answers: dict[str, Callable[[], web.StreamResponse]] = {}
        self.used: list[str] = []  # key names, in the order requests came
        upstream.handler = self.handle

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = WHO.get(request.headers.get("x-api-key", ""), "unknown")
        self.used.append(name)
        answer = self.answers.get(name)
        if answer is not None:
            return answer()
        if json.loads(await request.read()).get("stream"):
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            await response.write(fixture_bytes("stream_text.sse"))
            return response
        return web.json_response(reply(f"served by {name}"))


def raw_config(url: str, **provider: Any) -> dict[str, Any]:
    table = {
        "api": "anthropic",
        "base_url": url,
        "auth": "x-api-key",
        "models": ["up-model"],
        "api_keys_env": ["KEY_A", "KEY_B", "KEY_C"],
        **provider,
    }
    return {
        "providers": {"multi": table},
        "tiers": {"default": "multi/up-model"},
        "routing": {"circuit_breaker": {"failures": 1, "cooldown": 600}},
    }


@pytest.fixture
def per_key(upstream: FakeUpstream) -> PerKey:
    return PerKey(upstream)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway(aiohttp_client: Any, upstream: FakeUpstream, clock: Clock) -> Callable[..., Any]:
    async def make(**provider: Any) -> Any:
        settings = settings_from_config(
            structure_config(raw_config(upstream.url, **provider)), KEYS
        )
        app = create_app(settings)
        app[CREDENTIAL_POOLS] = CredentialPools(clock=clock, wall=lambda: 1_800_000_000.0)
        app[BREAKERS] = CircuitBreakers(failures=1, cooldown=600, clock=clock)
        return await aiohttp_client(app)

    return make


async def send(client: Any, session: str | None = None, **body: Any) -> Any:
    headers = {SESSION: session} if session else {}
    return await client.post("/v1/messages", json=message_body(**body), headers=headers)


async def test_a_rate_limited_and_a_revoked_key_are_stepped_over(
    gateway: Any, per_key: PerKey, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="anthroxy")
    per_key.answers = {"KEY_A": lambda: rate_limited("30"), "KEY_B": revoked}
    client = await gateway()
    first = await send(client)
    assert first.status == 200, await first.text()
    assert (await first.json())["content"][0]["text"] == "served by KEY_C"
    assert per_key.used == ["KEY_A", "KEY_B", "KEY_C"]  # retried at once, the client saw a 200

    second = await send(client)
    assert second.status == 200
    assert per_key.used[3:] == ["KEY_C"]  # A rests, B is set aside: no wasted call

    clock.now += 29
    await send(client)
    assert per_key.used[4:] == ["KEY_C"]  # 29 s < 30 s: A still rests
    clock.now += 1
    del per_key.answers["KEY_A"]
    third = await send(client)
    assert (await third.json())["content"][0]["text"] == "served by KEY_A"
    for _ in range(4):
        assert (await send(client)).status == 200
    assert "KEY_B" not in per_key.used[3:]  # never again until a reload

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "credential env:KEY_A is rate-limited; resting it 30 s" in logged
    assert "credential env:KEY_B was refused (HTTP 401)" in logged
    assert not any(secret in logged for secret in KEYS.values())
    assert not any(secret[:8] in logged for secret in KEYS.values())


async def test_healthz_shows_each_state_never_the_key(
    gateway: Any, per_key: PerKey, clock: Clock
) -> None:
    per_key.answers = {"KEY_A": lambda: rate_limited("30"), "KEY_B": revoked}
    client = await gateway()
    await send(client)
    clock.now += 10
    health = await client.get("/healthz")
    text = await health.text()
    entry = json.loads(text)["providers"]["multi"]
    assert entry["rotation"] == "round-robin"
    assert entry["credentials"] == [
        {
            "label": "env:KEY_A",
            "state": "cooling",
            "until": "2027-01-15T08:00:20Z",  # the wall clock + the 20 s left
            "retry_in_s": 20.0,
            "requests": 1,
            "rate_limited": 1,
        },
        {
            "label": "env:KEY_B",
            "state": "refused",
            "refused_status": 401,
            "requests": 1,
            "rate_limited": 0,
        },
        {"label": "env:KEY_C", "state": "active", "requests": 1, "rate_limited": 0},
    ]
    assert not any(secret[:8] in text for secret in KEYS.values())
    assert "sk-" not in text

    status = credential_section(json.loads(text))
    assert status.splitlines() == [
        "credentials:",
        "  multi (round-robin):",
        "    env:KEY_A  cooling until 2027-01-15T08:00:20Z (20 s left), 1 request, 1 rate-limited",
        "    env:KEY_B  refused (HTTP 401; `anthroxy reload` retries it), 1 request",
        "    env:KEY_C  active, 1 request",
    ]


async def test_a_quota_error_rests_the_key_until_the_reset_the_provider_gives(
    gateway: Any, per_key: PerKey, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="anthroxy")
    reset = {  # no retry-after: the exhausted limit's reset time decides (wall: 08:00:00)
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:45Z",
        "anthropic-ratelimit-requests-remaining": "10",
        "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:02Z",
    }
    per_key.answers = {"KEY_A": lambda: error(429, "rate_limit_error", "quota", **reset)}
    client = await gateway()
    assert (await send(client)).status == 200
    entry = (await (await client.get("/healthz")).json())["providers"]["multi"]
    assert entry["credentials"][0]["retry_in_s"] == 45.0
    assert sum("is rate-limited" in r.getMessage() for r in caplog.records) == 1


async def test_count_tokens_uses_the_pool_too(
    gateway: Any, per_key: PerKey, upstream: FakeUpstream
) -> None:
    counted: list[str] = []

    async def count(request: web.Request) -> web.Response:
        counted.append(WHO.get(request.headers.get("x-api-key", ""), "unknown"))
        return web.json_response({"input_tokens": 7})

    upstream.count_handler = count
    per_key.answers = {"KEY_A": revoked}
    client = await gateway()
    await send(client)  # A is refused here and set aside
    for text in ("one", "two", "three"):
        body = message_body(messages=[{"role": "user", "content": text}])
        answer = await client.post("/v1/messages/count_tokens", json=body)
        assert (await answer.json()) == {"input_tokens": 7}
    assert counted == ["KEY_C", "KEY_B", "KEY_C"]


async def test_round_robin_spreads_requests_over_the_keys(gateway: Any, per_key: PerKey) -> None:
    client = await gateway()
    for _ in range(6):
        assert (await send(client)).status == 200
    assert per_key.used == ["KEY_A", "KEY_B", "KEY_C"] * 2


async def test_fill_first_uses_the_first_key_until_it_is_rate_limited(
    gateway: Any, per_key: PerKey, clock: Clock
) -> None:
    client = await gateway(rotation="fill-first")
    for _ in range(3):
        await send(client)
    assert per_key.used == ["KEY_A"] * 3
    per_key.answers["KEY_A"] = lambda: rate_limited("5")
    for _ in range(3):
        assert (await send(client)).status == 200
    assert per_key.used[3:] == ["KEY_A", "KEY_B", "KEY_B", "KEY_B"]
    del per_key.answers["KEY_A"]
    clock.now += 5
    await send(client)
    assert per_key.used[-1] == "KEY_A"  # rested: first again


async def test_a_conversation_stays_on_its_key(gateway: Any, per_key: PerKey) -> None:
    client = await gateway()
    for session in ("session-one-1234", "session-two-1234", "session-one-1234"):
        await send(client, session)
    await send(client)  # no session: the rotation goes on
    await send(client, "session-two-1234")
    assert per_key.used == ["KEY_A", "KEY_B", "KEY_A", "KEY_C", "KEY_B"]

    # Its key rate-limited, the conversation moves on, and stays where it landed.
    per_key.answers["KEY_A"] = lambda: rate_limited("60")
    await send(client, "session-one-1234")
    del per_key.answers["KEY_A"]
    await send(client, "session-one-1234")
    assert per_key.used[5:] == ["KEY_A", "KEY_B", "KEY_B"]


async def test_the_metadata_session_also_keeps_a_conversation(
    gateway: Any, per_key: PerKey
) -> None:
    client = await gateway()
    user_id = json.dumps({"device_id": "d", "session_id": "meta-session-0001"})
    for _ in range(3):
        await send(client, metadata={"user_id": user_id})
    assert per_key.used == ["KEY_A"] * 3


async def test_every_key_resting_gives_429_with_the_shortest_wait(
    gateway: Any, per_key: PerKey, clock: Clock
) -> None:
    per_key.answers = {
        "KEY_A": lambda: rate_limited("30"),
        "KEY_B": lambda: rate_limited("5"),
        "KEY_C": lambda: rate_limited("12"),
    }
    client = await gateway()
    first = await send(client)
    assert first.status == 429
    assert first.headers["retry-after"] == "5"
    assert (await first.json())["error"]["type"] == "rate_limit_error"

    clock.now += 2
    second = await send(client)  # nobody is asked: every key rests
    assert second.status == 429 and second.headers["retry-after"] == "3"
    assert "every key is rate-limited" in (await second.json())["error"]["message"]
    assert len(per_key.used) == 3


async def test_resting_and_refused_keys_together_give_429_naming_the_refused(
    gateway: Any, per_key: PerKey
) -> None:
    per_key.answers = {
        "KEY_A": lambda: rate_limited("30"),
        "KEY_B": revoked,
        "KEY_C": lambda: rate_limited("10"),
    }
    client = await gateway()
    first = await send(client)
    assert first.status == 429 and first.headers["retry-after"] == "10"
    second = await send(client)
    message = (await second.json())["error"]["message"]
    assert second.status == 429 and second.headers["retry-after"] == "10"
    assert "every key is rate-limited (set aside: env:KEY_B: 401)" in message
    assert len(per_key.used) == 3


async def test_every_key_refused_is_a_401_naming_them(gateway: Any, per_key: PerKey) -> None:
    per_key.answers = dict.fromkeys(KEYS, revoked)
    client = await gateway()
    assert (await send(client)).status == 401
    again = await send(client)
    message = (await again.json())["error"]["message"]
    assert again.status == 401
    assert "env:KEY_A: 401, env:KEY_B: 401, env:KEY_C: 401" in message
    assert len(per_key.used) == 3


async def test_the_breaker_stays_closed_while_one_key_works(gateway: Any, per_key: PerKey) -> None:
    per_key.answers = {"KEY_A": lambda: rate_limited("30"), "KEY_B": lambda: rate_limited("30")}
    client = await gateway()  # the breaker opens after ONE failure
    for _ in range(3):
        assert (await send(client)).status == 200
    breaker = (await (await client.get("/healthz")).json())["providers"]["multi"]["breaker"]
    assert breaker["state"] == "closed"

    per_key.answers["KEY_C"] = lambda: rate_limited("30")  # now every key fails
    assert (await send(client)).status == 429
    breaker = (await (await client.get("/healthz")).json())["providers"]["multi"]["breaker"]
    assert breaker["state"] == "open"


async def test_a_stream_moves_to_the_next_key_before_its_first_event(
    gateway: Any, per_key: PerKey
) -> None:
    per_key.answers = {"KEY_A": lambda: rate_limited("30")}
    client = await gateway()
    response = await send(client, stream=True)
    assert response.status == 200
    events = [name for name, _ in sse_events(await response.read())]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert per_key.used == ["KEY_A", "KEY_B"]


async def test_a_reload_keeps_rests_and_forgives_refusals(upstream: FakeUpstream) -> None:
    clock = Clock()
    pools = CredentialPools(clock=clock)
    first = settings_from_config(structure_config(raw_config(upstream.url)), KEYS).providers
    pool = pools.pool_for(first["multi"], 1)
    assert pool is not None
    a, b, _ = (pool.pick(None) for _ in range(3))
    assert a is not None and b is not None
    pool.cool(a, 30)
    pool.refuse(b, 401)

    again = settings_from_config(structure_config(raw_config(upstream.url)), KEYS).providers
    assert pools.pool_for(first["multi"], 1) is pool  # the same configuration: the same pool
    reloaded = pools.pool_for(again["multi"], 2)
    assert reloaded is not None and reloaded is not pool
    states = {c["label"]: c["state"] for c in reloaded.describe()}
    assert states == {"env:KEY_A": "cooling", "env:KEY_B": "active", "env:KEY_C": "active"}
    assert [c["requests"] for c in reloaded.describe()] == [1, 1, 1]
    # A request that began before the reload shares the new pool (same keys).
    assert pools.pool_for(first["multi"], 1) is reloaded


async def test_after_a_reload_a_refused_key_is_tried_again_and_a_rest_goes_on(
    gateway: Any, per_key: PerKey, upstream: FakeUpstream, clock: Clock
) -> None:
    per_key.answers = {"KEY_A": lambda: rate_limited("30"), "KEY_B": revoked}
    client = await gateway()
    await send(client)
    assert per_key.used == ["KEY_A", "KEY_B", "KEY_C"]
    del per_key.answers["KEY_B"]  # the user fixed the key, then reloads
    fresh = settings_from_config(structure_config(raw_config(upstream.url)), KEYS)
    assert await reload.reload(client.app, lambda: fresh)
    for _ in range(2):
        assert (await send(client)).status == 200
    assert per_key.used[3:] == ["KEY_B", "KEY_C"]  # A still rests; B is back
