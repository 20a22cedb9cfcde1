"""The user's credentials file: ``<directory of the user config.toml>/.env``.

``config init`` in project scope puts a pasted key here instead of into ``./.anthroxy/config.toml``
(a file that may be committed); the configuration then names the variable (``api_key_env``),
and the server reads this file at start. ``KEY=value`` lines; the file is written atomically with
mode 0600, and other lines are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ...atomic import write_atomic
from ...config import paths

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def path(env: Mapping[str, str], home: Path) -> Path:
    return paths.user_config_file(env, home).parent / ".env"


def store(file: Path, values: Mapping[str, str]) -> None:
    """Set each ``NAME=value`` in ``file`` (replacing that name's line), atomically, mode 0600."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    kept = [line for line in lines if not _names(line, values)]
    # Single quotes: dotenv parsers take the value verbatim (a key never holds a quote).
    kept += [f"{name}='{value}'" for name, value in values.items()]
    write_atomic(file, ("\n".join(kept) + "\n").encode())


def _names(line: str, values: Mapping[str, str]) -> bool:
    match = _LINE.match(line)
    return match is not None and match.group(1) in values
