"""``anthroxy mcp``: a Model Context Protocol server over stdio with one read-only tool.

Transport (MCP spec, "Transports: stdio"): one JSON-RPC 2.0 message per line on stdin/stdout,
UTF-8, no embedded newlines; nothing but MCP messages on stdout. ``McpServer.handle`` is the pure
message -> reply function; ``serve`` is the loop around it. It never crashes on bad input:
malformed JSON is -32700, a non-object -32600, an unknown method -32601 (JSON-RPC 2.0 §5.1), and
a notification (no ``id``) never gets a reply.

The tool ``model_proxy_status`` reports whether the proxy answers ``/healthz``, its URL, every
provider with ``has_key`` (never the key) and the active tier/alias mappings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from anthroxy import __version__

from ..config import paths
from ..config.paths import CommandError, Locations
from . import daemon

# Newest first; an unknown requested version is answered with the newest (spec, "Lifecycle:
# Version Negotiation": the server responds with another version it supports).
PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")
TOOL_NAME = "model_proxy_status"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "title": "Model proxy status",
    "description": (
        "Whether the local anthroxy model proxy is running, its URL, which upstream providers "
        "are configured (and whether each has an API key), and which upstream model each "
        "Claude tier (opus, sonnet, haiku, default) and alias is routed to."
    ),
    "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
    "annotations": {
        "title": "Model proxy status",
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    },
}


def _error(msg_id: object, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _result(msg_id: object, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "result": dict(result)}


class McpServer:
    """Answers MCP messages; ``status()`` supplies the tool's report (I/O happens there)."""

    def __init__(self, status: Callable[[], Mapping[str, Any]]) -> None:
        self._status = status

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
            return _result(msg_id, {"tools": [TOOL]})
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
            "each model name is routed.",
        }

    def _call(self, msg_id: str | int, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        if name != TOOL_NAME:
            return _error(msg_id, INVALID_PARAMS, f"Unknown tool: {name}")
        arguments = params.get("arguments", {})
        if arguments is not None and not isinstance(arguments, dict):
            return _error(msg_id, INVALID_PARAMS, "Invalid params: arguments must be an object")
        try:
            report = dict(self._status())
        except Exception as exc:  # a tool failure is a result the model can read, not a crash
            text = f"could not read the proxy status: {type(exc).__name__}: {exc}"
            return _result(msg_id, {"content": [{"type": "text", "text": text}], "isError": True})
        text = json.dumps(report, indent=2, ensure_ascii=False)
        return _result(
            msg_id,
            {
                "content": [{"type": "text", "text": text}],
                "structuredContent": report,
                "isError": False,
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


def proxy_status(loc: Locations, *, config_path: str | None = None) -> dict[str, Any]:
    """What the tool reports; configuration problems are reported, not raised."""
    report: dict[str, Any] = {"listening": False, "url": None, "pid": None}
    record = None
    try:
        record = daemon.read_record(paths.pid_file(loc.env, loc.home))
    except CommandError as exc:
        report["pid_file_problem"] = exc.message
    token = ""
    try:
        settings = daemon.load_settings(loc, config_path)
    except CommandError as exc:
        report["config_problems"] = exc.message.splitlines()[1:] or [exc.message]
    else:
        server = settings.config.server
        token = server.auth_token
        report["url"] = daemon.client_url(server.host, server.port)
        report["config_sources"] = settings.sources
        report["providers"] = [
            {
                "id": p.id,
                "name": p.name,
                "api": p.api,
                "base_url": p.base_url,
                "has_key": p.api_key is not None,
                "key_source": p.key_source,
            }
            for p in settings.providers.values()
        ]
        report["tiers"] = dict(settings.config.tiers)
        report["aliases"] = dict(settings.config.aliases)
    if record is not None and daemon.process_state(record.pid) == "running":
        report["url"], report["pid"] = record.url, record.pid
    if report["url"] is not None:
        answer = daemon.health(report["url"], timeout=1.0, token=token)
        report["listening"] = answer is not None
        if answer is not None:
            report["healthz"] = answer
    return report
