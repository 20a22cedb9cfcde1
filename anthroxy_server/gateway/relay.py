"""One ``/v1/messages`` call relayed to its provider.

``relay_messages(call)``: the dialect's plan (``dialects.DIALECTS``, keyed by ``provider.api``)
says what to send and how to read the answer; the provider's access (``providers.access_for``)
adds credentials and the endpoint, and may recover from a 401 once. The relay itself knows
neither dialects nor providers.

Until the client's stream got its first event a failure is raised: the fallback chain moves on,
or it becomes the client's error (JSON, or an ``error`` event after pings, by the handler). After
that it is an SSE ``error`` event, reported in ``Relayed.failure``. The upstream response is
released when read to the end and closed at once otherwise (client gone, error, cancellation).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from anthroxy.errors import AnthroxyError
from anthroxy.events import Usage
from anthroxy.streams import EventStream
from anthroxy.upstream_errors import connection_error, reply_too_large, timeout_error

from ..providers import (
    Access,
    Outgoing,
    Reissuing,
    Rotating,
    access_for,
    dialect_for,
    with_decoded_stream,
)
from ..providers.base import ROTATE_STATUSES, Observing
from . import bodylog, learned
from .call import Call, Relayed
from .dialects import DIALECTS, Plan
from .live import settings_of
from .logs import LOGGER_NAME
from .loop import next_hop
from .streaming import Downstream, open_upstream, pump
from .upstream import ReplyTooLarge, copied_headers, read_capped

_COMPACT = (",", ":")
log = logging.getLogger(LOGGER_NAME)


async def relay_messages(call: Call) -> Relayed:
    plan = DIALECTS[await dialect_for(call)](call)
    access = access_for(call)
    downstream = call.downstream
    try:
        # A field the provider refuses by name is left out and the request sent once more.
        plan, upstream = await learned.open_learning(call, plan, access, downstream, _open)
    except AnthroxyError as err:
        return await _fail(downstream, plan.stream, err)
    plan = with_decoded_stream(access, plan)  # e.g. Bedrock's event stream -> SSE
    complete = False
    try:
        if upstream.status != 200:
            body = await _read_all(call, upstream)
            complete = True
            raise access.error(upstream.status, body, upstream.headers)
        extra = copied_headers(upstream.headers)
        if downstream is None:
            reply = plan.fold if access.streams_only and plan.fold is not None else plan.reply
            message = reply(await _read_all(call, upstream))
            complete = True
            return Relayed(_json_reply(call, message, extra))
        failure = await _stream(call, upstream, downstream, plan, extra)
        complete = True  # release() itself drops the connection if the body was not all read
        assert downstream.response is not None
        return Relayed(downstream.response, failure)
    except AnthroxyError as err:
        return await _fail(downstream, plan.stream, err)
    finally:
        if complete:
            upstream.release()
        else:
            # Client gone, error or cancellation: drop the upstream connection now so the
            # provider stops generating (and billing) at once.
            upstream.close()


async def _stream(
    call: Call,
    upstream: aiohttp.ClientResponse,
    downstream: Downstream,
    plan: Plan,
    extra: Mapping[str, str],
) -> AnthroxyError | None:
    # The 200 goes out with the first event (or ping): until then a failure may still become an
    # HTTP error, or the next target's answer. The upstream's rate-limit headers ride with it.
    downstream.use_upstream_headers(extra)
    failure = await pump(
        upstream,
        downstream,
        plan.stream,
        ping_interval=call.ping_interval,
        read_timeout=call.provider.read_timeout,
        provider=call.provider.id,
    )
    usage = plan.stream.usage
    call.access.input_tokens = usage.input_tokens
    call.access.output_tokens = usage.output_tokens
    call.access.cache_read_tokens = usage.cache_read_tokens
    call.access.cache_write_tokens = usage.cache_write_tokens
    call.access.first_output = downstream.first_output
    return failure


async def _read_all(call: Call, upstream: aiohttp.ClientResponse) -> bytes:
    """The whole upstream body; a stall or cut while reading it is a gateway error, like one
    before the headers (and so also a reason to fall back)."""
    url = str(upstream.url)
    limit = settings_of(call.request).config.server.max_reply_bytes
    try:
        return await read_capped(upstream, limit)
    except ReplyTooLarge as exc:
        raise reply_too_large(call.provider.id, url, limit) from exc
    except aiohttp.ServerTimeoutError as exc:
        raise timeout_error(call.provider.id, url, call.provider.read_timeout) from exc
    except (aiohttp.ClientError, OSError) as exc:
        reason = f"connection lost while reading the reply: {str(exc) or type(exc).__name__}"
        raise connection_error(call.provider.id, url, reason) from exc


async def _open(
    call: Call, outgoing: Outgoing, access: Access, downstream: Downstream | None
) -> aiohttp.ClientResponse:
    """The upstream response. An answer that concerns one credential (``ROTATE_STATUSES``) is
    sent again at once with another one when the access holds several; a 401 is retried with
    the headers the access gives, if any."""
    hop = next_hop(call.request.headers)  # the loop marker (gateway/loop.py)
    headers = {**outgoing.headers, **hop}
    limit = settings_of(call.request).config.server.max_reply_bytes
    while True:
        upstream = await open_upstream(
            call.session,
            outgoing.url,
            data=outgoing.data,
            headers=headers,
            provider=call.provider.id,
            downstream=downstream,
            ping_interval=call.ping_interval,
        )
        status = upstream.status
        if isinstance(access, Observing):
            access.observe(status, upstream.headers)
        if isinstance(access, Reissuing) and status in ROTATE_STATUSES:
            body = await _drain(upstream, limit)
            again = await access.reissue(status, body, upstream.headers)
            if again is None:
                raise access.error(status, body, upstream.headers)
            outgoing, headers = again, {**again.headers, **hop}  # another account's URL too
            continue
        rotator = access if isinstance(access, Rotating) and status in ROTATE_STATUSES else None
        if status != 401 and rotator is None:
            return upstream
        body = await _drain(upstream, limit)
        retry = rotator.rotate(status, body, upstream.headers) if rotator is not None else None
        if retry is None and status == 401:
            retry = await access.reauthenticate(body)
        if retry is None:
            raise access.error(status, body, upstream.headers)
        headers = {**retry, **hop}


async def _drain(upstream: aiohttp.ClientResponse, limit: int) -> bytes:
    """A refusal's body (empty if it cannot be read or passes ``limit``); the connection goes
    back to the pool."""
    try:
        return await read_capped(upstream, limit)
    except (aiohttp.ClientError, ReplyTooLarge):
        return b""
    finally:
        upstream.release()


async def _fail(
    downstream: Downstream | None, stream: EventStream[bytes], err: AnthroxyError
) -> Relayed:
    """Before the client's stream got its first event, ``err`` is raised (the next fallback, or
    the final error: JSON, or an ``error`` event after pings); after it, ``err`` goes out as an
    SSE ``error`` event and is reported."""
    if downstream is None or not downstream.started:
        raise err
    await downstream.send(stream.fail(err))
    assert downstream.response is not None
    return Relayed(downstream.response, err)


def _json_reply(
    call: Call, message: Mapping[str, Any] | bytes, extra: Mapping[str, str]
) -> web.Response:
    bodylog.log_reply(call.request, 200, message)
    if isinstance(message, Mapping):
        usage = message.get("usage")
        if isinstance(usage, Mapping):
            counts = Usage.of(usage)
            call.access.input_tokens = counts.input_tokens
            call.access.output_tokens = counts.output_tokens
            call.access.cache_read_tokens = counts.cache_read_tokens
            call.access.cache_write_tokens = counts.cache_write_tokens
        message = json.dumps(message, separators=_COMPACT).encode()
    call.access.first_output = time.perf_counter()  # a JSON reply's first token is all of it
    response = web.Response(body=message, content_type="application/json")
    response.headers.update(extra)
    return response
