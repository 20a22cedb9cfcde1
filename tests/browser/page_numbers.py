"""The page's number formats (static/format.js), in Python, so that a test can say what the page
must show for a number the API gave. JavaScript's ``toFixed`` and ``Math.round`` round a tie
up, on the float's exact value: ``Decimal(value)`` with ROUND_HALF_UP does the same."""

from __future__ import annotations

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
