"""The stream pump: upstream bytes → the core's event stream → one client write per upstream read.

``Downstream`` is the client's SSE response, prepared lazily: it is committed (200 +
``text/event-stream``) only when the upstream answered 200, or when the upstream has been silent
for ``ping_interval`` and a ``ping`` must keep the client's connection alive
(docs/protocol/translation-rules.md §9). ``open_upstream`` waits for the upstream's headers, pinging
meanwhile. ``pump`` drives any
``EventStream[bytes]`` of the core (``anthroxy.streams``: a translator behind its SSE decoder, or
the pass-through) without knowing the upstream's dialect: it copies the body with backpressure
(each ``await write``) until the stream is finished (its ``message_stop`` or ``error`` went out;
the caller then closes the upstream, however long it would have stayed open) or the upstream
ends; it pings during silences, ends a stream that is silent for ``read_timeout`` with an
``error`` event, and lets a client disconnect propagate so the caller closes the upstream at
once. Error events are redacted as they are written: an upstream may echo its key in one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping

import aiohttp
from aiohttp import web

from anthroxy.errors import AnthroxyError
from anthroxy.events import Error, Event, Ping, Raw
from anthroxy.streams import EventStream
from anthroxy.upstream_errors import (
    connection_error,
    error_from_payload,
    timeout_error,
    upstream_object,
)

from . import metrics
from .live import generation_of
from .logs import REDACTED
from .state import access_of

PING = Ping().encode()


class Downstream:
    """The client's streamed response; prepared on first write."""

    def __init__(
        self, request: web.Request, headers: Mapping[str, str], *, record: bool = False
    ) -> None:
        self.request = request
        self._base_headers = dict(headers)
        self.headers = dict(headers)
        self.response: web.StreamResponse | None = None
        self._secrets = tuple(s.encode() for s in generation_of(request).secrets)
        # ``server.log_response_body``: every event sent, for the body log (``bodylog.py``).
        self.events: list[Event] | None = [] if record else None
        # Whether anything but pings went out: until then a failed attempt may hand the same
        # open response to the next target of the fallback chain.
        self.started = False
        self.first_output: float | None = None  # perf_counter() when ``started`` became true

    @property
    def prepared(self) -> bool:
        return self.response is not None

    def use_upstream_headers(self, extra: Mapping[str, str]) -> None:
        """The answering attempt's headers (rate limits, its request id), replacing those of an
        attempt that failed before the response went out."""
        if self.response is None:
            self.headers = {**self._base_headers, **extra}

    async def prepare(self) -> web.StreamResponse:
        if self.response is None:
            response = web.StreamResponse(status=200)
            response.headers.update(self.headers)
            response.content_type = "text/event-stream"
            response.charset = "utf-8"
            response.headers["cache-control"] = "no-cache"
            await response.prepare(self.request)
            self.response = response
            metrics.stream_opened(self.request)
        return self.response

    async def send(self, events: list[Event]) -> None:
        """Write ``events`` in one write (none for an empty list)."""
        if events:
            if not self.started:
                self.started = not all(_keeps_alive(event) for event in events)
                if self.started:
                    self.first_output = time.perf_counter()
                    metrics.first_event(self.request)
            if self.events is not None:
                self.events += events
            await self._write(b"".join([self._encode(event) for event in events]))

    async def send_first(self, events: list[Event], provider: str) -> None:
        """``send``, except that a batch ending in an ``error`` before anything but pings went
        out is raised instead: the client has seen nothing of this attempt, so the next target
        of the fallback chain may still answer it."""
        if not self.started:
            failure = ended_in_error(events, provider)
            if failure is not None:
                raise failure
        await self.send(events)

    async def ping(self) -> None:
        await self._write(PING)

    async def _write(self, data: bytes) -> None:
        response = self.response or await self.prepare()
        await response.write(data)

    def _encode(self, event: Event) -> bytes:
        data = event.encode()
        if not _is_error(event):
            return data
        # The JSON error path redacts in app.error_response; error events are the stream's
        # equivalent, whether anthroxy wrote them or an upstream's came through.
        for secret in self._secrets:
            data = data.replace(secret, _REDACTED_BYTES)
        access_of(self.request).error = data  # as the client got it, for the dashboard
        return data


_REDACTED_BYTES = REDACTED.encode()


def _keeps_alive(event: Event) -> bool:
    """A ping, or forwarded bytes holding only pings and comments: not yet an answer, so the
    fallback chain may still move on."""
    if isinstance(event, Ping):
        return True
    if not isinstance(event, Raw):
        return False
    return all(sse.event == "ping" for sse in event.sse_events())


def _is_error(event: Event) -> bool:
    return isinstance(event, Error) or (isinstance(event, Raw) and event.is_error)


async def open_upstream(
    session: aiohttp.ClientSession,
    url: str,
    *,
    data: bytes,
    headers: Mapping[str, str],
    provider: str,
    downstream: Downstream | None,
    ping_interval: float,
) -> aiohttp.ClientResponse:
    """POST and wait for the response headers; ping ``downstream`` while the upstream thinks."""
    request = session.post(url, data=data, headers=headers)
    task = asyncio.ensure_future(request)
    try:
        # A failed ping is the client gone, not the upstream: it is never converted below.
        while downstream is not None and not task.done():
            done, _ = await asyncio.wait((task,), timeout=ping_interval)
            if not done:
                await downstream.ping()
        return await _response(task, session, provider, url)
    except BaseException:
        task.cancel()
        raise


async def _response(
    task: asyncio.Future[aiohttp.ClientResponse],
    session: aiohttp.ClientSession,
    provider: str,
    url: str,
) -> aiohttp.ClientResponse:
    """The upstream's response; its failures as Anthropic errors naming the provider."""
    try:
        return await task
    except aiohttp.ServerTimeoutError as exc:
        raise _timeout(exc, session, provider, url) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise connection_error(provider, url, str(exc) or type(exc).__name__) from exc


def _timeout(
    exc: aiohttp.ServerTimeoutError, session: aiohttp.ClientSession, provider: str, url: str
) -> AnthroxyError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return connection_error(
            provider, url, f"connect timeout ({session.timeout.sock_connect} s)"
        )
    return timeout_error(provider, url, session.timeout.sock_read or 0.0)


async def pump(
    upstream: aiohttp.ClientResponse,
    downstream: Downstream,
    stream: EventStream[bytes],
    *,
    ping_interval: float,
    read_timeout: float,
    provider: str,
) -> AnthroxyError | None:
    """Copy the upstream body through ``stream`` to the client until it is finished or fails;
    the failure that ended it (sent to the client as an ``error`` event), if there was one. A
    failure before the stream's first event is raised instead (see ``Downstream.send_first``)."""
    content = upstream.content
    silent = 0.0
    events: list[Event] = []
    try:
        while not stream.finished:
            try:
                async with asyncio.timeout(ping_interval):
                    data = await read_piece(content)
            except aiohttp.ServerTimeoutError as exc:
                raise timeout_error(provider, str(upstream.url), read_timeout) from exc
            except TimeoutError:
                silent += ping_interval
                if silent >= read_timeout:
                    raise timeout_error(provider, str(upstream.url), read_timeout) from None
                await downstream.ping()
                continue
            if not data:
                break
            silent = 0.0
            events = stream.feed(data)
            await downstream.send_first(events, provider)
        if not stream.finished:
            events = stream.close()
            await downstream.send_first(events, provider)
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        reason = f"connection lost mid-stream: {exc}"
        return await _end_with(
            downstream, stream, connection_error(provider, str(upstream.url), reason)
        )
    except AnthroxyError as err:
        return await _end_with(downstream, stream, err)
    return ended_in_error(events, provider)


async def read_piece(content: aiohttp.StreamReader) -> bytes:
    """Everything the upstream's body holds now (waiting for a first byte), b"" at its end.

    ``readany()`` returns the same bytes but takes the buffered HTTP chunks one by one, with a
    flow-control call for each: a token stream sends one chunk per event, so a read of 100
    events cost 100 rounds of that Python code. Here the chunks still buffered after the
    first byte are joined in place (the same bytes in the same order: the reader's counts
    and offsets stay right) and taken in one ``read_nowait()``. ``_buffer`` is the reader's
    deque of chunks; if a future aiohttp changes it, this falls back to chunk by chunk.
    """
    first = await content.read(1)
    if not first:
        return first
    held = getattr(content, "_buffer", None)
    if isinstance(held, deque) and len(held) > 1:
        joined = b"".join(held)
        held.clear()
        held.append(joined)
    return first + content.read_nowait()


async def _end_with(
    downstream: Downstream, stream: EventStream[bytes], err: AnthroxyError
) -> AnthroxyError:
    """A failure the pump saw: raised while the client has seen only pings (the chain may move
    on), else sent as the stream's ``error`` event and returned."""
    if not downstream.started:
        raise err
    await downstream.send(stream.fail(err))
    return err


def ended_in_error(events: list[Event], provider: str) -> AnthroxyError | None:
    """The error the last of ``events`` carried to the client, if it is an ``error`` event: the
    translator's own, or an Anthropic upstream's read back from its bytes."""
    last = events[-1] if events else None
    if isinstance(last, Error):
        return last.error
    if isinstance(last, Raw) and last.is_error:
        for event in last.sse_events():
            try:
                payload = upstream_object(event.data, provider=provider, what="error event")
            except AnthroxyError as err:
                return err
            return error_from_payload(payload, provider=provider)
    return None


async def end_failed_stream(downstream: Downstream, err: AnthroxyError) -> web.StreamResponse:
    """The chain's final error, for a client whose stream pings already opened: an ``error``
    event (the 200 status went out with the first ping)."""
    await downstream.send([Error(err)])
    assert downstream.response is not None
    return downstream.response
