"""The Traffic list across a restart: a new app shows the requests an earlier one wrote to the
usage ledger, after its own, as summaries whose details say what was not kept; a damaged or
slow ledger never stops the start."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from anthroxy_server.dashboard import history, recent
from anthroxy_server.ledger.store import LEDGER_NAME, Ledger, Row

from .conftest import FakeUpstream, message_body
from .dashboard_gateway import answering, gateway

WARNING = "cannot read the last requests from the usage ledger"
# What the ledger keeps of a summary; the rest of an earlier run's summary is null/empty. The
# time and total are read twice (for the ledger, for the live list), a moment apart.
KEPT_FIELDS = (
    "id", "method", "path", "client_model", "provider", "upstream_model", "route",
    "status", "stream_error", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "fallback_attempts", "credential",
)  # fmt: skip


GATEWAY_LOGGERS = ("anthroxy", "aiohttp")


async def listed(client: Any, limit: int = 100) -> list[dict[str, Any]]:
    answer = await client.get(f"/ui/api/requests?limit={limit}")
    assert answer.status == 200, await answer.text()
    found: list[dict[str, Any]] = (await answer.json())["requests"]
    return found


async def send(client: Any, model: str = "claude-sonnet-4-5") -> str:
    answer = await client.post("/v1/messages", json=message_body(model))
    assert answer.status == 200, await answer.text()
    await answer.read()
    request_id: str = answer.headers["request-id"]
    return request_id


def seed(state: Path, count: int, now: float) -> list[str]:
    """``count`` rows, one a second up to ``now``; their ids, oldest first."""
    ledger = Ledger(state / LEDGER_NAME, 365)
    ids = []
    for n in range(count):
        ids.append(f"req_past{n:03d}")
        ledger.record(Row(
            time=now - count + n, request_id=ids[-1], client_model="claude-sonnet-4-5",
            provider="up", upstream_model="claude-sonnet-4-5", credential="env:KEY_A",
            input_tokens=10 + n, output_tokens=2, cache_read_tokens=None, cache_write_tokens=None,
            ttft_ms=50.0, total_ms=90.0, status=200, stream_error=None, fallback_attempts=0,
            cost_usd=0.001, subscription=False,
        ))  # fmt: skip
    ledger.flush()
    ledger.close()
    return ids


async def test_an_earlier_runs_requests_follow_the_live_ones(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    url = answering(upstream).url
    first = await gateway(aiohttp_client, url, tmp_path)
    await send(first, "falls")  # down answers 529, up answers: one failed attempt
    await send(first)
    before = await listed(first)
    await first.close()  # the ledger writes what is waiting as the app stops

    second = await gateway(aiohttp_client, url, tmp_path)
    restored = await listed(second)
    assert [r["id"] for r in restored] == [r["id"] for r in before]  # newest first
    for old, new in zip(before, restored, strict=True):
        assert new["from_ledger"] is True and old["from_ledger"] is False
        assert {k: new[k] for k in KEPT_FIELDS} == {k: old[k] for k in KEPT_FIELDS}
        assert new["cost_usd"] == old["cost_usd"] and new["total_ms"] > 0
        assert abs(new["time"] - old["time"]) < 0.5
        assert (new["rule"], new["stream"], new["tried"]) == (None, None, [])
    assert restored[1]["fallback_attempts"] == 1

    live = await send(second)
    now_listed = await listed(second)
    assert [r["id"] for r in now_listed] == [live] + [r["id"] for r in before]
    assert now_listed[0]["from_ledger"] is False

    answer = await second.get(f"/ui/api/requests/{before[1]['id']}")
    assert answer.status == 200
    shown = await answer.json()
    assert shown["note"] == history.NOTE and "before the proxy last started" in shown["note"]
    assert (shown["why"], shown["attempts"], shown["error"], shown["bodies"]) == (
        None, [], None, None,
    )  # fmt: skip
    assert shown["route"] == "up/claude-sonnet-4-5" and shown["from_ledger"] is True
    # The health of this process: only its own request, no failure the earlier run saw.
    health = await (await second.get("/ui/api/health")).json()
    providers = {p["id"]: p for p in health["providers"]}
    assert providers["up"]["requests_1h"] == 1 and providers["up"]["latency_ms"]["count"] == 1
    assert providers["down"]["last_error"] is None and providers["down"]["requests_1h"] == 0


async def test_a_damaged_ledger_starts_with_an_empty_list(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path, caplog: Any
) -> None:
    (tmp_path / LEDGER_NAME).write_bytes(b"\x00garbage, not SQLite\xff" * 300)
    with caplog.at_level(logging.WARNING):
        client = await gateway(aiohttp_client, answering(upstream).url, tmp_path)
        assert await listed(client) == []
        served = await send(client)
        assert [r["id"] for r in await listed(client)] == [served]
    warned = [r for r in caplog.records if WARNING in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert LEDGER_NAME in warned[0].getMessage()
    # No stack trace from the gateway (its loggers and aiohttp's). asyncio's own logger is left
    # out: it also reports, in whichever test runs when the collector passes, an SDK client an
    # earlier test left unclosed ("Event loop is closed" from httpx's aclose).
    traced = [r for r in caplog.records if r.exc_info and r.name.split(".")[0] in GATEWAY_LOGGERS]
    assert not traced, caplog.text


async def test_a_slow_ledger_does_not_hold_the_start(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path, caplog: Any, monkeypatch: Any
) -> None:
    seed(tmp_path, 3, time.time())

    def stuck(path: Path, limit: int) -> list[Row]:
        time.sleep(1.0)  # a writer holding the lock, a slow disk
        return []

    monkeypatch.setattr(history, "read_rows", stuck)
    monkeypatch.setattr(history, "READ_SECONDS", 0.1)
    began = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        client = await gateway(aiohttp_client, answering(upstream).url, tmp_path)
    assert time.perf_counter() - began < 0.9
    assert await listed(client) == []
    assert [r for r in caplog.records if WARNING in r.getMessage() and "too long" in r.message]


async def test_at_most_the_lists_limit_is_read(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    ids = seed(tmp_path, history.HISTORY + 50, time.time())
    client = await gateway(aiohttp_client, answering(upstream).url, tmp_path)
    shown = await listed(client, limit=500)
    assert [r["id"] for r in shown] == ids[::-1][: history.HISTORY]
    assert len(await listed(client, limit=7)) == 7


async def test_live_requests_push_the_earlier_ones_out(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(recent, "KEPT", 5)
    monkeypatch.setattr(history, "HISTORY", 4)
    ids = seed(tmp_path, 10, time.time())
    client = await gateway(aiohttp_client, answering(upstream).url, tmp_path)
    assert [r["id"] for r in await listed(client, 5)] == ids[::-1][:4]
    live = [await send(client) for _ in range(3)]
    shown = [r["id"] for r in await listed(client, 5)]
    assert shown == live[::-1] + ids[::-1][:2]  # never more than KEPT together
    gone = await client.get(f"/ui/api/requests/{ids[-4]}")
    assert gone.status == 404
    assert (await gone.json())["error"]["type"] == "not_found_error"
    kept = await client.get(f"/ui/api/requests/{ids[-1]}")
    assert kept.status == 200 and (await kept.json())["note"] == history.NOTE
