"""Anthropic Messages request -> OpenAI Responses API request (protocols.md §3.1, §3.2, §4).

``to_request(body, target)`` returns the Responses body and the ReplyContext the reply side needs.
It validates as it goes and raises InvalidRequest / UnsupportedFeature carrying the JSON path of
the offending value; it never mutates ``body`` (nested JSON schemas are shared, not copied).

Decisions this module makes (each one visible, none silent):

* ``system`` (string or text blocks) -> ``instructions``, texts joined with a blank line.
  ``role: "system"`` entries inside ``messages`` (Claude Code's mid-conversation system text,
  claude-code.md) -> a ``developer`` message item AT THAT POSITION, so their place in the
  conversation is kept.
* ``stop_sequences``: the Responses API has no stop parameter (protocols.md §3.1, §4.8). They are
  not sent upstream; they are validated and carried in ``ReplyContext.stop_sequences``, and the
  reply translators (``responses_response``, ``responses_stream``) cut the text at the first
  match and report ``stop_reason: "stop_sequence"`` themselves. The model still generates (and is
  billed for) the tokens after the stop string.
* ``top_k`` has no Responses field and is dropped; so are ``context_management``,
  ``service_tier``, ``container``, ``cache_control``, ``inference_geo``, ``speed`` (Anthropic
  service knobs without an upstream meaning). ``cache_control`` on blocks is dropped likewise.
  A non-empty ``mcp_servers`` is refused (it would change what the model can do).
* ``thinking`` -> ``reasoning: {effort, summary: "auto"}``: an ``enabled`` budget is bucketed
  (<4096 low, <16384 medium, else high, protocols.md §4.5); ``adaptive`` uses
  ``output_config.effort`` (``max`` -> ``xhigh``) and Anthropic's default ``high`` without one.
  ``disabled``/absent -> no ``reasoning`` (non-reasoning models reject the field).
* Assistant ``thinking`` blocks are replayed as ``reasoning`` items only when their signature is
  anthroxy's and holds the encrypted reasoning (``enc``) and item id (``rid``); a bare ``rid`` is
  replayed by reference only when the upstream stores responses (not stateless). Any other
  thinking or redacted_thinking block (a real Anthropic signature, a foreign one) is dropped:
  OpenAI could not verify it. Server-tool transcript blocks are dropped (no Responses input form).
* Tool call ids go upstream through ``ids.upstream_tool_id(id, 64)`` (``call_id`` max 64,
  protocols.md §3.2); function names through the request's ToolNames table.
* ``metadata.user_id`` -> sha256 hex, cut to ``profile.user_max``, in ``profile.user_field``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .. import signature
from ..context import ReplyContext
from ..errors import InvalidRequest, UnsupportedFeature, json_path
from ..ids import upstream_tool_id
from ..messages.tokens import estimate_input_tokens
from ..profile import ProviderProfile, Target
from ..schema import sanitize
from ..toolnames import ToolNames

# protocols.md §3.2: ``call_id`` max length 64.
CALL_ID_MAX = 64
# protocols.md §3.1: ``max_output_tokens`` below 16 is rejected (integer_below_min_value).
MIN_OUTPUT_TOKENS = 16

# protocols.md §4.3: Anthropic tool_choice type -> Responses tool_choice ("tool" is built apart).
TOOL_CHOICE = {"auto": "auto", "any": "required", "none": "none"}
# protocols.md §4.5: an ``enabled`` thinking budget bucketed into an effort (upper bound, effort).
BUDGET_EFFORT = ((4096, "low"), (16384, "medium"))
BUDGET_EFFORT_ABOVE = "high"
# output_config.effort -> reasoning.effort; Responses has no "max", its highest is "xhigh".
ADAPTIVE_EFFORT = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "xhigh",
}
# Anthropic's default effort for adaptive thinking when output_config.effort is absent.
ADAPTIVE_DEFAULT_EFFORT = "high"
# protocols.md §1.3: the media types Anthropic accepts for base64 images.
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Assistant server-tool transcript blocks: no Responses input equivalent (protocols.md §4.1).
SERVER_TOOL_BLOCKS = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
    }
)


def to_request(body: Mapping[str, Any], target: Target) -> tuple[dict[str, Any], ReplyContext]:
    """Translate one Anthropic Messages request body for a Responses API upstream."""
    _expect(body, Mapping, "$", "an object")
    profile = target.profile
    model = _required(body, "model", str, "$", "a string")
    max_tokens = _required(body, "max_tokens", int, "$", "an integer")
    if isinstance(max_tokens, bool) or max_tokens < 1:
        raise InvalidRequest("max_tokens must be a positive integer", path="$.max_tokens")
    messages = _required(body, "messages", list, "$", "an array")
    names = ToolNames((), profile.tool_name_max, profile.tool_name_must_start_alpha)

    out: dict[str, Any] = {"model": target.model}
    instructions = _system_text(body.get("system"), "$.system")
    if instructions:
        out["instructions"] = instructions
    tools = _tools(body.get("tools"), names, profile)
    out["input"] = _InputBuilder(names, profile).build(messages)
    if tools:
        out["tools"] = tools
    out.update(_tool_choice(body.get("tool_choice"), names))
    reasoning = _reasoning(body)
    if reasoning is not None:
        out["reasoning"] = reasoning
    out["max_output_tokens"] = _max_output_tokens(max_tokens, target.max_output_tokens)
    for key in ("temperature", "top_p"):
        if key in body and body[key] is not None:
            out[key] = _number(body[key], json_path("$", key))
    out.update(_user_field(body.get("metadata"), profile))
    if body.get("stream") is not None:
        out["stream"] = _expect(body["stream"], bool, "$.stream", "a boolean")
    if profile.responses_stateless:
        # protocols.md §3.2: with store:false reasoning replays only through encrypted_content.
        out["store"] = False
        out["include"] = ["reasoning.encrypted_content"]
    text_format = _text_format(body.get("output_config"))
    if text_format is not None:
        out["text"] = {"format": text_format}
    _refuse_mcp_servers(body.get("mcp_servers"))

    ctx = ReplyContext(
        requested_model=model,
        target=target,
        tool_names=names,
        stop_sequences=_stop_sequences(body.get("stop_sequences")),
        thinking=reasoning is not None and "summary" in reasoning,
        input_tokens_estimate=_estimate_tokens(body),
    )
    return out, ctx


# ---------------------------------------------------------------------------------------------
# Validation helpers: every failure names the JSON path of the value.


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise InvalidRequest(f"expected {what}, got {_type_name(value)}", path=path)
    return value


def _required(
    obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], parent: str, what: str
) -> Any:
    path = json_path(parent, key)
    if key not in obj:
        raise InvalidRequest(f"missing required field '{key}'", path=path)
    return _expect(obj[key], kind, path, what)


def _number(value: Any, path: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"expected a number, got {_type_name(value)}", path=path)
    return value


def _text_of(block: Any, path: str) -> str:
    """The ``text`` of a text block (``{"type":"text","text":...}``)."""
    _expect(block, Mapping, path, "an object")
    if block.get("type") != "text":
        raise InvalidRequest(f"expected a text block, got type {block.get('type')!r}", path=path)
    text: str = _required(block, "text", str, path, "a string")
    return text


def _system_text(system: Any, path: str) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    _expect(system, list, path, "a string or an array of text blocks")
    return "\n\n".join(_text_of(block, json_path(path, i)) for i, block in enumerate(system))


# ---------------------------------------------------------------------------------------------
# Top-level parameters.


def _max_output_tokens(max_tokens: int, cap: int | None) -> int:
    if cap is not None:
        max_tokens = min(max_tokens, cap)
    return max(max_tokens, MIN_OUTPUT_TOKENS)


def _stop_sequences(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    _expect(value, list, "$.stop_sequences", "an array of strings")
    for i, item in enumerate(value):
        _expect(item, str, json_path("$.stop_sequences", i), "a string")
        if not item:
            raise InvalidRequest("stop sequences must not be empty", path=f"$.stop_sequences[{i}]")
    return tuple(value)


def _user_field(metadata: Any, profile: ProviderProfile) -> dict[str, Any]:
    if metadata is None:
        return {}
    _expect(metadata, Mapping, "$.metadata", "an object")
    user_id = metadata.get("user_id")
    if user_id is None or profile.user_field == "none":
        return {}
    _expect(user_id, str, "$.metadata.user_id", "a string")
    # Claude Code sends ~150 characters; OpenAI caps the field at 64 (protocols.md §1.2).
    digest = hashlib.sha256(user_id.encode()).hexdigest()[: profile.user_max]
    return {profile.user_field: digest}


def _reasoning(body: Mapping[str, Any]) -> dict[str, Any] | None:
    thinking = body.get("thinking")
    if thinking is None:
        return None
    _expect(thinking, Mapping, "$.thinking", "an object")
    kind = thinking.get("type")
    if kind == "disabled":
        return None
    if kind == "enabled":
        budget = _required(thinking, "budget_tokens", int, "$.thinking", "an integer")
        effort = next((e for bound, e in BUDGET_EFFORT if budget < bound), BUDGET_EFFORT_ABOVE)
        return {"effort": effort, "summary": "auto"}
    if kind == "adaptive":
        return {"effort": _adaptive_effort(body.get("output_config")), "summary": "auto"}
    raise InvalidRequest(f"unknown thinking type {kind!r}", path="$.thinking.type")


def _adaptive_effort(output_config: Any) -> str:
    if output_config is None:
        return ADAPTIVE_DEFAULT_EFFORT
    _expect(output_config, Mapping, "$.output_config", "an object")
    effort = output_config.get("effort")
    if effort is None:
        return ADAPTIVE_DEFAULT_EFFORT
    if not isinstance(effort, str) or effort not in ADAPTIVE_EFFORT:
        choices = ", ".join(ADAPTIVE_EFFORT)
        raise InvalidRequest(f"effort must be one of {choices}", path="$.output_config.effort")
    return ADAPTIVE_EFFORT[effort]


def _text_format(output_config: Any) -> dict[str, Any] | None:
    if output_config is None:
        return None
    _expect(output_config, Mapping, "$.output_config", "an object")
    fmt = output_config.get("format")
    if fmt is None:
        return None
    path = "$.output_config.format"
    _expect(fmt, Mapping, path, "an object")
    if fmt.get("type") != "json_schema":
        raise UnsupportedFeature(f"unsupported format type {fmt.get('type')!r}", path=path)
    schema = _required(fmt, "schema", Mapping, path, "an object")
    # strict:false: OpenAI's strict mode accepts only a subset of JSON Schema (protocols.md §3.1).
    return {
        "type": "json_schema",
        "name": "output",
        "schema": sanitize(schema, "openai", path=json_path(path, "schema")),
        "strict": False,
    }


def _refuse_mcp_servers(value: Any) -> None:
    if value:
        raise UnsupportedFeature(
            "mcp_servers is not supported by a Responses API upstream", path="$.mcp_servers"
        )


def _estimate_tokens(body: Mapping[str, Any]) -> int:
    """A rough count for message_start, until the upstream reports real usage."""
    return estimate_input_tokens(body)


# ---------------------------------------------------------------------------------------------
# Tools.


def _tools(value: Any, names: ToolNames, profile: ProviderProfile) -> list[dict[str, Any]]:
    if value is None:
        return []
    _expect(value, list, "$.tools", "an array")
    return [_tool(tool, names, profile, f"$.tools[{i}]") for i, tool in enumerate(value)]


def _tool(tool: Any, names: ToolNames, profile: ProviderProfile, path: str) -> dict[str, Any]:
    _expect(tool, Mapping, path, "an object")
    kind = tool.get("type")
    if isinstance(kind, str) and kind.startswith("web_search_"):
        return _web_search_tool(tool, path)
    if kind not in (None, "custom"):
        raise UnsupportedFeature(
            f"Anthropic-defined tool type {kind!r} has no Responses equivalent",
            path=json_path(path, "type"),
        )
    name = _required(tool, "name", str, path, "a string")
    if not name:
        raise InvalidRequest("tool name must not be empty", path=json_path(path, "name"))
    schema = _required(tool, "input_schema", Mapping, path, "an object")
    out: dict[str, Any] = {"type": "function", "name": names.to_upstream(name)}
    description = tool.get("description")
    if description is not None:
        out["description"] = _expect(description, str, json_path(path, "description"), "a string")
    # strict:false: arbitrary input_schemas break strict mode (protocols.md §3.1, PR#1356).
    out["parameters"] = sanitize(
        schema, profile.schema_dialect, path=json_path(path, "input_schema")
    )
    out["strict"] = False
    return out


def _web_search_tool(tool: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``web_search_*`` -> the built-in ``web_search`` tool (protocols.md §4.3)."""
    if tool.get("blocked_domains"):
        raise UnsupportedFeature(
            "web_search blocked_domains has no Responses equivalent",
            path=json_path(path, "blocked_domains"),
        )
    out: dict[str, Any] = {"type": "web_search"}
    if tool.get("allowed_domains"):
        domains = _expect(
            tool["allowed_domains"], list, json_path(path, "allowed_domains"), "an array"
        )
        out["filters"] = {"allowed_domains": list(domains)}
    if tool.get("user_location") is not None:
        out["user_location"] = dict(
            _expect(tool["user_location"], Mapping, json_path(path, "user_location"), "an object")
        )
    return out


def _tool_choice(value: Any, names: ToolNames) -> dict[str, Any]:
    if value is None:
        return {}
    path = "$.tool_choice"
    _expect(value, Mapping, path, "an object")
    kind = value.get("type")
    out: dict[str, Any] = {}
    if not isinstance(kind, str):
        raise InvalidRequest(f"unknown tool_choice type {kind!r}", path=json_path(path, "type"))
    if kind == "tool":
        name = _required(value, "name", str, path, "a string")
        out["tool_choice"] = {"type": "function", "name": names.to_upstream(name)}
    elif kind in TOOL_CHOICE:
        out["tool_choice"] = TOOL_CHOICE[kind]
    else:
        raise InvalidRequest(f"unknown tool_choice type {kind!r}", path=json_path(path, "type"))
    if value.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False
    return out


# ---------------------------------------------------------------------------------------------
# Messages -> input items.


class _InputBuilder:
    """Turns ``messages`` into input items, keeping the order of blocks within each message.

    Text-like blocks gather into one ``message`` item; a ``tool_use``, ``tool_result`` or replayed
    reasoning block ends that item and becomes an item of its own.
    """

    def __init__(self, names: ToolNames, profile: ProviderProfile) -> None:
        self._names = names
        self._profile = profile
        self._items: list[dict[str, Any]] = []
        self._parts: list[dict[str, Any]] = []
        self._role = "user"

    def build(self, messages: Sequence[Any]) -> list[dict[str, Any]]:
        for i, message in enumerate(messages):
            self._message(message, f"$.messages[{i}]")
        return self._items

    def _flush(self) -> None:
        if self._parts:
            self._items.append({"type": "message", "role": self._role, "content": self._parts})
            self._parts = []

    def _message(self, message: Any, path: str) -> None:
        _expect(message, Mapping, path, "an object")
        role = message.get("role")
        content = _required(message, "content", (str, list), path, "a string or an array")
        content_path = json_path(path, "content")
        if role == "system":
            # Claude Code's in-conversation system text (claude-code.md) keeps its position.
            text = _system_text(content, content_path)
            self._items.append(
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": text}],
                }
            )
            return
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"unknown role {role!r}", path=json_path(path, "role"))
        self._role = role
        text_type = "input_text" if role == "user" else "output_text"
        if isinstance(content, str):
            self._parts.append({"type": text_type, "text": content})
        else:
            block_handler = self._user_block if role == "user" else self._assistant_block
            for j, block in enumerate(content):
                block_path = json_path(content_path, j)
                _expect(block, Mapping, block_path, "an object")
                block_handler(block, block_path)
        self._flush()

    def _user_block(self, block: Mapping[str, Any], path: str) -> None:
        if block.get("type") == "tool_result":
            self._flush()
            self._items.append(self._tool_result(block, path))
        else:
            self._parts.extend(_user_parts(block, path))

    def _assistant_block(self, block: Mapping[str, Any], path: str) -> None:
        kind = block.get("type")
        if kind == "text":
            self._parts.append({"type": "output_text", "text": _text_of(block, path)})
        elif kind == "tool_use":
            self._flush()
            self._items.append(self._function_call(block, path))
        elif kind in ("thinking", "redacted_thinking"):
            item = self._reasoning(block, path)
            if item is not None:
                self._flush()
                self._items.append(item)
        elif not isinstance(kind, str) or kind not in SERVER_TOOL_BLOCKS:
            raise InvalidRequest(
                f"unsupported assistant content block type {kind!r}", path=json_path(path, "type")
            )

    def _function_call(self, block: Mapping[str, Any], path: str) -> dict[str, Any]:
        call_id = _required(block, "id", str, path, "a string")
        name = _required(block, "name", str, path, "a string")
        arguments = _required(block, "input", Mapping, path, "an object")
        return {
            "type": "function_call",
            "call_id": upstream_tool_id(call_id, CALL_ID_MAX),
            "name": self._names.to_upstream(name),
            "arguments": json.dumps(arguments, ensure_ascii=False, separators=(",", ":")),
        }

    def _reasoning(self, block: Mapping[str, Any], path: str) -> dict[str, Any] | None:
        if block.get("type") == "thinking":
            text = _required(block, "thinking", str, path, "a string")
            payload = signature.decode(block.get("signature"))
        else:
            text = ""
            payload = signature.decode(block.get("data"))
        if payload is None or not isinstance(payload.get("rid"), str):
            return None  # not ours: OpenAI cannot use it (module docstring)
        summary = [{"type": "summary_text", "text": text}] if text else []
        item: dict[str, Any] = {"type": "reasoning", "id": payload["rid"], "summary": summary}
        if isinstance(payload.get("enc"), str):
            item["encrypted_content"] = payload["enc"]
        elif self._profile.responses_stateless:
            return None  # store:false cannot resolve an id alone (protocols.md §3.2)
        return item

    def _tool_result(self, block: Mapping[str, Any], path: str) -> dict[str, Any]:
        call_id = _required(block, "tool_use_id", str, path, "a string")
        output = _tool_output(block.get("content"), json_path(path, "content"))
        if block.get("is_error") is True:
            output = _error_prefixed(output)
        return {
            "type": "function_call_output",
            "call_id": upstream_tool_id(call_id, CALL_ID_MAX),
            "output": output,
        }


# The Responses API has no error flag on a function output (protocols.md §4.2): prefix the text.
ERROR_PREFIX = "Error: "


def _error_prefixed(output: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(output, str):
        return ERROR_PREFIX + output
    return [{"type": "input_text", "text": ERROR_PREFIX.rstrip()}, *output]


def _tool_output(content: Any, path: str) -> str | list[dict[str, Any]]:
    """A tool_result's content: one string when it is all text, else a list of input parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    _expect(content, list, path, "a string or an array")
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        block_path = json_path(path, i)
        _expect(block, Mapping, block_path, "an object")
        parts.extend(_user_parts(block, block_path))
    if all(part["type"] == "input_text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def _user_parts(block: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    kind = block.get("type")
    if kind == "text":
        return [{"type": "input_text", "text": _text_of(block, path)}]
    if kind == "image":
        return [_image(block, path)]
    if kind == "document":
        return _document(block, path)
    if kind == "search_result":
        return [_search_result(block, path)]
    raise InvalidRequest(f"unsupported content block type {kind!r}", path=json_path(path, "type"))


def _image(block: Mapping[str, Any], path: str) -> dict[str, Any]:
    source_path = json_path(path, "source")
    source = _required(block, "source", Mapping, path, "an object")
    kind = source.get("type")
    if kind == "base64":
        media_type = _required(source, "media_type", str, source_path, "a string")
        if media_type not in IMAGE_MEDIA_TYPES:
            raise InvalidRequest(
                f"unsupported image media_type {media_type!r}",
                path=json_path(source_path, "media_type"),
            )
        data = _required(source, "data", str, source_path, "a string")
        return {"type": "input_image", "image_url": f"data:{media_type};base64,{data}"}
    if kind == "url":
        url = _required(source, "url", str, source_path, "a string")
        return {"type": "input_image", "image_url": url}
    raise UnsupportedFeature(
        f"image source type {kind!r} is not supported by a Responses API upstream",
        path=json_path(source_path, "type"),
    )


def _document(block: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    source_path = json_path(path, "source")
    source = _required(block, "source", Mapping, path, "an object")
    kind = source.get("type")
    title = block.get("title")
    if kind == "base64":
        media_type = _required(source, "media_type", str, source_path, "a string")
        data = _required(source, "data", str, source_path, "a string")
        filename = title if isinstance(title, str) and title else "document.pdf"
        file_data = f"data:{media_type};base64,{data}"
        return [{"type": "input_file", "filename": filename, "file_data": file_data}]
    if kind == "url":
        url = _required(source, "url", str, source_path, "a string")
        return [{"type": "input_file", "file_url": url}]
    if kind == "text":
        return [
            {"type": "input_text", "text": _required(source, "data", str, source_path, "a string")}
        ]
    if kind == "content":
        inner = _required(source, "content", (str, list), source_path, "a string or an array")
        if isinstance(inner, str):
            return [{"type": "input_text", "text": inner}]
        inner_path = json_path(source_path, "content")
        parts: list[dict[str, Any]] = []
        for i, item in enumerate(inner):
            _expect(item, Mapping, json_path(inner_path, i), "an object")
            parts.extend(_user_parts(item, json_path(inner_path, i)))
        return parts
    raise UnsupportedFeature(
        f"document source type {kind!r} is not supported by a Responses API upstream",
        path=json_path(source_path, "type"),
    )


def _search_result(block: Mapping[str, Any], path: str) -> dict[str, Any]:
    """A search result has no Responses form: flattened into one text part (title, source, text)."""
    title = _required(block, "title", str, path, "a string")
    source = _required(block, "source", str, path, "a string")
    content = _required(block, "content", list, path, "an array of text blocks")
    texts = [
        _text_of(item, json_path(json_path(path, "content"), i)) for i, item in enumerate(content)
    ]
    return {"type": "input_text", "text": "\n\n".join([f"{title}\n{source}", *texts])}
