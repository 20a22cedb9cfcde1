"""Anthropic Messages request -> OpenAI Chat Completions request.

``to_request(request, target, reply_model=..., input_tokens=...)`` renders a parsed request
(``messages.request.MessagesRequest``; a raw body is parsed first) for a Chat Completions
upstream and builds the complete ReplyContext. The request was validated by the parser; what is
refused here is what this upstream cannot carry (UnsupportedFeature with the JSON path). The
result may share immutable strings and untouched schema sub-objects with the client's body.
docs/translation.md has the field-by-field table; the rules here cite docs/protocol/ (page and §).

Choices made here (documented there too):
  * Consecutive user (or assistant) messages are merged first, as the Anthropic API does
  (docs/protocol/anthropic.md §4.1),
    so the tool calls of one assistant turn always sit in one Chat message.
  * A user message whose parts are all text is sent as one string (texts joined by a blank line):
    many compatible servers accept only string content; anything with an image/file keeps parts.
  * IGNORED_FIELDS lists the known Anthropic fields that are dropped without a word.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..context import ReplyContext
from ..ids import upstream_tool_id
from ..messages.blocks import (
    Block,
    RedactedThinkingBlock,
    ServerToolBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from ..messages.request import Message, MessagesRequest, parse_request
from ..profile import ProviderProfile, Target
from ..schema import sanitize
from ..toolnames import ToolNames
from .content import tool_result, user_parts
from .replay import Reasoning
from .tools import add_tool_choice, tools_for

# Known Anthropic fields that have no Chat Completions meaning and are dropped without a word.
IGNORED_FIELDS = frozenset(
    {
        # everywhere: top level, system/content blocks, tools (docs/protocol/anthropic.md §7)
        "cache_control",
        "citations",  # on request text/document blocks
        "context_management",  # Claude Code's clear_thinking edits; server-side on Anthropic
        "service_tier", "container", "mcp_servers", "inference_geo", "speed",
        "top_k",  # no OpenAI equivalent (docs/protocol/translation-rules.md §8)
        "strict",  # on tools: OpenAI strict mode needs schema rewriting; sent non-strict
    }
)  # fmt: skip

# The requested effort -> reasoning effort; xhigh/max clamp to high, the top level every
# reasoning_effort upstream accepts (docs/protocol/translation-rules.md §5.1).
REASONING_EFFORTS: Mapping[str, str] = {
    "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high",
}  # fmt: skip
# Google's documented stand-in for tool calls that did not come from Gemini
# (docs/protocol/chat-completions.md §7.4).
GEMINI_SKIP_SIGNATURE = "skip_thought_signature_validator"
_PLAIN_USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]+$")


@dataclass(frozen=True, slots=True)
class _Env:
    target: Target
    names: ToolNames

    @property
    def profile(self) -> ProviderProfile:
        return self.target.profile


def to_request(
    request: MessagesRequest | Mapping[str, Any],
    target: Target,
    *,
    reply_model: str | None = None,
    input_tokens: int = 0,
) -> tuple[dict[str, Any], ReplyContext]:
    """The Chat Completions body for ``request`` sent to ``target``, and the reply's context.

    ``reply_model`` is the model name replies report (default: the one the client asked for);
    ``input_tokens`` the input estimate ``message_start`` shows until the upstream reports usage.
    """
    if not isinstance(request, MessagesRequest):
        request = parse_request(request)
    profile = target.profile
    env = _Env(target, ToolNames((), profile.tool_name_max, profile.tool_name_must_start_alpha))
    tools, dropped = tools_for(request.offered_tools, profile, env.names)
    out: dict[str, Any] = {"model": target.model, "messages": _messages(request, env)}
    out[profile.max_tokens_field] = _max_tokens(request.max_tokens, target)
    if tools:
        out["tools"] = tools
    add_tool_choice(out, request.tool_choice, dropped, env.names)
    _add_sampling(out, request, profile)
    _add_output_format(out, request.output_schema, profile)
    _add_thinking(out, request, profile)
    _add_user(out, request.user_id, profile)
    if request.stream:
        out["stream"] = True
        # without it OpenAI streams carry no usage at all (docs/protocol/chat-completions.md §5.4)
        if profile.stream_usage:
            out["stream_options"] = {"include_usage": True}
    ctx = ReplyContext(
        requested_model=reply_model or request.model,
        target=target,
        tool_names=env.names,
        stop_sequences=request.stop_sequences,
        thinking=request.thinks,
        input_tokens_estimate=input_tokens,
        omit_thinking=request.omits_thinking,
    )
    return out, ctx


# --- messages ---------------------------------------------------------------------------------


def _messages(request: MessagesRequest, env: _Env) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system_text:
        out.append({"role": env.profile.system_role, "content": request.system_text})
    for role, blocks in _runs(request.messages):
        if role == "system":
            text = "\n\n".join(b.text for b in blocks if isinstance(b, TextBlock))
            out.append({"role": env.profile.system_role, "content": text})
        elif role == "user":
            _user_run(out, blocks, env)
        else:
            message = _assistant_run(blocks, env)
            if message is not None:
                out.append(message)
    return out


def _runs(messages: tuple[Message, ...]) -> list[tuple[str, list[Block]]]:
    """Messages as (role, blocks) runs; consecutive user or assistant messages merge
    (docs/protocol/anthropic.md §4.1)."""
    runs: list[tuple[str, list[Block]]] = []
    for message in messages:
        if not message.content:  # an empty final assistant message: no prefill
            continue
        if runs and message.role != "system" and runs[-1][0] == message.role:
            runs[-1][1].extend(message.content)
        else:
            runs.append((message.role, list(message.content)))
    return runs


def _user_run(out: list[dict[str, Any]], blocks: list[Block], env: _Env) -> None:
    """Tool results become tool messages first (docs/protocol/chat-completions.md §3); the rest one
    user message after them."""
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, ToolResultBlock):
            message, media = tool_result(block, env.profile)
            tool_messages.append(message)
            parts.extend(media)
        else:
            parts.extend(user_parts(block, env.profile))
    if tool_messages:
        _insert_tool_messages(out, tool_messages)
    if parts:
        out.append({"role": "user", "content": _user_content(parts)})


def _insert_tool_messages(out: list[dict[str, Any]], tool_messages: list[dict[str, Any]]) -> None:
    """Tool messages must directly follow the assistant's calls (docs/protocol/chat-completions.md
    §3): a system message that
    sits between the calls and their results moves after the results."""
    at = len(out)
    while at > 0 and out[at - 1]["role"] in ("system", "developer"):
        at -= 1
    if at == 0 or out[at - 1]["role"] not in ("assistant", "tool"):
        at = len(out)
    out[at:at] = tool_messages


def _user_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if all(part["type"] == "text" for part in parts):
        return "\n\n".join(part["text"] for part in parts)
    return parts


# --- assistant turns --------------------------------------------------------------------------


@dataclass(slots=True)
class _Turn:
    reasoning: Reasoning  # what the turn's thinking blocks give back (chat/replay.py)
    texts: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (client id, call)


def _assistant_run(blocks: list[Block], env: _Env) -> dict[str, Any] | None:
    turn = _Turn(Reasoning(env.target))
    for block in blocks:
        if isinstance(block, TextBlock):
            turn.texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            turn.calls.append(_tool_call(block, env))
        elif isinstance(block, ThinkingBlock):
            turn.reasoning.add(block)
        elif not isinstance(block, RedactedThinkingBlock | ServerToolBlock):
            raise AssertionError(f"{type(block).__name__} in an assistant message")
        # redacted_thinking is opaque to other providers; server-tool transcript blocks have no
        # Chat form (docs/protocol/translation-rules.md §1): both dropped.
    return _assistant_message(turn, env.profile)


def _tool_call(block: ToolUseBlock, env: _Env) -> tuple[str, dict[str, Any]]:
    call = {
        "id": upstream_tool_id(
            block.id, env.profile.tool_call_id_max, env.profile.tool_call_id_style
        ),
        "type": "function",
        "function": {"name": env.names.to_upstream(block.name), "arguments": block.arguments},
    }
    return block.id, call


def _assistant_message(turn: _Turn, profile: ProviderProfile) -> dict[str, Any] | None:
    text = "\n\n".join(turn.texts) if turn.texts else None
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if turn.calls:
        message["tool_calls"] = _signed_calls(turn, profile)
    reasoning = turn.reasoning.message_fields(tool_calls=bool(turn.calls))
    message.update(reasoning)
    if text is None and not turn.calls:
        if not reasoning:
            return None  # nothing left of the turn: it held only dropped blocks
        message["content"] = ""  # a reasoning-only turn still needs a content value
    return message


def _signed_calls(turn: _Turn, profile: ProviderProfile) -> list[dict[str, Any]]:
    """The turn's calls, each with the Gemini thought signature its thinking gave back."""
    signatures = turn.reasoning.thought_signatures
    signed = []
    for client_id, call in turn.calls:
        value = signatures.get(client_id)
        signed.append(call if value is None else {**call, "extra_content": _google(value)})
    if profile.thought_signatures and not any("extra_content" in call for call in signed):
        # Gemini 3 wants a signature on the first call of a turn; this history is not its own.
        signed[0] = {**signed[0], "extra_content": _google(GEMINI_SKIP_SIGNATURE)}
    return signed


def _google(thought_signature: Any) -> dict[str, Any]:
    return {"google": {"thought_signature": thought_signature}}


# --- parameters -------------------------------------------------------------------------------


def _max_tokens(max_tokens: int, target: Target) -> int:
    if target.max_output_tokens is not None:
        return min(max_tokens, target.max_output_tokens)
    return max_tokens


def _add_sampling(out: dict[str, Any], request: MessagesRequest, profile: ProviderProfile) -> None:
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.top_p is not None:
        out["top_p"] = request.top_p
    if request.stop_sequences:
        # Beyond the upstream's limit a stop list is a 400 there; the first ones still stop it.
        out["stop"] = list(request.stop_sequences[: profile.stop_max])


def _add_thinking(out: dict[str, Any], request: MessagesRequest, profile: ProviderProfile) -> None:
    """thinking + output_config.effort -> the profile's reasoning parameter
    (docs/protocol/translation-rules.md §5.1).

    Effort alone (no thinking) sends nothing.
    """
    requested = request.thinking_effort
    if requested is None:
        return
    effort = REASONING_EFFORTS[requested]
    if profile.reasoning_param == "reasoning_effort":
        out["reasoning_effort"] = effort
    elif profile.reasoning_param == "openrouter":
        budget = request.thinking.budget_tokens if request.thinking else None
        out["reasoning"] = {"max_tokens": budget} if budget else {"effort": effort}
    elif profile.reasoning_param == "deepseek":
        out["thinking"] = {"type": "enabled"}


def _add_output_format(
    out: dict[str, Any], schema: Mapping[str, Any] | None, profile: ProviderProfile
) -> None:
    """output_config.format's json_schema -> response_format (docs/protocol/translation-rules.md
    §8)."""
    if schema is None:
        return
    schema = sanitize(schema, profile.schema_dialect, path="$.output_config.format.schema")
    out["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": False},
    }


def _add_user(out: dict[str, Any], user_id: str | None, profile: ProviderProfile) -> None:
    """metadata.user_id -> user/safety_identifier: kept if short and plain, else hashed
    (docs/protocol/translation-rules.md §8)."""
    if profile.user_field == "none" or not user_id:
        return
    if len(user_id) > profile.user_max or not _PLAIN_USER_ID.match(user_id):
        user_id = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[
            : profile.user_max
        ]
    out[profile.user_field] = user_id
