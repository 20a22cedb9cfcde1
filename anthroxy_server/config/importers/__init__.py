"""``anthroxy import FILE``: another proxy's JSON configuration -> anthroxy TOML data.

Three formats, told apart by their top-level keys (``detect``); each module's docstring gives the
shape it reads, from the tool's own README:

* claude-code-router ``config.json`` (``ccr.py``): ``Providers`` list and ``Router``;
* ccproxy ``settings.json`` (``ccproxy.py``): ``providers`` table, ``models.bigModel``;
* clco-proxy ``config.json`` (``clco.py``): ``providers`` list and ``modelMapping``.

The result is plain data for tomli-w plus two lists for the user: what was carried over with a
change, and what was not carried over, each line with its reason. A key written as ``$VAR``
becomes ``api_key_env = "VAR"``; a literal key stays a literal ``api_key`` (the file is then
written with mode 0600). A base URL matching a catalogue preset makes the provider that catalogue
id, so its quirk profile applies. ``run_import`` (end of file) is the command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import tomli_w

from ...atomic import write_atomic
from ..paths import CommandError, Locations, project_config_file, user_config_file
from ..schema import ConfigError
from ..settings import load_settings
from .ccproxy import from_ccproxy
from .ccr import from_ccr
from .clco import from_clco
from .common import Imported

__all__ = ["Imported", "convert", "detect", "report", "run_import"]


def detect(data: object) -> str:
    """Which tool wrote ``data``; a CommandError when none fits."""
    if isinstance(data, dict):
        if "Providers" in data or "Router" in data:
            return "claude-code-router"
        if isinstance(data.get("providers"), list) or "modelMapping" in data:
            return "clco-proxy"
        models = data.get("models")
        if isinstance(models, dict) and ("bigModel" in models or "smallModel" in models):
            return "ccproxy"
        if isinstance(data.get("providers"), dict):
            return "ccproxy"
    raise CommandError(
        "not a configuration anthroxy can import: expected a claude-code-router config.json "
        "(Providers/Router), a ccproxy settings.json (providers, models.bigModel) or a "
        "clco-proxy config.json (a providers list, modelMapping)",
        code=2,
    )


def convert(data: Mapping[str, Any]) -> Imported:
    fmt = detect(data)
    if fmt == "claude-code-router":
        return from_ccr(data)
    if fmt == "ccproxy":
        return from_ccproxy(data)
    return from_clco(data)


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
    write_atomic(dest, text.encode(), mode=0o600 if secret else 0o644)
    out.write(f"imported {result.source_format} configuration from {src}\nwrote {dest}\n")
    out.write(report(result))
    _check(loc, dest, out)
    _layered_over(loc, dest, output is None, out)
    return dest


def report(result: Imported) -> str:
    """What came over, what came over changed (what became what), what did not (and why)."""
    text = f"carried over: providers {', '.join(result.table.get('providers', {})) or 'none'}\n"
    tiers = result.table.get("tiers", {})
    if tiers:
        text += "  tiers: " + ", ".join(f"{t} = {v}" for t, v in tiers.items()) + "\n"
    changed = list(result.changed)
    if result.keys_in_file:
        changed.insert(
            0,
            f"keys of {', '.join(result.keys_in_file)} → api_key in the file, which only you can "
            'read (mode 0600); better: export each key and write api_key_env = "<VARIABLE>"',
        )
    for title, entries in (
        ("carried over with a change", changed),
        ("not carried over", result.dropped),
    ):
        if entries:
            text += f"{title}:\n" + "".join(f"  {entry}\n" for entry in entries)
    return text


def _layered_over(loc: Locations, dest: Path, default_dest: bool, out: TextIO) -> None:
    # The user's file sits under the project's: say so, or the import seems not to work here.
    project = project_config_file(loc.cwd)
    if default_dest and project.is_file():
        out.write(
            f"note: {project} is layered over it in this directory; its keys win "
            "(`anthroxy config show` names the file of each value)\n"
        )


def _check(loc: Locations, path: Path, out: TextIO) -> None:
    # The user's and the project's file run layered: check what will run, not the file alone.
    layered = path in (user_config_file(loc.env, loc.home), project_config_file(loc.cwd))
    try:
        settings = load_settings(
            cli_path=None if layered else str(path), env=loc.env, cwd=loc.cwd, home=loc.home
        )
    except ConfigError as exc:
        for problem in exc.problems:
            out.write(f"to fix before it runs: {problem}\n")
    else:
        read = ", ".join(settings.sources)
        out.write(
            f"check: the configuration loads from {read} (`anthroxy config show` prints it)\n"
        )
