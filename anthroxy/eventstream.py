"""AWS's binary event-stream framing (``application/vnd.amazon.eventstream``), decoded sans-I/O.

Bedrock's ``InvokeModelWithResponseStream`` answers in this framing. ``EventStreamDecoder`` is
fed bytes as they arrive, in pieces of any size, and returns the whole messages they complete.
One message on the wire (big-endian throughout):

* prelude: total length (4 bytes, the whole message), headers length (4), CRC32 of those 8;
* headers: name length (1), name (UTF-8), value type (1), value (by type, ``_FIXED`` and
  ``_SIZED``);
* payload: total length - headers length - 16 bytes;
* message CRC32 over everything before it.

A wrong CRC, a length out of bounds, a duplicate or unknown header, or bytes left over at the
end raise ``EventStreamError``: the stream cannot be trusted past that point, so the decoder
refuses everything after it too.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Mapping
from types import MappingProxyType

from .errors import UpstreamProtocolError

HeaderValue = bool | int | bytes | str  # a UUID header is its 16 bytes

_PRELUDE = 8  # total length, headers length
_PRELUDE_WITH_CRC = 12
_MIN_LENGTH = 16  # prelude, its CRC, the message CRC: an empty message
# The limits botocore enforces (botocore/eventstream.py): a larger message is a broken stream.
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024

# Header value type -> (struct format, size) for the fixed-size types; 0 and 1 carry no bytes.
_FIXED: Mapping[int, tuple[str, int]] = {
    2: (">b", 1),  # byte
    3: (">h", 2),  # short
    4: (">i", 4),  # integer
    5: (">q", 8),  # long
    8: (">q", 8),  # timestamp: milliseconds since the epoch
}
_SIZED = frozenset({6, 7})  # byte array, string: a 2-byte length, then the bytes
_UUID = 9
_BOOLS: Mapping[int, bool] = {0: True, 1: False}


class EventStreamError(UpstreamProtocolError):
    """The upstream's event stream broke its framing."""


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One decoded message: its headers (``:message-type``, ``:event-type``, ...) and payload."""

    headers: Mapping[str, HeaderValue]
    payload: bytes

    def text(self, name: str) -> str | None:
        """A string header's value, or None when it is missing or of another type."""
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


class EventStreamDecoder:
    """Bytes in, whole messages out; ``close`` says whether the stream ended between messages."""

    __slots__ = ("_broken", "_buffer")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._broken = False

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        if self._broken:
            raise EventStreamError("event stream: data after a framing error")
        self._buffer += data
        messages = []
        try:
            while (size := self._next_size()) is not None and len(self._buffer) >= size:
                frame = bytes(self._buffer[:size])
                del self._buffer[:size]
                messages.append(decode_message(frame))
        except EventStreamError:
            self._broken = True
            raise
        return messages

    def close(self) -> None:
        """The upstream ended: a partial message left over is a truncated stream."""
        if self._buffer and not self._broken:
            self._broken = True
            raise EventStreamError(
                f"event stream truncated: {len(self._buffer)} bytes of an unfinished message"
            )

    def _next_size(self) -> int | None:
        """The next message's total length, once its prelude is in (checked before waiting for
        the rest, so a corrupt length never makes the decoder wait for 4 GB)."""
        if len(self._buffer) < _PRELUDE_WITH_CRC:
            return None
        return _check_prelude(bytes(self._buffer[:_PRELUDE_WITH_CRC]))


def _check_prelude(prelude: bytes) -> int:
    total, headers_length, crc = struct.unpack(">III", prelude)
    if zlib.crc32(prelude[:_PRELUDE]) != crc:
        raise EventStreamError("event stream: prelude CRC mismatch")
    if headers_length > MAX_HEADERS_LENGTH:
        raise EventStreamError(f"event stream: headers length {headers_length} is too large")
    payload_length = total - headers_length - _MIN_LENGTH
    if total < _MIN_LENGTH or payload_length < 0:
        raise EventStreamError(f"event stream: message length {total} is impossible")
    if payload_length > MAX_PAYLOAD_LENGTH:
        raise EventStreamError(f"event stream: payload length {payload_length} is too large")
    return int(total)


def decode_message(frame: bytes) -> Message:
    """One whole message (exactly its bytes) -> ``Message``; ``EventStreamError`` if broken."""
    if len(frame) < _MIN_LENGTH or _check_prelude(frame[:_PRELUDE_WITH_CRC]) != len(frame):
        raise EventStreamError("event stream: message length does not match its prelude")
    (crc,) = struct.unpack(">I", frame[-4:])
    if zlib.crc32(frame[:-4]) != crc:
        raise EventStreamError("event stream: message CRC mismatch")
    (headers_length,) = struct.unpack(">I", frame[4:8])
    headers_end = _PRELUDE_WITH_CRC + headers_length
    headers = decode_headers(frame[_PRELUDE_WITH_CRC:headers_end])
    return Message(MappingProxyType(headers), frame[headers_end:-4])


def decode_headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    at = 0
    try:
        while at < len(data):
            size = data[at]
            name = data[at + 1 : at + 1 + size].decode()
            at += 1 + size
            value, at = _header_value(data, at)
            if name in headers:
                raise EventStreamError(f"event stream: duplicate header {name!r}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"event stream: malformed headers ({exc})") from exc
    return headers


def _header_value(data: bytes, at: int) -> tuple[HeaderValue, int]:
    kind = data[at]
    at += 1
    if kind in _BOOLS:
        return _BOOLS[kind], at
    if kind in _FIXED:
        fmt, size = _FIXED[kind]
        (number,) = struct.unpack(fmt, _take(data, at, size))
        return int(number), at + size
    if kind in _SIZED:
        (size,) = struct.unpack(">H", _take(data, at, 2))
        raw = _take(data, at + 2, size)
        return (raw.decode() if kind == 7 else raw), at + 2 + size
    if kind == _UUID:
        return _take(data, at, 16), at + 16
    raise EventStreamError(f"event stream: unknown header value type {kind}")


def _take(data: bytes, at: int, size: int) -> bytes:
    chunk = data[at : at + size]
    if len(chunk) != size:
        raise EventStreamError("event stream: a header value runs past the headers")
    return chunk
