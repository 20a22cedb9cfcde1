"""A Messages API request, parsed once into a frozen value that every dialect renders from.

``parse_request(body)`` reads a client's JSON body and returns a ``MessagesRequest``, or raises
InvalidRequest naming the JSON path of the first value the Anthropic API would refuse (wording
in ``fields.py``). The dialect translators (``chat.to_request``, ``responses.to_request``) take
the value and validate nothing again: they refuse only what their upstream cannot carry
(UnsupportedFeature). ``body`` is never changed; the value shares its tool schemas and tool inputs.

The rules, Anthropic's own (where anthroxy's two dialects once disagreed, the stricter one):

* ``model``: a non-empty string; ``max_tokens``: an integer >= 1.
* ``messages``: a non-empty array of ``{role, content}``, role ``user``, ``assistant`` or
  ``system`` (Claude Code sends mid-conversation system text as a message); content blocks as in
  ``blocks.py``. ``system``: a string or an array of text blocks.
* ``tools``: each has a non-empty ``name``. A custom tool (``type`` absent or ``custom``) needs an
  ``input_schema`` object; ``description`` is a string. Any other ``type`` is an Anthropic-defined
  tool, whose options stay in ``Tool.definition`` (``web_search_*`` ones are checked here); whether
  an upstream can offer it is the dialect's call.
* ``tool_choice``: ``auto``, ``any``, ``none``, or ``tool`` with the ``name`` of a tool in
  ``tools``; ``disable_parallel_tool_use`` is a boolean.
* ``thinking``: ``enabled`` with an integer ``budget_tokens`` of at least 1024 (Anthropic's
  minimum), ``adaptive`` or ``disabled``; ``display`` is ``summarized`` or ``omitted``.
* ``output_config``: ``effort`` one of ``EFFORTS``; ``format`` only ``{type: json_schema,
  schema: {...}}``.
* ``stop_sequences``: an array of non-empty strings. ``temperature``, ``top_p``: finite numbers;
  ``top_k``: an integer >= 0. ``metadata.user_id``: a string. ``stream``: a boolean.
* ``null`` means absent. Unknown top-level fields are ignored (Claude Code adds new ones often);
  ``mcp_servers`` is kept only as "given or not" (a dialect that cannot reach them refuses).

``model_of`` and ``stream_of`` read one field with the same rule, for callers (the server's
routing and ``count_tokens``) that need it before, or without, the whole parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest, json_path
from .blocks import (
    Block,
    TextBlock,
    ToolReferenceBlock,
    ToolResultBlock,
    parse_content,
    parse_system,
)
from .fields import (
    array,
    as_object,
    boolean,
    choice,
    describe,
    integer,
    mapping,
    need,
    number,
    string,
    strings,
)

ROLES = ("user", "assistant", "system")
TOOL_CHOICES = ("auto", "any", "tool", "none")
THINKING_TYPES = ("enabled", "adaptive", "disabled")
THINKING_DISPLAYS = ("summarized", "omitted")
MIN_THINKING_BUDGET = 1024  # Anthropic refuses a smaller ``budget_tokens``
# ``output_config.effort`` values, lowest first; adaptive thinking without one means "high".
EFFORTS = ("low", "medium", "high", "xhigh", "max")
DEFAULT_EFFORT = "high"
# An ``enabled`` budget as an effort, for upstreams that take efforts: (below this, effort).
BUDGET_EFFORTS = ((4096, "low"), (16384, "medium"))
BUDGET_EFFORT_ABOVE = "high"
# Anthropic-defined tools that Anthropic runs itself (web search, code execution, ...).
SERVER_TOOL_PREFIXES = ("web_search_", "web_fetch_", "code_execution_", "tool_search_tool_")
WEB_SEARCH_PREFIX = "web_search_"


@dataclass(frozen=True, slots=True)
class Message:
    path: str
    role: str  # user | assistant | system
    content: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Tool:
    path: str
    name: str
    type: str | None  # None for a custom tool; else the Anthropic-defined type (bash_20250124)
    input_schema: Mapping[str, Any] | None  # custom tools only
    description: str | None
    definition: Mapping[str, Any]  # the tool as sent (Anthropic-defined tools' options)

    @property
    def is_server(self) -> bool:
        """An Anthropic server tool: only Anthropic can run it."""
        return self.type is not None and self.type.startswith(SERVER_TOOL_PREFIXES)

    @property
    def deferred(self) -> bool:
        """``defer_loading``: hidden from the model until tool search loads it."""
        return self.definition.get("defer_loading") is True


@dataclass(frozen=True, slots=True)
class ToolChoice:
    type: str  # auto | any | tool | none
    name: str | None  # the tool, for type "tool"
    disable_parallel_tool_use: bool


@dataclass(frozen=True, slots=True)
class Thinking:
    type: str  # enabled | adaptive | disabled
    budget_tokens: int | None  # enabled only
    display: str | None


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    model: str
    max_tokens: int
    messages: tuple[Message, ...]
    system: tuple[TextBlock, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    effort: str | None = None  # output_config.effort
    output_schema: Mapping[str, Any] | None = None  # output_config.format's JSON schema
    stop_sequences: tuple[str, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    user_id: str | None = None  # metadata.user_id
    stream: bool | None = None
    mcp_servers: bool = False  # MCP servers given for Anthropic to call
    loaded_tools: frozenset[str] = frozenset()  # deferred tools a tool_reference has loaded

    @property
    def offered_tools(self) -> tuple[Tool, ...]:
        """The tools the model may see now: all but the deferred ones tool search has not
        loaded yet (an upstream without tool search gets a loaded tool as an ordinary one)."""
        if not any(tool.deferred for tool in self.tools):
            return self.tools
        # A tool the client forces by name is offered too: tool_choice must name a sent tool.
        chosen = self.tool_choice.name if self.tool_choice is not None else None
        visible = self.loaded_tools | {chosen} if chosen else self.loaded_tools
        return tuple(t for t in self.tools if not t.deferred or t.name in visible)

    @property
    def system_text(self) -> str:
        """The system prompt's texts joined by a blank line ("" without one)."""
        return "\n\n".join(block.text for block in self.system)

    @property
    def thinks(self) -> bool:
        """The client asked for thinking (enabled or adaptive)."""
        return self.thinking is not None and self.thinking.type != "disabled"

    @property
    def omits_thinking(self) -> bool:
        """``display: "omitted"``: the client wants thinking blocks without their text."""
        return self.thinking is not None and self.thinking.display == "omitted"

    @property
    def thinking_effort(self) -> str | None:
        """How hard to think, in ``EFFORTS`` terms; None without thinking. An ``enabled`` budget
        is bucketed (< 4096 low, < 16384 medium, else high); ``adaptive`` takes
        ``output_config.effort``, else Anthropic's default, high."""
        if self.thinking is None or self.thinking.type == "disabled":
            return None
        budget = self.thinking.budget_tokens
        if budget is None:
            return self.effort or DEFAULT_EFFORT
        return next((e for bound, e in BUDGET_EFFORTS if budget < bound), BUDGET_EFFORT_ABOVE)


def parse_request(body: object) -> MessagesRequest:
    """``body`` as a MessagesRequest (the rules are in the module docstring)."""
    body = as_object(body, "$", "the request body to be a JSON object")
    model = model_of(body)
    max_tokens = need(integer(body, "max_tokens", "$", minimum=1), "max_tokens", "$")
    messages = _messages(body)
    tools = _tools(body)
    effort, output_schema = _output_config(body)
    metadata = mapping(body, "metadata", "$")
    return MessagesRequest(
        model=model,
        max_tokens=max_tokens,
        messages=messages,
        system=parse_system(body.get("system")),
        tools=tools,
        tool_choice=_tool_choice(body, tools),
        thinking=_thinking(body),
        effort=effort,
        output_schema=output_schema,
        stop_sequences=_stop_sequences(body),
        temperature=number(body, "temperature", "$"),
        top_p=number(body, "top_p", "$"),
        top_k=integer(body, "top_k", "$", minimum=0),
        user_id=None if metadata is None else string(metadata, "user_id", "$.metadata"),
        stream=stream_of(body),
        mcp_servers=bool(body.get("mcp_servers")),
        loaded_tools=_loaded_tools(messages),
    )


def _loaded_tools(messages: tuple[Message, ...]) -> frozenset[str]:
    """The tool names of every ``tool_reference`` inside the conversation's tool results."""
    names = {
        part.tool_name
        for message in messages
        for block in message.content
        if isinstance(block, ToolResultBlock) and not isinstance(block.content, str)
        for part in block.content
        if isinstance(part, ToolReferenceBlock)
    }
    return frozenset(names)


def model_of(body: Mapping[str, Any]) -> str:
    """The requested model: a non-empty string."""
    return need(string(body, "model", "$", nonempty=True), "model", "$")


def stream_of(body: Mapping[str, Any]) -> bool | None:
    """``stream``: a boolean, or None when absent."""
    return boolean(body, "stream", "$")


def _messages(body: Mapping[str, Any]) -> tuple[Message, ...]:
    raw = need(array(body, "messages", "$"), "messages", "$")
    if not raw:
        raise InvalidRequest("'messages' must not be empty", path="$.messages")
    last = len(raw) - 1
    return tuple(_message(m, f"$.messages[{i}]", i == last) for i, m in enumerate(raw))


def _message(value: object, path: str, last: bool) -> Message:
    message = value if type(value) is dict else as_object(value, path, "a message object")
    role = message.get("role")
    if type(role) is not str or role not in ROLES:
        role = need(choice(message, "role", path, ROLES), "role", path)
    content_path = f"{path}.content"
    content = message.get("content")
    if content is None:
        raise InvalidRequest("'content' is required", path=content_path)
    return Message(path, role, parse_content(content, content_path, role, last=last))


def _tools(body: Mapping[str, Any]) -> tuple[Tool, ...]:
    raw = array(body, "tools", "$")
    if raw is None:
        return ()
    return tuple(_tool(item, f"$.tools[{i}]") for i, item in enumerate(raw))


def _tool(item: object, path: str) -> Tool:
    tool = item if type(item) is dict else as_object(item, path, "a tool object")
    name, kind, schema = tool.get("name"), tool.get("type"), tool.get("input_schema")
    description = tool.get("description")
    if (  # the common case, a custom tool, checked in one go: Claude Code sends dozens
        kind is None
        and type(name) is str
        and name
        and type(schema) is dict
        and (description is None or type(description) is str)
    ):
        return Tool(path, name, None, schema, description, tool)
    name = need(string(tool, "name", path, nonempty=True), "name", path)
    kind = string(tool, "type", path)
    if kind is None or kind == "custom":
        schema = need(mapping(tool, "input_schema", path), "input_schema", path)
        return Tool(path, name, None, schema, string(tool, "description", path), tool)
    if kind.startswith(WEB_SEARCH_PREFIX):
        strings(tool, "allowed_domains", path)
        strings(tool, "blocked_domains", path)
        mapping(tool, "user_location", path)
    return Tool(path, name, kind, None, None, tool)


def _tool_choice(body: Mapping[str, Any], tools: tuple[Tool, ...]) -> ToolChoice | None:
    value = mapping(body, "tool_choice", "$")
    if value is None:
        return None
    path = "$.tool_choice"
    kind = need(choice(value, "type", path, TOOL_CHOICES, name="tool_choice type"), "type", path)
    name = None
    if kind == "tool":
        name = need(string(value, "name", path), "name", path)
        if all(tool.name != name for tool in tools):
            raise InvalidRequest(
                f"tool_choice names {name!r}, which is not in 'tools'", path=json_path(path, "name")
            )
    serial = boolean(value, "disable_parallel_tool_use", path) or False
    return ToolChoice(kind, name, serial)


def _thinking(body: Mapping[str, Any]) -> Thinking | None:
    value = mapping(body, "thinking", "$")
    if value is None:
        return None
    path = "$.thinking"
    kind = need(choice(value, "type", path, THINKING_TYPES, name="thinking type"), "type", path)
    budget = None
    if kind == "enabled":
        budget = integer(value, "budget_tokens", path, minimum=MIN_THINKING_BUDGET)
        budget = need(budget, "budget_tokens", path)
    display = choice(value, "display", path, THINKING_DISPLAYS, name="thinking display")
    return Thinking(kind, budget, display)


def _output_config(body: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None]:
    """(effort, the json_schema format's schema)."""
    config = mapping(body, "output_config", "$")
    if config is None:
        return None, None
    path = "$.output_config"
    effort = choice(config, "effort", path, EFFORTS, name="effort")
    fmt = mapping(config, "format", path)
    if fmt is None:
        return effort, None
    fmt_path = json_path(path, "format")
    kind = fmt.get("type")
    if kind != "json_schema":
        shown = repr(kind) if isinstance(kind, str) else describe(kind)
        raise InvalidRequest(
            f"unsupported format type {shown}; only 'json_schema' is supported", path=fmt_path
        )
    return effort, need(mapping(fmt, "schema", fmt_path), "schema", fmt_path)


def _stop_sequences(body: Mapping[str, Any]) -> tuple[str, ...]:
    stops = strings(body, "stop_sequences", "$")
    if stops is None:
        return ()
    for i, stop in enumerate(stops):
        if not stop:
            raise InvalidRequest(
                "a stop sequence must not be empty", path=json_path("$.stop_sequences", i)
            )
    return stops
