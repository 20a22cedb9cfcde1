"""``anthroxy models``: every model name a client can use, where it goes, and its limits.

The running proxy is asked first (``/v1/models`` for the names and limits, ``/healthz`` for the
routing), with the configured token: it is what clients reach, it may have keys this shell does
not export, and it may run another file than the one on disk. The configuration is read only
when no proxy answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from anthroxy.errors import AnthroxyError
from anthroxy.routing import capabilities
from anthroxy.routing.table import RoutingTable

from ..config.checks import model_fields
from ..config.paths import CommandError, Locations
from . import daemon, running

if TYPE_CHECKING:
    from ..config.schema import Settings

HEADER = ("MODEL NAME", "PROVIDER", "UPSTREAM MODEL", "RULE", "CONTEXT", "MAX OUT", "FEATURES")
_FEATURES = (("tools", "tool_use"), ("images", "image_input"), ("thinking", "thinking"))
_PAGE = 1000  # the endpoint's largest page (gateway/models_endpoint.py MODELS_MAX_LIMIT)
_MAX_PAGES = 50


def command(
    loc: Locations, out: TextIO, config_path: str | None, provider: str | None = None
) -> int:
    """The table; with ``provider``, that provider's live list instead (``live_commands``)."""
    if provider:
        from .live_commands import models as live_list

        return live_list(loc, out, provider, config_path)
    proxy = running.find_proxy(loc, config_path)
    rows = proxy_rows(proxy)
    if rows is not None:
        out.write(f"# from the proxy running at {proxy.url}\n")
        out.write(table(rows))
        return 0
    try:
        settings = daemon.load_settings(loc, config_path)
    except CommandError as exc:
        raise CommandError(
            f"no proxy answers at {proxy.url}, and the configuration does not load here: "
            f"{exc.message}",
            code=exc.code,
        ) from exc
    out.write(f"# no proxy answers at {proxy.url}; from the configuration\n")
    from ..config.paths import cache_dir
    from ..live_lists.store import LiveLists
    from .live_commands import auto_targets

    auto = auto_targets(settings, LiveLists(cache_dir(loc.env, loc.home)))
    out.write(table(config_rows(settings, auto)))
    return 0


def proxy_rows(proxy: running.Proxy) -> list[tuple[str, ...]] | None:
    """The table from the running proxy, or None when it does not answer (or refuses us)."""
    entries = _all_models(proxy)
    if entries is None:
        return None
    health = running.get_json(proxy, "/healthz")
    routing = _routing(health)
    auto = _auto(health)
    rows: list[tuple[str, ...]] = []
    for entry in entries:
        name = str(entry.get("id", ""))
        provider, model, rule = _route(routing, name)
        rows.append((name, provider, _shown(provider, model, auto), rule, *_limits(entry)))
    return rows


def _auto(healthz: dict[str, Any] | None) -> dict[str, str]:
    """``provider/@auto[:hint]`` -> the model it means now, as the proxy's /healthz says."""
    described = ((healthz or {}).get("live_models") or {}).get("auto")
    if not isinstance(described, dict):
        return {}
    return {
        target: str(v["model"])
        for target, v in described.items()
        if isinstance(v, dict) and v.get("model")
    }


def _shown(provider: str, model: str, auto: dict[str, str]) -> str:
    """An ``@auto`` model with what it resolves to: ``@auto:pro=gemini-2.5-pro``."""
    resolved = auto.get(f"{provider}/{model}")
    return f"{model}={resolved}" if resolved else model


def _all_models(proxy: running.Proxy) -> list[dict[str, Any]] | None:
    entries: list[dict[str, Any]] = []
    params = {"limit": str(_PAGE)}
    for _ in range(_MAX_PAGES):
        page = running.get_json(proxy, running.query("/v1/models", **params))
        if page is None or not isinstance(page.get("data"), list):
            return None
        entries += [e for e in page["data"] if isinstance(e, dict)]
        if not page.get("has_more") or not page.get("last_id"):
            break
        params = {"limit": str(_PAGE), "after_id": str(page["last_id"])}
    return entries


def _routing(healthz: dict[str, Any] | None) -> RoutingTable | None:
    """The proxy's routing table, rebuilt from what /healthz describes (None if it cannot be)."""
    described = (healthz or {}).get("routing")
    if not isinstance(described, dict):
        return None
    try:
        return RoutingTable(
            providers=described["providers"],
            tiers=described.get("tiers", {}),
            aliases=described.get("aliases", {}),
            fallbacks=described.get("fallbacks", {}),
            scenarios=described.get("scenarios", {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _route(routing: RoutingTable | None, name: str) -> tuple[str, str, str]:
    if routing is None:
        return ("?", "?", "?")
    try:
        route = routing.resolve(name)
    except (AnthroxyError, ValueError):
        return ("?", "?", "?")
    return (route.provider, route.model, route.rule)


def _limits(entry: dict[str, Any]) -> tuple[str, str, str]:
    caps = entry.get("capabilities")
    caps = caps if isinstance(caps, dict) else {}
    feats = [
        ours
        for ours, theirs in _FEATURES
        if isinstance(caps.get(theirs), dict) and caps[theirs].get("supported")
    ]
    context, out = entry.get("max_input_tokens", "?"), entry.get("max_tokens", "?")
    return (str(context), str(out), ",".join(feats))


def config_rows(settings: Settings, auto: dict[str, str] | None = None) -> list[tuple[str, ...]]:
    models = settings.config.models
    overrides = capabilities.parse_overrides({n: model_fields(m) for n, m in models.items()})
    rows: list[tuple[str, ...]] = []
    for name in settings.routing.model_names():
        route = settings.routing.resolve(name)
        resolved = (auto or {}).get(f"{route.provider}/{route.model}", route.model)
        lim = capabilities.lookup(resolved, overrides)
        feats = [f for f in ("tools", "images", "thinking") if getattr(lim, f)]
        limits = (str(lim.context_window), str(lim.max_output_tokens), ",".join(feats))
        shown = _shown(route.provider, route.model, auto or {})
        rows.append((name, route.provider, shown, route.rule, *limits))
    return rows


def table(rows: Sequence[tuple[str, ...]]) -> str:
    everything = [HEADER, *rows]
    widths = [max(len(r[i]) for r in everything) for i in range(len(HEADER))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in everything
    )
