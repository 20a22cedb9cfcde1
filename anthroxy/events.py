"""Anthropic stream events as typed values: what every stream translator emits, the server sends.

One frozen class per event of an Anthropic Messages stream (``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``, ``message_stop``, ``error``,
``ping``), plus ``Raw``: bytes of upstream events that a pass-through forwards unchanged.

Each typed event gives its JSON payload (``payload()``, a new outer dict each call; nested values
are the event's own and must not be changed) and its SSE bytes (``encode()``):
``event: <type>\\ndata: <compact JSON>\\n\\n``, the event name always equal to the payload's
``type`` (Anthropic's framing). Nothing else in anthroxy writes SSE, so this is the one place
where an event becomes bytes. JSON is written ASCII-only, so a lone surrogate that an upstream
escaped (``"\\ud800"``) cannot break the UTF-8 encoding.

``BlockDelta`` covers the deltas whose one field is a string (text, thinking, tool-input JSON,
signature). Those are nearly every event of a stream, so its ``encode`` writes the bytes directly
instead of through the JSON encoder; the result is byte-identical (docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar, Literal

from .errors import AnthroxyError
from .sse import SSEDecoder, SSEEvent

# One encoder built once: json.dumps with non-default options builds a new encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))

DeltaKind = Literal["text_delta", "thinking_delta", "input_json_delta", "signature_delta"]
# Delta type -> the name of its one string field (Anthropic's content_block_delta shapes).
DELTA_FIELDS: Mapping[str, str] = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
    "signature_delta": "signature",
}
# The JSON between a delta event's index and its string, per delta type.
_DELTA_HEADS: Mapping[str, str] = {
    kind: f',"delta":{{"type":"{kind}","{field}":' for kind, field in DELTA_FIELDS.items()
}


def _frame(payload: Mapping[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {_ENCODER.encode(payload)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for the access log: the stream's final input / output so far (None: unknown)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read: int | None = None  # cache_read_input_tokens
    cache_write: int | None = None  # cache_creation_input_tokens

    @classmethod
    def of(cls, usage: object, earlier: Usage | None = None) -> Usage:
        """The counts an Anthropic ``usage`` object gives, else those of ``earlier``.

        Counts are cumulative (a later ``message_delta`` replaces, not adds); anything but an
        integer is not a count.
        """
        earlier = earlier or cls()
        found = usage if isinstance(usage, Mapping) else {}
        given = found.get("input_tokens")
        output = found.get("output_tokens")
        read = found.get("cache_read_input_tokens")
        write = found.get("cache_creation_input_tokens")
        return cls(
            given if _is_count(given) else earlier.input_tokens,
            output if _is_count(output) else earlier.output_tokens,
            read if _is_count(read) else earlier.cache_read,
            write if _is_count(write) else earlier.cache_write,
        )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class MessageStart:
    message: Mapping[str, Any]  # the empty assistant message (content [], stop_reason None)
    type: ClassVar[str] = "message_start"

    def payload(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message}

    def encode(self) -> bytes:
        return _frame(self.payload())


@dataclass(frozen=True, slots=True)
class BlockStart:
    index: int
    block: Mapping[str, Any]  # the content block with its empty payload (text "", input {})
    type: ClassVar[str] = "content_block_start"

    def payload(self) -> dict[str, Any]:
        return {"type": self.type, "index": self.index, "content_block": self.block}

    def encode(self) -> bytes:
        return _frame(self.payload())


@dataclass(frozen=True, slots=True)
class BlockDelta:
    index: int
    kind: DeltaKind
    value: str  # the piece of text, thinking, tool-input JSON or signature
    type: ClassVar[str] = "content_block_delta"

    def payload(self) -> dict[str, Any]:
        delta = {"type": self.kind, DELTA_FIELDS[self.kind]: self.value}
        return {"type": self.type, "index": self.index, "delta": delta}

    def encode(self) -> bytes:
        # ``type(...) is`` on purpose: a bool index (an int to the type checker) is written
        # ``true`` by the JSON encoder, so anything but the exact types takes its path.
        if type(self.index) is not int or type(self.value) is not str:
            return _frame(self.payload())
        # encode_basestring_ascii is the function the JSON encoder itself escapes strings with.
        return (
            f'event: content_block_delta\ndata: {{"type":"content_block_delta","index":'
            f"{self.index}{_DELTA_HEADS[self.kind]}{encode_basestring_ascii(self.value)}}}}}\n\n"
        ).encode()


@dataclass(frozen=True, slots=True)
class BlockStop:
    index: int
    type: ClassVar[str] = "content_block_stop"

    def payload(self) -> dict[str, Any]:
        return {"type": self.type, "index": self.index}

    def encode(self) -> bytes:
        return _frame(self.payload())


@dataclass(frozen=True, slots=True)
class MessageDelta:
    stop_reason: str
    stop_sequence: str | None
    usage: Mapping[str, int]  # cumulative totals, in the order they are written
    type: ClassVar[str] = "message_delta"

    def payload(self) -> dict[str, Any]:
        delta = {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence}
        return {"type": self.type, "delta": delta, "usage": self.usage}

    def encode(self) -> bytes:
        return _frame(self.payload())


@dataclass(frozen=True, slots=True)
class MessageStop:
    type: ClassVar[str] = "message_stop"
    _BYTES: ClassVar[bytes] = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'

    def payload(self) -> dict[str, Any]:
        return {"type": self.type}

    def encode(self) -> bytes:
        return self._BYTES


@dataclass(frozen=True, slots=True)
class Ping:
    type: ClassVar[str] = "ping"
    _BYTES: ClassVar[bytes] = b'event: ping\ndata: {"type":"ping"}\n\n'

    def payload(self) -> dict[str, Any]:
        return {"type": self.type}

    def encode(self) -> bytes:
        return self._BYTES


@dataclass(frozen=True, slots=True)
class Error:
    """An ``error`` event; it ends the stream. Carries the error itself (status, retry-after)."""

    error: AnthroxyError
    type: ClassVar[str] = "error"

    def payload(self) -> dict[str, Any]:
        return self.error.to_event()

    def encode(self) -> bytes:
        return _frame(self.payload())


@dataclass(frozen=True, slots=True)
class Raw:
    """Whole upstream events forwarded as they came (an Anthropic-native upstream's stream).

    ``is_error``: the bytes are one upstream ``error`` event (a pass-through keeps such an event
    apart, so that the server can treat it like its own ``Error`` events).
    """

    data: bytes
    is_error: bool = False

    def encode(self) -> bytes:
        return self.data

    def sse_events(self) -> list[SSEEvent]:
        """The SSE events these bytes hold (whole events, so nothing is left over)."""
        decoder = SSEDecoder()
        return decoder.feed(self.data) + decoder.close()


AnthropicEvent = (
    MessageStart | BlockStart | BlockDelta | BlockStop | MessageDelta | MessageStop | Error | Ping
)
Event = AnthropicEvent | Raw


def encode_all(events: Iterable[Event]) -> bytes:
    """The SSE bytes of ``events``, in order."""
    return b"".join([event.encode() for event in events])
