"""Anthropic tool definitions and tool_choice -> Chat Completions ``tools``/``tool_choice``.

Custom tools become functions with a schema sanitised for the upstream's dialect; the schema-less
Anthropic client tools (bash, text editor) get the hand-written schemas in schema.py; server tools
(web search, web fetch, code execution, tool search) are dropped because no Chat upstream can run
them (§1.4), and a tool_choice that forces one of them is refused. Used by chat.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidRequest, UnsupportedFeature, json_path
from ..profile import ProviderProfile
from ..schema import CLIENT_TOOL_SCHEMAS, sanitize
from ..toolnames import ToolNames
from .content import str_field

# Server-executed Anthropic tools (§1.4): the upstream cannot run them, so they are dropped.
SERVER_TOOL_PREFIXES = ("web_search_", "web_fetch_", "code_execution_", "tool_search_tool_")
TOOL_CHOICES: Mapping[str, str] = {"auto": "auto", "any": "required", "none": "none"}  # §4.3


def tools_for(
    raw: object, profile: ProviderProfile, names: ToolNames
) -> tuple[list[dict[str, Any]], set[str], set[str]]:
    """(Chat tools, declared names, names of dropped server tools)."""
    if raw is None:
        return [], set(), set()
    if not isinstance(raw, list):
        raise InvalidRequest("'tools' must be an array", path="$.tools")
    tools: list[dict[str, Any]] = []
    declared: set[str] = set()
    dropped: set[str] = set()
    for index, tool in enumerate(raw):
        path = json_path("$.tools", index)
        if not isinstance(tool, Mapping):
            raise InvalidRequest("each tool must be an object", path=path)
        name = str_field(tool, "name", path)
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith(SERVER_TOOL_PREFIXES):
            dropped.add(name)
            continue
        declared.add(name)
        tools.append(_function(tool, name, kind, path, profile, names))
    return tools, declared, dropped


def _function(
    tool: Mapping[str, Any],
    name: str,
    kind: object,
    path: str,
    profile: ProviderProfile,
    names: ToolNames,
) -> dict[str, Any]:
    if kind is None or kind == "custom":
        schema = tool.get("input_schema")
        if not isinstance(schema, Mapping):
            raise InvalidRequest(
                "'input_schema' must be an object", path=json_path(path, "input_schema")
            )
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise InvalidRequest(
                "'description' must be a string", path=json_path(path, "description")
            )
    else:
        description, schema = _client_tool(kind, path)
    function: dict[str, Any] = {"name": names.to_upstream(name)}
    if description is not None:
        function["description"] = description
    schema_path = json_path(path, "input_schema")
    function["parameters"] = sanitize(schema, profile.schema_dialect, path=schema_path)
    return {"type": "function", "function": function}


def _client_tool(kind: object, path: str) -> tuple[str, Mapping[str, Any]]:
    if isinstance(kind, str):
        for prefix, definition in CLIENT_TOOL_SCHEMAS.items():
            if kind.startswith(prefix):
                return definition
    raise UnsupportedFeature(
        f"Anthropic-defined tool type {kind!r} cannot be offered to a Chat Completions upstream; "
        "define it as a custom tool with an input_schema, or route to an Anthropic-native provider",
        path=json_path(path, "type"),
    )


def add_tool_choice(
    out: dict[str, Any], choice: object, declared: set[str], dropped: set[str], names: ToolNames
) -> None:
    """auto/any/tool/none (§4.3); nothing at all when no tool is left to choose from."""
    if choice is None:
        return
    if not isinstance(choice, Mapping) or not isinstance(choice.get("type"), str):
        raise InvalidRequest(
            "'tool_choice' must be an object with a string 'type'", path="$.tool_choice"
        )
    kind = choice["type"]
    value: str | dict[str, Any]
    if kind == "tool":
        name = str_field(choice, "name", "$.tool_choice")
        if name in dropped:
            raise UnsupportedFeature(
                f"tool_choice forces the server tool {name!r}, which this upstream cannot run",
                path="$.tool_choice.name",
            )
        if name not in declared:
            raise InvalidRequest(
                f"tool_choice names {name!r}, which is not in 'tools'", path="$.tool_choice.name"
            )
        value = {"type": "function", "function": {"name": names.to_upstream(name)}}
    elif kind in TOOL_CHOICES:
        value = TOOL_CHOICES[kind]
    else:
        raise InvalidRequest(f"unsupported tool_choice type {kind!r}", path="$.tool_choice.type")
    serial = choice.get("disable_parallel_tool_use")
    if serial is not None and not isinstance(serial, bool):
        raise InvalidRequest("must be a boolean", path="$.tool_choice.disable_parallel_tool_use")
    if "tools" not in out:
        return
    out["tool_choice"] = value
    if serial and kind != "none":
        out["parallel_tool_calls"] = False
