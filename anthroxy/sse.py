"""Server-sent events: an incremental decoder (bytes in, events out).

The decoder follows the WHATWG HTML "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
lines end in CRLF, LF or CR; a line starting with ``:`` is a comment; ``field: value`` with one
optional space after the colon; ``data`` lines of one event are joined with ``\\n``; ``event`` sets
the type (default ``message``); a blank line dispatches; an event without any ``data`` line is not
dispatched; a UTF-8 BOM at the very start of the stream is dropped. ``id`` and ``retry`` are
accepted and ignored (a proxy never reconnects). Feeding the same bytes split anywhere gives the
same events. ``close()`` additionally flushes an event whose final blank line never came, because
real upstreams cut the last ``\\n\\n`` and still mean their ``data: [DONE]``.

Writing SSE is the job of ``anthroxy.events`` (each event encodes itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UpstreamProtocolError

_BOM = b"\xef\xbb\xbf"


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
        self._data: list[bytes] = []
        self._event = ""
        # An upstream that never ends a line or an event must not grow memory without bound.
        self._limit = max_event_bytes
        self._pending = 0  # data bytes of the event being collected

    def feed(self, data: bytes) -> list[SSEEvent]:
        return [SSEEvent(name, _text(raw)) for name, raw in self._feed(data)]

    def close(self) -> list[SSEEvent]:
        """End of stream: flush a last line and event that lacked their terminators."""
        return [SSEEvent(name, _text(raw)) for name, raw in self._close()]

    def feed_data(self, data: bytes) -> list[bytes]:
        """``feed``, giving only each event's data, as the undecoded UTF-8 bytes (data lines
        joined with ``\n``): what a JSON stream needs, without building an event per line.

        A piece made only of whole one-line ``data: `` events (what OpenAI-style upstreams send)
        is split in one go; anything else (comments, ``event:`` lines, CR line ends, an event
        still open from the last piece) goes through the line-by-line rules, with the same
        result. The unfinished event at the end of a piece always takes that path, so the fast
        split only ever starts on an event boundary.
        """
        end = data.rfind(b"\n\n")
        if end < 0 or not self._at_boundary() or not data.startswith(b"data: "):
            return [raw for _, raw in self._feed(data)]
        whole = data[:end]
        parts = whole.split(b"\n\ndata: ")
        # Every LF belongs to a separator, so each part is one line; none over the size cap.
        if whole.count(b"\n") != 2 * len(parts) - 2 or b"\r" in data or end > self._limit:
            return [raw for _, raw in self._feed(data)]
        self._bom_checked = True
        parts[0] = parts[0][6:]
        if end + 2 < len(data):
            parts += [raw for _, raw in self._feed(data[end + 2 :])]
        return parts

    def close_data(self) -> list[bytes]:
        """``close``, giving only each event's data (see ``feed_data``)."""
        return [raw for _, raw in self._close()]

    def _at_boundary(self) -> bool:
        """Nothing of an unfinished line or event is held."""
        return not (self._buffer or self._data or self._event or self._skip_lf)

    def _feed(self, data: bytes) -> list[tuple[str, bytes]]:
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

    def _close(self) -> list[tuple[str, bytes]]:
        lines = [self._buffer, b""] if self._buffer else [b""]
        self._buffer = b""
        if not self._bom_checked and lines[0].startswith(_BOM):
            lines[0] = lines[0][len(_BOM) :]
        self._bom_checked = True
        return self._process(lines)

    def _process(self, lines: list[bytes]) -> list[tuple[str, bytes]]:
        events: list[tuple[str, bytes]] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append((self._event or "message", b"\n".join(data)))
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
                data.append(value)
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
        return events


def _text(data: bytes) -> str:
    # Decoding the joined lines equals joining the decoded lines: LF is never part of a
    # multi-byte sequence, so an invalid sequence ends at it either way.
    return data.decode("utf-8", "replace")
