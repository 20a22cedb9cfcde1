"""Parsed Anthropic tools and tool_choice -> Chat Completions ``tools``/``tool_choice``.

Custom tools become functions with a schema sanitised for the upstream's dialect; the schema-less
Anthropic client tools (bash, text editor) get the hand-written schemas in schema.py; server tools
(web search, web fetch, code execution, tool search) are dropped because no Chat upstream can run
them (docs/protocol/anthropic.md §5), and a tool_choice that forces one of them is refused. Used by
request.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UnsupportedFeature, json_path
from ..messages.request import Tool, ToolChoice
from ..profile import ProviderProfile
from ..schema import CLIENT_TOOL_SCHEMAS, sanitize
from ..toolnames import ToolNames

TOOL_CHOICES: Mapping[str, str] = {
    "auto": "auto",
    "any": "required",
    "none": "none",
}  # docs/protocol/translation-rules.md §3


def tools_for(
    tools: tuple[Tool, ...], profile: ProviderProfile, names: ToolNames
) -> tuple[list[dict[str, Any]], set[str]]:
    """(Chat tools, names of the dropped server tools)."""
    functions: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for tool in tools:
        if tool.is_server:
            dropped.add(tool.name)
        else:
            functions.append(_function(tool, profile, names))
    return functions, dropped


def _function(tool: Tool, profile: ProviderProfile, names: ToolNames) -> dict[str, Any]:
    if tool.type is None:
        description, schema = tool.description, tool.input_schema
        assert schema is not None  # parse_request: a custom tool has one
    else:
        description, schema = _client_tool(tool.type, tool.path)
    function: dict[str, Any] = {"name": names.to_upstream(tool.name)}
    if description is not None:
        function["description"] = description
    schema_path = json_path(tool.path, "input_schema")
    function["parameters"] = sanitize(schema, profile.schema_dialect, path=schema_path)
    return {"type": "function", "function": function}


def _client_tool(kind: str, path: str) -> tuple[str, Mapping[str, Any]]:
    for prefix, definition in CLIENT_TOOL_SCHEMAS.items():
        if kind.startswith(prefix):
            return definition
    raise UnsupportedFeature(
        f"Anthropic-defined tool type {kind!r} cannot be offered to a Chat Completions upstream; "
        "define it as a custom tool with an input_schema, or route to an Anthropic-native provider",
        path=json_path(path, "type"),
    )


def add_tool_choice(
    out: dict[str, Any], choice: ToolChoice | None, dropped: set[str], names: ToolNames
) -> None:
    """auto/any/tool/none (docs/protocol/translation-rules.md §3); nothing at all when no tool is
    left to choose from."""
    if choice is None:
        return
    value: str | dict[str, Any]
    if choice.name is not None:  # type "tool"
        if choice.name in dropped:
            raise UnsupportedFeature(
                f"tool_choice forces the server tool {choice.name!r}, which this upstream cannot "
                "run",
                path="$.tool_choice.name",
            )
        value = {"type": "function", "function": {"name": names.to_upstream(choice.name)}}
    else:
        value = TOOL_CHOICES[choice.type]
    if "tools" not in out:
        return
    out["tool_choice"] = value
    if choice.disable_parallel_tool_use and choice.type != "none":
        out["parallel_tool_calls"] = False
