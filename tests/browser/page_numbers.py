"""The page's number formats (static/format.js), in Python, so that a test can say what the page
must show for a number the API gave. JavaScript's ``toFixed`` and ``Math.round`` round a tie
up, on the float's exact value: ``Decimal(value)`` with ROUND_HALF_UP does the same."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

NONE = "–"


def _fixed(value: float, places: int) -> str:
    step = Decimal(1).scaleb(-places)
    return str(Decimal(value).quantize(step, rounding=ROUND_HALF_UP))


def _trim(value: float) -> str:
    text = _fixed(value, 1 if abs(value) < 100 else 0)
    return text[:-2] if text.endswith(".0") else text


def tokens(value: float | None) -> str:
    if value is None:
        return NONE
    if abs(value) < 1000:
        return _fixed(value, 0)
    if abs(value) < 999_950:
        return _trim(value / 1000) + "k"
    if abs(value) < 999_950_000:
        return _trim(value / 1e6) + "M"
    return _trim(value / 1e9) + "G"


def ms(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 1000:
        return _fixed(value, 0) + " ms"
    if value < 10_000:
        return _fixed(value / 1000, 2) + " s"
    return _fixed(value / 1000, 0) + " s"


def usd(value: float | None) -> str:
    if value is None:
        return NONE
    return f"${_fixed(value, 4)}" if value < 1 else f"${Decimal(_fixed(value, 2)):,}"


def number(value: float) -> str:
    """``String(value)`` for the numbers the API gives: 87.0 → "87", 61.5 → "61.5"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def percent(value: float | None) -> str:
    if value is None:
        return NONE
    tenths = Decimal(value * 10).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return number(float(tenths) / 10) + "%"


def span(seconds: float) -> str:
    s = int(Decimal(seconds).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86_400} d {s % 86_400 // 3600} h"


def relative(seconds: float, now: float) -> str:
    delta = seconds - now
    return f"in {span(abs(delta))}" if delta >= 0 else f"{span(abs(delta))} ago"


def iso(seconds: float) -> str:
    """``new Date(seconds * 1000).toISOString()``: UTC, milliseconds, a "Z"."""
    when = datetime.datetime.fromtimestamp(int(seconds * 1000) / 1000, datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
