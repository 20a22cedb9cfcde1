"""Anthropic stream events -> the final Anthropic message (what a non-streaming client gets).

Some upstreams only stream (the ChatGPT backend of the Responses API), and a translator's stream
output is the single source of truth for what the answer was, so the server can serve a
non-streaming request by translating the upstream stream and folding the resulting events here.
Works for the events of ANY stream (``anthroxy.events``: a translator's typed events, or the
``Raw`` bytes of a pass-through, decoded here) and for the decoded payloads of a real Anthropic
stream.

Folding follows the SSE grammar of docs/protocol/anthropic.md §9: ``message_start`` gives the
message,
``content_block_start`` appends a block, deltas extend it (``input_json_delta`` fragments are
concatenated and parsed once the answer is complete; empty means ``{}``), ``message_delta``
sets the stop reason and overwrites the usage counts it carries (they are cumulative).
An ``Error`` event raises the error it carries (its status and retry-after intact); an ``error``
payload raises an AnthroxyError built from it; a stream without ``message_stop`` raises
UpstreamProtocolError. The events are not mutated.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import AnthroxyError, UpstreamError, UpstreamProtocolError
from ..events import Error, Event, Raw
from ..upstream_errors import TYPE_STATUS, upstream_object

# delta type -> (block field it extends, delta field holding the piece)
TEXT_DELTAS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
}


def assemble_message(events: Iterable[Event | Mapping[str, Any]]) -> dict[str, Any]:
    """The message a complete event sequence describes."""
    message: dict[str, Any] | None = None
    partial_json: dict[int, str] = {}
    stopped = False
    for event in _payloads(events):
        kind = event.get("type")
        if kind == "error":
            raise _error(event)
        if kind == "message_start":
            message = copy.deepcopy(dict(event["message"]))
            continue
        if message is None:
            if kind == "ping":
                continue
            raise UpstreamProtocolError(f"stream event {kind!r} before message_start")
        if kind == "content_block_start":
            message["content"].append(copy.deepcopy(dict(event["content_block"])))
        elif kind == "content_block_delta":
            _apply_delta(
                message["content"][event["index"]], event["delta"], event["index"], partial_json
            )
        elif kind == "message_delta":
            message.update(event["delta"])
            message["usage"].update(
                {k: v for k, v in event.get("usage", {}).items() if v is not None}
            )
        elif kind == "message_stop":
            stopped = True
    if message is None or not stopped:
        raise UpstreamProtocolError("the stream ended before message_stop")
    _parse_tool_inputs(message, partial_json)
    return message


def _payloads(events: Iterable[Event | Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Each event's payload; an ``Error`` event raises its error, ``Raw`` bytes are decoded."""
    for event in events:
        if isinstance(event, Mapping):
            yield event
        elif isinstance(event, Error):
            raise event.error
        elif isinstance(event, Raw):
            for sse in event.sse_events():
                yield upstream_object(sse.data, provider="pass-through", what="stream event")
        else:
            yield event.payload()


def _apply_delta(
    block: dict[str, Any], delta: Mapping[str, Any], index: int, partial_json: dict[int, str]
) -> None:
    kind = delta.get("type")
    if kind in TEXT_DELTAS:
        field, piece = TEXT_DELTAS[kind]
        block[field] = block.get(field, "") + delta[piece]
    elif kind == "input_json_delta":
        partial_json[index] = partial_json.get(index, "") + delta["partial_json"]
    elif kind == "signature_delta":
        block["signature"] = delta["signature"]
    elif kind == "citations_delta":
        block.setdefault("citations", []).append(copy.deepcopy(delta["citation"]))


def _parse_tool_inputs(message: dict[str, Any], partial_json: dict[int, str]) -> None:
    for index, raw in partial_json.items():
        if not raw:
            continue  # a tool without arguments streams only "" (docs/protocol/anthropic.md §9.4)
        try:
            message["content"][index]["input"] = json.loads(raw)
        except ValueError:
            # Cut by max_tokens mid-input the JSON is incomplete; the block keeps its {} input.
            if message.get("stop_reason") != "max_tokens":
                raise UpstreamProtocolError(
                    f"tool input of content block {index} is not valid JSON"
                ) from None


def _error(event: Mapping[str, Any]) -> AnthroxyError:
    error = event.get("error")
    fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    error_type = fields.get("type")
    error_type = error_type if isinstance(error_type, str) else "api_error"
    message = fields.get("message")
    message = message if isinstance(message, str) else "the stream reported an error"
    return UpstreamError(message, status=TYPE_STATUS.get(error_type, 500), error_type=error_type)
