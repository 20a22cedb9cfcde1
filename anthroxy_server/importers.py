"""``anthroxy import FILE``: another proxy's JSON configuration -> anthroxy TOML data.

Three formats, told apart by their top-level keys (``detect``):

* claude-code-router ``config.json``: ``Providers`` (list of ``name``, ``api_base_url`` — the full
  ``.../chat/completions`` URL —, ``api_key``, ``models``, ``transformer``), ``Router``
  (``"provider,model"`` strings for ``default``, ``background``, ``think``, ``longContext``,
  ``webSearch``, ``image``; ``longContextThreshold``), ``HOST``, ``PORT``, ``APIKEY``, ``LOG``.
  Values may be ``$VAR`` / ``${VAR}`` references to the environment.
* ccproxy ``settings.json``: ``server`` (``host``, ``port``), ``providers.<name>`` (``apiKey``,
  ``baseURL``, ``responseStyle`` ``"openai"``/``"anthropic"``), ``models`` (``bigModel``,
  ``smallModel`` as ``model@provider``), ``logging`` (``level``, ``format``).
* clco-proxy ``config.json`` (see ``importers_clco``).

The result is plain data for tomli-w plus one note per thing that was not carried over
(transformers, custom routers, unknown keys). A key written as ``$VAR`` becomes
``api_key_env = "VAR"``; a literal key stays a literal ``api_key`` (the file is then written with
mode 0600). A base URL matching a catalogue preset makes the provider that catalogue id, so its
quirk profile applies. Nothing here does I/O; ``run_import`` (end of file) is the command.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import tomli_w

from anthroxy import catalog

from .paths import CommandError, Locations, user_config_file

__all__ = ["Imported", "convert", "detect", "run_import"]

FORMATS = ("claude-code-router", "ccproxy", "clco-proxy")
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
    """The converted table, the notes for the user, and how to read provider names."""

    source_format: str
    table: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # source provider name -> anthroxy id

    def set(self, *path_and_value: Any) -> None:
        *path, key, value = path_and_value
        node = self.table
        for part in path:
            node = node.setdefault(part, {})
        node[key] = value

    def target(self, where: str, provider: str, model: str) -> str | None:
        pid = self.ids.get(provider)
        if pid is None:
            self.notes.append(f"{where}: provider {provider!r} is not defined; entry skipped")
            return None
        return f"{pid}/{model}"


def detect(data: object) -> str:
    """Which tool wrote ``data``; a CommandError when none fits."""
    if isinstance(data, dict):
        if "Providers" in data or "Router" in data:
            return "claude-code-router"
        models = data.get("models")
        if isinstance(models, dict) and ("bigModel" in models or "smallModel" in models):
            return "ccproxy"
        if isinstance(data.get("providers"), dict) and isinstance(models, dict):
            return "clco-proxy"
    raise CommandError(
        "not a configuration anthroxy can import: expected a claude-code-router config.json "
        "(Providers/Router), a ccproxy settings.json (models.bigModel) or a clco-proxy "
        "config.json (providers + models)",
        code=2,
    )


def convert(data: Mapping[str, Any]) -> Imported:
    fmt = detect(data)
    if fmt == "claude-code-router":
        return _from_ccr(data)
    if fmt == "ccproxy":
        return _from_ccproxy(data)
    from .importers_clco import from_clco

    return from_clco(data)


# ---------------------------------------------------------------------------------------------
# Shared: providers and keys.


def dialect_of(result: Imported, where: str, style: Any, table: Mapping[str, str]) -> str:
    """anthroxy's dialect for another proxy's provider style; unknown ones are noted and read as
    OpenAI, which is what these proxies assume when the field is absent."""
    style = "openai" if style is None else style
    api = table.get(style) if isinstance(style, str) else None
    if api is None:
        result.notes.append(f"{where}: {style!r} unknown; treated as openai")
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
            result.notes.append(f"{where}: no base URL; add base_url to [providers.{pid}]")
    elif base and base != preset.base_url.rstrip("/"):
        result.notes.append(
            f"{where}: {base} is {preset.name}'s; anthroxy uses its catalogue endpoint "
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
    result.notes.append(
        f"{where}: the key is copied into the file (mode 0600); better: export it and write "
        f'api_key_env = "<VARIABLE>" in [providers.{pid}]'
    )


def _strip_suffix(url: str, api: str) -> tuple[str, str]:
    base = url.strip().rstrip("/")
    for suffix, dialect in _SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)], dialect
    return base, api


def _preset_for(base: str) -> catalog.ProviderPreset | None:
    """The catalogue preset with this exact base URL, else the only one on this host."""
    same_host = []
    host = urlsplit(base).netloc.lower()
    for preset in catalog.CATALOG.values():
        if preset.base_url.rstrip("/") == base:
            return preset
        if urlsplit(preset.base_url).netloc.lower() == host and not preset.url_vars:
            same_host.append(preset)
    return same_host[0] if len(same_host) == 1 else None


def _id(name: str) -> str:
    cleaned = _BAD_ID_CHARS.sub("-", name.strip()).strip("-").lower()
    return cleaned or "imported"


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _unknown(result: Imported, where: str, data: Mapping[str, Any], known: set[str]) -> None:
    for key in data:
        if key not in known:
            result.notes.append(f"{where}{key}: not carried over (anthroxy has no such setting)")


def _server(result: Imported, where: str, host: object, port: object) -> None:
    if isinstance(host, str) and host:
        result.set("server", "host", host)
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, int) and not isinstance(port, bool):
        result.set("server", "port", port)
    elif port is not None:
        result.notes.append(f"{where}: port {port!r} is not a number; not carried over")


def _log_level(result: Imported, where: str, level: object) -> None:
    if level is None:
        return
    mapped = LOG_LEVELS.get(str(level).lower())
    if mapped is None:
        result.notes.append(f"{where}: log level {level!r} unknown; not carried over")
    else:
        result.set("server", "log_level", mapped)


# ---------------------------------------------------------------------------------------------
# claude-code-router

# Router key -> [routing.scenarios] key (the scenario names of issue 4).
CCR_SCENARIOS: Mapping[str, str] = {
    "background": "background",
    "think": "think",
    "longContext": "long_context",
    "webSearch": "web_search",
    "image": "image",
}
_CCR_TOP = {"Providers", "Router", "HOST", "PORT", "APIKEY", "LOG", "LOG_LEVEL"}
_CCR_PROVIDER = {"name", "api_base_url", "api_key", "models", "transformer"}


def _from_ccr(data: Mapping[str, Any]) -> Imported:
    result = Imported("claude-code-router")
    providers = data.get("Providers") or []
    for i, p in enumerate(providers if isinstance(providers, list) else []):
        where = f"Providers[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            result.notes.append(f"{where}: not an object with a name; skipped")
            continue
        where = f"{where} ({p['name']})"
        provider_entry(result, where, p["name"], p.get("api_base_url"), "chat", p.get("api_key"))
        pid = result.ids[p["name"]]
        models = [m for m in p.get("models") or [] if isinstance(m, str)]
        if models:
            result.set("providers", pid, "models", models)
        _transformers(result, where, p.get("transformer"))
        _unknown(result, f"{where}.", p, _CCR_PROVIDER)
    _ccr_router(result, data.get("Router"))
    _server(result, "PORT", data.get("HOST"), data.get("PORT"))
    if isinstance(data.get("APIKEY"), str) and data["APIKEY"]:
        result.set("server", "auth_token", data["APIKEY"])
    _log_level(result, "LOG_LEVEL", data.get("LOG_LEVEL"))
    if data.get("LOG"):
        result.notes.append("LOG: anthroxy always logs; see `anthroxy logs`")
    for i, t in enumerate(data.get("transformers") or []):
        path = t.get("path") if isinstance(t, dict) else t
        result.notes.append(f"transformers[{i}]: custom transformer {path!r} not carried over")
    if data.get("CUSTOM_ROUTER_PATH"):
        result.notes.append(
            f"CUSTOM_ROUTER_PATH: custom router {data['CUSTOM_ROUTER_PATH']!r} not carried over; "
            "use [routing.scenarios] and [aliases]"
        )
    _unknown(result, "", data, _CCR_TOP | {"transformers", "CUSTOM_ROUTER_PATH"})
    return result


def _transformers(result: Imported, where: str, transformer: object) -> None:
    if not isinstance(transformer, dict):
        return
    for scope, spec in transformer.items():
        uses = spec if scope == "use" else (spec.get("use") if isinstance(spec, dict) else None)
        names = [u if isinstance(u, str) else json.dumps(u) for u in uses or []]
        label = "" if scope == "use" else f" for {scope}"
        if names:
            result.notes.append(
                f"{where}: transformer {', '.join(names)}{label} not carried over "
                "(anthroxy translates requests itself; see [providers.<id>.profile])"
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
                result.notes.append(f"{where}: {value!r} is not a number; not carried over")
            continue
        if key != "default" and key not in CCR_SCENARIOS:
            result.notes.append(f"{where}: not carried over (no such route in anthroxy)")
            continue
        if not isinstance(value, str) or "," not in value:
            if value:
                result.notes.append(f'{where}: {value!r} is not "provider,model"; skipped')
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


# ---------------------------------------------------------------------------------------------
# ccproxy

_CCPROXY_TOP = {"server", "providers", "models", "logging", "claude"}
_CCPROXY_STYLE = {"openai": "chat", "anthropic": "anthropic"}


def _from_ccproxy(data: Mapping[str, Any]) -> Imported:
    result = Imported("ccproxy")
    server = _table(data, "server")
    _server(result, "server.port", server.get("host"), server.get("port"))
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
        _unknown(result, f"{where}.", p, {"apiKey", "baseURL", "responseStyle"})
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
    _unknown(result, "models.", models, {"bigModel", "smallModel"})
    logging = _table(data, "logging")
    _log_level(result, "logging.level", logging.get("level"))
    if logging.get("format") in ("json", "text"):
        result.set("server", "log_format", logging["format"])
    if isinstance(data.get("claude"), dict) and data["claude"].get("args"):
        result.notes.append("claude.args: pass them to `anthroxy run -- ARGS` instead")
    _unknown(result, "", data, _CCPROXY_TOP)
    return result


# ---------------------------------------------------------------------------------------------
# The command.

HEADER = "# Written by `anthroxy import` from {source}\n# Format: {fmt}\n\n"


def run_import(loc: Locations, out: TextIO, source: str, output: str | None, force: bool) -> Path:
    """Read ``source``, write the TOML to ``output`` (default: the user's config file)."""
    src = Path(source).expanduser()
    src = src if src.is_absolute() else loc.cwd / src
    try:
        data = json.loads(src.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read {src}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise CommandError(f"{src}: not valid JSON ({exc.msg} at line {exc.lineno})", 2) from exc
    result = convert(data)
    dest = Path(output).expanduser() if output else user_config_file(loc.env, loc.home)
    dest = dest if dest.is_absolute() else loc.cwd / dest
    if dest.exists() and not force:
        raise CommandError(f"{dest} already exists; pass --force to overwrite it")
    text = HEADER.format(source=src, fmt=result.source_format) + tomli_w.dumps(result.table)
    secret = any("api_key" in p for p in result.table.get("providers", {}).values()) or bool(
        result.table.get("server", {}).get("auth_token")
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600 if secret else 0o644)
    os.replace(tmp, dest)
    out.write(f"imported {result.source_format} configuration from {src}\nwrote {dest}\n")
    for note in result.notes:
        out.write(f"not carried over: {note}\n")
    _check(loc, dest, out)
    return dest


def _check(loc: Locations, path: Path, out: TextIO) -> None:
    from .config import ConfigError, load_settings

    try:
        load_settings(cli_path=str(path), env=loc.env, cwd=loc.cwd, home=loc.home)
    except ConfigError as exc:
        for problem in exc.problems:
            out.write(f"to fix before it runs: {problem}\n")
    else:
        out.write("check: the configuration loads (`anthroxy config show` prints it)\n")
