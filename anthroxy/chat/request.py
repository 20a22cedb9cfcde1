"""Anthropic Messages request -> OpenAI Chat Completions request.

``to_request(body, target)`` maps a whole Messages body or raises an InvalidRequest /
UnsupportedFeature whose JSON path names the offending value. It never mutates ``body``; the
result may share immutable strings and untouched schema sub-objects with it. docs/translation.md
has the field-by-field table; the rules here cite protocols.md (§ numbers).

Choices made here (documented there too):
  * Consecutive user (or assistant) messages are merged first, as the Anthropic API does (§1.3),
    so the tool calls of one assistant turn always sit in one Chat message.
  * A user message whose parts are all text is sent as one string (texts joined by a blank line):
    many compatible servers accept only string content; anything with an image/file keeps parts.
  * Unknown top-level keys are ignored (Claude Code adds new ones often); inside messages and
    tools every block type must be known. IGNORED_FIELDS lists what is known and dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import signature
from ..context import ReplyContext
from ..errors import InvalidRequest, json_path
from ..ids import upstream_tool_id
from ..profile import ProviderProfile, Target
from ..schema import sanitize
from ..toolnames import ToolNames
from .content import USER_PARTS, content_block, str_field, text_of, tool_result, user_parts
from .tools import add_tool_choice, tools_for

# Known Anthropic fields that have no Chat Completions meaning and are dropped without a word.
IGNORED_FIELDS = frozenset(
    {
        "cache_control",  # everywhere: top level, system/content blocks, tools (§1.6)
        "citations",  # on request text/document blocks
        "context_management",  # Claude Code's clear_thinking edits; server-side on Anthropic
        "service_tier", "container", "mcp_servers", "inference_geo", "speed",
        "top_k",  # no OpenAI equivalent (§4.8)
        "strict",  # on tools: OpenAI strict mode needs schema rewriting; sent non-strict
    }
)  # fmt: skip

# Transcript blocks of server tools in history (§1.3): no Chat equivalent, dropped.
SERVER_TOOL_BLOCKS = frozenset(
    {
        "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
        "code_execution_tool_result", "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result", "tool_search_tool_result", "mcp_tool_use",
        "mcp_tool_result", "container_upload",
    }
)  # fmt: skip
ROLES = frozenset({"user", "assistant", "system"})
# output_config.effort -> reasoning effort; xhigh/max clamp to high, the top level every
# reasoning_effort upstream accepts (§4.5).
EFFORTS: Mapping[str, str] = {
    "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high",
}  # fmt: skip
DEFAULT_EFFORT = "high"  # Anthropic's default effort for adaptive thinking
# Google's documented stand-in for tool calls that did not come from Gemini (§2.5).
GEMINI_SKIP_SIGNATURE = "skip_thought_signature_validator"
_PLAIN_USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]+$")

_Block = tuple[str, Mapping[str, Any]]  # (JSON path, content block)


@dataclass(frozen=True, slots=True)
class _Env:
    profile: ProviderProfile
    names: ToolNames


def to_request(body: Mapping[str, Any], target: Target) -> tuple[dict[str, Any], ReplyContext]:
    """The Chat Completions body for ``body`` sent to ``target``, and the reply's context."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("the request body must be a JSON object", path="$")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' must be a non-empty string", path="$.model")
    profile = target.profile
    max_tokens = _max_tokens(body, target)
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise InvalidRequest("'messages' must be a non-empty array", path="$.messages")
    env = _Env(profile, ToolNames((), profile.tool_name_max, profile.tool_name_must_start_alpha))
    tools, declared, dropped = tools_for(body.get("tools"), profile, env.names)
    out: dict[str, Any] = {"model": target.model, "messages": _messages(body, raw_messages, env)}
    out[profile.max_tokens_field] = max_tokens
    if tools:
        out["tools"] = tools
    add_tool_choice(out, body.get("tool_choice"), declared, dropped, env.names)
    stops = _add_sampling(out, body)
    config = _add_output_config(out, body.get("output_config"), profile)
    thinking = _add_thinking(out, body.get("thinking"), config, profile)
    _add_user(out, body.get("metadata"), profile)
    _add_stream(out, body.get("stream"), profile)
    ctx = ReplyContext(
        requested_model=model,
        target=target,
        tool_names=env.names,
        stop_sequences=stops,
        thinking=thinking,
    )
    return out, ctx


# --- messages ---------------------------------------------------------------------------------


def _messages(body: Mapping[str, Any], raw: list[Any], env: _Env) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    system = _top_system(body.get("system"))
    if system:
        out.append({"role": env.profile.system_role, "content": system})
    for role, blocks in _runs(raw):
        if role == "system":
            out.append({"role": env.profile.system_role, "content": _system_text(blocks)})
        elif role == "user":
            _user_run(out, blocks, env)
        else:
            message = _assistant_run(blocks, env)
            if message is not None:
                out.append(message)
    return out


def _top_system(system: object) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if not isinstance(system, list):
        raise InvalidRequest(
            "'system' must be a string or an array of text blocks", path="$.system"
        )
    return _system_text([(json_path("$.system", i), content_block(b, json_path("$.system", i)))
                         for i, b in enumerate(system)])  # fmt: skip


def _system_text(blocks: list[_Block]) -> str:
    """System prompt blocks -> one text (joined by a blank line, cache_control dropped; §4.1)."""
    texts = []
    for path, block in blocks:
        if block["type"] != "text":
            raise InvalidRequest(
                f"unsupported content block type {block['type']!r} in a system prompt; "
                "only 'text' blocks are allowed",
                path=path,
            )
        texts.append(text_of(block, path))
    return "\n\n".join(texts)


def _runs(raw: list[Any]) -> list[tuple[str, list[_Block]]]:
    """Messages as (role, blocks) runs; consecutive user or assistant messages merge (§1.3)."""
    runs: list[tuple[str, list[_Block]]] = []
    for index, message in enumerate(raw):
        path = json_path("$.messages", index)
        role, blocks = _message_blocks(message, path, is_last=index == len(raw) - 1)
        if not blocks:
            continue
        if runs and role != "system" and runs[-1][0] == role:
            runs[-1][1].extend(blocks)
        else:
            runs.append((role, blocks))
    return runs


def _message_blocks(message: object, path: str, *, is_last: bool) -> tuple[str, list[_Block]]:
    if not isinstance(message, Mapping):
        raise InvalidRequest("each message must be an object", path=path)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidRequest(
            f"unsupported role {role!r}; expected 'user', 'assistant' or 'system'",
            path=json_path(path, "role"),
        )
    content = message.get("content")
    content_path = json_path(path, "content")
    if isinstance(content, str):
        return role, [(content_path, {"type": "text", "text": content})]
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or an array of blocks", path=content_path)
    if not content and not (role == "assistant" and is_last):  # an empty prefill is a no-op
        raise InvalidRequest("content must not be empty", path=content_path)
    return role, [
        (json_path(content_path, i), content_block(b, json_path(content_path, i)))
        for i, b in enumerate(content)
    ]


def _user_run(out: list[dict[str, Any]], blocks: list[_Block], env: _Env) -> None:
    """Tool results become tool messages first (§2.2); the rest one user message after them."""
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for path, block in blocks:
        kind = block["type"]
        if kind == "tool_result":
            message, media = tool_result(block, path, env.profile)
            tool_messages.append(message)
            parts.extend(media)
        elif kind in SERVER_TOOL_BLOCKS:
            continue
        else:
            parts.extend(user_parts(block, path, env.profile))
    if tool_messages:
        _insert_tool_messages(out, tool_messages)
    if parts:
        out.append({"role": "user", "content": _user_content(parts)})


def _insert_tool_messages(out: list[dict[str, Any]], tool_messages: list[dict[str, Any]]) -> None:
    """Tool messages must directly follow the assistant's calls (§2.2): a system message that
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
    texts: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (client id, call)
    thoughts: list[str] = field(default_factory=list)
    details: list[Any] = field(default_factory=list)  # OpenRouter reasoning_details
    thought_signatures: dict[str, Any] = field(default_factory=dict)  # Gemini, by tool_use id


def _assistant_run(blocks: list[_Block], env: _Env) -> dict[str, Any] | None:
    turn = _Turn()
    for path, block in blocks:
        kind = block["type"]
        if kind == "text":
            turn.texts.append(text_of(block, path))
        elif kind == "tool_use":
            turn.calls.append(_tool_call(block, path, env))
        elif kind == "thinking":
            _collect_thinking(turn, block, path)
        elif kind == "redacted_thinking" or kind in SERVER_TOOL_BLOCKS:
            continue  # opaque to other providers / server-side transcript (§4.1)
        elif kind in USER_PARTS or kind == "tool_result":
            raise InvalidRequest(
                f"a {kind!r} block cannot appear in an assistant message", path=path
            )
        else:
            raise InvalidRequest(f"unsupported content block type {kind!r}", path=path)
    return _assistant_message(turn, env.profile)


def _collect_thinking(turn: _Turn, block: Mapping[str, Any], path: str) -> None:
    thought = block.get("thinking")
    if not isinstance(thought, str):
        raise InvalidRequest("'thinking' must be a string", path=json_path(path, "thinking"))
    if thought:
        turn.thoughts.append(thought)
    payload = signature.decode(block.get("signature")) or {}
    details = payload.get("rd")
    if isinstance(details, list):
        turn.details.extend(details)
    signatures = payload.get("ts")
    if isinstance(signatures, dict):
        turn.thought_signatures.update(signatures)


def _tool_call(block: Mapping[str, Any], path: str, env: _Env) -> tuple[str, dict[str, Any]]:
    client_id = str_field(block, "id", path)
    name = str_field(block, "name", path)
    tool_input = block.get("input")
    if not isinstance(tool_input, Mapping):
        raise InvalidRequest("'input' must be an object", path=json_path(path, "input"))
    try:
        arguments = json.dumps(
            tool_input, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"'input' is not valid JSON: {exc}", path=json_path(path, "input")
        ) from None
    call = {
        "id": upstream_tool_id(
            client_id, env.profile.tool_call_id_max, env.profile.tool_call_id_style
        ),
        "type": "function",
        "function": {"name": env.names.to_upstream(name), "arguments": arguments},
    }
    return client_id, call


def _assistant_message(turn: _Turn, profile: ProviderProfile) -> dict[str, Any] | None:
    text = "\n\n".join(turn.texts) if turn.texts else None
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if turn.calls:
        message["tool_calls"] = _signed_calls(turn, profile)
    if profile.thinking_replay == "reasoning_content" and (turn.thoughts or turn.calls):
        # DeepSeek needs the key on every tool-call turn, even empty (§2.5).
        message["reasoning_content"] = "\n\n".join(turn.thoughts)
    elif profile.thinking_replay == "reasoning_details" and turn.details:
        message["reasoning_details"] = turn.details
    if text is None and not turn.calls:
        if "reasoning_content" not in message and "reasoning_details" not in message:
            return None  # nothing left of the turn: it held only dropped blocks
        message["content"] = ""  # a reasoning-only turn still needs a content value
    return message


def _signed_calls(turn: _Turn, profile: ProviderProfile) -> list[dict[str, Any]]:
    calls = [call for _, call in turn.calls]
    if not profile.thought_signatures:
        return calls
    signed = []
    for client_id, call in turn.calls:
        value = turn.thought_signatures.get(client_id)
        signed.append(call if value is None else {**call, "extra_content": _google(value)})
    if not any("extra_content" in call for call in signed):
        # Gemini 3 wants a signature on the first call of a turn; this history is not its own.
        signed[0] = {**signed[0], "extra_content": _google(GEMINI_SKIP_SIGNATURE)}
    return signed


def _google(thought_signature: Any) -> dict[str, Any]:
    return {"google": {"thought_signature": thought_signature}}


# --- parameters -------------------------------------------------------------------------------


def _max_tokens(body: Mapping[str, Any], target: Target) -> int:
    value = body.get("max_tokens")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(
            "'max_tokens' is required and must be a positive integer", path="$.max_tokens"
        )
    if target.max_output_tokens is not None:
        return min(value, target.max_output_tokens)
    return value


def _add_sampling(out: dict[str, Any], body: Mapping[str, Any]) -> tuple[str, ...]:
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidRequest(f"'{key}' must be a number", path=json_path("$", key))
        out[key] = value
    stops = body.get("stop_sequences")
    if stops is None:
        return ()
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise InvalidRequest(
            "'stop_sequences' must be an array of strings", path="$.stop_sequences"
        )
    if stops:
        out["stop"] = list(stops)
    return tuple(stops)


def _add_thinking(
    out: dict[str, Any], thinking: object, config: Mapping[str, Any], profile: ProviderProfile
) -> bool:
    """thinking + output_config.effort -> the profile's reasoning parameter (§4.5).

    Returns whether the client asked for thinking. Effort alone (no thinking) sends nothing.
    """
    if thinking is None:
        return False
    if not isinstance(thinking, Mapping):
        raise InvalidRequest("'thinking' must be an object", path="$.thinking")
    kind = thinking.get("type")
    budget: int | None = None
    if kind == "disabled":
        return False
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise InvalidRequest(
                "'budget_tokens' must be a positive integer", path="$.thinking.budget_tokens"
            )
        effort = "low" if budget < 4096 else "medium" if budget < 16384 else "high"
    elif kind == "adaptive":
        effort = EFFORTS[config.get("effort") or DEFAULT_EFFORT]  # null = not given
    else:
        raise InvalidRequest(f"unsupported thinking type {kind!r}", path="$.thinking.type")
    if profile.reasoning_param == "reasoning_effort":
        out["reasoning_effort"] = effort
    elif profile.reasoning_param == "openrouter":
        out["reasoning"] = {"max_tokens": budget} if budget else {"effort": effort}
    elif profile.reasoning_param == "deepseek":
        out["thinking"] = {"type": "enabled"}
    return True


def _add_output_config(
    out: dict[str, Any], config: object, profile: ProviderProfile
) -> Mapping[str, Any]:
    """Validates output_config; its json_schema format becomes response_format (§4.8)."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidRequest("'output_config' must be an object", path="$.output_config")
    effort = config.get("effort")
    if effort is not None and (not isinstance(effort, str) or effort not in EFFORTS):
        raise InvalidRequest(
            f"unsupported effort {effort!r}; expected one of {', '.join(EFFORTS)}",
            path="$.output_config.effort",
        )
    fmt = config.get("format")
    if fmt is not None:
        if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
            raise InvalidRequest(
                "only {'type': 'json_schema'} formats are supported", path="$.output_config.format"
            )
        schema = fmt.get("schema")
        if not isinstance(schema, Mapping):
            raise InvalidRequest("'schema' must be an object", path="$.output_config.format.schema")
        schema = sanitize(schema, profile.schema_dialect, path="$.output_config.format.schema")
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": False},
        }
    return config


def _add_user(out: dict[str, Any], metadata: object, profile: ProviderProfile) -> None:
    """metadata.user_id -> user/safety_identifier: kept if short and plain, else hashed (§1.2)."""
    if metadata is None:
        return
    if not isinstance(metadata, Mapping):
        raise InvalidRequest("'metadata' must be an object", path="$.metadata")
    user_id = metadata.get("user_id")
    if user_id is None:
        return
    if not isinstance(user_id, str):
        raise InvalidRequest("'user_id' must be a string", path="$.metadata.user_id")
    if profile.user_field == "none" or not user_id:
        return
    if len(user_id) > profile.user_max or not _PLAIN_USER_ID.match(user_id):
        user_id = hashlib.sha256(user_id.encode()).hexdigest()[: profile.user_max]
    out[profile.user_field] = user_id


def _add_stream(out: dict[str, Any], stream: object, profile: ProviderProfile) -> None:
    if stream is None or stream is False:
        return
    if stream is not True:
        raise InvalidRequest("'stream' must be a boolean", path="$.stream")
    out["stream"] = True
    if profile.stream_usage:  # without it OpenAI streams carry no usage at all (§2.1)
        out["stream_options"] = {"include_usage": True}


# --- small helpers ----------------------------------------------------------------------------
