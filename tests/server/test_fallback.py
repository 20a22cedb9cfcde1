"""Invariant: a request whose target fails before the client saw a byte is answered by the next
target of its fallback chain; once bytes went out, or when the request itself is at fault, the
failure is the answer. Real app, two fake upstreams on loopback (or a closed port)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import anthropic
import pytest
from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.breaker import BREAKERS, CircuitBreakers
from tests.anthropic_stream_validator import accumulate, validate_sse

from .conftest import SECRET_KEY, FakeUpstream, fixture_bytes, free_port, message_body, sse_events

MESSAGE = {
    "id": "msg_up",
    "type": "message",
    "role": "assistant",
    "model": "upstream-name",
    "content": [{"type": "text", "text": "from backup"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 2},
}
# Claude Code's unknown-model request: a sonnet-tier name routed by the default tier.
ASKED = "claude-sonnet-test"


@pytest.fixture
async def backup(aiohttp_server: Any) -> FakeUpstream:
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    fake.server = await aiohttp_server(app)
    return fake


def settings(
    primary_url: str, backup_url: str, server: dict[str, Any] | None = None, **routing: Any
) -> Any:
    provider = {"api": "anthropic", "api_key": SECRET_KEY, "read_timeout": 5.0}
    raw = {
        "server": server or {},
        "providers": {
            "prim": {**provider, "base_url": primary_url, "models": ["m1"], "connect_timeout": 2},
            "back": {**provider, "base_url": backup_url, "models": ["m2"]},
            "bchat": {"api": "chat", "base_url": backup_url + "/v1", "api_key": SECRET_KEY},
        },
        "tiers": {"default": "prim/m1"},
        "aliases": {"solo": "back/m2", "to-chat": "prim/m0"},
        "routing": {
            "fallbacks": {"prim/m1": ["back/m2"], "prim/m0": ["bchat/gpt-4o-mini"]},
            **routing,
        },
    }
    return settings_from_config(structure_config(raw), {})


@pytest.fixture
def gateway(aiohttp_client: Any, upstream: FakeUpstream, backup: FakeUpstream) -> Any:
    async def make(primary_url: str | None = None, clock: Any = None, **routing: Any) -> Any:
        app = create_app(settings(primary_url or upstream.url, backup.url, **routing))
        if clock is not None:
            old = app[BREAKERS]
            app[BREAKERS] = CircuitBreakers(
                failures=old.threshold, cooldown=old.cooldown, clock=clock
            )
        return await aiohttp_client(app)

    return make


async def answer(request: web.Request) -> web.StreamResponse:
    """A healthy Anthropic upstream: JSON, or the recorded text stream."""
    body = await request.json()
    if body.get("stream"):
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(fixture_bytes("stream_text.sse"))
        await response.write_eof()
        return response
    return web.json_response(MESSAGE)


def failing(status: int, headers: dict[str, str] | None = None) -> Any:
    async def handler(request: web.Request) -> web.Response:
        text = '{"type":"error","error":{"type":"api_error","message":"primary is down"}}'
        return web.Response(status=status, text=text, headers=headers or {})

    return handler


async def _check_backup_answered(response: Any, stream: bool, backup: FakeUpstream) -> None:
    assert response.status == 200
    assert response.headers["x-anthroxy-route"] == "back/m2"
    assert [seen.body["model"] for seen in backup.seen] == ["m2"]
    if stream:
        events = validate_sse(await response.read())
        assert accumulate(events)["model"] == ASKED
        assert accumulate(events)["content"] == [{"type": "text", "text": "2"}]
    else:
        message = await response.json()
        assert message["content"] == MESSAGE["content"]
        assert message["model"] == ASKED  # the reply still carries the name the client used


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", ["refused", 429, 503, 500])
async def test_failed_primary_falls_back_to_next_target(
    upstream, backup, gateway, fault, stream
) -> None:
    backup.handler = answer
    if fault == "refused":
        client = await gateway(f"http://127.0.0.1:{free_port()}")
    else:
        upstream.handler = failing(fault)
        client = await gateway()
    response = await client.post("/v1/messages", json=message_body(ASKED, stream=stream))
    await _check_backup_answered(response, stream, backup)
    if fault != "refused":
        assert len(upstream.seen) == 1  # tried once (attempts_per_target = 1)


async def test_fallback_across_dialects(upstream, backup, gateway) -> None:
    """An Anthropic-dialect primary falls back to a Chat Completions provider."""
    upstream.handler = failing(502)

    async def chat(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "id": "c1",
                "object": "chat.completion",
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi from chat"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
            }
        )

    backup.handler = chat
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body("to-chat"))
    assert response.status == 200
    assert response.headers["x-anthroxy-route"] == "bchat/gpt-4o-mini"
    assert (await response.json())["content"] == [{"type": "text", "text": "hi from chat"}]
    assert backup.seen[0].path == "/v1/chat/completions"


async def test_failure_after_first_streamed_byte_is_not_retried(upstream, backup, gateway) -> None:
    head = fixture_bytes("stream_text.sse").split(b"event: content_block_delta")[0]

    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(head)  # message_start + content_block_start, then the line drops
        await asyncio.sleep(0.2)  # long enough for the gateway to forward them
        assert request.transport is not None
        request.transport.close()
        return response

    upstream.handler = cut
    backup.handler = answer
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
    assert response.status == 200
    assert response.headers["x-anthroxy-route"] == "prim/m1"
    events = sse_events(await response.read())
    assert events[0][0] == "message_start"
    assert events[-1][0] == "error"
    assert backup.seen == []


async def test_request_errors_are_not_retried(upstream, backup, gateway) -> None:
    upstream.handler = failing(400)
    backup.handler = answer
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert response.status == 400
    assert response.headers["x-anthroxy-route"] == "prim/m1"
    assert (await response.json())["error"]["type"] == "invalid_request_error"
    assert backup.seen == []


async def test_all_targets_fail_client_gets_the_last_error(upstream, backup, gateway) -> None:
    upstream.handler = failing(503)
    backup.handler = failing(429, {"retry-after": "3"})
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert response.status == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["x-anthroxy-route"] == "back/m2"
    message = (await response.json())["error"]["message"]
    assert (
        "prim/m1: 529 overloaded_error" in message
    )  # upstream 503 -> 529 (docs/protocol/translation-rules.md §7.1)
    assert "back/m2: 429 rate_limit_error" in message


async def test_retry_after_within_cap_retries_same_target(upstream, backup, gateway) -> None:
    times: list[float] = []

    async def limited_once(request: web.Request) -> web.StreamResponse:
        times.append(time.monotonic())
        if len(times) == 1:
            return await failing(429, {"retry-after": "0.2"})(request)
        return web.json_response({**MESSAGE, "content": [{"type": "text", "text": "primary"}]})

    upstream.handler = limited_once
    backup.handler = answer
    client = await gateway(retry={"attempts_per_target": 2, "max_retry_after": 1.0})
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert response.status == 200
    assert response.headers["x-anthroxy-route"] == "prim/m1"
    assert len(times) == 2 and times[1] - times[0] >= 0.2
    assert backup.seen == []


async def test_retry_after_above_cap_moves_on_at_once(upstream, backup, gateway) -> None:
    upstream.handler = failing(429, {"retry-after": "30"})
    backup.handler = answer
    client = await gateway(retry={"attempts_per_target": 3, "max_retry_after": 0.5})
    started = time.monotonic()
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert time.monotonic() - started < 5
    assert response.headers["x-anthroxy-route"] == "back/m2"
    assert len(upstream.seen) == 1  # no retry of the primary: it asked for 30 s


async def test_backoff_between_attempts_without_retry_after(upstream, backup, gateway) -> None:
    upstream.handler = failing(500)
    backup.handler = answer
    client = await gateway(retry={"attempts_per_target": 3, "backoff": 0.05})
    started = time.monotonic()
    response = await client.post("/v1/messages", json=message_body(ASKED))
    # waits 0.05*U[0.5,1) then 0.1*U[0.5,1): at least 0.075 s in all
    assert time.monotonic() - started >= 0.075
    assert len(upstream.seen) == 3
    assert response.headers["x-anthroxy-route"] == "back/m2"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_breaker_opens_skips_then_half_opens(upstream, backup, gateway) -> None:
    clock = Clock()
    upstream.handler = failing(503)
    backup.handler = answer
    client = await gateway(clock=clock, circuit_breaker={"failures": 2, "cooldown": 30})

    for _ in range(2):
        response = await client.post("/v1/messages", json=message_body(ASKED))
        assert response.headers["x-anthroxy-route"] == "back/m2"
    assert len(upstream.seen) == 2
    health = await (await client.get("/healthz")).json()
    last_error = {"status": 529, "reason": "prim (HTTP 503): primary is down", "age_s": 0.0}
    until = health["providers"]["prim"]["breaker"].pop("open_until")  # wall clock, UTC
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", until)
    assert health["providers"]["prim"]["breaker"] == {
        "state": "open",
        "failures": 2,
        "retry_in_s": 30.0,
        "last_error": last_error,
    }
    assert health["providers"]["back"]["breaker"]["state"] == "closed"
    assert health["status"] == "degraded"

    clock.now += 10
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert response.headers["x-anthroxy-route"] == "back/m2"
    assert len(upstream.seen) == 2  # skipped: the breaker is open
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["prim"]["breaker"]["retry_in_s"] == 20.0

    clock.now += 21  # cooldown over: one trial request
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["prim"]["breaker"]["state"] == "half-open"
    upstream.handler = answer
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert response.headers["x-anthroxy-route"] == "prim/m1"
    assert len(upstream.seen) == 3
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["prim"]["breaker"] == {
        "state": "closed",
        "failures": 0,
        "retry_in_s": 0.0,
        "last_error": {**last_error, "age_s": 31.0},  # kept after recovery, with its age
    }
    assert health["status"] == "ok"


async def test_failed_half_open_trial_opens_again(upstream, backup, gateway) -> None:
    clock = Clock()
    upstream.handler = failing(503)
    backup.handler = answer
    client = await gateway(clock=clock, circuit_breaker={"failures": 1, "cooldown": 5})
    await client.post("/v1/messages", json=message_body(ASKED))
    clock.now += 6
    await client.post("/v1/messages", json=message_body(ASKED))  # the trial, fails
    assert len(upstream.seen) == 2
    await client.post("/v1/messages", json=message_body(ASKED))
    assert len(upstream.seen) == 2  # open again for a new cooldown
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["prim"]["breaker"]["state"] == "open"


async def test_open_breaker_on_the_only_target_still_tries(backup, gateway) -> None:
    clock = Clock()
    backup.handler = failing(503)
    client = await gateway(clock=clock, circuit_breaker={"failures": 1, "cooldown": 60})
    response = await client.post("/v1/messages", json=message_body("solo"))
    assert response.status == 529  # one transient failure: the client may retry it
    assert "x-should-retry" not in response.headers
    response = await client.post("/v1/messages", json=message_body("solo"))
    assert len(backup.seen) == 2  # tried although open: an attempt beats an instant error
    # Failed again with its breaker open: nothing can serve, so the client must stop retrying.
    assert response.status == 503 and response.headers["x-should-retry"] == "false"
    message = (await response.json())["error"]["message"]
    assert message.startswith("anthroxy: no provider can serve solo right now. back/m2: ")
    assert "primary is down (breaker open)" in message
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["back"]["breaker"]["state"] == "open"


async def test_each_attempt_is_logged_with_the_request_id(upstream, backup, gateway, caplog):
    upstream.handler = failing(503)
    backup.handler = answer
    client = await gateway()
    with caplog.at_level("INFO", logger="anthroxy"):
        response = await client.post("/v1/messages", json=message_body(ASKED))
    request_id = response.headers["request-id"]
    attempts = [r for r in caplog.records if r.getMessage().startswith("attempt ")]
    assert [r.fields["provider"] for r in attempts] == ["prim", "back"]
    assert [r.fields["outcome"] for r in attempts] == ["529 overloaded_error", "ok"]
    assert all(re.fullmatch(r"\d+(\.\d+)?", str(r.fields["latency_ms"])) for r in attempts)
    assert all(r.request_id == request_id for r in attempts)


async def test_sdk_client_gets_the_backup_answer(upstream, backup, gateway) -> None:
    upstream.handler = failing(503)
    backup.handler = answer
    client = await gateway()
    api = anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="client-key", max_retries=0
    )
    message = await api.messages.create(
        model=ASKED, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "from backup"  # type: ignore[union-attr]
    async with api.messages.stream(
        model=ASKED, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "2"  # type: ignore[union-attr]
    raw = await api.messages.with_raw_response.create(
        model=ASKED, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-anthroxy-route"] == "back/m2"


async def test_failure_after_a_ping_is_reported_logged_and_counted(
    upstream, backup, aiohttp_client, caplog
) -> None:
    """An upstream that answers 503 only after the first ping: the client already holds an open
    stream, so the failure is an SSE error, and the attempt is a failure in the log and for the
    breaker (one failure of a threshold of one opens it)."""

    async def slow_503(request: web.Request) -> web.Response:
        await asyncio.sleep(0.25)
        return await failing(503)(request)

    upstream.handler = slow_503
    backup.handler = answer
    raw = {
        "server": {"ping_interval": 0.05},
        "providers": {
            "prim": {"api": "anthropic", "api_key": SECRET_KEY, "base_url": upstream.url},
        },
        "tiers": {"default": "prim/m1"},
        "routing": {"circuit_breaker": {"failures": 1, "cooldown": 60.0}},
    }
    client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))
    with caplog.at_level("INFO", logger="anthroxy"):
        response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
        events = sse_events(await response.read())
    assert response.status == 200
    assert events[0][0] == "ping"
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == "overloaded_error"
    attempts = [r for r in caplog.records if r.getMessage().startswith("attempt ")]
    assert [r.fields["outcome"] for r in attempts] == ["529 overloaded_error"]
    access = [r for r in caplog.records if r.name == "anthroxy.access"]
    assert access[-1].getMessage().endswith(" error=529 overloaded_error")
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["prim"]["breaker"]["state"] == "open"


async def test_an_upstream_error_event_mid_stream_counts_as_that_failure(
    upstream, backup, gateway, caplog
) -> None:
    """An Anthropic upstream that reports overload inside its 200 stream: the client gets the
    event, and the attempt is that failure in the log, the breaker and the access line."""
    head = fixture_bytes("stream_text.sse").split(b"event: content_block_delta")[0]
    overloaded = (
        b'event: error\r\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\r\n\r\n'
    )

    async def fails_mid_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(head)
        await asyncio.sleep(0.2)  # the client gets message_start before the failure
        await response.write(overloaded)
        await response.write_eof()
        return response

    upstream.handler = fails_mid_stream
    backup.handler = answer
    client = await gateway()
    with caplog.at_level("INFO", logger="anthroxy"):
        response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
        events = sse_events(await response.read())
    assert events[-1][0] == "error"
    assert backup.seen == []  # the client already holds part of the answer
    attempts = [r for r in caplog.records if r.getMessage().startswith("attempt ")]
    assert [r.fields["outcome"] for r in attempts] == ["529 overloaded_error"]
    access = [r for r in caplog.records if r.name == "anthroxy.access"]
    assert access[-1].getMessage().endswith(" error=529 overloaded_error")


def pings_then(status: int, pings: int, interval: float) -> Any:
    """An upstream that thinks for ``pings`` ping intervals, then refuses with ``status``."""

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(interval * (pings + 0.5))
        return await failing(status)(request)

    return handler


@pytest.mark.parametrize("backup_model", ["back/m2", "bchat/gpt-4o-mini"])
async def test_a_503_after_two_pings_falls_back_with_one_clean_stream(
    upstream, backup, aiohttp_client, caplog, backup_model
) -> None:
    """Nothing but pings reached the client: the next target answers on the same open stream,
    which the client sees as one ordinary answer. Each attempt is logged and judged."""
    upstream.handler = pings_then(503, pings=2, interval=0.05)

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for delta, finish in (({"role": "assistant", "content": "2"}, None), ({}, "stop")):
            chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response

    backup.handler = answer if backup_model == "back/m2" else chat
    fallbacks = {"prim/m1": [backup_model]}
    config = settings(upstream.url, backup.url, server={"ping_interval": 0.05}, fallbacks=fallbacks)
    client = await aiohttp_client(create_app(config))
    with caplog.at_level("INFO", logger="anthroxy"):
        response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
        raw = await response.read()
    assert response.status == 200
    names = [name for name, _ in sse_events(raw)]
    assert names[:2] == ["ping", "ping"]
    assert names.count("message_start") == 1 and "error" not in names
    # The pings that kept the client waiting, then exactly one valid stream.
    events = validate_sse(raw[raw.index(b"event: message_start") :])
    assert accumulate(events)["content"] == [{"type": "text", "text": "2"}]
    assert accumulate(events)["model"] == ASKED
    attempts = [r for r in caplog.records if r.getMessage().startswith("attempt ")]
    assert [r.fields["outcome"] for r in attempts] == ["529 overloaded_error", "ok"]
    access = [r for r in caplog.records if r.name == "anthroxy.access"][-1].getMessage()
    assert f"route={backup_model}" in access and "error=" not in access
    assert access.endswith(" tried=prim/m1:529")  # every failed attempt, in the access line
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["prim"]["breaker"]["failures"] == 1


async def test_an_in_band_failure_before_the_first_event_falls_back(
    upstream, backup, gateway
) -> None:
    """A 200 stream whose first event is an error (an overloaded upstream behind a relay) gave
    the client nothing: the backup answers, and the client gets only the backup's stream."""

    async def overloaded_at_once(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        await response.write(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
        return response

    upstream.handler = overloaded_at_once
    backup.handler = answer
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
    await _check_backup_answered(response, True, backup)


async def test_a_failed_attempts_headers_do_not_ride_on_the_backups_stream(
    upstream, backup, gateway
) -> None:
    """The primary answers 200 with its request id and a rejected rate limit, then fails before
    its first event: the client gets the backup's stream, without the primary's headers."""

    async def overloaded_with_headers(request: web.Request) -> web.StreamResponse:
        headers = {
            "content-type": "text/event-stream",
            "request-id": "req_PRIMARY",
            "anthropic-ratelimit-unified-status": "rejected",
        }
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        await response.write(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
        return response

    upstream.handler = overloaded_with_headers
    backup.handler = answer
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
    await response.read()
    assert response.headers["x-anthroxy-route"] == "back/m2"
    assert "upstream-request-id" not in response.headers
    assert "anthropic-ratelimit-unified-status" not in response.headers


async def test_keep_alive_comments_are_not_the_first_event(upstream, backup, gateway) -> None:
    """An upstream that sends only a comment and a ping, then drops: the client saw no answer
    yet, so the backup still answers it."""

    async def comments_then_cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b': keep-alive\n\nevent: ping\ndata: {"type":"ping"}\n\n')
        await asyncio.sleep(0.1)
        return response

    upstream.handler = comments_then_cut
    backup.handler = answer
    client = await gateway()
    response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
    raw = await response.read()
    assert b"event: error" not in raw
    assert raw.count(b"event: message_start") == 1 and b"message_stop" in raw
    assert [seen.body["model"] for seen in backup.seen] == ["m2"]


async def test_an_unexpected_failure_after_pings_ends_the_stream(
    upstream, backup, aiohttp_client, monkeypatch
) -> None:
    """A bug anywhere after the pings opened the client's stream must still end it, with an
    error event, instead of leaving the client waiting."""
    from anthroxy_server.gateway import dialects

    def broken(call: Any) -> Any:
        raise RuntimeError("a bug")

    upstream.handler = pings_then(503, pings=2, interval=0.05)
    backup.handler = answer
    fallbacks = {"prim/m1": ["back/m2"]}
    config = settings(upstream.url, backup.url, server={"ping_interval": 0.05}, fallbacks=fallbacks)
    client = await aiohttp_client(create_app(config))
    monkeypatch.setitem(dialects.DIALECTS, "anthropic", dialects.DIALECTS["anthropic"])
    calls = {"n": 0}
    original = dialects.DIALECTS["anthropic"]

    def second_breaks(call: Any) -> Any:
        calls["n"] += 1
        return original(call) if calls["n"] == 1 else broken(call)

    monkeypatch.setitem(dialects.DIALECTS, "anthropic", second_breaks)
    response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
    raw = await asyncio.wait_for(response.read(), 5)
    events = sse_events(raw)
    assert response.status == 200
    assert events[-1][0] == "error" and events[-1][1]["error"]["type"] == "api_error"
    assert "a bug" not in raw.decode()  # no internals to the client; the log has them


async def test_every_target_refusing_connections_is_one_final_503_naming_each(
    aiohttp_client: Any,
) -> None:
    """Nothing listens at either address: Claude Code must stop at once and show why, instead
    of retrying a 502 silently for minutes (docs/troubleshooting.md)."""
    prim, back = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    client = await aiohttp_client(create_app(settings(prim, back)))
    response = await client.post("/v1/messages", json=message_body(ASKED, stream=True))
    assert response.status == 503 and response.headers["x-should-retry"] == "false"
    error = (await response.json())["error"]
    assert error["type"] == "api_error"
    message = error["message"]
    assert message.startswith(f"anthroxy: no provider can serve {ASKED} right now. ")
    assert f"prim/m1: cannot reach provider 'prim' at {prim}" in message
    assert f"back/m2: cannot reach provider 'back' at {back}" in message
    assert SECRET_KEY not in message


async def test_a_transient_failure_in_the_chain_keeps_the_answer_retryable(backup, gateway) -> None:
    """The primary is refused but the backup only failed with a 503: a retry may succeed, so the
    last error goes out as it is, without ``x-should-retry: false``."""
    backup.handler = failing(503)
    client = await gateway(f"http://127.0.0.1:{free_port()}")
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert response.status == 529  # the backup's 503 (translation-rules.md §7.1)
    assert "x-should-retry" not in response.headers
    message = (await response.json())["error"]["message"]
    assert "anthroxy tried 2 attempts: prim/m1: 502 api_error; back/m2: 529" in message


async def test_open_breaker_and_refused_backup_name_the_breaker_and_its_last_error(
    upstream, aiohttp_client: Any
) -> None:
    back = f"http://127.0.0.1:{free_port()}"
    app = create_app(settings(upstream.url, back, circuit_breaker={"failures": 1, "cooldown": 30}))
    client = await aiohttp_client(app)
    app[BREAKERS].failure("prim", 529, "prim (HTTP 503): primary is down")
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert upstream.seen == []  # skipped: its breaker is open
    assert response.status == 503 and response.headers["x-should-retry"] == "false"
    assert response.headers["retry-after"] == "30"  # when the breaker lets a trial through
    message = (await response.json())["error"]["message"]
    assert (
        "prim/m1: circuit breaker open (skipped for 30 s more), "
        "last error 529: prim (HTTP 503): primary is down; "
        f"back/m2: cannot reach provider 'back' at {back}"
    ) in message


async def test_a_refused_provider_key_is_its_last_error_but_opens_no_breaker(
    upstream, gateway
) -> None:
    upstream.handler = failing(401)
    client = await gateway(circuit_breaker={"failures": 1, "cooldown": 30})
    response = await client.post("/v1/messages", json=message_body(ASKED))
    assert response.status == 401 and response.headers["x-should-retry"] == "false"
    breaker = (await (await client.get("/healthz")).json())["providers"]["prim"]["breaker"]
    assert breaker["state"] == "closed"
    assert breaker["last_error"]["status"] == 401
    assert breaker["last_error"]["reason"].startswith("provider 'prim' refused the API key")
