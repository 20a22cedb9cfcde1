"""`anthroxy mcp`: an MCP stdio server driven through a real subprocess with pipes, plus the
JSON-RPC edge cases on the message handler itself."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli import daemon, mcp
from anthroxy_server.config.paths import Locations

from .test_cli_daemon import _kill_leftover, free_port, write_fake_python

SECRET = "sk-mcp-secret-0123456789abcdef"


@pytest.fixture
def loc(tmp_path: Path) -> Iterator[Locations]:
    home = tmp_path / "home"
    (home / ".config" / "anthroxy").mkdir(parents=True)
    (home / ".config" / "anthroxy" / "config.toml").write_text(
        f"[server]\nport = {free_port()}\n"
        '[providers.mock]\napi = "chat"\nbase_url = "http://127.0.0.1:9/v1"\nauth = "none"\n'
        "[providers.deepseek]\n"
        '[tiers]\nopus = "deepseek/deepseek-v4-pro"\ndefault = "mock/small"\n'
        '[aliases]\nfast = "mock/tiny"\n'
    )
    env = {
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(sys.path),
        "DEEPSEEK_API_KEY": SECRET,
    }
    loc = Locations(env=env, home=home, cwd=tmp_path)
    yield loc
    _kill_leftover(loc)


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    return write_fake_python(tmp_path)


def converse(loc: Locations, lines: list[bytes]) -> dict[Any, dict[str, Any]]:
    """Send ``lines`` to `anthroxy mcp`, close stdin, return the replies by id."""
    done = subprocess.run(
        [sys.executable, "-m", "anthroxy_server.cli", "mcp"],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        env=dict(loc.env),
        cwd=loc.cwd,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr.decode()
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(r["jsonrpc"] == "2.0" for r in replies)
    return {r["id"]: r for r in replies}


def req(msg_id: object, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def status_of(reply: dict[str, Any]) -> dict[str, Any]:
    result = reply["result"]
    assert result["isError"] is False
    [content] = result["content"]
    assert content["type"] == "text"
    report: dict[str, Any] = json.loads(content["text"])
    assert report == result["structuredContent"]
    return report


def test_session_through_pipes(loc: Locations, fake_python: str) -> None:
    record = daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    replies = converse(
        loc,
        [
            req(
                1,
                "initialize",
                {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "0"},
                },
            ),
            b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
            req(2, "tools/list"),
            req(3, "tools/call", {"name": "model_proxy_status", "arguments": {}}),
            req("p", "ping"),
            req(4, "resources/list"),
            b"{this is not json",
            req(5, "tools/call", {"name": "nope"}),
        ],
    )
    init = replies[1]["result"]
    assert init["protocolVersion"] == "2025-06-18"
    assert init["capabilities"] == {"tools": {"listChanged": False}}
    assert init["serverInfo"]["name"] == "anthroxy"
    [tool] = replies[2]["result"]["tools"]
    assert tool["name"] == "model_proxy_status"
    assert tool["inputSchema"]["type"] == "object" and tool["inputSchema"]["properties"] == {}
    assert tool["annotations"]["readOnlyHint"] is True

    report = status_of(replies[3])
    assert report["listening"] is True
    assert (report["url"], report["pid"]) == (record.url, record.pid)
    keys = {p["id"]: p["has_key"] for p in report["providers"]}
    assert keys == {"mock": False, "deepseek": True}
    assert report["tiers"]["opus"] == "deepseek/deepseek-v4-pro"
    assert report["aliases"] == {"fast": "mock/tiny"}
    assert SECRET not in json.dumps(replies)

    assert replies["p"]["result"] == {}
    assert replies[4]["error"]["code"] == -32601
    assert replies[None]["error"]["code"] == -32700
    assert replies[5]["error"]["code"] == -32602
    assert len(replies) == 7  # the notification got no reply


def test_status_when_the_proxy_is_down(loc: Locations) -> None:
    replies = converse(loc, [req(1, "tools/call", {"name": "model_proxy_status"})])
    report = status_of(replies[1])
    assert report["listening"] is False
    assert report["url"].startswith("http://127.0.0.1:")
    assert report["pid"] is None


def test_status_reports_config_problems_instead_of_failing(tmp_path: Path) -> None:
    loc = Locations({"ANTHROXY_CONFIG": str(tmp_path / "missing.toml")}, tmp_path, tmp_path)
    report = mcp.proxy_status(loc)
    assert report["listening"] is False
    assert any("not found" in line for line in report["config_problems"])


@pytest.mark.parametrize(
    ("requested", "answered"),
    [("2025-06-18", "2025-06-18"), ("2024-11-05", "2024-11-05"), ("1999-01-01", "2025-06-18")],
)
def test_version_negotiation(requested: str, answered: str) -> None:
    server = mcp.McpServer(dict)
    reply = server.handle(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": requested},
        }
    )
    assert reply is not None and reply["result"]["protocolVersion"] == answered


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], -32600),  # batches: not in 2025-06-18
        ("hello", -32600),
        ({"jsonrpc": "2.0", "id": 1}, -32600),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, -32600),
        ({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": []}, -32602),
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "model_proxy_status", "arguments": 3},
            },
            -32602,
        ),
    ],
)
def test_invalid_messages_get_errors(message: object, code: int) -> None:
    reply = mcp.McpServer(dict).handle(message)
    assert reply is not None and reply["error"]["code"] == code


def test_notifications_and_responses_get_no_reply() -> None:
    server = mcp.McpServer(dict)
    assert server.handle({"jsonrpc": "2.0", "method": "notifications/cancelled"}) is None
    assert server.handle({"jsonrpc": "2.0", "method": "no/such/notification"}) is None
    assert server.handle({"jsonrpc": "2.0", "id": 9, "result": {}}) is None


def test_a_failing_status_is_a_tool_error_not_a_crash() -> None:
    def broken() -> dict[str, Any]:
        raise OSError("disk on fire")

    reply = mcp.McpServer(broken).handle(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": TOOL}}
    )
    assert reply is not None
    assert reply["result"]["isError"] is True
    assert "disk on fire" in reply["result"]["content"][0]["text"]


TOOL = mcp.TOOL_NAME


def test_serve_skips_blank_lines_and_survives_bad_bytes() -> None:
    out = io.BytesIO()
    mcp.serve(mcp.McpServer(dict), io.BytesIO(b"\n\xff\xfe\n" + req(1, "ping") + b"\n"), out)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("error", {}).get("code") for r in replies] == [-32700, None]
