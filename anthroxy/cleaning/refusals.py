"""The fields an upstream's 400 says it does not accept, read from the error body.

Validators name a field they refuse in a handful of shapes; each is read here (verbatim examples
and their sources are in tests/core/test_refusals.py):

* pydantic, flattened (Anthropic, Bedrock, Vertex, relays in front of them):
  ``tools.0.custom.defer_loading: Extra inputs are not permitted``, several on one line;
* pydantic's error list as JSON (FastAPI, Mistral): ``{"type": "extra_forbidden", "loc":
  ["body", "tools"], ...}``, or as its Python repr inside a message string (older vLLM):
  ``'type': 'extra_forbidden', 'loc': ('body', 'stream_options')``;
* pydantic v2 text (newer vLLM): a line ``messages.0.user.name`` followed by
  ``Extra inputs are not permitted [type=extra_forbidden, ...``;
* a JSON pointer: ``Validation error at #/stream_options: Extra inputs are not permitted``;
* OpenAI: ``Unknown parameter: 'messages[1].tool_calls[0].index'.``;
* Azure OpenAI (older API versions): ``Unrecognized request argument supplied: tools``;
* Google: ``Unknown name "reasoning": Cannot find field.`` (optionally ``at 'parent.path'``).

The body may be JSON in any envelope, with the message nested as an escaped JSON string inside a
relay's own error (LiteLLM, new-api); every string in it is searched, and strings that are JSON
themselves are opened too. Refusals of a *value* (``unknown variant `system```) name no field to
leave out and are not read. What comes out is a raw path (keys, indices and the validator's
union tags); ``paths.locate`` finds it in the body that was sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from .paths import RawPath

_EXTRA = "Extra inputs are not permitted"
_FLAT = re.compile(r"(?<![\w./#])([A-Za-z_$][\w$.-]*): " + _EXTRA)
_POINTER = re.compile(r"#/([\w$./-]+): " + _EXTRA)
_V2_TEXT = re.compile(r"(?m)^([A-Za-z_$][\w$.-]*)\n[ \t]+" + _EXTRA + r" \[type=extra_forbidden")
_REPR_LOC = re.compile(r"'type': 'extra_forbidden', 'loc': \(([^)]*)\)")
_REPR_PART = re.compile(r"'([^']*)'|(-?\d+)")
_OPENAI = re.compile(r"Unknown parameter: '([^']+)'")
_AZURE = re.compile(r"Unrecognized request argument supplied: ([\w$]+(?:, [\w$]+)*)")
_GOOGLE = re.compile(r"Unknown name \"([^\"]+)\"(?: at '([^']+)')?: Cannot find field")
_BRACKETS = re.compile(r"\[(\d+)\]")
# A validator's location may start with where the value came from; only the body is ours.
_LOCATION_ROOTS = ("body",)
_MAX_DEPTH = 8  # nested JSON-in-a-string levels opened at most


def refused_fields(body: bytes | str) -> tuple[RawPath, ...]:
    """The raw paths of the fields an error body says are not accepted, first named first,
    without repeats; ``()`` when it names none."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    found: list[RawPath] = []
    for path in _from_payload(_json_or_text(text), 0):
        if path and path not in found:
            found.append(path)
    return tuple(found)


def _json_or_text(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            pass
    return text


def _from_payload(payload: Any, depth: int) -> Iterator[RawPath]:
    if isinstance(payload, str):
        yield from _from_text(payload)
        if depth < _MAX_DEPTH and payload.strip()[:1] in ("{", "["):
            nested = _json_or_text(payload)
            if not isinstance(nested, str):
                yield from _from_payload(nested, depth + 1)
    elif isinstance(payload, dict):
        loc = payload.get("loc")
        if payload.get("type") == "extra_forbidden" and isinstance(loc, list):
            yield _without_root(tuple(p for p in loc if isinstance(p, str | int)))
        for value in payload.values():
            yield from _from_payload(value, depth)
    elif isinstance(payload, list):
        for item in payload:
            yield from _from_payload(item, depth)


def _from_text(text: str) -> Iterator[RawPath]:
    if _EXTRA in text:
        for match in _POINTER.finditer(text):
            yield _dotted(match.group(1).replace("/", "."))
        for match in _FLAT.finditer(text):
            yield _dotted(match.group(1))
        for match in _V2_TEXT.finditer(text):
            yield _dotted(match.group(1))
        for match in _REPR_LOC.finditer(text):
            parts = _REPR_PART.findall(match.group(1))
            yield _without_root(tuple(key if num == "" else int(num) for key, num in parts))
    for match in _OPENAI.finditer(text):
        yield _dotted(match.group(1))
    for match in _AZURE.finditer(text):
        for name in match.group(1).split(", "):
            yield (name,)
    for match in _GOOGLE.finditer(text):
        parent = _dotted(match.group(2)) if match.group(2) else ()
        yield (*parent, match.group(1))


def _dotted(text: str) -> RawPath:
    """``messages[1].tool_calls[0].index`` or ``tools.0.custom.x`` -> keys and indices."""
    parts: list[str | int] = []
    for part in _BRACKETS.sub(r".\1", text).split("."):
        if part:
            parts.append(int(part) if _is_index(part) else part)
    return tuple(parts)


def _is_index(part: str) -> bool:
    """ASCII digits of a sane length: ``int`` refuses other Unicode digits and huge numbers."""
    return part.isascii() and part.isdigit() and len(part) <= 9


def _without_root(path: RawPath) -> RawPath:
    return path[1:] if path and path[0] in _LOCATION_ROOTS else path
