"""The Anthropic message object, built in one place for every dialect (docs/protocol/anthropic.md
§8, §9)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..context import ReplyContext
from ..events import MessageStart


def message(
    ctx: ReplyContext,
    *,
    message_id: str,
    content: list[dict[str, Any]],
    stop_reason: str | None,
    stop_sequence: str | None,
    usage: Mapping[str, Any],
) -> dict[str, Any]:
    """A complete (non-streamed) assistant message answering the request behind ``ctx``."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": ctx.requested_model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def message_start(ctx: ReplyContext, *, message_id: str) -> MessageStart:
    """The ``message_start`` event: an empty message whose input usage is the request-side
    estimate; the stream's ``message_delta`` later carries the upstream's real numbers."""
    usage = {
        "input_tokens": ctx.input_tokens_estimate,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }
    start = message(
        ctx, message_id=message_id, content=[], stop_reason=None, stop_sequence=None, usage=usage
    )
    return MessageStart(start)
