"""``/ui/api/usage``: the table equals ``anthroxy usage --since <days>d --json`` for the same
ledger, the chart's series add up to the ledger's rows per UTC day, and bad query values are
400s naming the parameter."""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli import usage as usage_command
from anthroxy_server.config.paths import Locations
from anthroxy_server.dashboard import usage_api
from anthroxy_server.ledger import report
from anthroxy_server.ledger.store import LEDGER_NAME, Ledger, Row

from .conftest import FakeUpstream
from .dashboard_gateway import gateway

DAY = 86_400.0


def row(when: float, model: str, provider: str, tokens: int, cost: float | None) -> Row:
    return Row(
        time=when, request_id=f"req_{when}", client_model="claude-sonnet-4-5", provider=provider,
        upstream_model=model, credential="env:KEY_A", input_tokens=tokens,
        output_tokens=tokens // 10,
        cache_read_tokens=0, cache_write_tokens=None, ttft_ms=100.0, total_ms=300.0,
        status=200 if tokens % 7 else 529, stream_error=None, fallback_attempts=0,
        cost_usd=cost, subscription=False,
    )  # fmt: skip


def fill(state: Path, now: float) -> list[Row]:
    """Rows over 40 days: 12 models (so "other" appears), some without a price."""
    rows = []
    for n in range(400):
        when = now - n * 0.1 * DAY - 5.0
        model = f"model-{n % 12}"
        cost = None if n % 5 == 0 else round(0.001 * (n % 9 + 1), 6)
        rows.append(row(when, model, f"p{n % 3}", 100 + n * 13, cost))
    ledger = Ledger(state / LEDGER_NAME, 365)
    for found in rows:
        ledger.record(found)
    ledger.flush()
    ledger.close()
    return rows


async def test_the_table_is_what_anthroxy_usage_prints(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    state = tmp_path / "state" / "anthroxy"
    state.mkdir(parents=True)
    now = time.time()
    fill(state, now)
    client = await gateway(aiohttp_client, upstream.url, state)
    for by in ("model", "provider"):
        answer = await client.get(f"/ui/api/usage?days=30&by={by}")
        assert answer.status == 200, await answer.text()
        body = await answer.json()
        out = io.StringIO()
        args = argparse.Namespace(since="30d", by=by, json=True)
        loc = Locations({"XDG_STATE_HOME": str(tmp_path / "state")}, tmp_path, tmp_path)
        assert usage_command.command(args, loc, out, now=now) == 0
        printed = json.loads(out.getvalue())
        # The dashboard asked a moment later: a row exactly at the edge could differ; none is.
        assert body["table"] == printed["groups"]
        assert body["total"] == printed["total"]
        assert body["cost_text"] == report.cost_text(report.overall(report.totals(
            state / LEDGER_NAME, now - 30 * DAY, by)))  # fmt: skip
        assert body["ledger"] is True and body["by"] == by


async def test_the_series_add_up_per_day(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    now = time.time()
    rows = fill(tmp_path, now)
    client = await gateway(aiohttp_client, upstream.url, tmp_path)
    body = await (await client.get("/ui/api/usage?days=7&by=model")).json()
    days = body["days"]
    today = datetime.fromtimestamp(now, UTC).date().isoformat()
    assert len(days) == 7 and days[-1] == today and days == sorted(days)
    series = body["series"]
    assert len(series) == usage_api.TOP + 1 and series[-1]["key"] == "other"
    for slot, day in enumerate(days):
        in_day = [r for r in rows if datetime.fromtimestamp(r.time, UTC).date().isoformat() == day]
        tokens = sum((r.input_tokens or 0) + (r.output_tokens or 0) for r in in_day)
        assert sum(s["tokens"][slot] for s in series) == tokens
        assert sum(s["requests"][slot] for s in series) == len(in_day)
        priced = [r.cost_usd for r in in_day if r.cost_usd is not None]
        cost = sum(s["cost_usd"][slot] or 0.0 for s in series)
        assert cost == pytest.approx(sum(priced))
    totals = [sum(s["tokens"]) for s in series[:-1]]
    assert totals == sorted(totals, reverse=True)  # the biggest first


async def test_bad_values_name_the_parameter(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    client = await gateway(aiohttp_client, upstream.url, tmp_path)
    for query, name in (("days=0", "days"), ("days=367", "days"), ("days=abc", "days"),
                        ("days=-3", "days"), ("by=day", "by"), ("by=", "by")):  # fmt: skip
        answer = await client.get(f"/ui/api/usage?{query}")
        assert answer.status == 400, query
        error = (await answer.json())["error"]
        assert error["type"] == "invalid_request_error"
        assert f"parameter {name} " in error["message"], error["message"]
    fine = await client.get("/ui/api/usage?days=366&by=provider")
    assert fine.status == 200
    assert len((await fine.json())["days"]) == 366


async def test_without_a_ledger(aiohttp_client: Any, upstream: FakeUpstream) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    body = await (await client.get("/ui/api/usage")).json()
    assert body["ledger"] is False
    assert body["series"] == [] and body["table"] == [] and len(body["days"]) == 30
    overview = await (await client.get("/ui/api/overview")).json()
    assert overview["ledger"] is False
