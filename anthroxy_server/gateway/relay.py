"""One ``/v1/messages`` call relayed to its provider, in the provider's dialect.

``anthropic``: the body passes through with the model swapped (``anthroxy.passthrough``).
``chat``: the core translates to Chat Completions and back (``anthroxy.chat*``).
``responses``: the core translates to the Responses API and back (``anthroxy.responses*``);
a provider with ``auth = "codex"`` (the ChatGPT subscription) goes through ``chatgpt``: Codex
credentials, a backend-shaped body, always streamed upstream, and a 401 recovery (re-read the
login file, then refresh it) before the error reaches the client.

Before the upstream's first byte a failure is an ordinary JSON error (the middleware renders it);
once the client's stream is open it becomes an SSE ``error`` event. The upstream response is
released when read to the end and closed at once otherwise (client gone, error, cancellation).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from anthroxy import passthrough
from anthroxy.chat import reply as chat_response
from anthroxy.chat import request as chat
from anthroxy.chat import stream as chat_stream
from anthroxy.context import ReplyContext
from anthroxy.errors import AnthroxyError
from anthroxy.profile import Target
from anthroxy.responses import reply as responses_response
from anthroxy.responses import request as responses
from anthroxy.responses import stream as responses_stream
from anthroxy.routing import capabilities
from anthroxy.routing.table import Route
from anthroxy.streams import EventStream
from anthroxy.upstream_errors import (
    connection_error,
    error_from_upstream,
    timeout_error,
    upstream_object,
)

from ..providers import chatgpt
from ..providers.codex_auth import CodexTokens
from .state import SESSIONS, SETTINGS, AccessInfo
from .streaming import Downstream, open_upstream, pump
from .upstream import anthropic_headers, chat_headers, copied_headers, join_url, responses_headers

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider

_COMPACT = (",", ":")


@dataclasses.dataclass(slots=True)
class Call:
    """Everything one relayed request needs."""

    request: web.Request
    raw: bytes
    body: Mapping[str, Any]
    route: Route
    provider: ResolvedProvider
    access: AccessInfo
    request_id: str
    # The target's limits as the handler fitted the request to them (config overrides applied).
    limits: capabilities.ModelLimits | None = None
    # The handler's exact input estimate when it had to compute one; else None.
    input_estimate: int | None = None

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.request.app[SESSIONS][self.provider.id]

    @property
    def ping_interval(self) -> float:
        return self.request.app[SETTINGS].config.server.ping_interval

    @property
    def reply_model(self) -> str:
        """The model name replies report: the client's (default), else the upstream's under
        the name ``routing.response_names`` gives it, if any."""
        routing = self.request.app[SETTINGS].config.routing
        if routing.rewrite_response_model:
            return self.route.requested_model
        return routing.response_names.get(self.route.model, self.route.model)


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


async def relay_messages(call: Call) -> web.StreamResponse:
    api = call.provider.api
    if api == "anthropic":
        return await _relay_anthropic(call)
    if api == "chat":
        return await _relay_chat(call)
    if call.provider.auth == "codex":
        return await _relay_chatgpt(call)
    return await _relay_responses(call)


def _input_estimate(call: Call) -> int:
    """The input tokens ``message_start`` shows before the upstream reports its own count.

    Only a preview: the final ``message_delta`` carries the upstream's real usage. The exact
    local estimate costs ~1 ms on a large Claude Code body, so it is used only when the handler
    already paid for it; otherwise about four bytes of request JSON per token.
    """
    if call.input_estimate is not None:
        return call.input_estimate
    return len(call.raw) // 4


def build_target(
    route: Route, provider: ResolvedProvider, limits: capabilities.ModelLimits | None = None
) -> Target:
    limits = limits or capabilities.lookup(route.model)
    return Target(
        provider=provider.id,
        model=route.model,
        profile=provider.profile,
        max_output_tokens=limits.max_output_tokens,
        context_window=limits.context_window,
    )


async def _relay_anthropic(call: Call) -> web.StreamResponse:
    data = passthrough.request_bytes(call.raw, call.body, call.route.model)
    headers = anthropic_headers(call.request.headers, call.provider)
    stream = passthrough.PassthroughStream(call.reply_model, provider=call.provider.id)
    return await _exchange(call, "/v1/messages", data, headers, stream, _anthropic_reply)


def _anthropic_reply(call: Call, raw: bytes) -> Mapping[str, Any] | bytes:
    message = _parse_json(raw, call.provider.id)
    if message.get("type") != "message":
        return raw
    return passthrough.rewrite_message(message, call.reply_model)


async def _relay_chat(call: Call) -> web.StreamResponse:
    target = build_target(call.route, call.provider, call.limits)
    upstream_body, ctx = chat.to_request(call.body, target)
    ctx = dataclasses.replace(
        ctx, requested_model=call.reply_model, input_tokens_estimate=_input_estimate(call)
    )
    message_id = new_message_id()
    data = json.dumps(upstream_body, separators=_COMPACT).encode()
    stream = chat_stream.sse_stream(ctx, message_id=message_id)

    def reply(call: Call, raw: bytes) -> Mapping[str, Any]:
        return chat_response.from_response(
            _parse_json(raw, call.provider.id), ctx, message_id=message_id
        )

    headers = chat_headers(call.provider)
    return await _exchange(call, "/chat/completions", data, headers, stream, reply)


def _responses_request(
    call: Call,
) -> tuple[dict[str, Any], ReplyContext, str, EventStream[bytes]]:
    """The Responses body, its reply context, the message id and the stream translator."""
    target = build_target(call.route, call.provider, call.limits)
    upstream_body, ctx = responses.to_request(call.body, target)
    ctx = dataclasses.replace(
        ctx, requested_model=call.reply_model, input_tokens_estimate=_input_estimate(call)
    )
    message_id = new_message_id()
    stream = responses_stream.sse_stream(ctx, message_id=message_id)
    return upstream_body, ctx, message_id, stream


async def _relay_responses(call: Call) -> web.StreamResponse:
    # A Responses stream has no [DONE] and names its event inside the payload (``type``);
    # ResponsesStream ends on the terminal event and reports a body that ends before one as an
    # error.
    upstream_body, ctx, message_id, stream = _responses_request(call)
    data = json.dumps(upstream_body, separators=_COMPACT).encode()

    def reply(call: Call, raw: bytes) -> Mapping[str, Any]:
        upstream = _parse_json(raw, call.provider.id)
        return responses_response.from_response(upstream, ctx, message_id=message_id)

    headers = responses_headers(call.provider)
    return await _exchange(call, "/responses", data, headers, stream, reply)


async def _relay_chatgpt(call: Call) -> web.StreamResponse:
    upstream_body, ctx, message_id, stream = _responses_request(call)
    key = chatgpt.conversation_key(call.request.headers, call.body)
    data = json.dumps(chatgpt.backend_body(upstream_body, key), separators=_COMPACT).encode()
    credentials = chatgpt.credentials_for(call.request.app, call.provider)
    tokens = await credentials.current(call.session)

    def make_headers(tokens: CodexTokens) -> dict[str, str]:
        return chatgpt.backend_headers(call.provider, tokens, key)

    def reply(call: Call, raw: bytes) -> Mapping[str, Any]:
        # The backend always streams: fold the stream for a client that asked for JSON.
        return chatgpt.assemble_reply(raw, ctx, message_id=message_id)

    recovery = chatgpt.Recovery(credentials, call.session, tokens, make_headers)
    headers = make_headers(tokens)
    return await _exchange(call, "/responses", data, headers, stream, reply, recover=recovery.next)


async def _exchange(
    call: Call,
    path: str,
    data: bytes,
    headers: Mapping[str, str],
    stream: EventStream[bytes],
    reply: Any,
    *,
    recover: chatgpt.RecoverStep | None = None,
) -> web.StreamResponse:
    """POST upstream, then answer with JSON or relay the stream.

    ``recover``: called with the body of a 401; returns headers to retry with, or raises.
    """
    url = join_url(call.provider.base_url, path)
    downstream = Downstream(call.request, {"request-id": call.request_id}) if call.stream else None
    ping = call.ping_interval
    try:
        upstream = await _open(call, url, data, headers, downstream, recover)
    except AnthroxyError as err:
        return await _fail(downstream, stream, err)
    complete = False
    try:
        if upstream.status != 200:
            try:
                body = await _read_all(call, upstream)
            except AnthroxyError as err:
                return await _fail(downstream, stream, err)
            refusal = error_from_upstream(
                upstream.status, body, provider=call.provider.id, headers=upstream.headers
            )
            complete = True
            return await _fail(downstream, stream, refusal)
        extra = copied_headers(upstream.headers)
        if downstream is None:
            message = reply(call, await _read_all(call, upstream))
            complete = True
            return _json_reply(call, message, extra)
        await downstream.prepare(extra)
        await pump(
            upstream,
            downstream,
            stream,
            ping_interval=ping,
            read_timeout=call.provider.read_timeout,
            provider=call.provider.id,
        )
        call.access.input_tokens = stream.usage.input_tokens
        call.access.output_tokens = stream.usage.output_tokens
        # release() itself drops the connection if the body was not read to its end.
        complete = True
        assert downstream.response is not None
        return downstream.response
    finally:
        if complete:
            upstream.release()
        else:
            # Client gone, error or cancellation: drop the upstream connection now so the
            # provider stops generating (and billing) at once.
            upstream.close()


async def _read_all(call: Call, upstream: aiohttp.ClientResponse) -> bytes:
    """The whole upstream body; a stall or cut while reading it is a gateway error, like one
    before the headers (and so also a reason to fall back)."""
    url = str(upstream.url)
    try:
        return await upstream.read()
    except aiohttp.ServerTimeoutError as exc:
        raise timeout_error(call.provider.id, url, call.provider.read_timeout) from exc
    except (aiohttp.ClientError, OSError) as exc:
        reason = f"connection lost while reading the reply: {str(exc) or type(exc).__name__}"
        raise connection_error(call.provider.id, url, reason) from exc


async def _open(
    call: Call,
    url: str,
    data: bytes,
    headers: Mapping[str, str],
    downstream: Downstream | None,
    recover: chatgpt.RecoverStep | None,
) -> aiohttp.ClientResponse:
    """The upstream response; with ``recover``, a 401 is retried with the headers it gives."""
    while True:
        upstream = await open_upstream(
            call.session,
            url,
            data=data,
            headers=headers,
            provider=call.provider.id,
            downstream=downstream,
            ping_interval=call.ping_interval,
        )
        if upstream.status != 401 or recover is None:
            return upstream
        try:
            body = await upstream.read()
        except aiohttp.ClientError:
            body = b""
        finally:
            upstream.release()
        headers = await recover(body)


async def _fail(
    downstream: Downstream | None, stream: EventStream[bytes], err: AnthroxyError
) -> web.StreamResponse:
    if downstream is None or not downstream.prepared:
        raise err
    await downstream.send(stream.fail(err))
    assert downstream.response is not None
    return downstream.response


def _json_reply(
    call: Call, message: Mapping[str, Any] | bytes, extra: Mapping[str, str]
) -> web.Response:
    if isinstance(message, Mapping):
        usage = message.get("usage")
        if isinstance(usage, Mapping):
            call.access.input_tokens = usage.get("input_tokens")
            call.access.output_tokens = usage.get("output_tokens")
        message = json.dumps(message, separators=_COMPACT).encode()
    response = web.Response(body=message, content_type="application/json")
    response.headers.update(extra)
    return response


def _parse_json(raw: bytes, provider: str) -> dict[str, Any]:
    return upstream_object(raw, provider=provider, what="the reply")
