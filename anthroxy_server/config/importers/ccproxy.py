"""ccproxy's ``settings.json``, as the README of ``@aistack/claude-code-proxy`` documents it
(https://github.com/aistackhq/claude-code-proxy):
``server`` (``host``, ``port``), ``providers.<name>`` (``apiKey``, ``baseURL``, ``responseStyle``
``"openai"``/``"anthropic"``), ``models`` (``bigModel``, ``smallModel`` as ``model@provider``,
``preferredProvider``) and ``logging`` (``level``, ``format``).

Its model mapping: ``claude-*-haiku-*`` -> ``smallModel``, ``claude-*-sonnet-*`` -> ``bigModel``;
anthroxy's opus and default tiers take ``bigModel`` too. A ``model@provider`` name a client asks
for routes in anthroxy as it did in ccproxy (``RoutingTable`` reads that form).
"""

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

_TOP = {"server", "providers", "models", "logging"}
_STYLE = {"openai": "chat", "anthropic": "anthropic"}
_SIZES = (("bigModel", ("opus", "sonnet", "default")), ("smallModel", ("haiku",)))


def from_ccproxy(data: Mapping[str, Any]) -> Imported:
    result = Imported("ccproxy")
    server = table_of(data, "server")
    server_entry(result, "server.port", server.get("host"), server.get("port"))
    unknown_keys(result, "server.", server, {"host", "port"})
    for name, p in table_of(data, "providers").items():
        where = f"providers.{name}"
        if not isinstance(p, dict):
            result.dropped.append(f"{where}: not an object")
            continue
        api = dialect_of(result, f"{where}.responseStyle", p.get("responseStyle"), _STYLE)
        url = p.get("baseURL")
        if api == "anthropic" and isinstance(url, str) and url.rstrip("/").endswith("/v1"):
            url = url.rstrip("/")[: -len("/v1")]  # anthroxy's Anthropic base stops before /v1
        provider_entry(result, where, name, url, api, p.get("apiKey"))
        unknown_keys(result, f"{where}.", p, {"apiKey", "baseURL", "responseStyle"})
    models = table_of(data, "models")
    _tiers(result, models)
    _preferred(result, models.get("preferredProvider"))
    unknown_keys(result, "models.", models, {"bigModel", "smallModel", "preferredProvider"})
    logging = table_of(data, "logging")
    log_level(result, "logging.level", logging.get("level"))
    if logging.get("format") in ("json", "text"):
        result.set("server", "log_format", logging["format"])
    elif "format" in logging:
        result.dropped.append(f"logging.format: {logging['format']!r} is not json or text")
    unknown_keys(result, "logging.", logging, {"level", "format"})
    unknown_keys(result, "", data, _TOP)
    return result


def _tiers(result: Imported, models: Mapping[str, Any]) -> None:
    for key, tiers in _SIZES:
        value = models.get(key)
        if value is None:
            continue
        model, at, provider = value.rpartition("@") if isinstance(value, str) else ("", "", "")
        if not at or not model:
            result.dropped.append(f'models.{key}: {value!r} is not "model@provider"')
            continue
        target = result.target(f"models.{key}", provider, model, layered=True)
        for tier in tiers if target else ():
            result.set("tiers", tier, target)
    if "sonnet" in result.table.get("tiers", {}) and "bigModel" in models:
        result.changed.append(
            "models.bigModel → tiers.sonnet, and also tiers.opus and tiers.default (ccproxy's "
            "table maps only sonnet and haiku names; anthroxy needs a target for opus names and "
            "for names it does not know)"
        )


def _preferred(result: Imported, provider: object) -> None:
    if provider is None:
        return
    default = result.table.get("tiers", {}).get("default", "tiers.default")
    result.dropped.append(
        f"models.preferredProvider {provider!r}: anthroxy has no provider for bare model names; "
        f'a name it does not know goes to {default}; ask for "model@{provider}" to choose '
        "the provider"
    )
