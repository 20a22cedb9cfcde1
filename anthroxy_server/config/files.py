"""Finding, reading and layering configuration files (the I/O half of ``config``).

Discovery and layering (docs/configuration.md, "Where the file is found" and "Layering"):

* ``--config FILE`` or ``$ANTHROXY_CONFIG``: that file alone is read;
* otherwise every file that exists, lowest precedence first: the user's
  (``$XDG_CONFIG_HOME/anthroxy/config.toml``, default ``~/.config/anthroxy/config.toml``), the
  project's (``./.anthroxy/config.toml``) and the managed one (``/etc/anthroxy/config.toml``, or
  ``$ANTHROXY_MANAGED_CONFIG``), as ccproxy layers managed > project > user.

Layers merge key by key (``merge_into``): a table merges into the table below it, any other value
(arrays included) replaces the one below. ``$ANTHROXY_AUTH_TOKEN`` and CLI overrides (dotted key
paths) come on top of the files.

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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs
import cattrs.cols
import cattrs.gen
from cattrs.cols import is_mapping, is_mutable_sequence, is_sequence
from cattrs.errors import AttributeValidationNote, ForbiddenExtraKeysError, IterableValidationNote

from .paths import MANAGED_CONFIG, managed_config_file, project_config_file, user_config_file

MANAGED_PATH = MANAGED_CONFIG
CLI_SOURCE = "command line"
# The server's token from the environment, so it need not sit in a file others can read.
AUTH_TOKEN_ENV = "ANTHROXY_AUTH_TOKEN"
METRICS_TOKEN_ENV = "ANTHROXY_METRICS_TOKEN"  # server.metrics_token, likewise

# Keys holding a secret: a file setting one must not be readable by others. The fix for each:
# keep the secret out of the file (api_key_env names a variable; the token has its own variable).
SECRET_KEYS: Mapping[str, str] = {
    "api_key": "a key: export it and name the variable in api_key_env",
    "api_keys": "the keys: export them and name the variables in api_keys_env",
    "auth_token": f"the token: export {AUTH_TOKEN_ENV}",
    "metrics_token": f"the metrics token: export {METRICS_TOKEN_ENV}",
}


def find_config_files(
    *,
    cli_path: str | None,
    env: Mapping[str, str],
    cwd: Path,
    home: Path,
    managed_path: Path = MANAGED_PATH,
) -> list[Path]:
    """The files to read, lowest precedence first.

    An explicit path (``cli_path`` or ``$ANTHROXY_CONFIG``) is the only file read, and it is
    returned even if it does not exist, so loading it reports the mistake instead of silently
    falling back to another file. Otherwise: user, project, managed, each when it exists.
    ``$ANTHROXY_MANAGED_CONFIG`` moves the managed file (packaging, tests).
    """
    explicit = cli_path or env.get("ANTHROXY_CONFIG") or None
    if explicit:
        path = Path(explicit).expanduser()
        return [path if path.is_absolute() else cwd / path]
    managed = managed_config_file(env, managed_path)
    layers = [user_config_file(env, home), project_config_file(cwd), managed]
    files: list[Path] = []
    for path in layers:
        if path.is_file() and path not in files:
            files.append(path)
    return files


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
    secrets = list(_secret_keys(parsed))
    if secrets and not _private(path):
        fixes = dict.fromkeys(SECRET_KEYS[key.rsplit(".", 1)[-1]] for key in secrets)
        which = "it" if len(secrets) == 1 else "them"
        problems.append(
            f"{path}: other users can read this file, which holds {' and '.join(secrets)}; "
            f"run `chmod 600 {path}`, or move {which} out of the file ({'; '.join(fixes)})"
        )
    return parsed


def _secret_keys(value: object, prefix: str = "") -> Iterator[str]:
    """Dotted paths of the secrets set in ``value`` (an empty token is no secret)."""
    if not isinstance(value, dict):
        return
    for key, sub in value.items():
        path = f"{prefix}{key}"
        if key in SECRET_KEYS and isinstance(sub, str | list) and sub:  # api_keys: a list
            yield path
        else:
            yield from _secret_keys(sub, f"{path}.")


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
