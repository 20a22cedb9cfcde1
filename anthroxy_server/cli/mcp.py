"""``anthroxy mcp``: a Model Context Protocol server over stdio with three tools.

Transport (MCP spec, "Transports: stdio"): one JSON-RPC 2.0 message per line on stdin/stdout,
UTF-8, no embedded newlines; nothing but MCP messages on stdout. ``McpServer.handle`` is the pure
message -> reply function; ``serve`` is the loop around it. It never crashes on bad input:
malformed JSON is -32700, a non-object -32600, an unknown method -32601 (JSON-RPC 2.0 §5.1), and
a notification (no ``id``) never gets a reply.

Tools (reports in ``proxy_status``): ``model_proxy_status`` answers with the field names of
claude-model-proxy's tool of that name (``listening``, ``error``, ``external``, ``localUrl``,
providers with ``hasApiKey``, the model mappings); ``anthroxy_status`` with anthroxy's own
(``url``, ``pid``, providers with ``has_key``, tiers, aliases). Both are read-only.
``start_proxy`` starts the background proxy when nothing answers, then reports like
``model_proxy_status``: starting is an explicit call, never a side effect of asking.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from anthroxy import __version__

from ..config.paths import CommandError, Locations
from . import proxy_status

# Newest first; an unknown requested version is answered with the newest (spec, "Lifecycle:
# Version Negotiation": the server responds with another version it supports).
PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")
TOOL_NAME = "model_proxy_status"
ANTHROXY_TOOL = "anthroxy_status"
START_TOOL = "start_proxy"
# The Claude Desktop extension hands the proxy token over in this variable, not on the command
# line, where any local user could read it in the process list.
TOKEN_ENV = "ANTHROXY_AUTH_TOKEN"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

_NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def _tool(name: str, title: str, description: str, *, read_only: bool) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "description": description,
        "inputSchema": _NO_ARGUMENTS,
        "annotations": {
            "title": title,
            "readOnlyHint": read_only,
            # Starting a server adds a process and changes nothing that exists.
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": False,
        },
    }


TOOLS: tuple[dict[str, Any], ...] = (
    _tool(
        TOOL_NAME,
        "Model proxy status",
        "Shows whether the local model proxy (anthroxy) is listening, its URL, the upstream "
        "providers (each with hasApiKey, never the key) and the model mappings (modelMap, "
        "modelRoutes, modelAliases). Read-only.",
        read_only=True,
    ),
    _tool(
        ANTHROXY_TOOL,
        "anthroxy status",
        "anthroxy's own status report: whether the proxy answers, its URL and pid, every "
        "provider with has_key (never the key) and which upstream model each Claude tier "
        "(opus, sonnet, haiku, default) and alias is routed to. Read-only.",
        read_only=True,
    ),
    _tool(
        START_TOOL,
        "Start model proxy",
        "Starts the local model proxy (anthroxy) in the background if it is not running, waits "
        "until it answers, then returns the same report as model_proxy_status. Does nothing "
        "when the proxy already answers.",
        read_only=False,
    ),
)

# A tool's answer: the JSON report and whether the call failed.
ToolAnswer = tuple[Mapping[str, Any], bool]
Handler = Callable[[], ToolAnswer]


def status_handlers(loc: Locations, opts: proxy_status.Options) -> dict[str, Handler]:
    """The three tools, wired to the proxy ``opts`` describes."""

    def model_proxy() -> ToolAnswer:
        return proxy_status.model_proxy_report(proxy_status.snapshot(loc, opts)), False

    def anthroxy() -> ToolAnswer:
        return proxy_status.anthroxy_report(proxy_status.snapshot(loc, opts)), False

    return {
        TOOL_NAME: model_proxy,
        ANTHROXY_TOOL: anthroxy,
        START_TOOL: lambda: proxy_status.start_proxy(loc, opts),
    }


def _error(msg_id: object, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _result(msg_id: object, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "result": dict(result)}


class McpServer:
    """Answers MCP messages; the handlers supply the tools' answers (I/O happens there).

    Only tools with a handler are listed and callable."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)
        self._tools = [tool for tool in TOOLS if tool["name"] in self._handlers]

    def handle_line(self, line: bytes) -> dict[str, Any] | None:
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(None, PARSE_ERROR, "Parse error: not a JSON message")
        return self.handle(message)

    def handle(self, message: object) -> dict[str, Any] | None:
        if not isinstance(message, dict):
            # Batches were removed from MCP in 2025-06-18; anything but an object is invalid.
            return _error(None, INVALID_REQUEST, "Invalid Request: expected a JSON object")
        msg_id = message.get("id")
        if "method" not in message:
            # A response to a request we never send (we issue none): nothing to answer.
            if "result" in message or "error" in message:
                return None
            return _error(msg_id, INVALID_REQUEST, "Invalid Request: no method")
        method = message["method"]
        is_notification = "id" not in message
        if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return None if is_notification else _error(msg_id, INVALID_REQUEST, "Invalid Request")
        if is_notification:
            return None  # notifications/initialized, notifications/cancelled, ...: no reply
        if isinstance(msg_id, bool) or not isinstance(msg_id, str | int):
            return _error(None, INVALID_REQUEST, "Invalid Request: id must be a string or number")
        params = message.get("params", {})
        if not isinstance(params, dict):
            return _error(msg_id, INVALID_PARAMS, "Invalid params: expected an object")
        return self._dispatch(msg_id, method, params)

    def _dispatch(self, msg_id: str | int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "initialize":
            return _result(msg_id, self._initialize(params))
        if method == "ping":
            return _result(msg_id, {})
        if method == "tools/list":
            return _result(msg_id, {"tools": self._tools})
        if method == "tools/call":
            return self._call(msg_id, params)
        return _error(msg_id, METHOD_NOT_FOUND, f"Method not found: {method}")

    def _initialize(self, params: Mapping[str, Any]) -> dict[str, Any]:
        requested = params.get("protocolVersion")
        version = requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
        return {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {
                "name": "anthroxy",
                "title": "anthroxy model proxy",
                "version": __version__,
            },
            "instructions": f"Call {TOOL_NAME} to see whether the model proxy is up and where "
            f"each model name is routed; call {START_TOOL} to start it when it is not running.",
        }

    def _call(self, msg_id: str | int, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        handler = self._handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            return _error(msg_id, INVALID_PARAMS, f"Unknown tool: {name}")
        arguments = params.get("arguments", {})
        if arguments is not None and not isinstance(arguments, dict):
            return _error(msg_id, INVALID_PARAMS, "Invalid params: arguments must be an object")
        try:
            report, failed = handler()
        except Exception as exc:  # a tool failure is a result the model can read, not a crash
            text = f"{name} failed: {type(exc).__name__}: {exc}"
            return _result(msg_id, {"content": [{"type": "text", "text": text}], "isError": True})
        text = json.dumps(report, indent=2, ensure_ascii=False)
        return _result(
            msg_id,
            {
                "content": [{"type": "text", "text": text}],
                "structuredContent": dict(report),
                "isError": failed,
            },
        )


def serve(server: McpServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer one line at a time until stdin closes."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            reply = server.handle_line(line)
        except Exception as exc:  # never let one message take the server down
            reply = _error(None, INTERNAL_ERROR, f"Internal error: {type(exc).__name__}")
        if reply is not None:
            stdout.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
            stdout.flush()


def _given(value: str | None) -> str | None:
    """A value from the Desktop extension, or None when its field was left empty. Claude Desktop
    passes an unset optional field as the literal ``${user_config.<key>}``."""
    if value is None or not value.strip() or value.startswith("${user_config."):
        return None
    return value.strip()


def parse_port(value: str | None) -> int | None:
    text = _given(value)
    if text is None:
        return None
    try:
        number = float(text)  # Claude Desktop may render a number field as "8082.0"
    except ValueError:
        number = -1.0
    if not number.is_integer() or not 1 <= number <= 65535:
        raise CommandError(f"--port: expected a port number from 1 to 65535, got {text!r}", code=2)
    return int(number)


def options(env: Mapping[str, str], config: str | None, port: str | None) -> proxy_status.Options:
    """The proxy `anthroxy mcp` reports on: ``--config``, ``--port`` and ``$ANTHROXY_AUTH_TOKEN``
    (each may come from the extension's fields, empty or not)."""
    token = _given(env.get(TOKEN_ENV)) or ""
    return proxy_status.Options(config_path=_given(config), port=parse_port(port), token=token)


def run(
    loc: Locations, stdin: BinaryIO, stdout: BinaryIO, config: str | None, port: str | None
) -> int:
    opts = options(loc.env, config, port)
    if TOKEN_ENV in loc.env and not opts.token:
        # An extension field left empty arrives as "" or its unreplaced placeholder; the
        # settings (and a proxy start_proxy launches) must not take that for a token.
        env = {name: value for name, value in loc.env.items() if name != TOKEN_ENV}
        loc = Locations(env=env, home=loc.home, cwd=loc.cwd)
    serve(McpServer(status_handlers(loc, opts)), stdin, stdout)
    return 0
