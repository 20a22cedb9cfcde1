"""Anthropic-native upstreams: the few rewrites a pass-through needs, and nothing more.

The client's body goes upstream as it came, with ``model`` replaced by the upstream's name and
whatever the provider's cleaner changes (``anthroxy.cleaning``: nothing for Anthropic itself);
the answer comes back as it came, with ``model`` replaced by the name the client asked for
(docs/protocol/translation-rules.md §10). A stream is passed through byte for byte except its
``message_start`` event and, for a provider other than Anthropic, the events that carry a
thinking signature (marked with the provider that made it, ``cleaning.signatures``);
``PassthroughStream`` forwards only whole events, so an error event the server appends after an
upstream failure never lands inside a half-sent one.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .cleaning import NO_RULES, Cleaner, apply, settle_thinking
from .cleaning.signatures import mark_event, mark_message
from .errors import AnthroxyError, UpstreamProtocolError
from .events import Error, Event, Raw, Usage
from .sse import MAX_EVENT_BYTES

_COMPACT = (",", ":")
_DECODER = json.JSONDecoder()
# An event ends at a blank line; SSE allows LF, CRLF and CR line endings (WHATWG SSE 9.2.5).
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r|\r\n\n|\n\r\n")
_LINE = re.compile(r"\r\n|\r|\n")
# The event line of an event after which an Anthropic stream is over: message_stop, or error
# (which may come anywhere). A data line is JSON, which cannot hold a raw line break, so an
# ``event:`` field right after one is always a field line, never text inside a payload.
# The event lines that end an Anthropic stream, as they can start a line (the stream grammar).
_TERMINAL_LINES = tuple(
    (prefix + name, name)
    for name in (b"message_stop", b"error")
    for prefix in (b"event: ", b"event:")
)
# Pre-filter for message_delta events: inside a JSON string value (text, partial_json) these
# quotes are escaped, so other events hardly ever match; each match is still parsed and checked.
_DELTA_MARKER = b'"message_delta"'
# The same for the events that carry a thinking signature (marked for non-Anthropic providers):
# a signature_delta, or the start of a thinking block with its signature. One literal search
# (~0.16 us per read), as it runs on every read. A redacted_thinking block (Anthropic's own
# kind; no other provider is known to send one) is marked only when its event also holds this.
_SIGNATURE_MARKER = b"signature"


def request_bytes(
    raw: bytes, body: Mapping[str, Any], model: str, cleaner: Cleaner = NO_RULES
) -> bytes:
    """The upstream body: ``raw`` itself when nothing changes, else re-serialised.

    What changes: the model name; the provider's cleaner rules (``cleaning.apply``); and thinking
    blocks the provider cannot verify, such as those anthroxy signed while another provider
    answered earlier turns (``cleaning.settle_thinking``; an Anthropic-native upstream rejects
    them with 400 ``Invalid signature``, docs/protocol/translation-rules.md §10). The default
    cleaner is Anthropic's: no rules, and a byte search keeps a body without anthroxy's
    signatures free.
    """
    cleaned = settle_thinking(cleaner, apply(cleaner, body, raw), raw)
    if cleaned is body and body.get("model") == model:
        return raw
    return json.dumps({**cleaned, "model": model}, separators=_COMPACT).encode()


def filter_betas(value: str | None, drop: Sequence[str]) -> str | None:
    """``anthropic-beta`` without the values an upstream refuses (prefix match; ``*`` = all).

    Unknown betas make some Anthropic-compatible endpoints answer 400 (docs/protocol/anthropic.md
    §2.1).
    Returns None when nothing is left, so the header is not sent at all.
    """
    if value is None:
        return None
    if "*" in drop:
        return None
    kept = [
        item
        for item in (part.strip() for part in value.split(","))
        if item and not any(item.startswith(prefix) for prefix in drop)
    ]
    return ",".join(kept) if kept else None


def rewrite_message(
    message: Mapping[str, Any], model: str, marks: str | None = None
) -> dict[str, Any]:
    """A non-streaming reply with ``model`` set to the name the client asked for, and its
    thinking signatures marked with ``marks``, the family that made them (None: Anthropic's,
    left as they are)."""
    return {**mark_message(message, marks), "model": model}


class PassthroughStream:
    """An Anthropic SSE body forwarded in whole events, rewriting only ``message_start``.

    Follows the stream protocol of ``anthroxy.streams`` with upstream bytes as input. ``feed``
    returns the events completed by ``data`` as ``Raw`` bytes, unchanged except the
    ``message_start`` event whose ``message.model`` becomes ``model`` (when given) and, with
    ``marks`` (the family of a provider other than Anthropic), the events carrying a thinking
    signature, which is marked with that family (``cleaning.signatures``). The stream is
    ``finished`` once its ``message_stop`` or ``error`` event went through (nothing after it is
    forwarded); an upstream ``error`` event comes as a ``Raw`` of its own with ``is_error`` set.
    ``close`` at the upstream's EOF forwards a last event that lacked its blank line, and ends a
    stream that never finished with an ``error`` event (it was cut). ``started`` turns true once
    ``message_start`` went through.

    ``usage``: the final counts, for the access log. Output comes from the ``message_delta``
    event (cumulative), input from it too when it says, else from ``message_start`` (rewritten
    anyway when a model is given; compatible upstreams report input only there). Only events that
    can hold usage are parsed, and a malformed one just leaves the count unknown: the client
    receives it as it came.
    """

    def __init__(
        self,
        model: str | None,
        *,
        provider: str,
        marks: str | None = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._model = model
        # An upstream that never ends an event must not grow memory without bound.
        self._limit = max_event_bytes
        self._provider = provider
        self._marks = marks
        self._pending = b""
        self._rewriting = model is not None
        self._finished = False
        self._usage = Usage()
        self.started = False

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def usage(self) -> Usage:
        return self._usage

    def feed(self, data: bytes) -> list[Event]:
        if self._finished:
            return []
        buffer = self._pending + data if self._pending else data
        end = _last_event_end(buffer)
        complete, self._pending = buffer[:end], buffer[end:]
        if len(self._pending) > self._limit:
            self._pending = b""
            raise UpstreamProtocolError(
                f"{self._provider}: the upstream stream sent an event larger than "
                f"{self._limit} bytes"
            )
        if end == 0:
            return []
        error = b""
        terminal = _terminal_event(complete)
        if terminal is not None:
            name, at = terminal
            start, stop = _event_bounds(complete, at)
            if name == b"error":
                complete, error = complete[:start], complete[start:stop]
                error = _normalized(error, self._provider)
            else:
                complete = complete[:stop]
        # Forwarded first: a broken message_start raises while the stream is still open, so the
        # caller's ``fail`` can still send the error event.
        events: list[Event] = [Raw(self._forward(complete))] if complete else []
        if terminal is not None:
            self._finished = True
            self._pending = b""
        if error:
            events.append(Raw(error, is_error=True))
        return events

    def _forward(self, complete: bytes) -> bytes:
        """Whole events on their way out: ``message_start`` rewritten, usage read."""
        complete = _normalized(complete, self._provider)
        if not self.started:
            complete = self._until_started(complete)
        if _DELTA_MARKER in complete:
            self._read_delta_usage(complete)
        if self._marks is not None and _SIGNATURE_MARKER in complete:
            complete = _mark_signatures(complete, self._marks)
        return complete

    def close(self) -> list[Event]:
        """At the upstream's EOF: the last event even if its blank line never came.

        Real streams end without the final blank line (``anthropic/stream_tool_use.sse``), and
        their last event is still meant; it is forwarded with the blank line added. A stream
        that is not finished by then was cut: it must not look complete to the client, so the
        open block stays open and an ``error`` event follows (docs/protocol/claude-code.md §6).
        """
        pending, self._pending = self._pending, b""
        events: list[Event] = []
        if pending.strip() and _event_data(pending) is not None:
            # A whole event whose blank line never came; a half one (a cut inside its JSON) is
            # not forwarded: the client would choke on it before reading the error event.
            events = self.feed(pending.rstrip(b"\r\n") + b"\n\n")
        if self._finished:
            return events
        cut = UpstreamProtocolError(f"{self._provider}: the stream ended before message_stop")
        return events + self.fail(cut)

    def fail(self, error: AnthroxyError) -> list[Event]:
        if self._finished:
            return []
        self._finished = True
        return [Error(error)]

    def _until_started(self, complete: bytes) -> bytes:
        """Find ``message_start`` among the first events and rewrite its model. Only pings may
        come before it: a client cannot place any other event of a message not started."""
        out = []
        position = 0
        for match in _EVENT_END.finditer(complete):
            event = complete[position : match.end()]
            position = match.end()
            name = None if self.started else _event_name(event)
            if name not in (None, b"message_start", b"ping"):
                shown = name.decode("utf-8", errors="replace")
                raise UpstreamProtocolError(
                    f"{self._provider}: the stream began with {shown!r}, not message_start"
                )
            if name == b"message_start":
                self.started = True
                if self._rewriting:
                    event, usage = _rewrite_message_start(event, self._model or "")
                    # Only its input and cache counts: the output one there is a placeholder.
                    start = Usage.of(usage)
                    self._usage = dataclasses.replace(start, output_tokens=None)
            out.append(event)
        out.append(complete[position:])
        return b"".join(out)

    def _read_delta_usage(self, complete: bytes) -> None:
        position = 0
        for match in _EVENT_END.finditer(complete):
            event = complete[position : match.end()]
            position = match.end()
            if _DELTA_MARKER not in event:
                continue
            payload = _event_data(event)
            if isinstance(payload, dict) and payload.get("type") == "message_delta":
                self._usage = Usage.of(payload.get("usage"), self._usage)


def _mark_signatures(complete: bytes, family: str) -> bytes:
    """Whole events with the signatures they carry marked for ``family``; the others as they
    came."""
    out = []
    position = 0
    for match in _EVENT_END.finditer(complete):
        event = complete[position : match.end()]
        position = match.end()
        if _SIGNATURE_MARKER in event:
            payload = _event_data(event)
            marked = mark_event(payload, family)
            if marked is not payload:
                name = (_event_name(event) or b"").decode("utf-8", errors="replace")
                encoded = json.dumps(marked, separators=_COMPACT)
                event = f"event: {name}\ndata: {encoded}\n\n".encode()
        out.append(event)
    out.append(complete[position:])
    return b"".join(out)


def _terminal_event(chunk: bytes) -> tuple[bytes, int] | None:
    """The name and offset of the first ``message_stop`` or ``error`` event line of ``chunk``.

    A data line is JSON, which cannot hold a raw line break, so ``event:`` at the start of a line
    is always a field, never text inside a payload. Literal searches only: a whole stream can
    arrive in one read, and a pattern scan over it costs ~50 times more.
    """
    if b"message_stop" not in chunk and b"vent: error" not in chunk and b"vent:error" not in chunk:
        return None
    found: tuple[bytes, int] | None = None
    for line, name in _TERMINAL_LINES:
        at = _line_start(chunk, line)
        if at >= 0 and (found is None or at < found[1]):
            found = (name, at)
    return found


def _line_start(chunk: bytes, line: bytes) -> int:
    """Offset of the first line of ``chunk`` that is exactly ``line`` (before its line end)."""
    at = chunk.find(line)
    while at >= 0:
        starts_line = at == 0 or chunk[at - 1 : at] in (b"\n", b"\r")
        if starts_line and chunk[at + len(line) : at + len(line) + 1] in (b"\n", b"\r"):
            return at
        at = chunk.find(line, at + 1)
    return -1


def _last_event_end(buffer: bytes) -> int:
    """Offset just past the last blank line in ``buffer`` (0 when there is none)."""
    best = 0
    for marker in (b"\n\n", b"\r\n\r\n", b"\r\r", b"\n\r\n"):
        found = buffer.rfind(marker)
        if found >= 0:
            best = max(best, found + len(marker))
    return best


def _normalized(complete: bytes, provider: str) -> bytes:
    """The events as a client's SSE parser must see them: ``event: <type>`` then one ``data:``
    line. An event whose data is not a JSON object is refused (relayed as it came it would break
    the client's parser outside the error path); one with other fields or a name that is not its
    type is rebuilt from its data (SDKs dispatch on the event name); one without data is dropped
    (SSE parsers dispatch nothing for it). Well-formed events, all of a real stream, pass as
    they came."""
    if _all_well_formed(complete):  # the events of a real stream: one decode for the read
        return complete
    out: list[bytes] = []
    changed = False
    position = 0
    for match in _EVENT_END.finditer(complete):
        event = complete[position : match.end()]
        position = match.end()
        if _well_formed(event):
            out.append(event)
            continue
        if b"data:" not in event:
            changed = True
            continue
        payload = _event_data(event)
        if not isinstance(payload, dict):
            shown = event[:80].decode("utf-8", errors="replace")
            raise UpstreamProtocolError(f"{provider}: stream event is not JSON: {shown!r}")
        name = _event_name(event)
        kind = payload.get("type")
        if not isinstance(kind, str) and not (kind is None and name == b"ping"):
            shown = event[:80].decode("utf-8", errors="replace")
            raise UpstreamProtocolError(f"{provider}: stream event has no type: {shown!r}")
        if _plain(event, name) and (kind is None or kind.encode() == name):
            out.append(event)
            continue
        label = kind if kind is not None else (name or b"").decode("utf-8", "replace")
        encoded = json.dumps(payload, separators=_COMPACT)
        out.append(f"event: {label}\ndata: {encoded}\n\n".encode())
        changed = True
    return b"".join(out) if changed else complete


def _all_well_formed(complete: bytes) -> bool:
    """Every event of ``complete`` is ``event: <type>`` LF ``data: <JSON object of that type>``
    LF LF: the events of a real stream, checked in one pass over the read (the per-event path
    below costs a function call and a decode of its own per event; docs/performance.md).

    Each payload must decode to exactly one object ending where its line ends: one decode of
    all the payloads joined into a JSON array, as this once did, could let two broken events
    pass as one whole ``{"a":[1`` + ``2]}``, made up for by another holding two objects.
    """
    if not complete.endswith(b"\n\n") or b"\r" in complete:
        return False
    try:
        text = complete.decode("utf-8", "surrogatepass")  # as json.loads decodes bytes
    except UnicodeDecodeError:
        return False
    for event in text[:-2].split("\n\n"):
        head, found, data = event.partition("\ndata: ")
        if not found or not head.startswith("event: ") or "\n" in data or "\n" in head:
            return False
        try:
            payload, end = _DECODER.raw_decode(data)
        except (ValueError, RecursionError):
            return False
        if end != len(data) or type(payload) is not dict:
            return False
        kind = payload.get("type")
        if kind is None and head == "event: ping":
            continue
        if type(kind) is not str or head[7:] != kind:
            return False
    return True


def _well_formed(event: bytes) -> bool:
    """The fast path for the events of a real stream: ``event: <type>`` LF ``data: <JSON
    object of that type>`` LF LF, checked without decoding or splitting."""
    if not (event.startswith(b"event: ") and event.endswith(b"\n\n")):
        return False
    end = event.find(b"\n")
    if not event.startswith(b"data: ", end + 1) or event.find(b"\n", end + 1) != len(event) - 2:
        return False
    try:
        payload = _DECODER.decode(event[end + 7 : -2].decode())
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        return False
    if not isinstance(payload, dict):
        return False
    kind = payload.get("type")
    name = event[7:end]
    return (kind is None and name == b"ping") or (isinstance(kind, str) and kind.encode() == name)


def _plain(event: bytes, name: bytes | None) -> bool:
    """``event: <name>``, one ``data:`` line, the blank line; nothing else (any line ending)."""
    lines = event.splitlines()
    return (
        name is not None
        and len(lines) == 3
        and lines[0] == b"event: " + name
        and lines[1].startswith(b"data: ")
        and not lines[2]
    )


def _event_name(event: bytes) -> bytes | None:
    for line in event.splitlines():
        if line.startswith(b"event:"):
            return line[6:].strip()
    return None


def _event_bounds(chunk: bytes, inside: int) -> tuple[int, int]:
    """Start and end (just past its blank line) of the event of ``chunk`` holding ``inside``."""
    start = _last_event_end(chunk[:inside])
    match = _EVENT_END.search(chunk, inside)
    return start, match.end() if match is not None else len(chunk)


def _data_text(event: bytes) -> str:
    lines = _LINE.split(event.decode("utf-8"))
    return "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))


def _event_data(event: bytes) -> Any:
    """The event's data as JSON, or None when it is not JSON (callers only read from it)."""
    try:
        return json.loads(_data_text(event))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        return None


def _rewrite_message_start(event: bytes, model: str) -> tuple[bytes, Any]:
    """The event with ``message.model`` replaced, and the upstream's ``message.usage``."""
    try:
        payload = json.loads(_data_text(event))
    except (ValueError, RecursionError) as exc:
        raise UpstreamProtocolError(f"message_start data is not JSON: {exc}") from exc
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        raise UpstreamProtocolError("message_start has no message object", path="$.message")
    rewritten = {**payload, "message": {**message, "model": model}}
    encoded = json.dumps(rewritten, separators=_COMPACT)
    return f"event: message_start\ndata: {encoded}\n\n".encode(), message.get("usage")
