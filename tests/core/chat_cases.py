"""Helpers shared by the Chat Completions reply tests: contexts from ``context.json`` files,
SSE files decoded into upstream chunks, and the translator driven over them (typed events, or
their payloads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anthroxy.chat.stream import ChatStream
from anthroxy.context import ReplyContext
from anthroxy.events import Event
from anthroxy.profile import Target
from anthroxy.sse import SSEDecoder
from anthroxy.toolnames import ToolNames

TESTS = Path(__file__).resolve().parents[1]
RECORDED = TESTS / "fixtures" / "recorded"
GOLDEN = TESTS / "golden"


def make_context(spec: dict[str, Any]) -> ReplyContext:
    """A ReplyContext from a context.json object (only requested_model is required)."""
    target = Target(provider=spec.get("provider", "mock"), model=spec.get("model", "upstream"))
    names = ToolNames(
        spec.get("tools", []),
        max_length=spec.get("tool_name_max", 64),
        must_start_alpha=spec.get("tool_name_must_start_alpha", False),
    )
    return ReplyContext(
        requested_model=spec["requested_model"],
        target=target,
        tool_names=names,
        stop_sequences=tuple(spec.get("stop_sequences", ())),
        thinking=spec.get("thinking", False),
        input_tokens_estimate=spec.get("input_tokens_estimate", 0),
    )


def upstream_chunks(data: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The JSON chunks of a Chat Completions SSE body, and whether it ended with [DONE]."""
    decoder = SSEDecoder()
    events = decoder.feed(data) + decoder.close()
    chunks, done = [], False
    for event in events:
        if event.data == "[DONE]":
            done = True
            break
        chunks.append(json.loads(event.data))
    return chunks, done


def translate_events(ctx: ReplyContext, chunks: list[dict[str, Any]], message_id: str) -> list:
    """Every event ChatStream emits for ``chunks`` followed by close()."""
    stream = ChatStream(ctx, message_id=message_id)
    events: list[Event] = []
    for chunk in chunks:
        events += stream.feed(chunk)
    return events + stream.close()


def translate(ctx: ReplyContext, chunks: list[dict[str, Any]], message_id: str) -> list[dict]:
    """The payloads of ``translate_events``."""
    return payloads(translate_events(ctx, chunks, message_id))


def payloads(events: list[Any]) -> list[dict[str, Any]]:
    """The JSON payloads of typed events (what the client decodes from each SSE event)."""
    return [event.payload() for event in events]
