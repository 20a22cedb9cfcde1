"""``GET /ui/api/usage?days=30&by=model|provider``: tokens, cost and requests per UTC day for
the chart, and the table ``anthroxy usage --since <days>d --by <by> --json`` prints.

The table covers exactly the last ``days`` × 24 hours, as that command does; the chart covers
the ``days`` calendar days (UTC) ending today. Both come from SQLite's GROUP BY over the time
index (``ledger/report.py``), read in a thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from anthroxy.errors import AnthroxyError, InvalidRequest

from ..ledger import report
from ..ledger.hook import LEDGER
from .query import int_query

DAY = 86_400
MAX_DAYS = 366
BY = ("model", "provider")
TOP = 8  # series drawn; the rest are summed as "other"
OTHER = "other"


async def usage(request: web.Request) -> web.Response:
    days = int_query(request, "days", 30, 1, MAX_DAYS)
    by = request.query.get("by", "model")
    if by not in BY:
        raise InvalidRequest(f"query parameter by must be model or provider, got {by[:40]!r}")
    ledger = request.app.get(LEDGER)
    now = time.time()
    labels = day_labels(now, days)
    if ledger is None:
        return web.json_response(_empty(labels, by))
    midnight = datetime.fromisoformat(labels[0]).replace(tzinfo=UTC).timestamp()
    try:
        # Two reads of the file at once, each in a thread (SQLite runs without the GIL).
        table, rows = await asyncio.gather(
            asyncio.to_thread(report.totals, ledger.path, now - days * DAY, by),
            asyncio.to_thread(report.daily, ledger.path, midnight, by),
        )
    except sqlite3.Error as exc:
        raise AnthroxyError(f"cannot read the usage ledger {ledger.path}: {exc}") from None
    total = report.overall(table)
    body = {
        "days": labels,
        "by": by,
        "series": series(rows, labels),
        "table": [t.as_json() for t in table],
        "total": total.as_json(),
        "cost_text": report.cost_text(total),
        "ledger": True,
    }
    return web.json_response(body)


def day_labels(now: float, days: int) -> list[str]:
    """The ``days`` UTC dates ending today, oldest first."""
    today = datetime.fromtimestamp(now, UTC).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


def series(rows: list[report.Daily], labels: list[str]) -> list[dict[str, Any]]:
    """One series per key, the top ``TOP`` by tokens, then "other" for the rest."""
    index = {label: i for i, label in enumerate(labels)}
    per_key: dict[str, dict[str, Any]] = {}
    for row in rows:
        slot = index.get(row.day)
        if slot is None:
            continue
        found = per_key.get(row.key)
        if found is None:
            found = per_key[row.key] = _blank(row.key, len(labels))
        _add(found, slot, row.tokens, row.cost_usd, row.requests)
    ranked = sorted(per_key.values(), key=lambda s: (-sum(s["tokens"]), s["key"]))
    shown, rest = ranked[:TOP], ranked[TOP:]
    if rest:
        other = _blank(OTHER, len(labels))
        for found in rest:
            for slot in range(len(labels)):
                _add(other, slot, found["tokens"][slot], found["cost_usd"][slot],
                     found["requests"][slot])  # fmt: skip
        shown.append(other)
    return shown


def _blank(key: str, size: int) -> dict[str, Any]:
    return {"key": key, "tokens": [0] * size, "cost_usd": [None] * size, "requests": [0] * size}


def _add(series: dict[str, Any], slot: int, tokens: int, cost: float | None, count: int) -> None:
    series["tokens"][slot] += tokens
    series["requests"][slot] += count
    if cost is not None:
        before = series["cost_usd"][slot]
        series["cost_usd"][slot] = round((before or 0.0) + cost, 6)


def _empty(labels: list[str], by: str) -> dict[str, Any]:
    total = report.overall([])
    return {
        "days": labels, "by": by, "series": [], "table": [], "total": total.as_json(),
        "cost_text": report.cost_text(total), "ledger": False,
    }  # fmt: skip
