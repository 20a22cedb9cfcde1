"""What every importer shares: the result type, provider entries and keys, and the small
server and logging sections the other tools all have.

The result keeps two lists for the report: ``changed`` (carried over, but not as it was: a
dialect guessed, a catalogue URL used instead of the file's, a key copied into the file; each
line says what became what) and ``dropped`` (not carried over, each with why).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from anthroxy.routing import catalog

_ENV_REF = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
# Endpoint suffixes the other tools include in their URLs; anthroxy's base URL stops before them.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("/v1/messages", "anthropic"),
    ("/chat/completions", "chat"),
)
# Log level spellings of the Node tools (pino) -> anthroxy's.
LOG_LEVELS: Mapping[str, str] = {
    "trace": "debug", "debug": "debug", "info": "info", "warn": "warning", "warning": "warning",
    "error": "error", "fatal": "critical", "critical": "critical",
}  # fmt: skip


@dataclass
class Imported:
    """The converted table, the two report lists, and how to read provider names."""

    source_format: str
    table: dict[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # "what → what it became (why)"
    dropped: list[str] = field(default_factory=list)  # "what: why it is not carried over"
    keys_in_file: list[str] = field(default_factory=list)  # providers given a literal api_key
    ids: dict[str, str] = field(default_factory=dict)  # source provider name -> anthroxy id

    def set(self, *path_and_value: Any) -> None:
        *path, key, value = path_and_value
        node = self.table
        for part in path:
            node = node.setdefault(part, {})
        node[key] = value

    def target(self, where: str, provider: str, model: str, *, layered: bool = False) -> str | None:
        """``pid/model`` for a provider of this file. With ``layered`` (a tool whose files
        layer, like ccproxy's project file over the user's), a catalogue id the file does not
        define is kept: another layer or the environment may define it."""
        pid = self.ids.get(provider)
        if pid is None and layered and provider in catalog.CATALOG:
            keys = " or ".join(catalog.CATALOG[provider].key_env) or "its base URL variable"
            self.changed.append(
                f"{where}: provider {provider!r} is not in this file → {provider}/{model}; "
                f"another layer (the user's file) or {keys} must set it up"
            )
            return f"{provider}/{model}"
        if pid is None:
            self.dropped.append(f"{where}: provider {provider!r} is not defined in the file")
            return None
        return f"{pid}/{model}"


# ---------------------------------------------------------------------------------------------
# Shared: providers and keys.


def dialect_of(result: Imported, where: str, style: Any, table: Mapping[str, str]) -> str:
    """anthroxy's dialect for another proxy's provider style; unknown ones are noted and read as
    OpenAI, which is what these proxies assume when the field is absent."""
    style = "openai" if style is None else style
    api = table.get(style) if isinstance(style, str) else None
    if api is None:
        result.changed.append(f'{where}: {style!r} → api = "chat" (unknown style, read as openai)')
        return "chat"
    return api


def provider_entry(
    result: Imported, where: str, name: str, url: str | None, api: str, key: object
) -> None:
    """Add ``[providers.<id>]`` for one source provider and remember its id."""
    base, api = _strip_suffix(url, api) if url else (None, api)
    preset = _preset_for(base) if base else catalog.CATALOG.get(name.lower())
    pid = preset.id if preset is not None and preset.id not in result.ids.values() else _id(name)
    entry: dict[str, Any] = {}
    if preset is None or pid != preset.id:
        entry.update({"api": api, "base_url": base} if base else {})
        if not base:
            result.changed.append(
                f"{where} → [providers.{pid}] without base_url (the file has none): add one"
            )
    elif base and base != preset.base_url.rstrip("/"):
        result.changed.append(
            f"{where}: {base} → [providers.{pid}], {preset.name}'s catalogue endpoint "
            f"{preset.base_url} ({preset.api} API)"
        )
    _key(result, where, entry, key, pid)
    result.ids[name] = pid
    result.set("providers", pid, entry)


def _key(result: Imported, where: str, entry: dict[str, Any], key: object, pid: str) -> None:
    if not isinstance(key, str) or not key.strip():
        return
    ref = _ENV_REF.match(key.strip())
    if ref:
        entry["api_key_env"] = ref.group(1)
        return
    preset = catalog.CATALOG.get(pid)
    if preset is not None and not preset.needs_key:
        return  # a local server: the placeholder key ("ollama") means nothing
    entry["api_key"] = key.strip()
    result.keys_in_file.append(pid)


def _strip_suffix(url: str, api: str) -> tuple[str, str]:
    base = url.strip().rstrip("/")
    for suffix, dialect in _SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)], dialect
    return base, api


# Hosts other tools' documentation still gives for a catalogue provider that has moved (or never
# served its API there): docs/providers.md, "Differences from clco-proxy's list".
_MOVED_HOSTS = {
    "api.minimax.chat": "minimax-cn",  # MiniMax's former mainland domain
    "platform.xiaomimimo.com": "mimo",  # the console, not the API
    "api-inference.huggingface.co": "huggingface",  # replaced by the Inference Providers router
    "api.kilocode.dev": "kilocode",
    "cloud.olama.com": "ollama-cloud",  # a typo in clco-proxy's README
    "sdk.vercel.ai": "vercel",  # the AI SDK's documentation site
    "api.cohere.com": "cohere",
}


def _preset_for(base: str) -> catalog.ProviderPreset | None:
    """The catalogue preset with this exact base URL, else the only one on this host, else the
    one that moved away from this host."""
    same_host = []
    host = urlsplit(base).netloc.lower()
    if host in _MOVED_HOSTS:
        return catalog.CATALOG[_MOVED_HOSTS[host]]
    for preset in catalog.CATALOG.values():
        if preset.base_url.rstrip("/") == base:
            return preset
        if urlsplit(preset.base_url).netloc.lower() == host and not preset.url_vars:
            same_host.append(preset)
    return same_host[0] if len(same_host) == 1 else None


def _id(name: str) -> str:
    cleaned = _BAD_ID_CHARS.sub("-", name.strip()).strip("-").lower()
    return cleaned or "imported"


def table_of(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def unknown_keys(result: Imported, where: str, data: Mapping[str, Any], known: set[str]) -> None:
    for key in data:
        if key not in known:
            result.dropped.append(f"{where}{key}: anthroxy has no such setting")


def server_entry(result: Imported, where: str, host: object, port: object) -> None:
    if isinstance(host, str) and host:
        result.set("server", "host", host)
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, int) and not isinstance(port, bool):
        result.set("server", "port", port)
    elif port is not None:
        result.dropped.append(f"{where}: port {port!r} is not a number")


def log_level(result: Imported, where: str, level: object) -> None:
    if level is None:
        return
    mapped = LOG_LEVELS.get(str(level).lower())
    if mapped is None:
        result.dropped.append(f"{where}: log level {level!r} is not one anthroxy knows")
    else:
        result.set("server", "log_level", mapped)
