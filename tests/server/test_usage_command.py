"""``anthroxy usage`` against a ledger the test fills: the table and --json, --since and --by,
an unknown price shown as unknown, subscription requests with tokens and no cost; the rows a
subscription provider leaves; and the MCP status tool's totals of today."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli import dispatch, proxy_status
from anthroxy_server.cli.usage import since_of, today
from anthroxy_server.config import ConfigError, paths, settings_from_config, structure_config
from anthroxy_server.config.paths import CommandError, Locations
from anthroxy_server.gateway.state import AccessInfo
from anthroxy_server.ledger.hook import row_of
from anthroxy_server.ledger.store import LEDGER_NAME, Ledger, Row

NOW = 1_796_342_400.0  # 2026-12-04 00:00 UTC
HOUR = 3600.0
DAY = 86_400.0


BASE = Row(
    time=0.0,
    request_id="req",
    client_model="sonnet",
    provider="ds",
    upstream_model="deepseek-chat",
    credential="env:DS_KEY",
    input_tokens=1000,
    output_tokens=100,
    cache_read_tokens=0,
    cache_write_tokens=0,
    ttft_ms=200.0,
    total_ms=900.0,
    status=200,
    stream_error=None,
    fallback_attempts=0,
    cost_usd=0.01,
    subscription=False,
)


def row(at: float, **fields: Any) -> Row:
    return dataclasses.replace(BASE, time=at, **fields)


@pytest.fixture
def loc(tmp_path: Path) -> Locations:
    here = Locations(env={"XDG_STATE_HOME": str(tmp_path / "state")}, home=tmp_path, cwd=tmp_path)
    ledger = Ledger(paths.state_dir(here.env, here.home) / LEDGER_NAME, 90, clock=lambda: NOW)
    ledger.record(row(NOW + HOUR))
    ledger.record(row(NOW + 2 * HOUR, credential="env:DS_KEY_2", stream_error="529 overloaded"))
    ledger.record(row(NOW - 3 * DAY, cost_usd=0.02))
    ledger.record(row(NOW + HOUR, provider="odd", upstream_model="mystery", cost_usd=None))
    ledger.record(row(NOW + HOUR, provider="chatgpt", upstream_model="gpt-5.4", cost_usd=None,
                      subscription=True, credential="codex"))  # fmt: skip
    ledger.record(row(NOW - 30 * DAY, provider="old"))  # outside --since 7d
    ledger.flush()
    ledger.close()
    return here


def run(loc: Locations, *argv: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("anthroxy_server.cli.usage.time.time", lambda: NOW + 3 * HOUR)
    monkeypatch.setattr(dispatch, "Locations", lambda **_: loc)
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert dispatch.main(["usage", *argv]) == 0
    return out.getvalue()


def test_table_by_provider(loc: Locations, monkeypatch: pytest.MonkeyPatch) -> None:
    text = run(loc, "--by", "provider", monkeypatch=monkeypatch)
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert set(lines) == {"ds", "odd", "chatgpt", "total"}  # "old" is 30 days back
    assert lines["ds"].split()[1:4] == ["3", "1", "3,000"]  # requests, errors, input
    assert lines["ds"].endswith("$0.0400")
    assert lines["odd"].endswith("unknown")
    assert lines["chatgpt"].endswith("subscription")
    assert lines["chatgpt"].split()[1:5] == ["1", "0", "1,000", "100"]  # tokens still counted
    assert lines["total"].endswith("$0.0400 + unknown (1 req)")


def test_json_since_and_by_credential(loc: Locations, monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.loads(run(loc, "--since", "24h", "--by", "credential", "--json",
                          monkeypatch=monkeypatch))  # fmt: skip
    groups = {g["key"]: g for g in body["groups"]}
    assert set(groups) == {"ds env:DS_KEY", "ds env:DS_KEY_2", "odd env:DS_KEY", "chatgpt codex"}
    assert groups["ds env:DS_KEY"]["cost_usd"] == pytest.approx(0.01)
    assert groups["odd env:DS_KEY"]["cost_usd"] is None
    assert groups["odd env:DS_KEY"]["unknown_cost"] == 1
    assert groups["chatgpt codex"]["cost_usd"] is None
    assert groups["chatgpt codex"]["subscription"] == 1
    assert groups["chatgpt codex"]["output_tokens"] == 100
    assert body["total"]["requests"] == 4
    assert body["total"]["cost_usd"] == pytest.approx(0.02)


def test_by_day(loc: Locations, monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.loads(run(loc, "--by", "day", "--json", monkeypatch=monkeypatch))
    assert [(g["key"], g["requests"]) for g in body["groups"]] == [
        ("2026-12-01", 1),
        ("2026-12-04", 4),
    ]


def test_since_forms() -> None:
    assert since_of("7d", NOW) == NOW - 7 * DAY
    assert since_of("30m", NOW) == NOW - 1800
    assert since_of("2026-12-04", 0) == NOW
    with pytest.raises(CommandError, match="30m, 24h, 7d"):
        since_of("yesterday", NOW)


def test_no_ledger_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = Locations(env={"XDG_STATE_HOME": str(tmp_path / "s")}, home=tmp_path, cwd=tmp_path)
    assert "no ledger yet" in run(empty, monkeypatch=monkeypatch)


def test_today_for_the_status_tool(loc: Locations) -> None:
    totals = today(loc, now=NOW + 3 * HOUR)
    assert totals is not None
    assert totals["requests"] == 4
    assert totals["cost_usd"] == pytest.approx(0.02)
    assert totals["unknown_cost"] == 1 and totals["subscription"] == 1


def test_the_status_tool_reports_today(loc: Locations, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("anthroxy_server.cli.usage.time.time", lambda: NOW + 3 * HOUR)
    snap = proxy_status.Snapshot(None, [], None, None, None, None, False, today(loc))
    report = proxy_status.model_proxy_report(snap)
    assert report["usage_today"]["requests"] == 4
    assert report["usage_today"]["cost_usd"] == pytest.approx(0.02)


def test_a_subscription_row_has_tokens_and_no_cost() -> None:
    raw = {
        "providers": {
            "chatgpt": {"auth": "codex", "api": "responses", "base_url": "http://127.0.0.1:9"}
        }
    }
    settings = settings_from_config(structure_config(raw), {})
    access = AccessInfo(model="opus", route="chatgpt/gpt-5.4", input_tokens=50, output_tokens=7)
    made = row_of(settings.config, settings.providers, access, 200, 1.0, 2.0, "req_1")
    assert made.subscription and made.cost_usd is None
    assert (made.input_tokens, made.output_tokens) == (50, 7)
    assert made.credential == "codex"
    priced = row_of(
        settings.config, settings.providers,
        AccessInfo(model="m", route="other/claude-haiku-4-5", input_tokens=10**6), 200, 1.0,
        2.0, "req_2",
    )  # fmt: skip
    assert not priced.subscription and priced.cost_usd == pytest.approx(1.0)


def test_a_negative_price_or_retention_is_a_problem_named_by_its_key() -> None:
    raw = {
        "server": {"usage_retention_days": 0},
        "prices": {"kimi-k2": {"input": -1.0, "output": 2.0}},
    }
    with pytest.raises(ConfigError) as caught:
        settings_from_config(structure_config(raw), {})
    assert 'prices."kimi-k2".input: must be >= 0' in "\n".join(caught.value.problems)
    assert "server.usage_retention_days: must be at least 1" in "\n".join(caught.value.problems)
