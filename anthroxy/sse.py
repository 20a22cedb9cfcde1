"""Server-sent events: an incremental decoder (bytes in, events out) and a fast encoder.

The decoder follows the WHATWG HTML "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
lines end in CRLF, LF or CR; a line starting with ``:`` is a comment; ``field: value`` with one
optional space after the colon; ``data`` lines of one event are joined with ``\\n``; ``event`` sets
the type (default ``message``); a blank line dispatches; an event without any ``data`` line is not
dispatched; a UTF-8 BOM at the very start of the stream is dropped. ``id`` and ``retry`` are
accepted and ignored (a proxy never reconnects). Feeding the same bytes split anywhere gives the
same events. ``close()`` additionally flushes an event whose final blank line never came, because
real upstreams cut the last ``\\n\\n`` and still mean their ``data: [DONE]``.

``encode_event`` writes one Anthropic event: ``event: <type>\\ndata: <compact json>\\n\\n``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

from .errors import UpstreamProtocolError

_BOM = b"\xef\xbb\xbf"
# One encoder built once: json.dumps with non-default options builds a new encoder per call.
# ensure_ascii stays on so that a lone surrogate from an upstream's "\ud800" escape cannot make
# the UTF-8 encoding below fail.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
# The keys of a content_block_delta event, in the order the translators build them.
_DELTA_EVENT_KEYS = ("type", "index", "delta")
# Delta types whose one payload field is a string: delta type -> that field.
_STRING_DELTAS: Mapping[str, str] = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str


# Far above any real event (a whole tool input rarely exceeds a few MB), small enough to bound
# what one stream can hold in memory.
MAX_EVENT_BYTES = 32 * 1024 * 1024


class SSEDecoder:
    """Incremental SSE parser; one instance per stream."""

    __slots__ = ("_bom_checked", "_buffer", "_data", "_event", "_limit", "_pending", "_skip_lf")

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buffer = b""  # bytes of an unfinished line
        self._skip_lf = False  # the last feed ended in CR: a leading LF now belongs to it
        self._bom_checked = False
        self._data: list[str] = []
        self._event = ""
        # An upstream that never ends a line or an event must not grow memory without bound.
        self._limit = max_event_bytes
        self._pending = 0  # data bytes of the event being collected

    def feed(self, data: bytes) -> list[SSEEvent]:
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if self._buffer:
            data = self._buffer + data
        if not self._bom_checked:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._buffer = data  # could still be a BOM split across feeds
                return []
            self._bom_checked = True
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        if b"\r" in data:
            # A CR at the very end may be the first half of a CRLF split across feeds.
            self._skip_lf = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > self._limit:
            raise self._too_large()
        return self._process(lines)

    def _too_large(self) -> UpstreamProtocolError:
        return UpstreamProtocolError(
            f"the upstream stream sent an event larger than {self._limit} bytes"
        )

    def close(self) -> list[SSEEvent]:
        """End of stream: flush a last line and event that lacked their terminators."""
        lines = [self._buffer, b""] if self._buffer else [b""]
        self._buffer = b""
        if not self._bom_checked and lines[0].startswith(_BOM):
            lines[0] = lines[0][len(_BOM) :]
        self._bom_checked = True
        return self._process(lines)

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(SSEEvent(self._event or "message", "\n".join(data)))
                    data.clear()
                    self._pending = 0
                self._event = ""
                continue
            colon = line.find(b":")
            if colon == 0:
                continue  # comment, e.g. ": OPENROUTER PROCESSING"
            if colon < 0:
                field, value = line, b""
            else:
                field = line[:colon]
                start = colon + 2 if line[colon + 1 : colon + 2] == b" " else colon + 1
                value = line[start:]
            if field == b"data":
                self._pending += len(value)
                if self._pending > self._limit:
                    raise self._too_large()
                data.append(value.decode("utf-8", "replace"))
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
        return events


def encode_event(payload: Mapping[str, Any]) -> bytes:
    """One SSE event whose name is ``payload["type"]`` (Anthropic: the event name equals it)."""
    if payload.get("type") == "content_block_delta":
        fast = _encode_string_delta(payload)
        if fast is not None:
            return fast
    body = _ENCODER.encode(payload)
    return f"event: {payload['type']}\ndata: {body}\n\n".encode()


def _encode_string_delta(payload: Mapping[str, Any]) -> bytes | None:
    """A text, thinking or partial-JSON delta, written without the generic encoder.

    Nearly every event of a stream is one of these, and the generic encoder costs ~4x more per
    event (docs/performance.md). The output is byte-identical to it: same key order, same ASCII
    escaping (``encode_basestring_ascii`` is the function the encoder itself uses). Any other
    shape, key order or value type returns None and takes the generic path.
    """
    if tuple(payload) != _DELTA_EVENT_KEYS:
        return None
    index, delta = payload["index"], payload["delta"]
    # ``type(...) is`` on purpose: a bool or an int/str subclass would be written differently.
    if type(index) is not int or type(delta) is not dict or len(delta) != 2:
        return None
    kind = delta.get("type")
    key = _STRING_DELTAS.get(kind) if type(kind) is str else None
    if key is None or tuple(delta) != ("type", key) or type(delta[key]) is not str:
        return None
    text = encode_basestring_ascii(delta[key])
    return (
        f'event: content_block_delta\ndata: {{"type":"content_block_delta","index":{index},'
        f'"delta":{{"type":"{kind}","{key}":{text}}}}}\n\n'
    ).encode()
