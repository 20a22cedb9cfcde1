"""Thinking signatures across providers: a thinking block reaches only a provider that can
verify its signature.

A conversation can change provider half-way (the person picks another model, a fallback fires),
and its history keeps the thinking blocks earlier providers signed. A signature verifies only
where it was made (docs/protocol/anthropic.md §6): Anthropic answers 400 ``Invalid `signature`
in `thinking` block`` to any other, and DeepSeek signs with its own message id
(https://github.com/NousResearch/hermes-agent/pull/21048). So every signature is tied to the
family that made it:

* a bare signature is Anthropic's (family ``anthropic``), as Anthropic's own replies pass through
  untouched;
* a pass-through reply from any other family has its signatures marked on the way to the
  client: ``anthroxy1:<family>:<the provider's signature>`` (``mark_message``,
  ``mark_event``); the mark comes off again when the block goes back to that family;
* ``anthroxy1.…`` signatures are anthroxy's own, made for translated replies
  (``anthroxy.signature``); no Anthropic-dialect upstream can verify them.

``settle_thinking`` applies a provider's ``Cleaner``: blocks of its own family go back as the
provider signed them; any other block is foreign and is dropped, or, for a provider that wants
the reasoning of earlier turns back, kept as unsigned text. Such a provider (DeepSeek: "The
`content[].thinking` in the thinking mode must be passed back to the API") also gets an empty
unsigned thinking block at the start of a tool-calling turn that has none, unless thinking is
disabled (https://github.com/QwenLM/qwen-code/pull/3788 does the same).

Anthropic, for its part, requires the last tool-loop turn to start with thinking when thinking
is on ("a final `assistant` message must start with a thinking block ... To avoid this
requirement, disable `thinking`", https://github.com/n8n-io/n8n/issues/22550); if a foreign
block was dropped there, thinking is turned off for that one request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import signature
from .rules import ANTHROPIC, Cleaner

MARK = "anthroxy1:"
_OWN = signature.PREFIX  # "anthroxy1."
# A pre-filter on the raw body: both kinds of anthroxy signature start with these bytes.
_MARKED_BYTES = b"anthroxy1"
_THINKING = ("thinking", "redacted_thinking")


def mark(value: str, family: str) -> str:
    """A provider's signature, marked with the family that made it."""
    return f"{MARK}{family}:{value}"


def origin(value: Any) -> tuple[str | None, Any]:
    """(family, the signature as that family made it) of a block's signature. Family None: no
    signature at all (an empty or missing one), which nobody verifies."""
    if not isinstance(value, str) or not value:
        return None, value
    if value.startswith(MARK):
        family, colon, original = value[len(MARK) :].partition(":")
        if colon and family:
            return family, original
        return _OWN, value
    if value.startswith(_OWN):
        return _OWN, value
    return ANTHROPIC, value


def settle_thinking(
    cleaner: Cleaner, body: Mapping[str, Any], raw: bytes | None = None
) -> Mapping[str, Any]:
    """``body`` with each thinking block as ``cleaner``'s provider can take it; ``body`` itself
    when nothing changes. ``raw``, the bytes the client sent, lets a body for the Anthropic
    family go at once when it holds none of anthroxy's marks; for the others, the walk through
    the assistant turns costs less than searching the bytes for signatures."""
    if raw is not None and cleaner.signer == ANTHROPIC and _MARKED_BYTES not in raw:
        return body
    fill = cleaner.foreign_thinking == "unsigned" and not _thinking_off(body)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    settled = [_settle_message(cleaner, message, fill) for message in messages]
    if all(new is old for (new, _), old in zip(settled, messages, strict=True)):
        return body
    out = {**body, "messages": [message for message, _ in settled]}
    if (
        cleaner.tool_turn_needs_thinking
        and _thinking_on(body)
        and _lost_tool_turn_thinking(messages, settled)
    ):
        out["thinking"] = {"type": "disabled"}
        effort = out.get("output_config")
        if isinstance(effort, Mapping) and effort.get("effort") in _EFFORTS_NEEDING_THINKING:
            # "output_config.effort 'xhigh' is not supported when thinking is disabled on this
            # model. Use effort 'high' or below, or enable thinking."
            # (https://github.com/anthropics/claude-code/issues/83550)
            out["output_config"] = {**effort, "effort": "high"}
    return out


_EFFORTS_NEEDING_THINKING = ("xhigh", "max")


def marks_for(cleaner: Cleaner) -> str | None:
    """The family a provider's reply signatures are marked with; None for Anthropic's own."""
    return None if cleaner.signer == ANTHROPIC else cleaner.signer


def _settle_message(cleaner: Cleaner, message: Any, fill: bool) -> tuple[Any, bool]:
    """(the message as the provider can take it, whether a thinking block was dropped)."""
    if not isinstance(message, Mapping) or message.get("role") != "assistant":
        return message, False
    content = message.get("content")
    if not isinstance(content, list):
        return message, False
    out: list[Any] = []
    dropped = changed = False
    for block in content:
        new = _settle_block(cleaner, block)
        dropped = dropped or new is None
        changed = changed or new is not block
        if new is not None:
            out.append(new)
    if fill and _calls_tools(out) and not any(_is_thinking(block) for block in out):
        out.insert(0, dict(EMPTY_THINKING))
        changed = True
    return ({**message, "content": out} if changed else message), dropped


EMPTY_THINKING = {"type": "thinking", "thinking": "", "signature": ""}


def _calls_tools(content: list[Any]) -> bool:
    return any(isinstance(block, Mapping) and block.get("type") == "tool_use" for block in content)


def _is_thinking(block: Any) -> bool:
    return isinstance(block, Mapping) and block.get("type") in _THINKING


def _settle_block(cleaner: Cleaner, block: Any) -> Any:
    """The block as the provider can take it, or None to leave it out."""
    if not isinstance(block, Mapping) or block.get("type") not in _THINKING:
        return block
    key = "signature" if block.get("type") == "thinking" else "data"
    family, original = origin(block.get(key))
    if family == cleaner.signer:
        return block if original is block.get(key) else {**block, key: original}
    if cleaner.foreign_thinking == "unsigned" and block.get("type") == "thinking":
        if family is None and key in block:
            return block
        return {**block, "signature": ""}
    return None


def _lost_tool_turn_thinking(messages: list[Any], settled: list[tuple[Any, bool]]) -> bool:
    """Whether the assistant turn the last user message answers with tool results lost its
    thinking here while thinking is on."""
    if len(messages) < 2 or not _answers_tools(messages[-1]):
        return False
    turn, dropped = settled[-2]
    if not dropped or _role(turn) != "assistant":
        return False
    content = turn.get("content")
    first = content[0] if isinstance(content, list) and content else None
    return not _is_thinking(first)


def _answers_tools(message: Any) -> bool:
    content = message.get("content") if isinstance(message, Mapping) else None
    return isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("type") == "tool_result" for block in content
    )


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, Mapping) else None


def _thinking_on(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def _thinking_off(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") == "disabled"


def mark_message(message: Mapping[str, Any], family: str | None) -> Mapping[str, Any]:
    """A whole reply with its signatures marked for ``family`` (None: left as it is)."""
    content = message.get("content")
    if family is None or not isinstance(content, list):
        return message
    marked = [mark_block(block, family) for block in content]
    if all(new is old for new, old in zip(marked, content, strict=True)):
        return message
    return {**message, "content": marked}


def mark_block(block: Any, family: str) -> Any:
    """A thinking or redacted_thinking block (or its start event's shell) with a non-empty
    signature marked for ``family``."""
    if not isinstance(block, Mapping) or block.get("type") not in _THINKING:
        return block
    key = "signature" if block.get("type") == "thinking" else "data"
    value = block.get(key)
    if not isinstance(value, str) or not value or value.startswith((MARK, _OWN)):
        return block
    return {**block, key: mark(value, family)}


def mark_event(payload: Any, family: str) -> Any:
    """A stream event's data with the signature it carries marked; the same object when it
    carries none (``content_block_start`` of a thinking block, ``signature_delta``)."""
    if not isinstance(payload, Mapping):
        return payload
    if payload.get("type") == "content_block_start":
        block = payload.get("content_block")
        new = mark_block(block, family)
        return payload if new is block else {**payload, "content_block": new}
    delta = payload.get("delta")
    if payload.get("type") == "content_block_delta" and isinstance(delta, Mapping):
        value = delta.get("signature")
        if delta.get("type") == "signature_delta" and isinstance(value, str) and value:
            return {**payload, "delta": {**delta, "signature": mark(value, family)}}
    return payload
