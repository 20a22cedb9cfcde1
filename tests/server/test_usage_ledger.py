"""The usage ledger through the gateway: a fake Anthropic upstream on loopback answers JSON and
SSE; each request must leave one row with its tokens, time to first token, status, fallback
attempts, key label and cost, written in few transactions, and a disk that refuses must cost
one warning and no request."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.ledger import store
from anthroxy_server.ledger.hook import LEDGER
from anthroxy_server.ledger.store import LEDGER_NAME, Ledger, Row

from .conftest import FakeUpstream, fixture_bytes, message_body

KEYS = {"KEY_A": "sk-AAAA-secret-never-shown-0000000001"}


def reply(**usage: int) -> dict[str, Any]:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": usage,
    }  # fmt: skip


def raw_config(url: str, **extra: Any) -> dict[str, Any]:
    provider = {
        "api": "anthropic", "base_url": url, "auth": "x-api-key",
        "models": ["claude-sonnet-4-5", "mystery-model"], "api_keys_env": ["KEY_A"],
    }  # fmt: skip
    return {
        "providers": {"up": provider, "down": {**provider, "base_url": url + "/down"}},
        "tiers": {"default": "up/claude-sonnet-4-5"},
        "aliases": {"mystery": "up/mystery-model", "falls": "down/claude-sonnet-4-5"},
        "routing": {"fallbacks": {"down/claude-sonnet-4-5": ["up/claude-sonnet-4-5"]}},
        **extra,
    }


async def gateway(aiohttp_client: Any, url: str, state: Path, **extra: Any) -> Any:
    settings = settings_from_config(structure_config(raw_config(url, **extra)), KEYS)
    return await aiohttp_client(create_app(settings, state_dir=state))


def rows(state: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(state / LEDGER_NAME)
    conn.row_factory = sqlite3.Row
    found = [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY time")]
    conn.close()
    return found


def flush(client: Any) -> Ledger:
    ledger: Ledger = client.app[LEDGER]
    ledger.flush()
    return ledger


@pytest.fixture
def answering(upstream: FakeUpstream) -> FakeUpstream:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/down"):
            body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
            return web.json_response(body, status=529)
        if json.loads(await request.read()).get("stream"):
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            await response.write(fixture_bytes("stream_text.sse"))
            return response
        usage = {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 4000,
                 "cache_creation_input_tokens": 100}  # fmt: skip
        return web.json_response(reply(**usage))

    upstream.handler = handle
    return upstream


async def test_json_and_streamed_requests_each_leave_a_row(
    aiohttp_client: Any, answering: FakeUpstream, tmp_path: Path
) -> None:
    client = await gateway(aiohttp_client, answering.url, tmp_path)
    first = await client.post("/v1/messages", json=message_body())
    assert first.status == 200, await first.text()
    streamed = await client.post("/v1/messages", json=message_body(stream=True))
    assert streamed.status == 200
    await streamed.read()
    flush(client)
    plain, stream = rows(tmp_path)
    assert plain["request_id"] == first.headers["request-id"]
    assert (plain["provider"], plain["upstream_model"]) == ("up", "claude-sonnet-4-5")
    assert plain["client_model"] == "claude-sonnet-test"
    assert plain["credential"] == "env:KEY_A"
    assert (plain["input_tokens"], plain["output_tokens"]) == (1000, 200)
    assert (plain["cache_read_tokens"], plain["cache_write_tokens"]) == (4000, 100)
    # Sonnet 4.5: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million.
    expected = (1000 * 3 + 200 * 15 + 4000 * 0.30 + 100 * 3.75) / 1e6
    assert plain["cost_usd"] == pytest.approx(expected)
    assert plain["status"] == 200 and plain["fallback_attempts"] == 0
    assert 0 < plain["ttft_ms"] <= plain["total_ms"]
    assert not plain["subscription"]

    assert (stream["input_tokens"], stream["output_tokens"]) == (20, 5)
    assert stream["cache_read_tokens"] == 0
    assert 0 < stream["ttft_ms"] <= stream["total_ms"]
    assert stream["cost_usd"] == pytest.approx((20 * 3 + 5 * 15) / 1e6)
    assert KEYS["KEY_A"] not in json.dumps(rows(tmp_path))


async def test_a_fallback_counts_its_failed_attempts(
    aiohttp_client: Any, answering: FakeUpstream, tmp_path: Path
) -> None:
    client = await gateway(aiohttp_client, answering.url, tmp_path)
    answer = await client.post("/v1/messages", json=message_body("falls"))
    assert answer.status == 200, await answer.text()
    flush(client)
    (row,) = rows(tmp_path)
    assert row["fallback_attempts"] >= 1
    assert row["provider"] == "up"  # the target that answered


async def test_an_unknown_price_is_unknown_not_zero(
    aiohttp_client: Any, answering: FakeUpstream, tmp_path: Path
) -> None:
    client = await gateway(aiohttp_client, answering.url, tmp_path)
    assert (await client.post("/v1/messages", json=message_body("mystery"))).status == 200
    flush(client)
    (row,) = rows(tmp_path)
    assert row["upstream_model"] == "mystery-model"
    assert row["input_tokens"] == 1000
    assert row["cost_usd"] is None


async def test_a_configured_price_replaces_the_table(
    aiohttp_client: Any, answering: FakeUpstream, tmp_path: Path
) -> None:
    prices = {"mystery-model": {"input": 2.0, "output": 10.0, "cache_read": 0.5}}
    client = await gateway(aiohttp_client, answering.url, tmp_path, prices=prices)
    assert (await client.post("/v1/messages", json=message_body("mystery"))).status == 200
    flush(client)
    (row,) = rows(tmp_path)
    # cache_write not given: billed at the input price.
    expected = (1000 * 2.0 + 200 * 10.0 + 4000 * 0.5 + 100 * 2.0) / 1e6
    assert row["cost_usd"] == pytest.approx(expected)


@pytest.mark.parametrize("refusal", ["read-only", "not-a-directory"])
async def test_a_refusing_state_dir_warns_once_and_serves(
    aiohttp_client: Any,
    answering: FakeUpstream,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
) -> None:
    caplog.set_level(logging.INFO, logger="anthroxy")
    if refusal == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only directories; not-a-directory covers it")
        (tmp_path / "state").mkdir()
        (tmp_path / "state").chmod(0o500)  # no new files: the ledger cannot be created
        state = tmp_path / "state"
    else:
        (tmp_path / "blocker").write_text("")  # where the state directory should be
        state = tmp_path / "blocker" / "anthroxy"
    client = await gateway(aiohttp_client, answering.url, state)
    for _ in range(3):
        assert (await client.post("/v1/messages", json=message_body())).status == 200
        flush(client)
    ledger = flush(client)
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "usage ledger" in r.getMessage()
    ]
    assert len(warned) == 1, warned
    assert "requests are served as usual" in warned[0]
    assert ledger.dropped == 3

    # The disk is fixed: the next rows are written, and the log says so.
    if refusal == "read-only":
        state.chmod(0o700)
    else:
        (tmp_path / "blocker").unlink()
    assert (await client.post("/v1/messages", json=message_body())).status == 200
    flush(client)
    assert len(rows(state)) == 1
    assert any("writable again" in r.getMessage() for r in caplog.records)


async def test_many_requests_make_few_transactions(
    aiohttp_client: Any, answering: FakeUpstream, tmp_path: Path
) -> None:
    client = await gateway(aiohttp_client, answering.url, tmp_path)
    ledger: Ledger = client.app[LEDGER]
    for _ in range(40):
        assert (await client.post("/v1/messages", json=message_body())).status == 200
    ledger.flush()
    assert len(rows(tmp_path)) == 40
    assert ledger.transactions <= 3  # the thread's periodic flushes plus ours, not 40


BASE = Row(
    time=0.0,
    request_id="req",
    client_model="c",
    provider="p",
    upstream_model="m",
    credential="env:K",
    input_tokens=1,
    output_tokens=1,
    cache_read_tokens=0,
    cache_write_tokens=0,
    ttft_ms=1.0,
    total_ms=2.0,
    status=200,
    stream_error=None,
    fallback_attempts=0,
    cost_usd=0.5,
    subscription=False,
)


def row(at: float, **fields: Any) -> Row:
    return dataclasses.replace(BASE, time=at, **fields)


def test_rows_past_the_retention_are_pruned(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    ledger = Ledger(tmp_path / LEDGER_NAME, retention_days=90, clock=lambda: now)
    for age_days in (1, 89, 91, 400):
        ledger.record(row(now - age_days * store.DAY, request_id=f"r{age_days}"))
    ledger.flush()  # written, then pruned in the same flush
    ledger.close()
    assert [r["request_id"] for r in rows(tmp_path)] == ["r89", "r1"]


async def test_the_row_names_the_pool_key_that_answered(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    keys = {**KEYS, "KEY_B": "sk-BBBB-secret-never-shown-0000000002"}

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-api-key") == KEYS["KEY_A"]:
            body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
            return web.json_response(body, status=429, headers={"retry-after": "30"})
        return web.json_response(reply(input_tokens=10, output_tokens=2))

    upstream.handler = handle
    raw = raw_config(upstream.url)
    raw["providers"]["up"]["api_keys_env"] = ["KEY_A", "KEY_B"]
    settings = settings_from_config(structure_config(raw), keys)
    client = await aiohttp_client(create_app(settings, state_dir=tmp_path))
    assert (await client.post("/v1/messages", json=message_body())).status == 200
    flush(client)
    (only,) = rows(tmp_path)
    assert only["credential"] == "env:KEY_B"
    assert not any(secret in json.dumps(only) for secret in keys.values())
