"""Field paths inside a request body: their text form, lookup, removal, and where a path an
upstream named in its refusal lies in the body that was sent.

A path is a tuple of segments. A segment is a key of an object (``str``) or ``Each``: every item
of a list, or only the items whose ``type`` is ``Each.kind``. Text form, as in the configuration:
keys joined by ``.``, ``*`` for every item, ``*[type=thinking]`` for items of one type::

    context_management
    tools.*.defer_loading
    messages.*.content.*[type=thinking].cache_control

Every function here returns new containers where something changes and never mutates its input;
a call that changes nothing returns the very object it was given, so callers can tell with
``is``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Each:
    """Every item of a list, or only those whose ``type`` is ``kind``."""

    kind: str | None = None


Segment = str | Each
FieldPath = tuple[Segment, ...]
# A path as an upstream's error names it: keys, list indices, and union tags mixed in
# (``tools.0.custom.defer_loading``); ``locate`` turns it into a FieldPath.
RawPath = tuple[str | int, ...]

_KEY = re.compile(r"^[A-Za-z0-9_$@-][A-Za-z0-9_$@:-]*$")
_EACH = re.compile(r"^\*(?:\[type=([A-Za-z0-9_.-]+)\])?$")


def parse_path(text: str) -> FieldPath:
    """``tools.*.defer_loading`` -> ``("tools", Each(), "defer_loading")``; ValueError when the
    text is not a path that ends in a key (only a field can be dropped)."""
    segments: list[Segment] = []
    for part in text.split("."):
        each = _EACH.match(part)
        if each is not None:
            segments.append(Each(each.group(1)))
        elif _KEY.match(part):
            segments.append(part)
        else:
            raise ValueError(f"{text!r} is not a field path: {part!r} is neither a key nor *")
    if not isinstance(segments[-1], str):
        raise ValueError(f"{text!r} is not a field path: it must end in a key")
    return tuple(segments)


def format_path(path: FieldPath) -> str:
    return ".".join(
        part if isinstance(part, str) else ("*" if part.kind is None else f"*[type={part.kind}]")
        for part in path
    )


MISSING: Any = object()  # what ``get`` gives for a path that is not there


def get(body: Any, keys: Sequence[str]) -> Any:
    """The value at a path of keys only, or ``MISSING``."""
    node = body
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return MISSING
        node = node[key]
    return node


def put(body: Mapping[str, Any], keys: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``value`` at ``keys`` (objects made on the way where missing)."""
    head, rest = keys[0], keys[1:]
    if not rest:
        return {**body, head: value}
    inner = body.get(head)
    return {**body, head: put(inner if isinstance(inner, Mapping) else {}, rest, value)}


def drop(node: Any, path: FieldPath) -> Any:
    """``node`` without the field at ``path`` wherever it occurs; the same object when it occurs
    nowhere. An object left empty by the removal goes too (``output_config: {}`` means nothing,
    and an upstream that refuses a field may refuse its empty parent as well), but never a list
    item or the body itself."""
    head, rest = path[0], path[1:]
    if isinstance(head, Each):
        if not isinstance(node, list):
            return node
        items = [
            drop(item, rest) if head.kind is None or _kind(item) == head.kind else item
            for item in node
        ]
        return node if all(new is old for new, old in zip(items, node, strict=True)) else items
    if not isinstance(node, Mapping) or head not in node:
        return node
    if not rest:
        return {key: value for key, value in node.items() if key != head}
    inner = drop(node[head], rest)
    if inner is node[head]:
        return node
    if isinstance(inner, Mapping) and not inner:
        return {key: value for key, value in node.items() if key != head}
    return {**node, head: inner}


def _kind(item: Any) -> Any:
    return item.get("type") if isinstance(item, Mapping) else None


def locate(raw: RawPath, body: Any) -> FieldPath | None:
    """The field an upstream named, as a path through ``body``; None when it is not there.

    ``raw`` mixes keys, list indices and the union tags validators put in their paths: pydantic
    writes ``tools.0.custom.defer_loading``, ``thinking.adaptive.effort``,
    ``messages.13.content.0.thinking.cache_control`` (docs/protocol/anthropic.md §3). A segment
    followed by a key of the same object is such a tag (a thinking block also has a ``thinking``
    key, so a key is tried first and the tag reading second): it is skipped, and when it names
    the ``type`` of a list item it narrows that item's ``Each``. Indices become ``Each``: an
    upstream that refuses a field in one tool refuses it in all.
    """
    found = _locate(raw, body, ())
    return found if found and isinstance(found[-1], str) else None


def _locate(raw: RawPath, node: Any, out: FieldPath) -> FieldPath | None:
    if not raw:
        return out
    part, rest = raw[0], raw[1:]
    if isinstance(node, list):
        digits = isinstance(part, str) and part.isascii() and part.isdigit() and len(part) <= 9
        index = part if isinstance(part, int) else (int(part) if digits else -1)
        if not 0 <= index < len(node):
            return None
        return _locate(rest, node[index], (*out, Each()))
    if not isinstance(node, Mapping) or not isinstance(part, str):
        return None
    if part in node:
        found = _locate(rest, node[part], (*out, part))
        if found is not None:
            return found
    if rest and isinstance(rest[0], str) and rest[0] in node:
        if node.get("type") == part and out and isinstance(out[-1], Each):
            out = (*out[:-1], Each(part))
        return _locate(rest, node, out)
    return None
