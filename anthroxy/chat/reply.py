"""A Chat Completions response (non-streaming JSON) → an Anthropic message.

``from_response(upstream, ctx, message_id=...)`` maps the first choice, in Anthropic's block order
and with the same rules as ``chat_stream`` so that a streamed and a non-streamed answer give the
same message:

* thinking from ``reasoning_content`` / ``reasoning`` / ``reasoning_details``, signed with an
  anthroxy signature (never a fake provider one) that carries the block's origin (``p``/``m``/``f``,
  as a stream does), OpenRouter's ``reasoning_details`` as ``rd`` and Gemini thought signatures as
  ``ts`` (keyed by the client's tool_use id);
* text (``content``, then any ``refusal`` text) in one text block;
* tool_use blocks, ids minted by ``ToolIdMinter``, names mapped back by ``ctx.tool_names``. A
  Gemini thought signature on a tool call goes into the open thinking block when the call directly
  follows the reasoning, else into an empty thinking block just before that tool_use block (the
  order a stream produces).

Tool ``arguments`` that are not a JSON object: an empty string means ``{}`` (tools without
parameters); anything else raises UpstreamProtocolError (502, which Claude Code retries) — except
when the turn was cut by ``length``, where the half-written input becomes ``{}`` and the stop
reason ``max_tokens`` tells the client the call is incomplete (a retry would be cut again).
Guessing at a repair would run a tool with arguments the model never sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import signature
from ..context import ReplyContext
from ..errors import UpstreamProtocolError
from ..ids import ToolIdMinter
from ..messages import message as anthropic_message
from .chunks import (
    anthropic_usage,
    estimated_usage,
    matched_stop,
    reasoning_text,
    stop_reason,
    thought_signature,
    upstream_error,
)

_MESSAGE_PATH = "$.choices[0].message"


def from_response(
    upstream: Mapping[str, Any], ctx: ReplyContext, *, message_id: str
) -> dict[str, Any]:
    provider = ctx.target.provider
    if upstream.get("error") is not None:
        raise upstream_error(upstream, provider)  # an error object in a 200 body
    choices = upstream.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise UpstreamProtocolError(f"{provider}: response has no choices", path="$.choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise UpstreamProtocolError(f"{provider}: choice has no message", path=_MESSAGE_PATH)
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        path = "$.choices[0].finish_reason"
        raise UpstreamProtocolError(f"{provider}: finish_reason is not a string", path=path)

    builder = _Blocks(ctx.target.provider, ctx.target.model, omit=ctx.omit_thinking)
    builder.thinking(*reasoning_text(message), message.get("reasoning_details"))
    text = _content_text(message.get("content"), provider)
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if isinstance(refusal, str):
        text += refusal
    builder.text(text)
    calls = _tool_calls(message, provider)
    minter = ToolIdMinter(message_id)
    for position, call in enumerate(calls):
        builder.tool_use(_tool_block(call, position, minter, ctx, truncated=finish == "length"))
        arguments = call["function"].get("arguments")
        builder.chars += len(arguments) if isinstance(arguments, str) else 0
    content = builder.finish()

    reason, sequence = stop_reason(
        finish,
        matched_stop(choice),
        has_tools=bool(calls),
        refused=refused,
        stop_sequences=ctx.stop_sequences,
        provider=provider,
        path="$.choices[0].finish_reason",
    )
    usage = upstream.get("usage")
    # ``usage: {}`` (some local servers) says nothing: estimated, as a stream without usage is.
    if isinstance(usage, Mapping) and ("prompt_tokens" in usage or "completion_tokens" in usage):
        anthropic = anthropic_usage(usage)
    else:
        anthropic = estimated_usage(ctx.input_tokens_estimate, builder.chars)
    return anthropic_message.message(
        ctx,
        message_id=message_id,
        content=content,
        stop_reason=reason,
        stop_sequence=sequence,
        usage=anthropic,
    )


class _Blocks:
    """Collects content blocks; at most one thinking block is open (its signature is pending)."""

    def __init__(self, provider: str, model: str, *, omit: bool = False) -> None:
        self.blocks: list[dict[str, Any]] = []
        self._omit = omit  # thinking text goes into the signature, not the block
        self.chars = 0  # output characters, for the usage estimate when the upstream has none
        self._origin = (provider, model)  # who produced the thinking (signature ``p``/``m``)
        self._thinking: dict[str, Any] | None = None
        self._field: str | None = None
        self._payload: dict[str, Any] = {}

    def thinking(self, text: str, field: str | None, details: object) -> None:
        items = (
            [dict(d) for d in details if isinstance(d, Mapping)]
            if isinstance(details, list)
            else []
        )
        if not text and not items:
            return
        self._open_thinking(text)
        self._field = "reasoning_details" if items else field
        if items:
            self._payload["rd"] = items

    def text(self, text: str) -> None:
        if text:
            self._close_thinking()
            self.blocks.append({"type": "text", "text": text})
            self.chars += len(text)

    def tool_use(self, block_and_sig: tuple[dict[str, Any], str | None]) -> None:
        block, sig = block_and_sig
        if sig is not None:
            if self._thinking is None:
                self._open_thinking("")
            self._payload.setdefault("ts", {})[block["id"]] = sig
        self._close_thinking()
        self.blocks.append(block)

    def finish(self) -> list[dict[str, Any]]:
        self._close_thinking()
        return self.blocks

    def _open_thinking(self, text: str) -> None:
        self._thinking = {"type": "thinking", "thinking": "" if self._omit else text}
        self._thinking["signature"] = ""
        self._field = None
        self._payload = {signature.HIDDEN_TEXT: text} if self._omit and text else {}
        self.chars += len(text)
        self.blocks.append(self._thinking)

    def _close_thinking(self) -> None:
        if self._thinking is not None:
            payload = signature.with_origin(self._payload, *self._origin, self._field)
            self._thinking["signature"] = signature.encode(payload)
            self._thinking = None


def _content_text(content: object, provider: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        # Some compat servers return content as a list of {type:"text", text} parts.
        texts = []
        for i, part in enumerate(content):
            if not (isinstance(part, Mapping) and isinstance(part.get("text"), str)):
                path = f"{_MESSAGE_PATH}.content[{i}]"
                raise UpstreamProtocolError(f"{provider}: content part has no text", path=path)
            texts.append(part["text"])
        return "".join(texts)
    path = f"{_MESSAGE_PATH}.content"
    raise UpstreamProtocolError(f"{provider}: content is not a string", path=path)


def _tool_calls(message: Mapping[str, Any], provider: str) -> list[Mapping[str, Any]]:
    calls = message.get("tool_calls")
    legacy = message.get("function_call")
    if not calls and isinstance(legacy, Mapping):
        calls = [{"id": None, "function": legacy}]  # pre-tools single function call
    if not calls:
        return []
    if not isinstance(calls, list) or not all(isinstance(c, Mapping) for c in calls):
        path = f"{_MESSAGE_PATH}.tool_calls"
        raise UpstreamProtocolError(f"{provider}: tool_calls is not a list of objects", path=path)
    first_sig = thought_signature(calls[0])
    message_sig = _message_thought_signature(message)
    if first_sig is None and message_sig is not None:
        # Older Gemini responses put the signature on the message; it belongs to the first call.
        first = dict(calls[0])
        first["extra_content"] = {"google": {"thought_signature": message_sig}}
        calls = [first, *calls[1:]]
    return calls


def _message_thought_signature(message: Mapping[str, Any]) -> str | None:
    sig = thought_signature(message)
    if sig is None and isinstance(message.get("thought_signature"), str):
        sig = message["thought_signature"] or None
    return sig


def _tool_block(
    call: Mapping[str, Any],
    position: int,
    minter: ToolIdMinter,
    ctx: ReplyContext,
    *,
    truncated: bool,
) -> tuple[dict[str, Any], str | None]:
    path = f"{_MESSAGE_PATH}.tool_calls[{position}]"
    provider = ctx.target.provider
    function = call.get("function")
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(name, str) or not name:
        raise UpstreamProtocolError(f"{provider}: tool call has no function name", path=path)
    upstream_id = call.get("id")
    block = {
        "type": "tool_use",
        "id": minter.assign(upstream_id if isinstance(upstream_id, str) else None, position),
        "name": ctx.tool_names.to_client(name),
        "input": _arguments(
            function.get("arguments"), f"{path}.function.arguments", ctx, truncated
        ),
    }
    return block, thought_signature(call)


def _arguments(raw: object, path: str, ctx: ReplyContext, truncated: bool) -> dict[str, Any]:
    provider = ctx.target.provider
    if isinstance(raw, Mapping):
        # A few servers send the object itself instead of a JSON string; copy it, never share.
        copied: dict[str, Any] = json.loads(json.dumps(raw))
        return copied
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        raise UpstreamProtocolError(f"{provider}: tool arguments are not a string", path=path)
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        if truncated:
            return {}
        raise UpstreamProtocolError(
            f"{provider}: tool arguments are not valid JSON: {raw[:200]!r}", path=path
        ) from None
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(f"{provider}: tool arguments are not a JSON object", path=path)
    return parsed
