"""OpenAI Responses API response object -> Anthropic message (docs/protocol/responses.md §4,
translation-rules.md §4-§6).

``from_response(upstream, ctx, message_id=...)`` maps a complete response object (the JSON of a
non-streaming call, or the ``response`` of a ``response.completed`` event) to an Anthropic message
dict. The pieces the stream translator shares live here too: the stop-reason tables, the usage
mapping, reasoning signatures and the stop-sequence matcher.

Output items, in order:
* ``reasoning`` -> ``thinking`` whose text is the summary parts joined with a blank line (or the
  raw ``reasoning_text`` content of open models when there is no summary), signed with anthroxy's
  signature holding ``{"enc": encrypted_content, "rid": id}`` so the next request can replay it;
  with no readable text but something to replay -> ``redacted_thinking`` whose ``data`` is that
  signature (docs/protocol/translation-rules.md §5.2). Nothing to show and nothing to replay -> no
  block.
* ``message`` -> one ``text`` block per non-empty ``output_text`` part; a ``refusal`` part -> a
  text block with the refusal and ``stop_reason: "refusal"``.
* ``function_call`` -> ``tool_use`` with the id minted from ``call_id`` (ToolIdMinter) and the
  client's original tool name.
* built-in tool items (``web_search_call``, ...) -> nothing; their result is in the message text.

``stop_sequences`` (not sent upstream, see ``responses``): the text is cut at the stop string that
completes first, later blocks are dropped and ``stop_reason`` is ``stop_sequence``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .. import signature
from ..context import ReplyContext
from ..errors import AnthroxyError, UpstreamProtocolError
from ..ids import ToolIdMinter
from ..messages.message import message
from ..upstream_errors import error_from_payload

# docs/protocol/translation-rules.md §4: ``incomplete_details.reason`` -> Anthropic stop_reason.
INCOMPLETE_STOP = {"max_output_tokens": "max_tokens", "content_filter": "refusal"}
# An incomplete response with an unknown reason was still cut short: report it as max_tokens.
INCOMPLETE_DEFAULT_STOP = "max_tokens"
# Blank line between summary parts of one reasoning item (docs/protocol/translation-rules.md §9 item
# 8).
SUMMARY_JOIN = "\n\n"


def from_response(
    upstream: Mapping[str, Any], ctx: ReplyContext, *, message_id: str
) -> dict[str, Any]:
    """Translate one Responses API response object into an Anthropic message."""
    if not isinstance(upstream, Mapping):
        raise UpstreamProtocolError("the upstream response is not a JSON object")
    status = upstream.get("status")
    if status == "failed":
        raise failed_error(upstream, ctx)
    if status not in ("completed", "incomplete"):
        raise UpstreamProtocolError(f"unexpected Responses API status {status!r}")
    output = upstream.get("output")
    if not isinstance(output, list):
        raise UpstreamProtocolError("the upstream response has no 'output' array")
    builder = _ContentBuilder(ctx, message_id, complete=status == "completed")
    for i, item in enumerate(output):
        builder.add(item, i)
    content, matched = cut_at_stop(builder.content, ctx.stop_sequences)
    if matched is not None:
        stop_reason = "stop_sequence"
    elif status == "incomplete":
        stop_reason = incomplete_stop(upstream)
    else:
        stop_reason = builder.stop_reason()
    return message(
        ctx,
        message_id=message_id,
        content=content,
        stop_reason=stop_reason,
        stop_sequence=matched,
        usage=usage(upstream.get("usage")),
    )


def failed_error(response: Mapping[str, Any], ctx: ReplyContext) -> AnthroxyError:
    """The error for a ``status: "failed"`` response (its ``error: {code, message}``)."""
    return error_from_payload({"response": response}, provider=ctx.target.provider)


def incomplete_stop(response: Mapping[str, Any]) -> str:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    return (
        INCOMPLETE_STOP.get(reason, INCOMPLETE_DEFAULT_STOP)
        if isinstance(reason, str)
        else (INCOMPLETE_DEFAULT_STOP)
    )


def _count(obj: Any, key: str) -> int:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage(upstream_usage: Any) -> dict[str, int]:
    """docs/protocol/translation-rules.md §6: ``input_tokens`` includes the cached ones, Anthropic's
    excludes them."""
    cached = (
        _count(upstream_usage.get("input_tokens_details"), "cached_tokens")
        if isinstance(upstream_usage, Mapping)
        else 0
    )
    return {
        "input_tokens": max(_count(upstream_usage, "input_tokens") - cached, 0),
        "output_tokens": _count(upstream_usage, "output_tokens"),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def reasoning_signature(item: Mapping[str, Any]) -> str | None:
    """anthroxy's signature for a reasoning item; None when it holds nothing to replay."""
    payload: dict[str, str] = {}
    if isinstance(item.get("encrypted_content"), str):
        payload["enc"] = item["encrypted_content"]
    if isinstance(item.get("id"), str):
        payload["rid"] = item["id"]
    return signature.encode(payload) if payload else None


def reasoning_text(item: Mapping[str, Any]) -> str:
    """Readable text of a reasoning item: its summary parts, else raw ``reasoning_text`` parts."""
    for key, part_type in (("summary", "summary_text"), ("content", "reasoning_text")):
        parts = item.get(key)
        if isinstance(parts, list):
            # Empty parts add nothing (the stream has no delta for them either).
            texts = [
                p["text"]
                for p in parts
                if isinstance(p, Mapping)
                and p.get("type") == part_type
                and isinstance(p.get("text"), str)
                and p["text"]
            ]
            if texts:
                return SUMMARY_JOIN.join(texts)
    return ""


def tool_input(arguments: Any, *, complete: bool) -> dict[str, Any]:
    """A function call's ``arguments`` string as the object Anthropic's tool_use.input needs.

    An empty string means no arguments. A response cut short may hold truncated JSON: then the
    input is ``{}`` (the client sees stop_reason max_tokens); in a complete one it is an error.
    """
    if arguments in (None, ""):
        return {}
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else None
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, dict):
        return value
    if not complete:
        return {}
    raise UpstreamProtocolError(f"function call arguments are not a JSON object: {arguments!r}")


def first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """Where the stop string that completes first starts in ``text``, and which one it is."""
    best: tuple[int, int, str] | None = None  # (end, start, stop)
    for stop in stops:
        start = text.find(stop)
        if start >= 0:
            candidate = (start + len(stop), start, stop)
            # The one that ends first is the one generation would have stopped at; on a tie
            # the longer (earlier-starting) string matched.
            if best is None or candidate[:2] < best[:2]:
                best = candidate
    return None if best is None else (best[1], best[2])


def cut_at_stop(
    content: list[dict[str, Any]], stops: Sequence[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """Content up to the first stop string in a text block, and the matched string."""
    if not stops:
        return content, None
    for i, block in enumerate(content):
        if block["type"] != "text":
            continue
        found = first_stop(block["text"], stops)
        if found is not None:
            start, stop = found
            head = block["text"][:start]
            kept = content[:i] + ([{**block, "text": head}] if head else [])
            return kept, stop
    return content, None


class _ContentBuilder:
    """Accumulates Anthropic content blocks from output items, in order."""

    def __init__(self, ctx: ReplyContext, message_id: str, *, complete: bool) -> None:
        self._ctx = ctx
        self._minter = ToolIdMinter(message_id)
        self._complete = complete
        self._tools = 0
        self._refused = False
        self.content: list[dict[str, Any]] = []

    def stop_reason(self) -> str:
        if self._refused:
            return "refusal"
        return "tool_use" if self._tools else "end_turn"

    def add(self, item: Any, index: int) -> None:
        if not isinstance(item, Mapping):
            raise UpstreamProtocolError(f"output item {index} is not a JSON object")
        kind = item.get("type")
        if kind == "reasoning":
            self._reasoning(item)
        elif kind == "message":
            self._message(item, index)
        elif kind == "function_call":
            self._function_call(item, index)

    def _reasoning(self, item: Mapping[str, Any]) -> None:
        text = reasoning_text(item)
        sig = reasoning_signature(item)
        if text:
            # Nothing to replay still needs a signature the client can echo (as the stream does).
            sig = sig or signature.encode({})
            shown = "" if self._ctx.omit_thinking else text  # the reasoning rides in ``sig``
            self.content.append({"type": "thinking", "thinking": shown, "signature": sig})
        elif sig is not None:
            self.content.append({"type": "redacted_thinking", "data": sig})

    def _message(self, item: Mapping[str, Any], index: int) -> None:
        parts = item.get("content")
        if not isinstance(parts, list):
            raise UpstreamProtocolError(f"message output item {index} has no 'content' array")
        for part in parts:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "output_text":
                text = part.get("text")
            elif part.get("type") == "refusal":
                text = part.get("refusal")
                self._refused = True
            else:
                continue
            if isinstance(text, str) and text:
                self.content.append({"type": "text", "text": text})

    def _function_call(self, item: Mapping[str, Any], index: int) -> None:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise UpstreamProtocolError(f"function_call output item {index} has no name")
        call_id = item.get("call_id")
        block_id = self._minter.assign(call_id if isinstance(call_id, str) else None, self._tools)
        self._tools += 1
        self.content.append(
            {
                "type": "tool_use",
                "id": block_id,
                "name": self._ctx.tool_names.to_client(name),
                "input": tool_input(item.get("arguments"), complete=self._complete),
            }
        )
