"""``anthroxy run --persist`` and ``anthroxy restore``: Claude Code's settings.json, key by key.

``--persist`` writes the proxy's variables into settings.json's ``env`` table and records, in the
state directory, what it changed: for each variable it wrote, the value before (or that there was
none) and the value it wrote. ``restore`` undoes exactly that and nothing else: a variable whose
value is still the one written goes back to its earlier value (or away), one the user has changed
since keeps the user's value (and is named), and every other key, including those edited after
``--persist``, stays. The file as it was just before ``restore`` is kept beside it
(``settings.json.anthroxy-before-restore``), so even a restore the user did not want is undone by
one ``mv``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..atomic import write_atomic
from ..config import paths
from ..config.paths import CommandError, Locations

RECORD_KIND = "anthroxy-persist"  # marks the record format (older versions kept a raw copy)
BEFORE_RESTORE_SUFFIX = ".anthroxy-before-restore"
# The variables `run --persist` can write (launcher.claude_environment): what an old-format
# backup (a raw copy of settings.json) is compared on.
PERSISTED_VARIABLES = (
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "CLAUDE_CODE_SUBAGENT_MODEL",
)


@dataclass(frozen=True)
class Change:
    """One variable ``--persist`` wrote: its value before (None: absent) and the value written."""

    before: str | None
    after: str


@dataclass(frozen=True)
class Record:
    existed: bool  # settings.json existed before the first --persist
    env_existed: bool  # ... and had an "env" table
    changes: dict[str, Change]
    # The file's text before the first --persist: written back verbatim when the restored
    # content equals it, so an untouched file comes back byte for byte.
    original: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": RECORD_KIND,
            "existed": self.existed,
            "env_existed": self.env_existed,
            "changes": {k: {"before": c.before, "after": c.after} for k, c in self.changes.items()},
            "original": self.original,
        }


def read_settings(path: Path) -> dict[str, Any] | None:
    """settings.json as a JSON object (None when absent); anything else is refused, untouched."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise CommandError(
            f"{path} is not valid JSON ({exc}); fix it first, not touching it"
        ) from exc
    if not isinstance(data, dict):
        raise CommandError(f"{path} does not hold a JSON object; not touching it")
    if not isinstance(data.get("env", {}), dict):
        raise CommandError(f'{path}: "env" is not a JSON object; not touching it')
    return data


def _dump(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def _record_path(loc: Locations) -> Path:
    return paths.claude_settings_backup(loc.env, loc.home)


def load_record(loc: Locations) -> Record | None:
    """What earlier ``--persist`` runs changed; an old-format backup is converted on the fly."""
    path = _record_path(loc)
    absent = paths.claude_settings_absent_marker(loc.env, loc.home)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        if not absent.exists():
            return None
        return Record(False, False, {k: Change(None, "") for k in PERSISTED_VARIABLES})
    except ValueError as exc:
        raise CommandError(f"unreadable record of `run --persist` at {path} ({exc})") from exc
    if isinstance(data, dict) and data.get("kind") == RECORD_KIND:
        changes = {
            k: Change(v.get("before"), v["after"]) for k, v in data.get("changes", {}).items()
        }
        existed, env_existed = bool(data.get("existed")), bool(data.get("env_existed"))
        original = data.get("original")
        return Record(
            existed, env_existed, changes, original if isinstance(original, str) else None
        )
    # Older versions saved a raw copy of settings.json: its env holds the values from before.
    env = data.get("env") if isinstance(data, dict) else None
    old = env if isinstance(env, dict) else {}
    changes = {k: Change(old.get(k), "") for k in PERSISTED_VARIABLES}
    return Record(True, isinstance(env, dict), changes, path.read_text(errors="replace"))


def persist_settings(loc: Locations, variables: Mapping[str, str], out: TextIO) -> Path:
    """Merge ``variables`` into settings.json's ``env`` and record what that changed."""
    target = paths.claude_settings_file(loc.env, loc.home)
    data = read_settings(target)  # refuse before recording anything about a file we won't touch
    env = dict((data or {}).get("env", {}))
    record = load_record(loc) or Record(
        data is not None,
        "env" in (data or {}),
        {},
        target.read_text(encoding="utf-8") if data is not None else None,
    )
    changes = dict(record.changes)
    for name, value in variables.items():
        # The first --persist saw the true earlier value; a later one must not take ours for it.
        before = changes[name].before if name in changes else env.get(name)
        changes[name] = Change(before, value)
    merged = {**(data or {}), "env": {**env, **variables}}
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o600  # it may hold a token
    record_path = _record_path(loc)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    new_record = Record(record.existed, record.env_existed, changes, record.original)
    write_atomic(record_path, _dump(new_record.as_json()), mode=0o600)
    paths.claude_settings_absent_marker(loc.env, loc.home).unlink(missing_ok=True)
    write_atomic(target, _dump(merged), mode=mode)
    out.write(f"wrote the proxy settings into {target} (undo with `anthroxy restore`)\n")
    return target


def _undo(env: dict[str, Any], record: Record) -> tuple[list[str], list[str]]:
    """Set each recorded variable back in ``env``; (names undone, names the user changed since)."""
    undone, kept = [], []
    for name, change in record.changes.items():
        current = env.get(name)
        # An old-format record does not know what was written: whatever is there now is ours.
        if change.after and current != change.after:
            if current != change.before:
                kept.append(name)
            continue
        if change.before is None:
            if env.pop(name, None) is not None:
                undone.append(name)
        elif current != change.before:
            env[name] = change.before
            undone.append(name)
    return undone, kept


def restore_settings(loc: Locations, out: TextIO) -> Path:
    """Undo what ``--persist`` changed, keep everything else, keep the replaced file beside it."""
    target = paths.claude_settings_file(loc.env, loc.home)
    record = load_record(loc)
    if record is None:
        raise CommandError(
            "nothing to restore: `anthroxy run --persist` has not changed settings.json"
        )
    data = read_settings(target)
    if data is None:
        out.write(f"{target} no longer exists; nothing to undo\n")
    else:
        env = dict(data.get("env", {}))
        undone, kept = _undo(env, record)
        restored = {**data, "env": env}
        if not env and not record.env_existed:
            del restored["env"]
        _replace(target, data, restored, record.original, keep_copy=bool(undone))
        _report(out, target, record, restored, undone, kept)
    _record_path(loc).unlink(missing_ok=True)
    paths.claude_settings_absent_marker(loc.env, loc.home).unlink(missing_ok=True)
    return target


def _replace(
    target: Path,
    data: dict[str, Any],
    restored: dict[str, Any],
    original: str | None,
    *,
    keep_copy: bool,
) -> None:
    if restored == data:
        return
    mode = target.stat().st_mode & 0o777
    if keep_copy:
        copy = target.with_name(target.name + BEFORE_RESTORE_SUFFIX)
        write_atomic(copy, target.read_bytes(), mode=mode)
    text = _dump(restored)
    if original is not None and _parses_to(original, restored):
        text = original.encode("utf-8")
    write_atomic(target, text, mode=mode)


def _parses_to(text: str, value: object) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False


def _report(
    out: TextIO,
    target: Path,
    record: Record,
    restored: Mapping[str, Any],
    undone: list[str],
    kept: list[str],
) -> None:
    if undone:
        out.write(f"restored {target}: undid {', '.join(undone)}; every other setting kept\n")
        copy = target.with_name(target.name + BEFORE_RESTORE_SUFFIX)
        out.write(f"the file as it was before this restore: {copy}\n")
    else:
        out.write(f"{target}: nothing written by `anthroxy run --persist` is left to undo\n")
    for name in kept:
        out.write(f"kept {name}: changed since `anthroxy run --persist`, so it is yours now\n")
    if not record.existed and not restored:
        target.unlink()  # --persist created it and nothing else is in it
        out.write(f"removed {target} (it did not exist before `anthroxy run --persist`)\n")
