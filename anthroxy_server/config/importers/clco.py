"""clco-proxy ``config.json`` -> anthroxy TOML data (used by ``importers.convert``).

The shape read here (clco-proxy's published documentation was not available when this was
written, so this is the shape of its configuration as anthroxy understands it; anything else in
the file is reported, never guessed at):

    {"host": "127.0.0.1", "port": 8080, "authToken": "...",
     "providers": {"<name>": {"apiKey": "...", "baseUrl": "...", "mode": "anthropic" | "openai",
                              "models": ["..."]}},
     "models": {"opus": "<provider>/<model>", "sonnet": "...", "haiku": "...",
                "default": "..."}}

``mode`` follows clco-proxy's two modes: ``anthropic`` (Mode A, passthrough) and ``openai``
(Mode B, translation); a provider without ``baseUrl`` must be a catalogue id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import Imported, dialect_of, log_level, provider_entry, server_entry, unknown_keys

_MODES = {"anthropic": "anthropic", "openai": "chat"}
_TOP = {"host", "port", "authToken", "providers", "models", "logLevel"}
_TIERS = ("opus", "sonnet", "haiku", "default")


def from_clco(data: Mapping[str, Any]) -> Imported:
    result = Imported("clco-proxy")
    server_entry(result, "port", data.get("host"), data.get("port"))
    if isinstance(data.get("authToken"), str) and data["authToken"]:
        result.set("server", "auth_token", data["authToken"])
    log_level(result, "logLevel", data.get("logLevel"))
    for name, p in data["providers"].items():
        where = f"providers.{name}"
        if not isinstance(p, dict):
            result.notes.append(f"{where}: not an object; skipped")
            continue
        api = dialect_of(result, f"{where}.mode", p.get("mode"), _MODES)
        provider_entry(result, where, name, p.get("baseUrl"), api, p.get("apiKey"))
        models = [m for m in p.get("models") or [] if isinstance(m, str)]
        if models:
            result.set("providers", result.ids[name], "models", models)
        unknown_keys(result, f"{where}.", p, {"apiKey", "baseUrl", "mode", "models"})
    models = data["models"]
    for name, value in models.items():
        provider, slash, model = value.partition("/") if isinstance(value, str) else ("", "", "")
        if not slash or not model:
            result.notes.append(f'models.{name}: {value!r} is not "provider/model"; skipped')
            continue
        target = result.target(f"models.{name}", provider, model)
        if target is not None:  # a name that is no tier is an exact model name: an alias
            result.set("tiers" if name in _TIERS else "aliases", name, target)
    unknown_keys(result, "", data, _TOP)
    return result
