"""The one protocol every stream translator follows, and its front for SSE JSON upstreams.

``EventStream[In]``: ``feed(item)`` takes the next piece of the upstream's stream and returns the
Anthropic events to send; ``close()`` is called at the upstream's end (EOF) and returns the last
ones; ``fail(error)`` reports a failure the caller noticed (reset, timeout) as an ``error`` event.
``finished`` turns true once ``message_stop`` or ``error`` went out; from then on every call
returns ``[]``, so the caller stops reading the upstream and closes it. ``usage`` holds the
final input and output token counts known so far (for the access log).

``ChatStream`` and ``ResponsesStream`` are ``EventStream[Mapping]`` (one decoded JSON object per
``feed``); ``SSEStream`` turns either into an ``EventStream[bytes]``: SSE decoding, the
``[DONE]`` sentinel of OpenAI-style streams (end of stream, like EOF) and the parsing of each
``data`` as a JSON object (with a faster decoder the server may hand it, see ``SSEStream``).
``PassthroughStream`` (Anthropic-native upstreams) is an ``EventStream[bytes]`` itself. The
server drives any ``EventStream[bytes]`` the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from .errors import AnthroxyError
from .events import Event, Usage
from .sse import SSEDecoder
from .upstream_errors import upstream_object

In = TypeVar("In", contravariant=True)
# The sentinel that ends an OpenAI-style stream; it is not JSON.
DONE = "[DONE]"
_DONE = DONE.encode()
# ``raw_decode`` is ``json.loads`` without its whitespace handling and its layers of calls;
# anything it does not take whole (whitespace around the object, errors) goes to json.loads.
_raw_decode = json.JSONDecoder().raw_decode


class EventStream(Protocol[In]):
    @property
    def finished(self) -> bool: ...

    @property
    def usage(self) -> Usage: ...

    def feed(self, item: In, /) -> list[Event]: ...

    def close(self) -> list[Event]: ...

    def fail(self, error: AnthroxyError) -> list[Event]: ...


class SSEStream:
    """Upstream SSE bytes -> one JSON object per event -> ``translator``: bytes in, events out.

    ``what`` names one upstream event in error messages (``stream chunk is not JSON``). A
    malformed event ends the stream with an ``error`` event, after whatever the same bytes had
    already produced; whatever follows the end of the stream gives nothing.

    ``loads``, when given, is tried first on each event's data (UTF-8 bytes): a faster JSON
    decoder such as orjson's, which the server passes when it is installed (the core itself
    imports nothing outside the standard library). It must return the value ``json.loads``
    would, or raise ``ValueError``; whatever it refuses or does not decode to an object is
    decoded again by ``json.loads``, so the errors and the edge cases (NaN, lone surrogates,
    invalid UTF-8 replaced by U+FFFD) stay those of the standard library.
    """

    __slots__ = ("_decoder", "_loads", "_provider", "_translator", "_what")

    def __init__(
        self,
        translator: EventStream[Mapping[str, Any]],
        *,
        provider: str,
        what: str,
        loads: Callable[[bytes], Any] | None = None,
    ) -> None:
        self._decoder = SSEDecoder()
        self._translator = translator
        self._provider = provider
        self._what = what
        self._loads = loads

    @property
    def finished(self) -> bool:
        return self._translator.finished

    @property
    def usage(self) -> Usage:
        return self._translator.usage

    def feed(self, data: bytes) -> list[Event]:
        if self._translator.finished:
            return []
        try:
            return self._translate(self._decoder.feed_data(data))
        except AnthroxyError as error:  # the decoder's own: an event over its size limit
            return self._translator.fail(error)

    def close(self) -> list[Event]:
        events = [] if self._translator.finished else self._translate(self._decoder.close_data())
        return events + self._translator.close()

    def fail(self, error: AnthroxyError) -> list[Event]:
        return self._translator.fail(error)

    def _translate(self, decoded: list[bytes]) -> list[Event]:
        translator = self._translator
        events: list[Event] = []
        for data in decoded:
            if data == _DONE:
                return events + translator.close()
            try:
                payload = self._object(data)
            except AnthroxyError as error:
                return events + translator.fail(error)
            events += translator.feed(payload)  # [] once the translator finished
        return events

    def _object(self, data: bytes) -> dict[str, Any]:
        if self._loads is not None:
            try:
                value = self._loads(data)
            except ValueError:
                pass
            else:
                if type(value) is dict:
                    return value
        text = data.decode("utf-8", "replace")
        try:
            value, end = _raw_decode(text)
        except (ValueError, RecursionError):
            pass
        else:
            if end == len(text) and type(value) is dict:
                return value
        return upstream_object(text, provider=self._provider, what=self._what)
