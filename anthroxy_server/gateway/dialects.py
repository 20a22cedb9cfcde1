"""The three upstream dialects, one table: what each sends and how it reads the answer.

``DIALECTS[provider.api](call)`` gives a ``Plan``: the endpoint path, the body (a mapping to
serialise, or the client's own bytes for a pass-through), the dialect's own headers, the stream
adapter that translates the upstream stream, and how a whole JSON reply (or, for an upstream that
only streams, a whole stream) becomes the client's message. The relay and the providers never ask
which dialect they carry.

* ``anthropic``: the body passes through with the model swapped (``anthroxy.passthrough``).
* ``chat``: the core translates to Chat Completions and back (``anthroxy.chat``).
* ``responses``: the core translates to the Responses API and back (``anthroxy.responses``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from anthroxy import chat, passthrough, responses
from anthroxy.context import ReplyContext
from anthroxy.messages.assemble import assemble_message
from anthroxy.messages.request import MessagesRequest
from anthroxy.sse import SSEDecoder
from anthroxy.upstream_errors import error_from_payload, upstream_object

from .call import Call, new_message_id
from .streaming import PassthroughAdapter, StreamAdapter, TranslatingAdapter
from .upstream import anthropic_headers, json_headers

Reply = Callable[[bytes], Mapping[str, Any] | bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """One request in its upstream's dialect, before a provider adds credentials."""

    path: str
    body: Mapping[str, Any] | bytes  # bytes: sent exactly as they are
    headers: Mapping[str, str]
    adapter: StreamAdapter
    reply: Reply  # a whole JSON reply -> the client's message
    fold: Reply | None = None  # a whole stream -> the client's message, where the core can


def anthropic_plan(call: Call) -> Plan:
    def reply(raw: bytes) -> Mapping[str, Any] | bytes:
        message = upstream_object(raw, provider=call.provider.id, what="the reply")
        if message.get("type") != "message":
            return raw
        return passthrough.rewrite_message(message, call.reply_model)

    return Plan(
        path="/v1/messages",
        body=passthrough.request_bytes(call.raw, call.body, call.route.model),
        headers=anthropic_headers(call.request.headers, call.provider),
        adapter=PassthroughAdapter(call.reply_model, call.provider.id),
        reply=reply,
    )


def _parsed(call: Call) -> MessagesRequest:
    assert call.parsed is not None  # the handler parses for every translating dialect
    return call.parsed


def chat_plan(call: Call) -> Plan:
    upstream_body, ctx = chat.to_request(
        _parsed(call), call.target, reply_model=call.reply_model, input_tokens=call.input_tokens
    )
    message_id = new_message_id()

    def reply(raw: bytes) -> Mapping[str, Any]:
        upstream = upstream_object(raw, provider=call.provider.id, what="the reply")
        return chat.from_response(upstream, ctx, message_id=message_id)

    adapter = TranslatingAdapter(chat.ChatStream(ctx, message_id=message_id), call.provider.id)
    return Plan("/chat/completions", upstream_body, json_headers(), adapter, reply)


def responses_plan(call: Call) -> Plan:
    upstream_body, ctx = responses.to_request(
        _parsed(call), call.target, reply_model=call.reply_model, input_tokens=call.input_tokens
    )
    message_id = new_message_id()
    provider = call.provider.id

    def reply(raw: bytes) -> Mapping[str, Any]:
        upstream = upstream_object(raw, provider=provider, what="the reply")
        return responses.from_response(upstream, ctx, message_id=message_id)

    def fold(raw: bytes) -> Mapping[str, Any]:
        return fold_responses_stream(raw, ctx, message_id=message_id, provider=provider)

    adapter = TranslatingAdapter(responses.ResponsesStream(ctx, message_id=message_id), provider)
    return Plan("/responses", upstream_body, json_headers(), adapter, reply, fold)


DIALECTS: Mapping[str, Callable[[Call], Plan]] = {
    "anthropic": anthropic_plan,
    "chat": chat_plan,
    "responses": responses_plan,
}


def fold_responses_stream(
    raw: bytes, ctx: ReplyContext, *, message_id: str, provider: str
) -> dict[str, Any]:
    """The Anthropic message a whole Responses SSE body describes; errors raised as such."""
    decoder = SSEDecoder()
    translator = responses.ResponsesStream(ctx, message_id=message_id)
    events: list[dict[str, Any]] = []
    for event in [*decoder.feed(raw), *decoder.close()]:
        payload = upstream_object(event.data, provider=provider, what="stream event")
        # Raised here rather than folded from the error event: this keeps the retry-after that
        # a usage_limit_reached carries (resets_in_seconds) for the client's HTTP reply.
        if payload.get("type") in ("error", "response.failed"):
            raise error_from_payload(payload, provider=provider)
        events += translator.feed(payload)
    events += translator.close()
    return assemble_message(events)
