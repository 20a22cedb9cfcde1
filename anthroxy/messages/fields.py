"""Reading typed fields out of a client's JSON, each failure an InvalidRequest with its JSON path.

One wording for every field of every request, so both dialects (and the server) refuse the same
value with the same message: ``'<key>' is required``, or ``'<key>' must be <what>, got <value>``
where ``<value>`` names what came instead (``null``, ``true``, ``-5``, ``a string``, ...).

``null`` counts as absent: an optional field that is ``null`` reads as None, a required one is
missing. Objects are tested for ``dict`` first (what ``json.loads`` builds) because the
``Mapping`` ABC's ``isinstance`` is several times slower and the parser visits every block of a
long conversation; any other Mapping is accepted too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from ..errors import InvalidRequest, json_path

T = TypeVar("T")
_NUMBER_SHOWN_UP_TO = 40  # longer reprs are not worth repeating in an error message


def describe(value: object) -> str:
    """How an error message names a value the client sent."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        shown = repr(value)
        return shown if len(shown) <= _NUMBER_SHOWN_UP_TO else "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "an array"
    if is_object(value):
        return "an object"
    return type(value).__name__


def is_object(value: object) -> bool:
    return isinstance(value, (dict, Mapping))


def wrong(key: str, what: str, value: object, path: str) -> InvalidRequest:
    """The error for a present value of the wrong kind."""
    return InvalidRequest(f"'{key}' must be {what}, got {describe(value)}", path=path)


def missing(key: str, path: str) -> InvalidRequest:
    return InvalidRequest(f"'{key}' is required", path=path)


def as_object(value: object, path: str, what: str = "an object") -> Mapping[str, Any]:
    """``value`` itself when it is a JSON object; else an error naming ``path``."""
    if isinstance(value, (dict, Mapping)):
        return value
    raise InvalidRequest(f"expected {what}, got {describe(value)}", path=path)


def need(value: T | None, key: str, path: str) -> T:
    """``value`` (read by one of the functions below) when present; else ``'key' is required``
    at ``path.key``: ``need(string(obj, "id", path), "id", path)``."""
    if value is None:
        raise missing(key, json_path(path, key))
    return value


# Each reader: ``obj[key]`` as one kind of value, None when absent or null; ``path`` is obj's.


def string(obj: Mapping[str, Any], key: str, path: str, *, nonempty: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and (value or not nonempty)):
        return value
    raise wrong(key, "a non-empty string" if nonempty else "a string", value, json_path(path, key))


def boolean(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise wrong(key, "a boolean", value, json_path(path, key))


def integer(obj: Mapping[str, Any], key: str, path: str, *, minimum: int) -> int | None:
    """An integer >= ``minimum``; booleans and 1.0 are not integers."""
    value = obj.get(key)
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    ):
        return value
    what = {0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer of at least {minimum}"
    )
    raise wrong(key, what, value, json_path(path, key))


def number(obj: Mapping[str, Any], key: str, path: str) -> float | int | None:
    """A finite number: ``json.loads`` reads ``NaN`` and ``Infinity``, which no API accepts."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise wrong(key, "a finite number", value, json_path(path, key))


def choice(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    choices: tuple[str, ...],
    *,
    name: str | None = None,
) -> str | None:
    """One of ``choices``; ``name`` is what the error message calls the value (default: key)."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and value in choices):
        return value
    expected = ", ".join(repr(c) for c in choices)
    shown = repr(value) if isinstance(value, str) else describe(value)
    raise InvalidRequest(
        f"unsupported {name or key} {shown}; expected one of {expected}",
        path=json_path(path, key),
    )


def array(obj: Mapping[str, Any], key: str, path: str) -> list[Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, list):
        return value
    raise wrong(key, "an array", value, json_path(path, key))


def mapping(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, (dict, Mapping)):
        return value
    raise wrong(key, "an object", value, json_path(path, key))


def strings(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...] | None:
    """An array of strings; an item of another kind is named by its index."""
    items = array(obj, key, path)
    if items is None:
        return None
    where = json_path(path, key)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidRequest(
                f"expected a string, got {describe(item)}", path=json_path(where, i)
            )
    return tuple(items)
