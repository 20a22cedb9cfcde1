"""``anthroxy usage [--since 7d] [--by model|provider|day|credential] [--json]``: what the
gateway served, from the usage ledger in the state directory (``ledger/``)."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import time
from datetime import UTC, datetime
from typing import TextIO

from ..config import paths
from ..config.paths import CommandError, Locations
from ..ledger import report
from ..ledger.store import LEDGER_NAME

NAME = "usage"
HELP = "show tokens and estimated cost per model, provider, day or credential"
EXAMPLE = "anthroxy usage --since 7d --by provider"
_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_SPAN = re.compile(r"^(\d+)([mhdw])$")
HEADER = (
    "",
    "REQUESTS",
    "ERRORS",
    "INPUT",
    "OUTPUT",
    "CACHE READ",
    "CACHE WRITE",
    "TTFT MS",
    "COST",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", default="7d",
        help="how far back: 30m, 24h, 7d, 2w, or a date (2026-12-01, UTC); default 7d",
    )  # fmt: skip
    parser.add_argument("--by", choices=tuple(report.GROUPS), default="model", help="group rows")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def since_of(text: str, now: float) -> float:
    """Unix seconds for ``--since``; CommandError naming the accepted forms."""
    span = _SPAN.match(text.strip())
    if span:
        return now - int(span.group(1)) * _UNITS[span.group(2)]
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(
            f"--since {text!r}: give a span (30m, 24h, 7d, 2w) or a date (2026-12-01)"
        ) from None
    return day.timestamp()


def command(args: argparse.Namespace, loc: Locations, out: TextIO, now: float | None = None) -> int:
    now = time.time() if now is None else now
    since = since_of(args.since, now)
    path = paths.state_dir(loc.env, loc.home) / LEDGER_NAME
    try:
        groups = report.totals(path, since, args.by)
    except sqlite3.Error as exc:
        raise CommandError(f"cannot read the usage ledger {path}: {exc}") from None
    total = report.overall(groups)
    if args.json:
        body = {
            "since": datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
            "by": args.by,
            "ledger": str(path),
            "groups": [g.as_json() for g in groups],
            "total": total.as_json(),
        }
        out.write(json.dumps(body, indent=2) + "\n")
        return 0
    if not groups:
        where = "" if path.exists() else " (no ledger yet: the proxy writes one as it serves)"
        out.write(f"no requests recorded since {args.since}{where}\n")
        return 0
    out.write(table([*groups, total]))
    return 0


def table(rows: list[report.Total]) -> str:
    cells = [HEADER] + [_cells(r) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _cells(r: report.Total) -> tuple[str, ...]:
    ttft = "-" if r.avg_ttft_ms is None else f"{r.avg_ttft_ms:,.0f}"
    counts = (r.requests, r.errors, r.input_tokens, r.output_tokens)
    caches = (r.cache_read_tokens, r.cache_write_tokens)
    return (
        r.key,
        *(f"{n:,}" for n in counts),
        *(f"{n:,}" for n in caches),
        ttft,
        report.cost_text(r),
    )


def today(loc: Locations, now: float | None = None) -> dict[str, object] | None:
    """Today's totals (UTC) for the MCP status tool; None without a readable ledger."""
    now = time.time() if now is None else now
    midnight = now - now % 86_400
    path = paths.state_dir(loc.env, loc.home) / LEDGER_NAME
    try:
        groups = report.totals(path, midnight, "provider")
    except sqlite3.Error:
        return None
    if not groups:
        return None
    total = report.overall(groups).as_json()
    del total["key"]
    return total
