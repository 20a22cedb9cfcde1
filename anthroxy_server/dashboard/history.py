"""The Traffic list across a restart: when the app starts with a usage ledger, its newest rows
become summary-only entries of the list, older than anything this process serves.

The ledger keeps what a request cost and how long it took, not how it was routed: rule,
stream and the attempts tried are null/empty, and the details say why instead of showing empty
sections. These entries feed neither the per-provider latency samples nor ``last_error``:
those describe the process that is running now (its breakers and keys), and a restart after a
config change may have sent the same provider's traffic elsewhere.

The read is one query over the time index, in a thread, bounded in time; a missing ledger is a
first start (nothing to show), a damaged or locked one is one warning, and the start goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from aiohttp import web

from ..gateway.logs import LOGGER_NAME
from ..ledger import report
from ..ledger.hook import LEDGER
from ..ledger.store import COLUMNS, Row
from .recent import RECENT, Past
from .summary import row_summary

log = logging.getLogger(LOGGER_NAME)

HISTORY = 100  # rows read at start: what the page's list shows (traffic.js asks for 100)
READ_SECONDS = 3.0  # the start waits no longer than this for the ledger
BUSY_SECONDS = 1.0  # SQLite's own wait for a writer's lock, inside READ_SECONDS
NOTE = (
    "Recorded before the proxy last started: the usage ledger keeps this request's model, "
    "route, status, tokens, times and cost, but not the routing rule and reason, the attempts, "
    "the error body or the bodies."
)


def read_rows(path: Path, limit: int) -> list[Row]:
    """The newest ``limit`` rows of the ledger at ``path``, newest first ([] when absent)."""
    query = f"SELECT {', '.join(COLUMNS)} FROM requests ORDER BY time DESC LIMIT ?"
    return [
        Row(*values) for values in report.read(path, query, (limit,), busy_timeout=BUSY_SECONDS)
    ]


def past_of(row: Row) -> Past:
    made = row_summary(row)
    return Past(row.request_id, made, json.dumps(made, separators=(",", ":")).encode())


def read_pasts(path: Path, limit: int) -> list[Past]:
    """The newest ``limit`` requests of the ledger, their summaries made (in the reading thread:
    about a millisecond for 100 rows, kept off the event loop with the read)."""
    return [past_of(row) for row in read_rows(path, limit)]


def details_of(past: Past, body_logging: bool) -> dict[str, Any]:
    """The details of an earlier run's request: its summary and the note on what is missing."""
    return {
        **past.summary,
        "why": None,
        "attempts": [],
        "error": None,
        "body_logging": body_logging,
        "bodies": None,
        "note": NOTE,
    }


async def load(app: web.Application) -> None:
    """On start: the ledger's newest rows into the Traffic list (never stops the start)."""
    ledger = app.get(LEDGER)
    recent = app.get(RECENT)
    if ledger is None or recent is None:
        return
    try:
        pasts = await asyncio.wait_for(
            asyncio.to_thread(read_pasts, ledger.path, HISTORY), READ_SECONDS
        )
    except (sqlite3.Error, OSError, TimeoutError, TypeError, ValueError) as exc:
        reason = "it took too long" if isinstance(exc, TimeoutError) else str(exc)
        log.warning(
            "dashboard: cannot read the last requests from the usage ledger %s (%s); the "
            "Traffic list starts empty. Requests are served as usual",
            ledger.path,
            reason,
        )
        return
    recent.add_past(reversed(pasts))  # oldest first, as the live entries are kept
