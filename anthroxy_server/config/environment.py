"""The environment the configuration reads: exported variables, then ``.env`` files, then
claude-model-proxy's ``ADVANCED_ENV``, each never overriding what an earlier one set.

``gather_environment`` returns one flat mapping (what ``load_settings`` hands to the overlay, the
catalogue and the provider resolution) and a label per variable that did not come from the
process, so ``config show`` can say where a value came from:

1. the process environment (label ``env:NAME``);
2. ``./.env`` in the working directory (label ``./.env:NAME``): freecc and claude-model-proxy
   users keep their settings there;
3. ``.env`` beside the user's config file (``$XDG_CONFIG_HOME/anthroxy/.env``, or beside the file
   given by ``--config``/``$ANTHROXY_CONFIG``): where keys live for a login service, which does
   not see the shell's exports (label ``~/.config/anthroxy/.env:NAME``);
4. ``ADVANCED_ENV``, a JSON object of more variables (claude-model-proxy's extension installer
   puts optional keys and mapping overrides there; label ``ADVANCED_ENV:NAME``).

Files are parsed by python-dotenv (``dotenv_values``: quotes, ``export``, comments and
``${VAR}`` expansion as python-dotenv documents them). A file that holds a key and that other
users can read gets one warning line naming the variables, never their values.

Then other tools' names for a catalogue provider's base URL fill the catalogue's own variable
when that one is not set (``MOONSHOT_BASE_URL`` -> ``KIMI_BASE_URL``): the label stays the name
the user wrote.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from anthroxy.routing import catalog

from . import paths

__all__ = [
    "BASE_URL_ALIASES",
    "Environment",
    "Variables",
    "base_url_layers",
    "base_url_origins",
    "env_file_paths",
    "gather_environment",
    "label_of",
]

log = logging.getLogger("anthroxy.config")

ENV_FILE = ".env"
ADVANCED_ENV = "ADVANCED_ENV"
# Catalogue id -> the other tools' variables for its base URL, first set wins. The catalogue's
# own <ID>_BASE_URL always wins over these.
BASE_URL_ALIASES: Mapping[str, tuple[str, ...]] = {
    "kimi": ("MOONSHOT_BASE_URL",),  # claude-model-proxy
    "mimo": ("XIAOMI_BASE_URL",),  # claude-model-proxy
    "openai": ("OPENAI_API_BASE",),  # freecc (LiteLLM's names)
    "gemini": ("GEMINI_API_BASE",),
    "xai": ("XAI_API_BASE",),
    "anthropic": ("ANTHROPIC_API_BASE",),
}
# A variable whose name ends like this holds a secret (every catalogue key variable does).
_SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_PASSWORD")


class Variables(dict[str, str]):
    """The effective environment (a plain mapping for every reader), plus where each variable
    that the process did not export came from."""

    def __init__(self, values: Mapping[str, str], labels: Mapping[str, str]) -> None:
        super().__init__(values)
        self.labels = dict(labels)


def label_of(env: Mapping[str, str], name: str) -> str:
    """Where ``name`` came from: ``./.env:NAME``, ``ADVANCED_ENV:NAME``, ...; ``env:NAME`` for an
    exported variable (and for any plain mapping, such as a test's dict)."""
    labels = env.labels if isinstance(env, Variables) else {}
    return labels.get(name, f"env:{name}")


@dataclass(frozen=True)
class Environment:
    values: Variables
    files: tuple[Path, ...] = ()  # env files read, highest precedence first
    problems: tuple[str, ...] = ()


def base_url_layers(
    merged: Mapping[str, Any], env: Mapping[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """A ``base_url`` for each catalogue provider the table configures without one whose URL
    variable came from a file or another tool's name: the value the catalogue would use anyway,
    written down so ``config show`` labels it with its real source."""
    labels = env.labels if isinstance(env, Variables) else {}
    layers: list[tuple[str, dict[str, Any]]] = []
    providers = merged.get("providers")
    for pid, table in (providers if isinstance(providers, Mapping) else {}).items():
        preset = catalog.CATALOG.get(pid)
        if preset is None or not isinstance(table, Mapping) or table.get("base_url"):
            continue
        url = env.get(preset.base_url_env, "").strip()
        # Anything but a URL stays the catalogue's to report, under its variable's name.
        if preset.base_url_env in labels and url.startswith(("http://", "https://")):
            entry = {"providers": {pid: {"base_url": url.rstrip("/")}}}
            layers.append((labels[preset.base_url_env], entry))
    return layers


def base_url_origins(env: Mapping[str, str], origins: dict[str, str]) -> None:
    """The source of each catalogue provider's URL variable that came from a file or another
    tool's name, for providers no table configures (discovered ones)."""
    labels = env.labels if isinstance(env, Variables) else {}
    for preset in catalog.CATALOG.values():
        where = f"providers.{preset.id}.base_url"
        if where not in origins and preset.base_url_env in labels:
            origins[where] = labels[preset.base_url_env]


def env_file_paths(
    env: Mapping[str, str], cwd: Path, home: Path, config_path: Path | None
) -> list[Path]:
    """The env files to read, highest precedence first: ``./.env``, then the one beside the
    user's config file (``config_path`` when given, else the XDG user config directory)."""
    beside = (config_path.parent if config_path else paths.config_dir(env, home)) / ENV_FILE
    found = [cwd / ENV_FILE]
    if _identity(beside) != _identity(found[0]):
        found.append(beside)
    return found


def gather_environment(
    env: Mapping[str, str], *, cwd: Path, home: Path, config_path: Path | None = None
) -> Environment:
    """``env`` completed by the env files and ``ADVANCED_ENV`` (see the module docstring);
    ``config_path`` is the config file given explicitly, if any."""
    values = dict(env)
    labels: dict[str, str] = {}
    problems: list[str] = []
    read: list[Path] = []
    for path in env_file_paths(env, cwd, home, config_path):
        if not path.is_file():
            continue
        content = _read(path, problems)
        if content is None:
            continue
        read.append(path)
        shown = _display(path, cwd, home)
        for name, value in content.items():
            if name not in values:  # exported variables (and nearer files) win
                values[name] = value
                labels[name] = f"{shown}:{name}"
    for name, value in _advanced(values.get(ADVANCED_ENV, ""), problems).items():
        if name not in values:
            values[name] = value
            labels[name] = f"{ADVANCED_ENV}:{name}"
    _fill_aliases(values, labels)
    return Environment(Variables(values, labels), tuple(read), tuple(problems))


def _read(path: Path, problems: list[str]) -> dict[str, str] | None:
    try:
        raw = dotenv_values(path)
    except UnicodeDecodeError:
        problems.append(f"{path}: not valid UTF-8 (env files must be UTF-8)")
        return None
    except OSError as exc:
        problems.append(f"{path}: cannot read env file: {exc.strerror or exc}")
        return None
    # ``NAME`` alone on a line has no value (python-dotenv gives None): nothing to set.
    content = {name: value for name, value in raw.items() if value is not None}
    secrets = sorted(n for n, v in content.items() if v.strip() and _secret_name(n))
    if secrets and not _private(path):
        log.warning(
            "anthroxy: warning: %s holds %s and other users can read it; run `chmod 600 %s`",
            path,
            ", ".join(secrets),
            path,
        )
    return content


def _secret_name(name: str) -> bool:
    return name.upper().endswith(_SECRET_SUFFIXES)


def _private(path: Path) -> bool:
    if os.name != "posix":  # Windows has no group/other mode bits worth checking.
        return True
    return not path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _display(path: Path, cwd: Path, home: Path) -> str:
    """``./.env`` for the working directory's file, ``~/...`` under the home directory."""
    if path == cwd / ENV_FILE:
        return f"./{ENV_FILE}"
    try:
        return f"~/{path.relative_to(home)}"
    except ValueError:
        return str(path)


def _advanced(raw: str, problems: list[str]) -> dict[str, str]:
    """``ADVANCED_ENV``: a JSON object of variables; strings, numbers and booleans, as
    claude-model-proxy accepts them (a boolean becomes ``true``/``false``)."""
    text = raw.strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(f"{ADVANCED_ENV}: not valid JSON ({exc.msg} at column {exc.colno})")
        return {}
    if not isinstance(data, dict):
        problems.append(f'{ADVANCED_ENV}: expected a JSON object like {{"GLM_API_KEY": "..."}}')
        return {}
    out: dict[str, str] = {}
    for name, value in data.items():
        if not name.strip() or value is None or isinstance(value, dict | list):
            problems.append(
                f"{ADVANCED_ENV}: {name!r} must be a non-empty name with a string, number or "
                "true/false value"
            )
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def _fill_aliases(values: dict[str, str], labels: dict[str, str]) -> None:
    for pid, aliases in BASE_URL_ALIASES.items():
        own = catalog.CATALOG[pid].base_url_env
        if values.get(own, "").strip():
            continue
        for alias in aliases:
            if values.get(alias, "").strip():
                values[own] = values[alias]
                labels[own] = labels.get(alias, f"env:{alias}")
                break
