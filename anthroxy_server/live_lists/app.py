"""The server's side of the live model lists: made with the app, refreshed in the background
when it starts (``/healthz`` answers at once), shown in ``/healthz``, refreshed on demand by
``POST /anthroxy/refresh`` (``anthroxy refresh``), and applied to each request's routes.

At start and after a reload, the lists refreshed are those of providers an ``@auto`` target
names and of providers with a lister of their own (``providers.LISTERS``): only they use the
lists, and a provider without a models endpoint would otherwise log a failure at every start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy.errors import UnknownModel
from anthroxy.routing.auto import is_auto
from anthroxy.routing.table import Route

from ..config.schema import ResolvedProvider, Settings
from ..gateway.live import LIVE, settings_of
from ..gateway.state import SETTINGS
from ..providers import LISTERS, ListingError
from .store import LiveLists, listable

LIVE_LISTS: web.AppKey[LiveLists] = web.AppKey("live_lists")
REFRESH_PATH = "/anthroxy/refresh"


def setup(app: web.Application, cache_dir: Path | None) -> None:
    """The app's lists. Without a cache directory (an app a test or an embedder builds, like the
    Gemini tier check) nothing is fetched at start: lists come on demand only."""
    app[LIVE_LISTS] = LiveLists(cache_dir, trust_env=app[SETTINGS].config.server.trust_env)
    if cache_dir is not None:
        app.on_startup.append(_start)
    app.on_cleanup.append(_close)
    app.router.add_post(REFRESH_PATH, refresh)


def used_providers(settings: Settings) -> list[ResolvedProvider]:
    """Providers whose lists the app uses: named by an @auto target, or with their own lister."""
    wanted = {p for p, model in settings.routing.targets() if is_auto(model)}
    wanted.update(pid for pid in settings.providers if pid in LISTERS)
    return [p for pid, p in settings.providers.items() if pid in wanted and listable(p)]


async def _start(app: web.Application) -> None:
    refresh_used(app, app[SETTINGS])


def refresh_used(app: web.Application, settings: Settings) -> None:
    """Background refreshes of the used lists that are missing or stale (at start, and after a
    reload, which may name new @auto targets)."""
    lists = app.get(LIVE_LISTS)
    if lists is None:
        return
    for provider in used_providers(settings):
        if lists.stale(provider):
            lists.refresh_soon(provider)  # not awaited: nothing waits for a provider's list


async def _close(app: web.Application) -> None:
    await app[LIVE_LISTS].close()


def resolve_routes(request: web.Request, routes: Sequence[Route]) -> list[Route]:
    """The routes with each ``@auto`` model replaced by the model it means now."""
    lists = request.app[LIVE_LISTS]
    providers = settings_of(request).providers
    return [
        lists.resolve(r, providers[r.provider]) if r.provider in providers else r for r in routes
    ]


def describe(app: web.Application, settings: Settings) -> dict[str, Any]:
    """For /healthz: each used provider's list, and what each @auto target means now."""
    lists = app[LIVE_LISTS]
    auto: dict[str, Any] = {}
    for pid, model in settings.routing.targets():
        provider = settings.providers.get(pid)
        if not is_auto(model) or provider is None:
            continue
        try:
            found = lists.explain(provider, model)
            auto[f"{pid}/{model}"] = {"model": found.model, "from": found.source}
        except UnknownModel as exc:
            auto[f"{pid}/{model}"] = {"model": None, "from": exc.message}
    return {
        "lists": {p.id: lists.describe(p) for p in used_providers(settings)},
        "auto": auto,
    }


async def refresh(request: web.Request) -> web.Response:
    """Refresh one provider's list (``?provider=ID``) or every listable one's, now."""
    settings = request.app[LIVE].current.settings
    name = request.query.get("provider")
    if name is not None and name not in settings.providers:
        raise UnknownModel(
            f"provider {name!r} is not configured; configured: {', '.join(settings.providers)}"
        )
    chosen = [settings.providers[name]] if name else [
        p for p in settings.providers.values() if listable(p)
    ]  # fmt: skip
    lists = request.app[LIVE_LISTS]
    results = await asyncio.gather(*(refresh_one(lists, p) for p in chosen))
    return web.json_response({"refreshed": dict(zip((p.id for p in chosen), results, strict=True))})


async def refresh_one(lists: LiveLists, provider: ResolvedProvider) -> dict[str, Any]:
    try:
        fresh = await lists.refresh(provider)
    except ListingError as exc:
        kept = lists.cached(provider)
        return {"ok": False, "error": str(exc), "kept": None if kept is None else len(kept.models)}
    return {"ok": True, "models": len(fresh.models)}
