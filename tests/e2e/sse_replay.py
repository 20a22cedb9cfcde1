"""Serve a list of named events as an SSE body, optionally dropping the connection after them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

# How long a cut stream's text stays in flight before the connection drops: long enough for the
# gateway to have forwarded it, so the cut is one in the middle of an answer the client sees.
CUT_AFTER = 0.2


async def replay(
    request: web.Request, events: list[dict[str, Any]], *, cut: bool = False
) -> web.StreamResponse:
    """``event: <type>`` + ``data: <json>`` per event, written one by one as a model streams."""
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for event in events:
        await response.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
    if cut:
        # A worker that crashes while generating: the client already holds the first words.
        await asyncio.sleep(CUT_AFTER)
        assert request.transport is not None
        request.transport.close()  # flushes what was written, then drops the connection
    return response
