"""The login files ``anthroxy login`` writes: one JSON file per provider in anthroxy's
credentials directory (``config.paths.credentials_dir``), mode 0600, replaced atomically so a
reader never sees half a file and a crash never leaves one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..atomic import write_atomic


def save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)  # the directory holds only secrets
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def load(path: Path) -> dict[str, Any] | None:
    """The file's object; None when there is no login (no file, or not a JSON object)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
