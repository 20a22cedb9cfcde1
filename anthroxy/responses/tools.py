"""Parsed Anthropic tools and tool_choice -> Responses API ``tools``/``tool_choice``.

Custom tools become non-strict functions (``strict: false``: OpenAI's strict mode accepts only a
subset of JSON Schema, and arbitrary input_schemas break it; pydantic-ai PR#1356) with the schema
sanitised for the upstream's dialect. ``web_search_*`` becomes the built-in ``web_search`` tool;
every other Anthropic-defined tool is refused, since the Responses API has no equivalent.
Used by request.py.
"""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedFeature, json_path
from ..messages.request import WEB_SEARCH_PREFIX, Tool, ToolChoice
from ..profile import ProviderProfile
from ..schema import sanitize
from ..toolnames import ToolNames

# Anthropic tool_choice type -> Responses tool_choice ("tool" is built apart).
TOOL_CHOICE = {"auto": "auto", "any": "required", "none": "none"}


def tools_for(
    tools: tuple[Tool, ...], names: ToolNames, profile: ProviderProfile
) -> list[dict[str, Any]]:
    return [_tool(tool, names, profile) for tool in tools]


def _tool(tool: Tool, names: ToolNames, profile: ProviderProfile) -> dict[str, Any]:
    if tool.type is not None and tool.type.startswith(WEB_SEARCH_PREFIX):
        return _web_search_tool(tool)
    if tool.type is not None:
        raise UnsupportedFeature(
            f"Anthropic-defined tool type {tool.type!r} has no Responses equivalent",
            path=json_path(tool.path, "type"),
        )
    assert tool.input_schema is not None  # parse_request: a custom tool has one
    out: dict[str, Any] = {"type": "function", "name": names.to_upstream(tool.name)}
    if tool.description is not None:
        out["description"] = tool.description
    out["parameters"] = sanitize(
        tool.input_schema, profile.schema_dialect, path=json_path(tool.path, "input_schema")
    )
    out["strict"] = False
    return out


def _web_search_tool(tool: Tool) -> dict[str, Any]:
    """``web_search_*`` -> the built-in ``web_search`` tool."""
    definition = tool.definition  # parse_request checked the option types
    if definition.get("blocked_domains"):
        raise UnsupportedFeature(
            "web_search blocked_domains has no Responses equivalent",
            path=json_path(tool.path, "blocked_domains"),
        )
    out: dict[str, Any] = {"type": "web_search"}
    if definition.get("allowed_domains"):
        out["filters"] = {"allowed_domains": list(definition["allowed_domains"])}
    if definition.get("user_location") is not None:
        out["user_location"] = dict(definition["user_location"])
    return out


def tool_choice(choice: ToolChoice | None, names: ToolNames) -> dict[str, Any]:
    """The ``tool_choice`` (and ``parallel_tool_calls``) fields for ``choice``."""
    if choice is None:
        return {}
    out: dict[str, Any] = {}
    if choice.name is not None:  # type "tool"
        out["tool_choice"] = {"type": "function", "name": names.to_upstream(choice.name)}
    else:
        out["tool_choice"] = TOOL_CHOICE[choice.type]
    if choice.disable_parallel_tool_use:
        out["parallel_tool_calls"] = False
    return out
