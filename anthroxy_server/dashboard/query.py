"""Query parameters of the dashboard's API, checked with a 400 that names them."""

from __future__ import annotations

from aiohttp import web

from anthroxy.errors import InvalidRequest


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """``name`` as a whole number from ``low`` to ``high`` (``default`` when absent)."""
    text = request.query.get(name)
    if text is None:
        return default
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise InvalidRequest(
            f"query parameter {name} must be a whole number from {low} to {high}, got {text[:40]!r}"
        )
    return int(text)
