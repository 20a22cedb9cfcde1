"""The stream pump: upstream bytes → translator → one client write per upstream read.

``Downstream`` is the client's SSE response, prepared lazily: it is committed (200 +
``text/event-stream``) only when the upstream answered 200, or when the upstream has been silent
for ``ping_interval`` and a ``ping`` must keep the client's connection alive (protocols.md 5.1,
5.7). ``open_upstream`` waits for the upstream's headers, pinging meanwhile. ``pump`` copies the
body with backpressure (each ``await write``), pings during silences, ends a stream that is silent
for ``read_timeout`` with an ``error`` event, and lets a client disconnect propagate so the caller
closes the upstream at once. Translators are adapters with ``feed`` / ``finish`` / ``fail``
returning bytes, so the pump does not know the upstream's dialect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from anthroxy.errors import AnthroxyError, UpstreamProtocolError
from anthroxy.passthrough import PassthroughStream
from anthroxy.sse import SSEDecoder, encode_event
from anthroxy.upstream_errors import (
    connection_error,
    error_from_payload,
    timeout_error,
    upstream_object,
)

from .logs import REDACTED
from .state import SECRETS

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
ERROR_EVENT = b"event: error\n"


class Downstream:
    """The client's streamed response; prepared on first write."""

    def __init__(self, request: web.Request, headers: Mapping[str, str]) -> None:
        self.request = request
        self.headers = dict(headers)
        self.response: web.StreamResponse | None = None
        # An upstream may echo its key in an error message; the JSON error path redacts in
        # app.error_response, and error events are the stream's equivalent.
        self._secrets = tuple(s.encode() for s in request.app[SECRETS])

    @property
    def prepared(self) -> bool:
        return self.response is not None

    async def prepare(self, extra: Mapping[str, str] | None = None) -> web.StreamResponse:
        if self.response is None:
            response = web.StreamResponse(status=200)
            response.headers.update(self.headers)
            if extra:
                response.headers.update(extra)
            response.content_type = "text/event-stream"
            response.charset = "utf-8"
            response.headers["cache-control"] = "no-cache"
            await response.prepare(self.request)
            self.response = response
        return self.response

    async def write(self, data: bytes) -> None:
        response = self.response or await self.prepare()
        if self._secrets and ERROR_EVENT in data:
            data = _redact(data, self._secrets)
        if data:
            await response.write(data)


_REDACTED_BYTES = REDACTED.encode()


def _redact(data: bytes, secrets: tuple[bytes, ...]) -> bytes:
    for secret in secrets:
        data = data.replace(secret, _REDACTED_BYTES)
    return data


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
    try:
        if downstream is None:
            return await request
        task = asyncio.ensure_future(request)
        try:
            while True:
                done, _ = await asyncio.wait((task,), timeout=ping_interval)
                if done:
                    return task.result()
                await downstream.write(PING)
        except BaseException:
            task.cancel()
            raise
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


class StreamAdapter(Protocol):
    @property
    def done(self) -> bool: ...
    @property
    def input_tokens(self) -> int | None: ...
    @property
    def output_tokens(self) -> int | None: ...

    def feed(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, error: AnthroxyError) -> bytes: ...


async def pump(
    upstream: aiohttp.ClientResponse,
    downstream: Downstream,
    adapter: StreamAdapter,
    *,
    ping_interval: float,
    read_timeout: float,
    provider: str,
) -> AnthroxyError | None:
    """Copy the upstream body through ``adapter`` to the client until it ends or fails; the
    failure that ended it (sent to the client as an ``error`` event), if the pump saw one."""
    content = upstream.content
    silent = 0.0
    try:
        while not adapter.done:
            try:
                async with asyncio.timeout(ping_interval):
                    data = await content.readany()
            except aiohttp.ServerTimeoutError as exc:
                raise timeout_error(provider, str(upstream.url), read_timeout) from exc
            except TimeoutError:
                silent += ping_interval
                if silent >= read_timeout:
                    raise timeout_error(provider, str(upstream.url), read_timeout) from None
                await downstream.write(PING)
                continue
            if not data:
                break
            silent = 0.0
            await downstream.write(adapter.feed(data))
        await downstream.write(adapter.finish())
    except AnthroxyError as err:
        await downstream.write(adapter.fail(err))
        return err
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        cut = connection_error(provider, str(upstream.url), f"connection lost mid-stream: {exc}")
        await downstream.write(adapter.fail(cut))
        return cut
    return None


def encode_error(error: AnthroxyError) -> bytes:
    data = json.dumps(error.to_event(), separators=(",", ":"))
    return f"event: error\ndata: {data}\n\n".encode()


class PassthroughAdapter:
    """An Anthropic upstream's stream: whole events forwarded, ``message_start`` rewritten."""

    def __init__(self, model: str | None, provider: str) -> None:
        self._stream = PassthroughStream(model)
        self._provider = provider

    @property
    def input_tokens(self) -> int | None:
        return self._stream.input_tokens

    @property
    def output_tokens(self) -> int | None:
        return self._stream.output_tokens

    @property
    def done(self) -> bool:
        return self._stream.finished

    def feed(self, data: bytes) -> bytes:
        return self._stream.feed(data)

    def finish(self) -> bytes:
        tail = self._stream.close()
        if self._stream.finished:
            return tail
        # A cut stream must not look complete: the open block stays open (claude-code.md).
        return tail + self.fail(
            UpstreamProtocolError(f"{self._provider}: the stream ended before message_stop")
        )

    def fail(self, error: AnthroxyError) -> bytes:
        self._stream.finished = True
        return encode_error(error)


class TranslatingAdapter:
    """A Chat Completions (or any SSE JSON) upstream stream through a core stream translator."""

    def __init__(self, translator: Any, provider: str) -> None:
        self._decoder = SSEDecoder()
        self._translator = translator
        self._provider = provider
        self.done = False
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None

    def feed(self, data: bytes) -> bytes:
        events: list[dict[str, Any]] = []
        try:
            for event in self._decoder.feed(data):
                if event.data == "[DONE]":
                    events += self._close()
                    break
                events += self._translator.feed(self._chunk(event.data))
        except AnthroxyError as err:
            # Whatever was translated before the failure still reaches the client first.
            self.done = True
            events += self._translator.fail(err)
        return self._write(events)

    def _chunk(self, data: str) -> Mapping[str, Any]:
        chunk = upstream_object(data, provider=self._provider, what="stream chunk")
        # OpenRouter reports failures after the 200 as a chunk with a top-level error
        # (protocols.md 2.5).
        if chunk.get("error") is not None and not chunk.get("choices"):
            raise error_from_payload(chunk, provider=self._provider)
        return chunk

    def _close(self) -> list[dict[str, Any]]:
        self.done = True
        events: list[dict[str, Any]] = self._translator.close()
        return events

    def finish(self) -> bytes:
        if self.done:
            return b""
        events: list[dict[str, Any]] = []
        for event in self._decoder.close():
            if event.data == "[DONE]":
                break
            events += self._translator.feed(self._chunk(event.data))
        return self._write(events + self._close())

    def fail(self, error: AnthroxyError) -> bytes:
        self.done = True
        return self._write(self._translator.fail(error))

    def _write(self, events: list[dict[str, Any]]) -> bytes:
        for event in events:
            if event.get("type") == "message_delta":
                usage = event.get("usage") or {}
                self.output_tokens = usage.get("output_tokens", self.output_tokens)
                self.input_tokens = usage.get("input_tokens", self.input_tokens)
        return b"".join(encode_event(event) for event in events)
