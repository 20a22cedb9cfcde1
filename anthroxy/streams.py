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
``data`` as a JSON object. ``PassthroughStream`` (Anthropic-native upstreams) is an
``EventStream[bytes]`` itself. The server drives any ``EventStream[bytes]`` the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from .errors import AnthroxyError
from .events import Event, Usage
from .sse import SSEDecoder, SSEEvent
from .upstream_errors import upstream_object

In = TypeVar("In", contravariant=True)
# The sentinel that ends an OpenAI-style stream; it is not JSON.
DONE = "[DONE]"


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
    """

    __slots__ = ("_decoder", "_provider", "_translator", "_what")

    def __init__(
        self, translator: EventStream[Mapping[str, Any]], *, provider: str, what: str
    ) -> None:
        self._decoder = SSEDecoder()
        self._translator = translator
        self._provider = provider
        self._what = what

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
            return self._translate(self._decoder.feed(data))
        except AnthroxyError as error:  # the decoder's own: an event over its size limit
            return self._translator.fail(error)

    def close(self) -> list[Event]:
        events = [] if self._translator.finished else self._translate(self._decoder.close())
        return events + self._translator.close()

    def fail(self, error: AnthroxyError) -> list[Event]:
        return self._translator.fail(error)

    def _translate(self, decoded: list[SSEEvent]) -> list[Event]:
        translator = self._translator
        events: list[Event] = []
        for sse in decoded:
            if sse.data == DONE:
                return events + translator.close()
            try:
                payload = upstream_object(sse.data, provider=self._provider, what=self._what)
            except AnthroxyError as error:
                return events + translator.fail(error)
            events += translator.feed(payload)  # [] once the translator finished
        return events
