"""Finding, reading and layering configuration files (the I/O half of ``config``).

Discovery (docs/configuration.md): ``--config`` path, else ``$ANTHROXY_CONFIG``, else
``./.anthroxy/config.toml``, else ``$XDG_CONFIG_HOME/anthroxy/config.toml`` (default
``~/.config/anthroxy/config.toml``); the first one found is the user's file. The managed file
(``/etc/anthroxy/config.toml``) is then layered on top: its keys override the user's, table by
table, key by key. CLI overrides (dotted key paths) override both.

Everything here returns plain TOML data plus problem lines; structuring and validation live in
``config``. Every value's origin is recorded by dotted key path so ``config show`` can label it.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import tomllib
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs
import cattrs.cols
import cattrs.gen
from cattrs.cols import is_mapping, is_mutable_sequence, is_sequence
from cattrs.errors import AttributeValidationNote, ForbiddenExtraKeysError, IterableValidationNote

MANAGED_PATH = Path("/etc/anthroxy/config.toml")
CLI_SOURCE = "command line"

# A table holding one of these keys carries a secret and must not be readable by others.
SECRET_KEYS = frozenset({"api_key"})


def find_config_files(
    *,
    cli_path: str | None,
    env: Mapping[str, str],
    cwd: Path,
    home: Path,
    managed_path: Path = MANAGED_PATH,
) -> list[Path]:
    """The files to read, lowest precedence first: at most one user file, then the managed one.

    An explicit path (``cli_path`` or ``$ANTHROXY_CONFIG``) is returned even if it does not exist,
    so loading it reports the mistake instead of silently falling back to another file.
    """
    files: list[Path] = []
    explicit = cli_path or env.get("ANTHROXY_CONFIG") or None
    if explicit:
        path = Path(explicit).expanduser()
        files.append(path if path.is_absolute() else cwd / path)
    else:
        for candidate in _user_candidates(env, cwd, home):
            if candidate.is_file():
                files.append(candidate)
                break
    if managed_path.is_file() and managed_path not in files:
        files.append(managed_path)
    return files


def _user_candidates(env: Mapping[str, str], cwd: Path, home: Path) -> list[Path]:
    # XDG Base Directory spec: a relative $XDG_CONFIG_HOME is invalid and must be ignored.
    xdg = env.get("XDG_CONFIG_HOME", "")
    config_home = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
    return [cwd / ".anthroxy" / "config.toml", config_home / "anthroxy" / "config.toml"]


def read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """Parse one file; on failure append one problem line (with line and column) and return None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(f"{path}: configuration file not found")
        return None
    except OSError as exc:
        problems.append(f"{path}: cannot read configuration file: {exc.strerror or exc}")
        return None
    try:
        # tomllib's message already ends with "(at line L, column C)".
        parsed = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        problems.append(f"{path}: not valid UTF-8 (TOML files must be UTF-8)")
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: invalid TOML: {exc}")
        return None
    if _holds_secret(parsed) and not _private(path):
        problems.append(
            f"{path}: contains an api_key but other users can read it; run `chmod 600 {path}` "
            "(or better, use api_key_env and keep the key in the environment)"
        )
    return parsed


def _holds_secret(value: object) -> bool:
    if isinstance(value, dict):
        return any(k in SECRET_KEYS or _holds_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


def _private(path: Path) -> bool:
    if os.name != "posix":  # Windows has no group/other mode bits worth checking.
        return True
    mode = path.stat().st_mode
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)


def merge_into(
    base: dict[str, Any],
    layer: Mapping[str, Any],
    source: str,
    origins: dict[str, str],
    prefix: str = "",
) -> None:
    """Deep-merge ``layer`` into ``base`` (tables merge key by key; anything else replaces).

    ``base`` is a fresh dict owned by the loader; ``layer`` is never mutated. ``origins`` maps
    every dotted key path the layer set to ``source``.
    """
    for key, value in layer.items():
        path = f"{prefix}{key}"
        current = base.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            origins[path] = source
            merge_into(current, value, source, origins, prefix=f"{path}.")
            continue
        base[key] = _copy(value)
        _record(path, value, source, origins)


def _record(path: str, value: object, source: str, origins: dict[str, str]) -> None:
    # A replaced table's old sub-paths no longer describe anything.
    for stale in [p for p in origins if p.startswith(f"{path}.")]:
        del origins[stale]
    origins[path] = source
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _record(f"{path}.{key}", sub, source, origins)


def _copy(value: object) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def overrides_as_table(overrides: Mapping[str, object]) -> dict[str, Any]:
    """``{"server.port": 9000}`` → ``{"server": {"port": 9000}}`` (dotted paths from CLI flags)."""
    table: dict[str, Any] = {}
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = table
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return table


# ---------------------------------------------------------------------------------------------
# Strict structuring: TOML already has types, so a wrong one is a mistake, never coerced.


class Mismatch(Exception):
    def __init__(self, expected: str, value: object) -> None:
        super().__init__(f"expected {expected}, got {show_value(value)}")


def show_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _check(
    expected: str, ok: Callable[[object], bool], convert: Callable[[Any], Any] = lambda v: v
) -> Callable[[object, Any], Any]:
    def hook(value: object, _type: Any) -> Any:
        if not ok(value):
            raise Mismatch(expected, value)
        return convert(value)

    return hook


def _is_number(value: object) -> bool:
    # TOML booleans are Python bools, which are ints: ``port = true`` must still be an error.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_object(type_: Any) -> bool:
    return type_ is object


def _is_literal(type_: Any) -> bool:
    return typing.get_origin(type_) is Literal


def _is_tuple(type_: Any) -> bool:
    return is_sequence(type_) and typing.get_origin(type_) is tuple


def _literal_hook(value: object, type_: Any) -> Any:
    choices = typing.get_args(type_)
    if value not in choices or isinstance(value, bool):
        raise Mismatch("one of " + ", ".join(json.dumps(c) for c in choices), value)
    return value


def _guarded(expected: str, kind: type, factory: Any) -> Any:
    """Wrap a cattrs collection factory so a wrong container type is a clear error (a string is
    iterable, so cattrs alone would turn ``models = "gpt"`` into ``["g", "p", "t"]``)."""

    def make(type_: Any, converter: cattrs.Converter) -> Callable[[object, Any], Any]:
        inner = factory(type_, converter)

        def hook(value: object, t: Any) -> Any:
            if not isinstance(value, kind):
                raise Mismatch(expected, value)
            return inner(value, t)

        return hook

    return make


def _attrs_guard(type_: Any, converter: cattrs.Converter) -> Callable[[object, Any], Any]:
    inner = cattrs.gen.make_dict_structure_fn(type_, converter, _cattrs_forbid_extra_keys=True)

    def hook(value: object, t: Any) -> Any:
        if not isinstance(value, dict):
            raise Mismatch("a table", value)
        return inner(value, t)

    return hook


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _check("a string", lambda v: isinstance(v, str)))
    conv.register_structure_hook(bool, _check("true or false", lambda v: isinstance(v, bool)))
    conv.register_structure_hook(
        int, _check("an integer", lambda v: _is_number(v) and isinstance(v, int))
    )
    conv.register_structure_hook(float, _check("a number", _is_number, float))
    # Profile override values are checked against ProviderProfile's own field types later.
    conv.register_structure_hook_func(_is_object, lambda v, _t: v)
    conv.register_structure_hook_func(_is_literal, _literal_hook)
    conv.register_structure_hook_factory(
        is_mutable_sequence, _guarded("an array", list, cattrs.cols.list_structure_factory)
    )
    conv.register_structure_hook_factory(
        _is_tuple,
        _guarded("an array", list, cattrs.cols.homogenous_tuple_structure_factory),
    )
    conv.register_structure_hook_factory(
        is_mapping, _guarded("a table", dict, cattrs.cols.mapping_structure_factory)
    )
    conv.register_structure_hook_factory(attrs.has, _attrs_guard)
    return conv


CONVERTER = _make_converter()


def problem_lines(exc: BaseException, path: tuple[str, ...] = ()) -> list[str]:
    """Flatten cattrs' exception groups into ``key.path: message`` lines."""
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            path = (*path, note.name)
        elif isinstance(note, IterableValidationNote):
            path = (*path, str(note.index))
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)]
        return [unknown_key(path, key, known) for key in sorted(exc.extra_fields)]
    if isinstance(exc, BaseExceptionGroup):
        return [line for sub in exc.exceptions for line in problem_lines(sub, path)]
    where = ".".join(path) or "(top level)"
    return [f"{where}: {exc}"]


def unknown_key(path: tuple[str, ...], key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else f" (known keys: {', '.join(known)})"
    return f"{'.'.join((*path, key))}: unknown key{hint}"
