"""The dashboard's view of traffic, checked against what the fake upstream answered: the request
list and each request's details (route, rule, tokens, attempts, the error as the client got it,
masked bodies), each provider's health (last error, latency), and the live event stream."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.dashboard import events
from anthroxy_server.dashboard.recent import MAX_LISTENERS, QUEUE_EVENTS, RECENT, Recent
from anthroxy_server.gateway import fallback

from .conftest import FakeUpstream, message_body
from .dashboard_gateway import KEYS, answering, gateway

OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


async def details(client: Any, request_id: str) -> dict[str, Any]:
    answer = await client.get(f"/ui/api/requests/{request_id}")
    assert answer.status == 200, await answer.text()
    found: dict[str, Any] = await answer.json()
    return found


async def test_requests_show_route_tokens_and_attempts(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, answering(upstream).url, None)
    sent = []
    for model, stream in (("claude-sonnet-4-5-20250929", False), ("falls", False),
                          ("claude-sonnet-4-5-20250929", True)):  # fmt: skip
        answer = await client.post("/v1/messages", json=message_body(model, stream=stream))
        assert answer.status == 200
        await answer.read()
        sent.append(answer.headers["request-id"])
    listed = (await (await client.get("/ui/api/requests")).json())["requests"]
    assert [r["id"] for r in listed] == sent[::-1]  # newest first
    streamed, fell, plain = listed
    assert (plain["input_tokens"], plain["output_tokens"]) == (1000, 200)
    assert (streamed["input_tokens"], streamed["output_tokens"]) == (20, 5)  # stream_text.sse
    assert plain["route"] == "up/claude-sonnet-4-5" and plain["rule"] == "tier:sonnet"
    assert plain["provider"] == "up" and plain["credential"] == "env:KEY_A"
    assert plain["status"] == 200 and streamed["stream"] is True
    assert 0 < plain["ttft_ms"] <= plain["total_ms"]
    assert plain["cost_usd"] > 0
    assert fell["tried"] == ["down/claude-sonnet-4-5:529"] and fell["fallback_attempts"] == 1
    assert fell["rule"] == "alias"
    answer = await client.get(f"/ui/api/requests/{fell['id']}")
    assert KEYS["KEY_B"] not in await answer.text()  # "down" echoed it in its error
    shown = await answer.json()
    assert shown["attempts"] == [
        {
            "target": "down/claude-sonnet-4-5",
            "status": 529,
            "outcome": "failed: 529 overloaded_error",
            "error_type": "overloaded_error",
            "message": "down (HTTP 529): busy (key [REDACTED])",
        },
        {
            "target": "up/claude-sonnet-4-5",
            "status": 200,
            "outcome": "answered",
            "error_type": None,
            "message": None,
        },
    ]
    assert "falls is an alias" in shown["why"] and "up/claude-sonnet-4-5" in shown["why"]
    assert shown["error"] is None and shown["bodies"] is None and not shown["body_logging"]
    one = await client.get("/ui/api/requests?limit=1")
    assert [r["id"] for r in (await one.json())["requests"]] == [sent[-1]]


async def test_health_names_the_error_a_fallback_moved_on_from(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, answering(upstream).url, None)
    answer = await client.post("/v1/messages", json=message_body("falls"))
    assert answer.status == 200
    health = await client.get("/ui/api/health")
    assert KEYS["KEY_B"] not in await health.text()  # "down" echoed it in its error
    providers = (await health.json())["providers"]
    error = next(p for p in providers if p["id"] == "down")["last_error"]
    assert (error["status"], error["type"]) == (529, "overloaded_error")
    assert error["message"] == (
        "down/claude-sonnet-4-5 failed: down (HTTP 529): busy (key [REDACTED]);"
        " the request went on to up/claude-sonnet-4-5"
    )
    assert error["request_id"] == answer.headers["request-id"]
    assert next(p for p in providers if p["id"] == "up")["last_error"] is None


async def test_an_error_shows_as_the_client_got_it(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, answering(upstream).url, None)
    answer = await client.post("/v1/messages", json=message_body("limits"))
    assert answer.status == 429
    got = await answer.json()
    shown = await details(client, answer.headers["request-id"])
    assert shown["error"] == {"status": 429, "body": got}
    assert shown["attempts"] == [
        {
            "target": "limited/claude-sonnet-4-5",
            "status": 429,
            "outcome": "failed: 429 rate_limit_error",
            "error_type": "rate_limit_error",
            "message": "limited (HTTP 429): slow down",
        }
    ]
    health = (await (await client.get("/ui/api/health")).json())["providers"]
    limited = next(p for p in health if p["id"] == "limited")
    assert limited["last_error"]["status"] == 429
    assert limited["last_error"]["type"] == "rate_limit_error"
    assert limited["last_error"]["message"] == got["error"]["message"]
    assert limited["last_error"]["request_id"] == answer.headers["request-id"]
    assert limited["requests_1h"] == 1 and limited["errors_1h"] == 1
    up = next(p for p in health if p["id"] == "up")
    assert up["last_error"] is None and up["breaker"]["state"] == "closed"


async def test_a_stream_that_fails_after_its_200_shows_the_error_event(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    async def failing(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        start = {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 0}}}  # fmt: skip
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        delta = {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": "Hel"}}  # fmt: skip
        for name, data in (("message_start", start), ("content_block_start", block),
                           ("content_block_delta", delta)):  # fmt: skip
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        await asyncio.sleep(0.05)  # the client has the text before the error comes
        await response.write(f"event: error\ndata: {json.dumps(OVERLOADED)}\n\n".encode())
        return response

    upstream.handler = failing
    client = await gateway(aiohttp_client, upstream.url, None)
    answer = await client.post("/v1/messages", json=message_body(stream=True))
    assert answer.status == 200
    raw = await answer.text()
    shown = await details(client, answer.headers["request-id"])
    assert shown["stream_error"] == "529 overloaded_error"
    assert shown["error"]["status"] == 529
    assert shown["error"]["body"]["error"] == OVERLOADED["error"]
    assert json.dumps(shown["error"]["body"]) in raw  # the event's data as the client got it
    assert shown["attempts"][-1]["outcome"] == "failed mid-stream: 529 overloaded_error"
    health = (await (await client.get("/ui/api/health")).json())["providers"]
    assert next(p for p in health if p["id"] == "up")["last_error"]["status"] == 529


async def test_bodies_appear_masked_only_when_body_logging_is_on(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    client = await gateway(
        aiohttp_client, answering(upstream).url, None,
        log_request_body=True, log_response_body=True,
    )  # fmt: skip
    pasted = f"my key is {KEYS['KEY_A']} and sk-ant-api03-{'x' * 40}"
    body = message_body(messages=[{"role": "user", "content": pasted}])
    answer = await client.post("/v1/messages", json=body)
    assert answer.status == 200
    shown = await details(client, answer.headers["request-id"])
    assert shown["body_logging"] is True
    request_text = shown["bodies"]["request"]["messages"][0]["content"]
    assert request_text.startswith("my key is ")
    assert KEYS["KEY_A"] not in request_text and "x" * 40 not in request_text
    assert shown["bodies"]["reply"]["usage"]["output_tokens"] == 200


async def test_health_has_latency_for_the_last_hour(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, answering(upstream).url, None)
    for _ in range(4):
        assert (await client.post("/v1/messages", json=message_body())).status == 200
    counted = await client.post("/v1/messages/count_tokens", json=message_body())
    assert counted.status == 200  # listed, but no answer's latency
    listed = (await (await client.get("/ui/api/requests")).json())["requests"][1:]
    health = (await (await client.get("/ui/api/health")).json())["providers"]
    up = next(p for p in health if p["id"] == "up")
    latency = up["latency_ms"]
    assert latency["count"] == 4 == up["requests_1h"]
    totals = sorted(r["total_ms"] for r in listed)
    assert totals[0] - 0.1 <= latency["p50"] <= totals[-1] + 0.1
    assert latency["p50"] <= latency["p95"] <= totals[-1] + 0.1
    assert latency["ttft_p50"] is not None
    assert up["credentials"] == [{"label": "env:KEY_A", "state": "ready"}]
    down = next(p for p in health if p["id"] == "down")
    assert down["latency_ms"]["count"] == 0 and down["latency_ms"]["p50"] is None


async def test_unknown_request_and_bad_limit(aiohttp_client: Any, upstream: FakeUpstream) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    missing = await client.get("/ui/api/requests/req_nope")
    assert missing.status == 404
    error = (await missing.json())["error"]
    assert error["type"] == "not_found_error" and "req_nope" in error["message"]
    for limit in ("0", "501", "x", "-1"):
        bad = await client.get(f"/ui/api/requests?limit={limit}")
        assert bad.status == 400
        assert "limit" in (await bad.json())["error"]["message"]


async def read_event(stream: Any) -> tuple[str, Any]:
    name, data = "", ""
    while True:
        line = (await stream.content.readline()).decode()
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif line == "\n" and name:
            return name, json.loads(data)


async def test_events_deliver_each_request_as_it_finishes(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, answering(upstream).url, None)
    stream = await client.get("/ui/api/events")
    assert stream.status == 200
    assert stream.content_type == "text/event-stream"
    assert (await stream.content.readline()) == b": connected\n"
    answer = await client.post("/v1/messages", json=message_body())
    name, summary = await asyncio.wait_for(read_event(stream), 5)
    assert name == "request"
    assert summary["id"] == answer.headers["request-id"]
    assert summary["output_tokens"] == 200
    await client.get("/healthz")  # not recorded: the next event is the next request
    counted = await client.post("/v1/messages/count_tokens", json=message_body())
    assert counted.status == 200
    _, summary = await asyncio.wait_for(read_event(stream), 5)
    assert summary["path"] == "/v1/messages/count_tokens"
    assert summary["route"] == "up/claude-sonnet-4-5" and summary["cost_usd"] == 0.0
    again = await client.post("/v1/messages/count_tokens", json=message_body())
    shown = await details(client, again.headers["request-id"])
    assert "token-count cache" in shown["why"] and shown["attempts"] == []
    _, summary = await asyncio.wait_for(read_event(stream), 5)
    assert summary["id"] == again.headers["request-id"]
    # The server's shutdown ends the stream at once.
    await events.end_streams(client.app)
    rest = await asyncio.wait_for(stream.read(), 5)
    assert b"event:" not in rest
    assert not client.app[RECENT].listeners


async def test_at_most_twenty_listeners(aiohttp_client: Any, upstream: FakeUpstream) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    recent = client.app[RECENT]
    held = [recent.listen() for _ in range(MAX_LISTENERS)]
    assert all(q is not None for q in held)
    refused = await client.get("/ui/api/events")
    assert refused.status == 429
    assert "listeners" in (await refused.json())["error"]["message"]


def test_a_slow_listener_loses_events_instead_of_blocking() -> None:
    async def run() -> None:
        recent = Recent()
        queue = recent.listen()
        assert queue is not None
        entry: Any = type("E", (), {"request_id": "r", "access": type("A", (), {"route": None})})
        for n in range(QUEUE_EVENTS + 5):
            entry = _entry(f"req_{n}")
            recent.add(entry)
        assert queue.qsize() == QUEUE_EVENTS and recent.dropped == 5
        recent.close_listeners()  # room is made for the end signal
        items = [queue.get_nowait() for _ in range(queue.qsize())]
        assert items[-1] is None

    asyncio.run(run())


def _entry(request_id: str) -> Any:
    from anthroxy_server.dashboard.recent import Entry
    from anthroxy_server.gateway.state import AccessInfo

    return Entry(request_id, 0.0, "POST", "/v1/messages", 200, 0.0, 0.0, AccessInfo(), None, None)  # type: ignore[arg-type]


async def test_only_the_newest_bodies_are_kept(
    aiohttp_client: Any, upstream: FakeUpstream, monkeypatch: Any
) -> None:
    from anthroxy_server.dashboard import recent

    monkeypatch.setattr(recent, "BODIES_KEPT", 2)
    client = await gateway(aiohttp_client, answering(upstream).url, None, log_request_body=True)
    sent = []
    for _ in range(3):
        answer = await client.post("/v1/messages", json=message_body())
        sent.append(answer.headers["request-id"])
    oldest, *newer = [await details(client, request_id) for request_id in sent]
    assert oldest["body_logging"] is True and oldest["bodies"] is None
    for shown in newer:
        assert shown["bodies"]["request"]["model"] == "claude-sonnet-test"
        assert shown["bodies"]["reply"] is None  # only the request body is logged


def test_the_error_event_is_found_among_forwarded_events() -> None:
    from anthroxy_server.dashboard.summary import event_data

    delta = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0}\n\n'
    error = f"event: error\ndata: {json.dumps(OVERLOADED)}\n\n"
    assert event_data((delta + error).encode()) == OVERLOADED
    assert event_data(error.replace("\n", "\r\n").encode()) == OVERLOADED
    assert event_data(b"event: error\ndata: not json\n\n") == "not json"


async def test_overview_and_breakers_agree_with_healthz(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, answering(upstream).url, None)
    for _ in range(3):  # the breaker opens after 3 failures in a row (the default)
        assert (await client.post("/v1/messages", json=message_body("limits"))).status == 429
    healthz = await (await client.get("/healthz")).json()
    overview = await (await client.get("/ui/api/overview")).json()
    assert overview["status"] == healthz["status"] == "degraded"
    assert overview["fingerprint"] == healthz["config"]["fingerprint"]
    assert overview["pid"] == healthz["pid"] and overview["version"] == healthz["version"]
    assert overview["workers"] is None and overview["body_log"] is False
    assert 0 <= overview["uptime_s"] <= healthz["uptime_s"] + 1
    health = (await (await client.get("/ui/api/health")).json())["providers"]
    assert [p["id"] for p in health] == list(healthz["providers"])
    for shown in health:
        breaker = healthz["providers"][shown["id"]]["breaker"]
        assert shown["breaker"]["state"] == breaker["state"]
        assert shown["breaker"]["failures"] == breaker["failures"]
    limited = next(p for p in health if p["id"] == "limited")
    assert limited["breaker"]["state"] == "open" and "open_until" in limited["breaker"]
    assert limited["errors_1h"] == 3


async def test_a_quiet_stream_gets_keep_alive_comments(
    aiohttp_client: Any, upstream: FakeUpstream, monkeypatch: Any
) -> None:
    monkeypatch.setattr(events, "KEEP_ALIVE", 0.05)
    client = await gateway(aiohttp_client, upstream.url, None)
    stream = await client.get("/ui/api/events")
    assert await stream.content.readline() == b": connected\n"
    assert await stream.content.readline() == b"\n"
    line = await asyncio.wait_for(stream.content.readline(), 5)
    assert line == b": keep-alive\n"
    await client.close()  # the server stops with the stream open: it ends, nothing hangs


async def test_a_closed_tab_ends_its_stream_without_an_error_logged(
    aiohttp_client: Any, upstream: FakeUpstream, caplog: Any, monkeypatch: Any
) -> None:
    """A write to a tab that closed meets a closing transport (aiohttp raises
    ConnectionResetError before it cancels the handler): the stream ends quietly."""
    client = await gateway(aiohttp_client, answering(upstream).url, None)

    async def closed_tab(queue: Any, response: web.StreamResponse) -> None:
        await response.write(b": connected\n\n")
        raise ConnectionResetError("Cannot write to closing transport")

    monkeypatch.setattr(events, "_relay", closed_tab)
    with caplog.at_level(logging.DEBUG):
        stream = await client.get("/ui/api/events")
        assert await asyncio.wait_for(stream.read(), 5) == b": connected\n\n"
    assert not client.app[RECENT].listeners  # the handler ended and let its queue go
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_health_shows_the_newest_failure_of_a_provider_in_one_request() -> None:
    from anthroxy_server.dashboard.status_api import _last_errors
    from anthroxy_server.gateway.state import FailedAttempt

    entry = _entry("req_both")
    entry.access.route = "up/m"
    entry.access.failed += [
        FailedAttempt("down/a", 529, "overloaded_error", "first"),
        FailedAttempt("down/b", 503, "api_error", "second"),
    ]
    error = _last_errors([entry])["down"]
    assert (error["status"], error["type"]) == (503, "api_error")
    assert error["message"] == "down/b failed: second; the request went on to up/m"


async def test_a_long_upstream_message_is_kept_in_part(
    aiohttp_client: Any, upstream: FakeUpstream, monkeypatch: Any
) -> None:
    monkeypatch.setattr(fallback, "MESSAGE_KEPT", 12)
    client = await gateway(aiohttp_client, answering(upstream).url, None)
    answer = await client.post("/v1/messages", json=message_body("falls"))
    assert answer.status == 200
    shown = await details(client, answer.headers["request-id"])
    assert shown["attempts"][0]["message"] == "down (HTTP 5"
