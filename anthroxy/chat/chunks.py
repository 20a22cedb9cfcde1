"""Shared pieces of the Chat Completions → Anthropic reply side: the mapping tables, usage and
stop-reason rules, OpenRouter ``reasoning_details`` merging, and the normalisation of one stream
chunk into an ordered list of parts.

Used by ``chat_response`` (whole completions) and ``chat_stream`` (chunks), so both translate the
same facts the same way. Pure functions; nothing here keeps state between calls except the
``ReasoningDetails`` accumulator owned by its caller.

Parts are plain tuples (cheap to build per chunk), first element the kind:
  ("thinking", text, field)                  reasoning text, and the field it came in
  ("detail", item)                           one OpenRouter reasoning_details item
  ("text", text, is_refusal)                 answer text, or ``refusal`` text
  ("tool", index, id, name, arguments, sig)  one tool_calls[] fragment; index None = not given
  ("finish", finish_reason, matched_stop)    the choice's finish_reason (+ vLLM/SGLang match)
  ("usage", usage)                           the usage object
  ("error", payload)                         an in-band error (OpenRouter: top-level ``error``)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AnthroxyError, UpstreamError, UpstreamProtocolError, json_path
from ..upstream_errors import error_from_payload

# Chat ``finish_reason`` → Anthropic ``stop_reason``; docs/protocol/translation-rules.md §4.
FINISH_REASONS: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",  # legacy single-function API
    "content_filter": "refusal",
}
# Finish reasons that mean the generation failed rather than ended: (status, Anthropic type).
# DeepSeek documents ``insufficient_system_resource`` for an answer cut off by server load;
# OpenRouter uses ``error`` when the provider failed mid-generation.
FINISH_ERRORS: Mapping[str, tuple[int, str]] = {
    "insufficient_system_resource": (529, "overloaded_error"),
    "error": (500, "api_error"),
}
# Stop reasons that win over "tool calls are present → tool_use": a cut-off or filtered turn
# stays cut off (Anthropic itself reports max_tokens with a half-written tool input).
_STRONGER_THAN_TOOLS = frozenset({"max_tokens", "refusal"})

_EMPTY: Mapping[str, Any] = {}
_PLAIN_KEYS = frozenset({"role", "content", "refusal"})


def stop_reason(
    finish: str | None,
    matched: object,
    *,
    has_tools: bool,
    refused: bool,
    stop_sequences: tuple[str, ...],
    provider: str,
    path: str,
) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence) for a finished choice; raises for failed generations."""
    if finish is not None and finish in FINISH_ERRORS:
        status, error_type = FINISH_ERRORS[finish]
        raise UpstreamError(
            f"{provider}: generation failed (finish_reason '{finish}')",
            status=status,
            error_type=error_type,
        )
    if finish is None:
        reason = "end_turn"  # only reached for non-stream bodies without a finish_reason
    elif finish in FINISH_REASONS:
        reason = FINISH_REASONS[finish]
    else:
        raise UpstreamProtocolError(f"{provider}: unknown finish_reason '{finish}'", path=path)
    if refused:
        reason = "refusal"  # a non-null ``refusal`` string; docs/protocol/translation-rules.md §4
    if has_tools and reason not in _STRONGER_THAN_TOOLS:
        return (
            "tool_use",
            None,
        )  # Gemini says "stop" after tool calls; docs/protocol/chat-completions.md §7.4
    if reason == "end_turn" and isinstance(matched, str) and matched in stop_sequences:
        # vLLM reports the matched stop string in ``stop_reason``, SGLang in ``matched_stop``.
        return "stop_sequence", matched
    return reason, None


def matched_stop(choice: Mapping[str, Any]) -> object:
    found = choice.get("stop_reason")
    return found if found is not None else choice.get("matched_stop")


def _count(usage: Mapping[str, Any], key: str, path: str) -> int:
    value = usage.get(key)
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise UpstreamProtocolError(f"usage count is not an integer: {value!r}", path=path)


def anthropic_usage(usage: Mapping[str, Any], path: str = "$.usage") -> dict[str, int]:
    """Chat usage → Anthropic usage; docs/protocol/translation-rules.md §6 (prompt_tokens includes
    cached tokens)."""
    prompt = _count(usage, "prompt_tokens", json_path(path, "prompt_tokens"))
    details = usage.get("prompt_tokens_details")
    cached = 0
    if isinstance(details, Mapping) and details.get("cached_tokens") is not None:
        cached = _count(details, "cached_tokens", f"{path}.prompt_tokens_details.cached_tokens")
    else:
        # DeepSeek also reports the hit count on its own.
        cached = _count(usage, "prompt_cache_hit_tokens", f"{path}.prompt_cache_hit_tokens")
    return {
        "input_tokens": max(prompt - cached, 0),
        "cache_creation_input_tokens": 0,  # Chat upstreams do not report cache writes
        "cache_read_input_tokens": cached,
        "output_tokens": _count(usage, "completion_tokens", json_path(path, "completion_tokens")),
    }


def estimated_usage(input_estimate: int, output_chars: int) -> dict[str, int]:
    """Usage when the upstream sent none: the request-side estimate and ~4 characters a token."""
    return {
        "input_tokens": input_estimate,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": (output_chars + 3) // 4,
    }


def thought_signature(call: Mapping[str, Any]) -> str | None:
    """Gemini's ``extra_content.google.thought_signature`` on a tool call
    (docs/protocol/chat-completions.md §7.4)."""
    extra = call.get("extra_content")
    if not isinstance(extra, Mapping):
        return None
    google = extra.get("google")
    if not isinstance(google, Mapping):
        return None
    sig = google.get("thought_signature")
    return sig if isinstance(sig, str) and sig else None


# reasoning_details item type → the key holding its streamed text.
_DETAIL_TEXT_KEYS: Mapping[str, str] = {
    "reasoning.text": "text",
    "reasoning.summary": "summary",
    "reasoning.encrypted": "data",
}


class ReasoningDetails:
    """Accumulates streamed ``reasoning_details`` items into the list OpenRouter wants back.

    Streamed items are fragments: consecutive items with the same ``type`` and ``index`` are one
    item whose text concatenates, and the signature of a Claude model arrives in a trailing
    fragment of its own (docs/protocol/chat-completions.md §7.3, observed). New dicts are built;
    inputs are not touched.
    """

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, item: Mapping[str, Any]) -> None:
        last = self.items[-1] if self.items else None
        kind = item.get("type")
        if last is None or last.get("type") != kind or last.get("index") != item.get("index"):
            self.items.append(dict(item))
            return
        text_key = _DETAIL_TEXT_KEYS.get(kind) if isinstance(kind, str) else None
        for key, value in item.items():
            if key == text_key and isinstance(value, str):
                previous = last.get(key)
                last[key] = (previous if isinstance(previous, str) else "") + value
            elif value not in (None, "") or key not in last:
                last[key] = value


def detail_text(item: Mapping[str, Any]) -> str:
    """The readable text of one reasoning_details item ("" for encrypted ones)."""
    kind = item.get("type")
    if kind == "reasoning.text":
        text = item.get("text")
    elif kind == "reasoning.summary":
        text = item.get("summary")
    else:
        return ""
    return text if isinstance(text, str) else ""


def reasoning_text(source: Mapping[str, Any]) -> tuple[str, str | None]:
    """Reasoning text of a delta or message, without counting it twice, and the field it came in
    (None when there is none).

    OpenRouter sends the same text in ``reasoning`` and in ``reasoning_details``; DeepSeek, Qwen,
    Kimi, GLM and vLLM use ``reasoning_content``, some servers ``reasoning``
    (docs/protocol/chat-completions.md §7.1). The field is where the reasoning goes back to the
    upstream that sent it (docs/protocol/translation-rules.md §5.3).
    """
    for key in ("reasoning_content", "reasoning"):
        value = source.get(key)
        if isinstance(value, str) and value:
            return value, key
    details = source.get("reasoning_details")
    if isinstance(details, list):
        text = "".join(detail_text(d) for d in details if isinstance(d, Mapping))
        return text, "reasoning_details" if text else None
    return "", None


def chunk_parts(chunk: Mapping[str, Any], provider: str) -> list[tuple[Any, ...]]:
    """Normalise one Chat Completions stream chunk into ordered parts (see module docstring)."""
    if chunk.get("error") is not None:
        return [("error", chunk)]
    parts: list[tuple[Any, ...]] = []
    choices = chunk.get("choices")
    if choices:
        if not isinstance(choices, list):
            raise UpstreamProtocolError(f"{provider}: choices is not a list", path="$.choices")
        choice = choices[0]
        if not isinstance(choice, Mapping):
            raise UpstreamProtocolError(f"{provider}: choice is not an object", path="$.choices[0]")
        delta = choice.get("delta")
        if delta:
            if not isinstance(delta, Mapping):
                path = "$.choices[0].delta"
                raise UpstreamProtocolError(f"{provider}: delta is not an object", path=path)
            _delta_parts(delta, parts, provider)
        finish = choice.get("finish_reason")
        if finish is not None:
            if not isinstance(finish, str):
                path = "$.choices[0].finish_reason"
                raise UpstreamProtocolError(f"{provider}: finish_reason is not a string", path=path)
            parts.append(("finish", finish, matched_stop(choice)))
    usage = chunk.get("usage")
    if usage:
        if not isinstance(usage, Mapping):
            raise UpstreamProtocolError(f"{provider}: usage is not an object", path="$.usage")
        parts.append(("usage", usage))
    return parts


def _delta_parts(delta: Mapping[str, Any], parts: list[tuple[Any, ...]], provider: str) -> None:
    content = delta.get("content")
    if delta.keys() <= _PLAIN_KEYS:
        # Fast path for the commonest chunk: {"content": "..."} (maybe role / refusal).
        if isinstance(content, str) and content:
            parts.append(("text", content, False))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            parts.append(("text", refusal, True))
        return
    text, field = reasoning_text(delta)
    if text:
        parts.append(("thinking", text, field))
    details = delta.get("reasoning_details")
    if isinstance(details, list):
        parts.extend(("detail", d) for d in details if isinstance(d, Mapping))
    if isinstance(content, str) and content:
        parts.append(("text", content, False))
    refusal = delta.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append(("text", refusal, True))
    calls = delta.get("tool_calls")
    if calls:
        if not isinstance(calls, list):
            path = "$.choices[0].delta.tool_calls"
            raise UpstreamProtocolError(f"{provider}: tool_calls is not a list", path=path)
        for position, call in enumerate(calls):
            parts.append(_tool_part(call, position, provider))


def _tool_part(call: object, position: int, provider: str) -> tuple[Any, ...]:
    path = f"$.choices[0].delta.tool_calls[{position}]"
    if not isinstance(call, Mapping):
        raise UpstreamProtocolError(f"{provider}: tool call is not an object", path=path)
    index = call.get("index")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise UpstreamProtocolError(f"{provider}: tool call index is not an integer", path=path)
    function = call.get("function") or _EMPTY
    if not isinstance(function, Mapping):
        raise UpstreamProtocolError(f"{provider}: function is not an object", path=path)
    call_id = call.get("id")
    name = function.get("name")
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        path = f"{path}.function.arguments"
        raise UpstreamProtocolError(f"{provider}: arguments is not a string", path=path)
    return (
        "tool",
        index,
        call_id if isinstance(call_id, str) else None,
        name if isinstance(name, str) and name else None,
        arguments or "",
        thought_signature(call),
    )


def upstream_error(payload: Mapping[str, Any], provider: str) -> AnthroxyError:
    """The AnthroxyError for an error object inside a 200 body or stream."""
    return error_from_payload(payload, provider=provider)
