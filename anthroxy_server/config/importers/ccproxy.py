"""ccproxy's ``settings.json``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import (
    Imported,
    dialect_of,
    log_level,
    provider_entry,
    server_entry,
    table_of,
    unknown_keys,
)

# ---------------------------------------------------------------------------------------------
# ccproxy

_CCPROXY_TOP = {"server", "providers", "models", "logging", "claude"}
_CCPROXY_STYLE = {"openai": "chat", "anthropic": "anthropic"}


def from_ccproxy(data: Mapping[str, Any]) -> Imported:
    result = Imported("ccproxy")
    server = table_of(data, "server")
    server_entry(result, "server.port", server.get("host"), server.get("port"))
    for name, p in (data.get("providers") or {}).items():
        where = f"providers.{name}"
        if not isinstance(p, dict):
            result.notes.append(f"{where}: not an object; skipped")
            continue
        api = dialect_of(result, f"{where}.responseStyle", p.get("responseStyle"), _CCPROXY_STYLE)
        url = p.get("baseURL")
        if api == "anthropic" and isinstance(url, str) and url.rstrip("/").endswith("/v1"):
            url = url.rstrip("/")[: -len("/v1")]  # anthroxy's Anthropic base stops before /v1
        provider_entry(result, where, name, url, api, p.get("apiKey"))
        unknown_keys(result, f"{where}.", p, {"apiKey", "baseURL", "responseStyle"})
    models = data.get("models") or {}
    for key, tiers in (("bigModel", ("opus", "sonnet", "default")), ("smallModel", ("haiku",))):
        value = models.get(key)
        if not isinstance(value, str):
            continue
        model, at, provider = value.rpartition("@")
        if not at:
            result.notes.append(f'models.{key}: {value!r} is not "model@provider"; skipped')
            continue
        target = result.target(f"models.{key}", provider, model)
        for tier in tiers if target else ():
            result.set("tiers", tier, target)
    if "tiers" in result.table and "haiku" not in result.table["tiers"]:
        result.set("tiers", "haiku", result.table["tiers"]["sonnet"])
    unknown_keys(result, "models.", models, {"bigModel", "smallModel"})
    logging = table_of(data, "logging")
    log_level(result, "logging.level", logging.get("level"))
    if logging.get("format") in ("json", "text"):
        result.set("server", "log_format", logging["format"])
    if isinstance(data.get("claude"), dict) and data["claude"].get("args"):
        result.notes.append("claude.args: pass them to `anthroxy run -- ARGS` instead")
    unknown_keys(result, "", data, _CCPROXY_TOP)
    return result
