"""The three upstream dialects, one table: what each sends and how it reads the answer.

``DIALECTS[provider.api](call)`` gives a ``Plan``: the endpoint path, the body (a mapping to
serialise, or the client's own bytes for a pass-through), the dialect's own headers, the stream
adapter that translates the upstream stream, and how a whole JSON reply (or, for an upstream that
only streams, a whole stream) becomes the client's message. The relay and the providers never ask
which dialect they carry.

* ``anthropic``: the body passes through with the model swapped and the provider's cleaner
  applied; reply signatures are marked with the provider's family (``anthroxy.passthrough``,
  ``anthroxy.cleaning``).
* ``chat``: the core translates to Chat Completions and back (``anthroxy.chat``).
* ``responses``: the core translates to the Responses API and back (``anthroxy.responses``).

``Call.cleaner`` applies to the translated bodies too: there it holds only the fields configured
in ``drop_fields`` or learned from the provider's refusals, named in its dialect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from anthroxy import chat, cleaning, passthrough, responses
from anthroxy.chat import stream as chat_stream
from anthroxy.cleaning.signatures import marks_for
from anthroxy.messages.assemble import assemble_message
from anthroxy.messages.request import MessagesRequest
from anthroxy.responses import stream as responses_stream
from anthroxy.streams import EventStream
from anthroxy.upstream_errors import upstream_object

from .. import speedups
from .call import Call, new_message_id
from .upstream import anthropic_headers, json_headers

Reply = Callable[[bytes], Mapping[str, Any] | bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """One request in its upstream's dialect, before a provider adds credentials."""

    path: str
    body: Mapping[str, Any] | bytes  # bytes: sent exactly as they are
    headers: Mapping[str, str]
    stream: EventStream[bytes]  # the upstream's stream bytes -> Anthropic events
    reply: Reply  # a whole JSON reply -> the client's message
    fold: Reply | None = None  # a whole stream -> the client's message, where the core can


def anthropic_plan(call: Call) -> Plan:
    marks = marks_for(call.cleaner)

    def reply(raw: bytes) -> Mapping[str, Any] | bytes:
        message = upstream_object(raw, provider=call.provider.id, what="the reply")
        if message.get("type") != "message":
            return raw
        return passthrough.rewrite_message(message, call.reply_model, marks)

    return Plan(
        path="/v1/messages",
        body=passthrough.request_bytes(call.raw, call.body, call.route.model, call.cleaner),
        headers=anthropic_headers(call.request.headers, call.provider),
        stream=passthrough.PassthroughStream(
            call.reply_model, provider=call.provider.id, marks=marks
        ),
        reply=reply,
    )


def _parsed(call: Call) -> MessagesRequest:
    assert call.parsed is not None  # the handler parses for every translating dialect
    return call.parsed


def chat_plan(call: Call) -> Plan:
    upstream_body, ctx = chat.to_request(
        _parsed(call), call.target, reply_model=call.reply_model, input_tokens=call.input_tokens
    )
    upstream_body = cleaning.apply(call.cleaner, upstream_body)
    message_id = new_message_id()

    def reply(raw: bytes) -> Mapping[str, Any]:
        upstream = upstream_object(raw, provider=call.provider.id, what="the reply")
        return chat.from_response(upstream, ctx, message_id=message_id)

    def fold(raw: bytes) -> Mapping[str, Any]:
        return fold_stream(chat_stream.sse_stream(ctx, message_id=message_id), raw)

    stream = chat_stream.sse_stream(ctx, message_id=message_id, loads=speedups.json_loads())
    return Plan("/chat/completions", upstream_body, json_headers(), stream, reply, fold)


def responses_plan(call: Call) -> Plan:
    upstream_body, ctx = responses.to_request(
        _parsed(call), call.target, reply_model=call.reply_model, input_tokens=call.input_tokens
    )
    upstream_body = cleaning.apply(call.cleaner, upstream_body)
    message_id = new_message_id()
    provider = call.provider.id

    def reply(raw: bytes) -> Mapping[str, Any]:
        upstream = upstream_object(raw, provider=provider, what="the reply")
        return responses.from_response(upstream, ctx, message_id=message_id)

    def fold(raw: bytes) -> Mapping[str, Any]:
        return fold_stream(responses_stream.sse_stream(ctx, message_id=message_id), raw)

    loads = speedups.json_loads()
    stream = responses_stream.sse_stream(ctx, message_id=message_id, loads=loads)
    return Plan("/responses", upstream_body, json_headers(), stream, reply, fold)


DIALECTS: Mapping[str, Callable[[Call], Plan]] = {
    "anthropic": anthropic_plan,
    "chat": chat_plan,
    "responses": responses_plan,
}


def fold_stream(stream: EventStream[bytes], raw: bytes) -> dict[str, Any]:
    """The Anthropic message a whole upstream stream describes, for a client that asked for JSON
    from a backend that only streams. An in-stream failure is raised as the error its ``error``
    event carries, so a usage limit's retry-after reaches the client's HTTP reply."""
    return assemble_message(stream.feed(raw) + stream.close())
