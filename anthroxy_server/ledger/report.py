"""Reading the ledger: totals per model, provider, day or credential since a moment, and per
UTC day and model or provider for the dashboard's chart (``daily``).

The sums happen in SQLite (one GROUP BY over the time index), so a report over a large ledger
reads no row into Python. Cost stays honest: ``cost_usd`` sums the rows with a price,
``unknown_cost`` counts those without one, and subscription requests are counted apart (their
tokens are paid by the plan, not per token).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BUSY_TIMEOUT = 5.0  # seconds a read waits for the writer's lock
TABLE_EXISTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests'"
GROUPS = {
    "model": "COALESCE(upstream_model, client_model, '-')",
    "provider": "COALESCE(provider, '-')",
    "day": "date(time, 'unixepoch')",
    "credential": "COALESCE(provider, '-') || ' ' || COALESCE(credential, '-')",
}


@dataclass(slots=True)
class Total:
    key: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None  # None: no row of the group has a price
    unknown_cost: int  # requests whose price is unknown
    subscription: int  # requests paid by a subscription
    avg_ttft_ms: float | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def read(
    path: Path, query: str, params: tuple[Any, ...], *, busy_timeout: float = BUSY_TIMEOUT
) -> list[Any]:
    """The rows ``query`` gives on the ledger at ``path``, opened read-only; [] while the
    ledger or its table does not exist yet (a first start: the writer creates both). Raises
    sqlite3.Error on a damaged file. ``busy_timeout``: SQLite's wait for a writer's lock."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=busy_timeout)
    try:
        if conn.execute(TABLE_EXISTS).fetchone() is None:
            return []
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def totals(path: Path, since: float, by: str) -> list[Total]:
    """The groups of rows at or after ``since`` (Unix seconds), biggest cost first; [] when the
    ledger does not exist yet. Raises sqlite3.Error on a damaged file."""
    key = GROUPS[by]
    query = f"""
        SELECT {key} AS k, COUNT(*),
               SUM(status >= 400 OR stream_error IS NOT NULL),
               COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
               COALESCE(SUM(cache_read_tokens), 0), COALESCE(SUM(cache_write_tokens), 0),
               SUM(cost_usd),
               SUM(cost_usd IS NULL AND NOT subscription),
               SUM(subscription),
               AVG(ttft_ms)
        FROM requests WHERE time >= ? GROUP BY k
    """
    rows = read(path, query, (since,))
    found = [
        Total(str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], _usd(r[7]), r[8], r[9],
              None if r[10] is None else round(r[10], 1))
        for r in rows
    ]  # fmt: skip
    if by == "day":
        return sorted(found, key=lambda t: t.key)
    return sorted(found, key=lambda t: (-(t.cost_usd or 0.0), -t.requests, t.key))


@dataclass(slots=True)
class Daily:
    """One key's use on one UTC day."""

    day: str  # "2026-12-04"
    key: str
    tokens: int  # input + output (cache reads and writes are counted apart in the totals)
    cost_usd: float | None
    requests: int


def daily(path: Path, since: float, by: str) -> list[Daily]:
    """Rows at or after ``since`` summed per UTC day and ``by`` key, in one GROUP BY over the
    time index; [] when the ledger does not exist yet."""
    query = f"""
        SELECT date(time, 'unixepoch') AS d, {GROUPS[by]} AS k,
               COALESCE(SUM(input_tokens), 0) + COALESCE(SUM(output_tokens), 0),
               SUM(cost_usd), COUNT(*)
        FROM requests WHERE time >= ? GROUP BY d, k
    """
    rows = read(path, query, (since,))
    return [Daily(str(r[0]), str(r[1]), r[2], _usd(r[3]), r[4]) for r in rows]


def _usd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def overall(groups: list[Total]) -> Total:
    """One total over ``groups``."""
    priced = [g.cost_usd for g in groups if g.cost_usd is not None]
    timed = [(g.avg_ttft_ms, g.requests) for g in groups if g.avg_ttft_ms is not None]
    weight = sum(n for _, n in timed)
    return Total(
        "total",
        sum(g.requests for g in groups),
        sum(g.errors for g in groups),
        sum(g.input_tokens for g in groups),
        sum(g.output_tokens for g in groups),
        sum(g.cache_read_tokens for g in groups),
        sum(g.cache_write_tokens for g in groups),
        _usd(sum(priced)) if priced else None,
        sum(g.unknown_cost for g in groups),
        sum(g.subscription for g in groups),
        round(sum(t * n for t, n in timed) / weight, 1) if weight else None,
    )


def cost_text(total: Total) -> str:
    """ "$1.2345", "unknown", "$0.50 + unknown (3 req)", "subscription"."""
    paid = total.requests - total.subscription
    if paid == 0 and total.requests:
        return "subscription"
    if total.cost_usd is None:
        return "unknown" if total.unknown_cost else "$0.00"
    money = f"${total.cost_usd:.4f}" if total.cost_usd < 1 else f"${total.cost_usd:,.2f}"
    return f"{money} + unknown ({total.unknown_cost} req)" if total.unknown_cost else money
