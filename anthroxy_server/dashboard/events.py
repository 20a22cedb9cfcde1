"""``GET /ui/api/events``: each recorded request as it finishes, as server-sent events.

A ``: keep-alive`` comment every ``KEEP_ALIVE`` seconds keeps proxies and the browser from
closing a quiet stream. The server's shutdown ends every stream (``close_listeners`` on
``on_shutdown``), so stopping the proxy never waits for an open dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from anthroxy.errors import AnthroxyError

from .access import NO_STORE
from .recent import MAX_LISTENERS, RECENT, Entry
from .summary import summary_json

KEEP_ALIVE = 15.0


async def events(request: web.Request) -> web.StreamResponse:
    recent = request.app[RECENT]
    queue = recent.listen()
    if queue is None:
        raise AnthroxyError(
            f"the dashboard already has {MAX_LISTENERS} live listeners; close another tab "
            "showing it, or refresh the request list instead",
            status=429,
            error_type="rate_limit_error",
            should_retry=False,
        )
    try:
        response = web.StreamResponse(headers={**NO_STORE, "X-Accel-Buffering": "no"})
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        await response.prepare(request)
        # A tab that closed: nobody is left to tell, and nothing went wrong.
        with contextlib.suppress(ConnectionResetError):
            await _relay(queue, response)
        return response
    finally:
        recent.listeners.discard(queue)


async def _relay(queue: asyncio.Queue[Entry | None], response: web.StreamResponse) -> None:
    """Write each finished request to ``response`` until the server stops."""
    await response.write(b": connected\n\n")
    while True:
        try:
            entry = await asyncio.wait_for(queue.get(), KEEP_ALIVE)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        if entry is None:  # the server is stopping
            break
        await response.write(b"event: request\ndata: " + summary_json(entry) + b"\n\n")
    await response.write_eof()


async def end_streams(app: web.Application) -> None:
    """``on_shutdown``: every live stream ends now."""
    recent = app.get(RECENT)
    if recent is not None:
        recent.close_listeners()
