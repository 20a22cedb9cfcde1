"""A subscription provider's account, token expiry and quota for the dashboard (stub: none)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..config.schema import ResolvedProvider


async def subscription_of(
    app: web.Application, provider: ResolvedProvider
) -> dict[str, Any] | None:
    return None
