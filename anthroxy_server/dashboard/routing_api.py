"""``GET /ui/api/routing``: the routing in force (tiers, aliases, scenarios, fallback chains,
model limits, providers), each value with its source as ``anthroxy config show`` labels it
(``Settings.origins``), keys masked as that command masks them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from anthroxy.routing import capabilities

from ..cli.config_show import mask_secret
from ..gateway.live import LIVE
from ..gateway.logs import redact

TIER_DEFAULT = "default (first usable provider)"


def source(origins: Mapping[str, str], key: str, default: str = "default") -> str:
    """Where ``key`` (dotted) came from: its own label, else its nearest table's."""
    while key:
        found = origins.get(key)
        if found is not None:
            return found
        key = key.rpartition(".")[0]
    return default


async def routing(request: web.Request) -> web.Response:
    live = request.app[LIVE]
    current = live.current
    settings = current.settings
    origins = settings.origins
    table = settings.routing.describe()
    reloads = live.reloads

    def named(section: str, items: Mapping[str, str], default: str) -> list[dict[str, str]]:
        return [
            {
                "name": name,
                "target": target,
                "source": source(origins, f"{section}.{name}", default),
            }
            for name, target in items.items()
        ]

    return web.json_response(
        {
            "fingerprint": current.fingerprint,
            "sources": list(settings.sources),
            "tiers": named("tiers", table["tiers"], TIER_DEFAULT),
            "aliases": named("aliases", table["aliases"], "default"),
            "scenarios": named("routing.scenarios", table["scenarios"], "default"),
            "fallbacks": [
                {
                    "target": target,
                    "chain": chain,
                    "source": source(origins, f"routing.fallbacks.{target}"),
                }
                for target, chain in table["fallbacks"].items()
            ],
            "limits": limits(table, settings.config.models, current.model_limits, origins),
            "providers": providers(settings, origins),
            "long_context_threshold": table["long_context_threshold"],
            "reload": {
                "attempts": reloads.attempts,
                "problems": [redact(p, current.secrets) for p in reloads.problems],
                "restart_needed": [f"server.{key}" for key in reloads.restart_needed],
            },
        }
    )


def limits(
    table: Mapping[str, Any],
    configured: Mapping[str, Any],
    overrides: capabilities.Overrides,
    origins: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The limits of every model the routing can send to, and of every ``[models]`` entry."""
    targets = [*table["tiers"].values(), *table["aliases"].values(),
               *table["scenarios"].values()]  # fmt: skip
    for target, chain in table["fallbacks"].items():
        targets += [target, *chain]
    models = dict.fromkeys([*targets, *configured])
    shown = []
    for model in models:
        upstream = model.partition("/")[2] or model
        found = capabilities.lookup(upstream, overrides)
        own = model if model in configured else upstream if upstream in configured else None
        shown.append(
            {
                "model": model,
                "context_window": found.context_window,
                "max_output": found.max_output_tokens,
                "source": source(origins, f"models.{own}", "config") if own else "built-in table",
            }
        )
    return shown


def providers(settings: Any, origins: Mapping[str, str]) -> list[dict[str, Any]]:
    shown = []
    for pid, p in settings.providers.items():
        key_source = p.key_source or None
        if key_source == "file":
            key_source = origins.get(f"providers.{pid}.api_key", "file")
        shown.append(
            {
                "id": pid,
                "api": p.api,
                "base_url": p.base_url,
                "key": mask_secret(p.api_key) if p.api_key else None,
                "key_source": key_source,
                "keys": [key.label for key in p.keys],
                "models": list(p.models),
                "source": origins.get(f"providers.{pid}", "catalogue"),
            }
        )
    return shown
