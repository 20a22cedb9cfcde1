"""claude-code-router's ``config.json``.

Keys as its README documents them (https://github.com/musistudio/claude-code-router): the
``Providers`` list, ``Router``, ``HOST``/``PORT``, ``APIKEY``, ``LOG``/``LOG_LEVEL``,
``PROXY_URL`` (an HTTP proxy for calls to the providers) and ``API_TIMEOUT_MS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .common import (
    Imported,
    log_level,
    provider_entry,
    server_entry,
    unknown_keys,
)

# ---------------------------------------------------------------------------------------------
# claude-code-router

# Router key -> [routing.scenarios] key (docs/configuration.md, ``[routing.scenarios]``).
CCR_SCENARIOS: Mapping[str, str] = {
    "background": "background",
    "think": "think",
    "longContext": "long_context",
    "webSearch": "web_search",
    "image": "image",
}
_CCR_TOP = {
    "Providers", "Router", "HOST", "PORT", "APIKEY", "LOG", "LOG_LEVEL", "PROXY_URL",
    "API_TIMEOUT_MS", "transformers", "CUSTOM_ROUTER_PATH",
}  # fmt: skip
_CCR_PROVIDER = {"name", "api_base_url", "api_key", "models", "transformer"}


def from_ccr(data: Mapping[str, Any]) -> Imported:
    result = Imported("claude-code-router")
    providers = data.get("Providers") or []
    for i, p in enumerate(providers if isinstance(providers, list) else []):
        where = f"Providers[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            result.dropped.append(f"{where}: not an object with a name")
            continue
        where = f"{where} ({p['name']})"
        provider_entry(result, where, p["name"], p.get("api_base_url"), "chat", p.get("api_key"))
        pid = result.ids[p["name"]]
        models = [m for m in p.get("models") or [] if isinstance(m, str)]
        if models:
            result.set("providers", pid, "models", models)
        _transformers(result, where, p.get("transformer"))
        unknown_keys(result, f"{where}.", p, _CCR_PROVIDER)
    _ccr_router(result, data.get("Router"))
    server_entry(result, "PORT", data.get("HOST"), data.get("PORT"))
    if isinstance(data.get("APIKEY"), str) and data["APIKEY"]:
        result.set("server", "auth_token", data["APIKEY"])
    log_level(result, "LOG_LEVEL", data.get("LOG_LEVEL"))
    if data.get("LOG"):
        result.dropped.append("LOG: anthroxy always logs (`anthroxy logs` shows the log)")
    _proxy_url(result, data.get("PROXY_URL"))
    _timeout(result, data.get("API_TIMEOUT_MS"))
    for i, t in enumerate(data.get("transformers") or []):
        path = t.get("path") if isinstance(t, dict) else t
        result.dropped.append(
            f"transformers[{i}]: custom transformer {path!r}: anthroxy runs no JavaScript"
        )
    if data.get("CUSTOM_ROUTER_PATH"):
        result.dropped.append(
            f"CUSTOM_ROUTER_PATH: custom router {data['CUSTOM_ROUTER_PATH']!r}: anthroxy runs no "
            "JavaScript; use [routing.scenarios] and [aliases]"
        )
    unknown_keys(result, "", data, _CCR_TOP)
    return result


def _proxy_url(result: Imported, url: object) -> None:
    """anthroxy reads the proxy from the environment (aiohttp's ``trust_env``), not the file."""
    if not url:
        return
    if not isinstance(url, str):
        result.dropped.append(f"PROXY_URL: {url!r} is not a URL")
        return
    result.set("server", "trust_env", True)
    parts = urlsplit(url.strip())
    if parts.password:  # the report goes to a terminal: never print a password
        host = parts.netloc.rpartition("@")[2]
        url = parts._replace(netloc=f"{parts.username}:<password>@{host}").geturl()
    result.changed.append(
        f"PROXY_URL → server.trust_env = true: anthroxy takes the proxy from the environment; "
        f"export HTTPS_PROXY={url.strip()} (and HTTP_PROXY for http:// providers) where "
        "anthroxy starts"
    )


def _timeout(result: Imported, value: object) -> None:
    if value is None:
        return
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        result.dropped.append(f"API_TIMEOUT_MS: {value!r} is not a number of milliseconds")
        return
    seconds = value / 1000
    for table in result.table.get("providers", {}).values():
        table["read_timeout"] = seconds
    result.changed.append(
        f"API_TIMEOUT_MS {value} → read_timeout = {seconds:g} (seconds) on every provider: how "
        "long anthroxy waits for an upstream that sends nothing"
    )


def _transformers(result: Imported, where: str, transformer: object) -> None:
    if not isinstance(transformer, dict):
        return
    for scope, spec in transformer.items():
        uses = spec if scope == "use" else (spec.get("use") if isinstance(spec, dict) else None)
        names = [u if isinstance(u, str) else json.dumps(u) for u in uses or []]
        label = "" if scope == "use" else f" for {scope}"
        if names:
            result.dropped.append(
                f"{where}: transformer {', '.join(names)}{label}: anthroxy translates requests "
                "itself (see [providers.<id>.profile])"
            )


def _ccr_router(result: Imported, router: object) -> None:
    if not isinstance(router, dict):
        return
    for key, value in router.items():
        where = f"Router.{key}"
        if key == "longContextThreshold":
            if isinstance(value, int) and not isinstance(value, bool):
                result.set("routing", "scenarios", "long_context_threshold", value)
            else:
                result.dropped.append(f"{where}: {value!r} is not a number")
            continue
        if key != "default" and key not in CCR_SCENARIOS:
            result.dropped.append(f"{where}: anthroxy has no such route")
            continue
        if not isinstance(value, str) or "," not in value:
            if value:
                result.dropped.append(f'{where}: {value!r} is not "provider,model"')
            continue
        provider, _, model = (part.strip() for part in value.partition(","))
        target = result.target(where, provider, model)
        if target is None:
            continue
        if key == "default":
            for tier in ("opus", "sonnet", "default"):
                result.set("tiers", tier, target)
            result.table["tiers"].setdefault("haiku", target)
        else:
            result.set("routing", "scenarios", CCR_SCENARIOS[key], target)
            if key == "background":  # CCR's background route is what Claude Code's haiku asks
                result.set("tiers", "haiku", target)
