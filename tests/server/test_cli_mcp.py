"""`anthroxy mcp`: an MCP stdio server driven through a real subprocess with pipes, plus the
JSON-RPC edge cases on the message handler itself."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli import daemon, mcp, proxy_status
from anthroxy_server.cli.proxy_status import Options
from anthroxy_server.config import paths
from anthroxy_server.config.paths import CommandError, Locations

from .test_cli_daemon import FAKE_SERVER, _kill_leftover, free_port, write_fake_python

SECRET = "sk-mcp-secret-0123456789abcdef"
TOOL = mcp.TOOL_NAME
HANDLERS: dict[str, mcp.Handler] = {TOOL: lambda: ({}, False)}


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


def initialize() -> bytes:
    return req(
        1,
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    )


def test_session_through_pipes(loc: Locations, fake_python: str) -> None:
    record = daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    replies = converse(
        loc,
        [
            initialize(),
            b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
            req(2, "tools/list"),
            req(3, "tools/call", {"name": "anthroxy_status", "arguments": {}}),
            req("p", "ping"),
            req(4, "resources/list"),
            b"{this is not json",
            req(5, "tools/call", {"name": "nope"}),
            req(6, "tools/call", {"name": "model_proxy_status"}),
        ],
    )
    init = replies[1]["result"]
    assert init["protocolVersion"] == "2025-06-18"
    assert init["capabilities"] == {"tools": {"listChanged": False}}
    assert init["serverInfo"]["name"] == "anthroxy"
    tools = {tool["name"]: tool for tool in replies[2]["result"]["tools"]}
    assert list(tools) == ["model_proxy_status", "anthroxy_status", "start_proxy"]
    for tool in tools.values():
        assert tool["inputSchema"]["type"] == "object" and tool["inputSchema"]["properties"] == {}
        assert tool["annotations"]["destructiveHint"] is False
    assert tools["model_proxy_status"]["annotations"]["readOnlyHint"] is True
    assert tools["anthroxy_status"]["annotations"]["readOnlyHint"] is True
    assert tools["start_proxy"]["annotations"]["readOnlyHint"] is False

    # anthroxy's own report keeps its field names.
    report = status_of(replies[3])
    assert report["listening"] is True
    assert (report["url"], report["pid"]) == (record.url, record.pid)
    keys = {p["id"]: p["has_key"] for p in report["providers"]}
    assert keys == {"mock": False, "deepseek": True}
    assert report["tiers"]["opus"] == "deepseek/deepseek-v4-pro"
    assert report["aliases"] == {"fast": "mock/tiny"}
    assert SECRET not in json.dumps(replies)

    # claude-model-proxy's names: started by `anthroxy start`, so not external.
    compat = status_of(replies[6])
    assert (compat["listening"], compat["error"], compat["external"]) == (True, None, False)
    assert compat["localUrl"] == compat["baseUrl"] == record.url
    assert compat["providers"]["deepseek"]["hasApiKey"] is True
    assert compat["providers"]["mock"]["hasApiKey"] is False
    assert compat["providers"]["mock"]["upstreamBaseUrl"] == "http://127.0.0.1:9/v1"
    assert compat["pid"] == record.pid

    assert replies["p"]["result"] == {}
    assert replies[4]["error"]["code"] == -32601
    assert replies[None]["error"]["code"] == -32700
    assert replies[5]["error"]["code"] == -32602
    assert len(replies) == 8  # the notification got no reply


def test_model_proxy_status_carries_claude_model_proxy_field_names(loc: Locations) -> None:
    config = loc.home / ".config" / "anthroxy" / "config.toml"
    config.write_text(
        config.read_text()
        + "[routing]\nrewrite_response_model = false\n"
        + '[routing.response_names]\n"deepseek-v4-pro" = "claude-deepseek-v4-pro"\n'
    )
    replies = converse(loc, [req(1, "tools/call", {"name": "model_proxy_status"})])
    report = status_of(replies[1])
    # claude-model-proxy's README: "listening, error, external, localUrl, provider hasApiKey
    # flags, and the active model mappings"; its server added baseUrl and rewriteResponses.
    for name in ("listening", "error", "external", "localUrl", "baseUrl", "providers"):
        assert name in report
    assert (report["listening"], report["error"], report["external"]) == (False, None, False)
    assert "start_proxy" in report["hint"]
    provider = report["providers"]["deepseek"]
    assert provider["hasApiKey"] is True and provider["format"] == "anthropic"
    assert provider["upstreamBaseUrl"].startswith("https://")
    assert report["modelMap"]["opus"] == "deepseek-v4-pro"
    assert report["modelMap"]["fast"] == "tiny"
    assert report["modelRoutes"]["deepseek-v4-pro"] == "deepseek"
    assert report["modelRoutes"]["tiny"] == "mock"
    assert report["modelAliases"] == {"deepseek-v4-pro": "claude-deepseek-v4-pro"}
    assert report["rewriteResponses"] is False
    assert report["tokenRequired"] is False
    assert SECRET not in json.dumps(replies)


def test_start_proxy_starts_it_once_then_reports(loc: Locations) -> None:
    replies = converse(
        loc,
        [
            initialize(),
            req(2, "tools/call", {"name": "start_proxy", "arguments": {}}),
            req(3, "tools/call", {"name": "model_proxy_status"}),
            req(4, "tools/call", {"name": "start_proxy"}),
        ],
    )
    started = status_of(replies[2])
    record = daemon.read_record(paths.pid_file(loc.env, loc.home))
    assert record is not None and daemon.process_alive(record.pid)
    assert started["started"] is True and "anthroxy is running at" in started["message"]
    assert (started["listening"], started["error"], started["external"]) == (True, None, False)
    assert started["localUrl"] == record.url and started["pid"] == record.pid
    assert status_of(replies[3])["listening"] is True
    again = status_of(replies[4])
    assert again["started"] is False and "already answers" in again["message"]
    assert daemon.read_record(paths.pid_file(loc.env, loc.home)) == record
    assert SECRET not in json.dumps(replies)


def test_a_proxy_not_started_by_anthroxy_is_external_and_not_started_again(
    loc: Locations, tmp_path: Path
) -> None:
    settings = daemon.load_settings(loc)
    port = settings.config.server.port
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    server = subprocess.Popen(
        [sys.executable, str(script), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if daemon.health(url) is not None:
                break
            time.sleep(0.05)
        replies = converse(
            loc,
            [
                req(1, "tools/call", {"name": "model_proxy_status"}),
                req(2, "tools/call", {"name": "start_proxy"}),
            ],
        )
    finally:
        server.terminate()
        server.wait(5)
    report = status_of(replies[1])
    assert (report["listening"], report["external"], report["error"]) == (True, True, None)
    again = status_of(replies[2])
    assert again["started"] is False and again["external"] is True
    assert not paths.pid_file(loc.env, loc.home).exists()


def test_status_when_the_proxy_is_down(loc: Locations) -> None:
    replies = converse(loc, [req(1, "tools/call", {"name": "anthroxy_status"})])
    report = status_of(replies[1])
    assert report["listening"] is False
    assert report["url"].startswith("http://127.0.0.1:")
    assert report["pid"] is None


def test_a_port_held_by_another_program_is_the_error(loc: Locations) -> None:
    port = daemon.load_settings(loc).config.server.port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        report = proxy_status.model_proxy_report(proxy_status.snapshot(loc, Options()))
    assert report["listening"] is False
    assert f"port {port}" in report["error"] and "hint" not in report


def test_status_reports_config_problems_instead_of_failing(tmp_path: Path) -> None:
    loc = Locations({"ANTHROXY_CONFIG": str(tmp_path / "missing.toml")}, tmp_path, tmp_path)
    snap = proxy_status.snapshot(loc, Options())
    report = proxy_status.anthroxy_report(snap)
    assert report["listening"] is False
    assert any("not found" in line for line in report["config_problems"])
    compat = proxy_status.model_proxy_report(snap)
    assert compat["error"].startswith("invalid configuration:") and "not found" in compat["error"]
    assert compat["providers"] == {} and compat["localUrl"] is None
    # The extension's port still says where to look.
    with_port = proxy_status.model_proxy_report(proxy_status.snapshot(loc, Options(port=8125)))
    assert with_port["localUrl"] == "http://127.0.0.1:8125" and with_port["error"]


def test_port_and_token_from_the_extension(loc: Locations) -> None:
    token = "tok-extension-0123456789"
    env = {**loc.env, mcp.TOKEN_ENV: token}
    opts = mcp.options(env, None, "8123.0")
    assert (opts.port, opts.token) == (8123, token)
    report = proxy_status.model_proxy_report(proxy_status.snapshot(loc, opts))
    assert report["localUrl"] == "http://127.0.0.1:8123"
    assert report["tokenRequired"] is True
    assert token not in json.dumps(report) and token not in repr(opts)


@pytest.mark.parametrize("unset", [None, "", "  ", "${user_config.port}"])
def test_fields_left_empty_in_claude_desktop_mean_unset(unset: str | None) -> None:
    env = {} if unset is None else {mcp.TOKEN_ENV: unset.replace("port", "auth_token")}
    opts = mcp.options(env, unset, unset)
    assert (opts.config_path, opts.port, opts.token) == (None, None, "")


@pytest.mark.parametrize("bad", ["abc", "0", "70000", "80.5"])
def test_a_bad_port_is_a_clear_error(bad: str) -> None:
    with pytest.raises(CommandError, match="--port: expected a port number"):
        mcp.parse_port(bad)


def test_the_started_proxy_requires_the_extensions_token(loc: Locations) -> None:
    # Claude Desktop hands the token to `anthroxy mcp` in $ANTHROXY_AUTH_TOKEN; the proxy it
    # starts inherits the variable, which sits over the files' auth_token.
    config = loc.home / ".config" / "anthroxy" / "config.toml"
    config.write_text(config.read_text().replace("[server]\n", '[server]\nauth_token = "a1"\n'))
    config.chmod(0o600)
    token = "tok-extension-0123456789"
    env_loc = Locations(env={**loc.env, mcp.TOKEN_ENV: token}, home=loc.home, cwd=loc.cwd)
    report, failed = proxy_status.start_proxy(env_loc, mcp.options(env_loc.env, None, None))
    assert failed is False and report["started"] is True and "warning" not in report
    url = report["localUrl"]
    assert daemon.health(url, token=token) is not None
    request = urllib.request.Request(url + "/v1/models", headers={"x-api-key": "a1"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert token not in json.dumps(report)


def test_a_failed_start_is_a_tool_error_with_the_reason(loc: Locations) -> None:
    def broken(*args: object, **kwargs: object) -> daemon.PidRecord:
        assert kwargs["overrides"] == {"server.port": 8124}
        raise CommandError("the server exited with code 3 while starting")

    server = mcp.McpServer(mcp.status_handlers(loc, Options(port=8124)))
    handlers = {
        "start_proxy": lambda: proxy_status.start_proxy(loc, Options(port=8124), start=broken)
    }
    reply = mcp.McpServer(handlers).handle(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "start_proxy"}}
    )
    assert reply is not None and reply["result"]["isError"] is True
    report = reply["result"]["structuredContent"]
    assert report["started"] is False and "exited with code 3" in report["error"]
    assert report["localUrl"] == "http://127.0.0.1:8124"
    listed = server.handle({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert listed is not None and len(listed["result"]["tools"]) == 3


def test_credentials_in_a_base_url_are_not_reported() -> None:
    assert proxy_status.redact_url("https://u:p4ss@gw.example/v1") == "https://gw.example/v1"
    assert proxy_status.redact_url("http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("requested", "answered"),
    [("2025-06-18", "2025-06-18"), ("2024-11-05", "2024-11-05"), ("1999-01-01", "2025-06-18")],
)
def test_version_negotiation(requested: str, answered: str) -> None:
    server = mcp.McpServer(HANDLERS)
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
    reply = mcp.McpServer(HANDLERS).handle(message)
    assert reply is not None and reply["error"]["code"] == code


def test_notifications_and_responses_get_no_reply() -> None:
    server = mcp.McpServer(HANDLERS)
    assert server.handle({"jsonrpc": "2.0", "method": "notifications/cancelled"}) is None
    assert server.handle({"jsonrpc": "2.0", "method": "no/such/notification"}) is None
    assert server.handle({"jsonrpc": "2.0", "id": 9, "result": {}}) is None


def test_a_failing_status_is_a_tool_error_not_a_crash() -> None:
    def broken() -> dict[str, Any]:
        raise OSError("disk on fire")

    reply = mcp.McpServer({TOOL: lambda: (broken(), False)}).handle(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": TOOL}}
    )
    assert reply is not None
    assert reply["result"]["isError"] is True
    assert "disk on fire" in reply["result"]["content"][0]["text"]


def test_serve_skips_blank_lines_and_survives_bad_bytes() -> None:
    out = io.BytesIO()
    mcp.serve(mcp.McpServer(HANDLERS), io.BytesIO(b"\n\xff\xfe\n" + req(1, "ping") + b"\n"), out)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("error", {}).get("code") for r in replies] == [-32700, None]


def test_the_answering_proxys_own_key_flags_win(tmp_path: Path) -> None:
    # A login service reads keys from its .env; this process (Claude Desktop's child) sees none.
    healthz = {
        "status": "ok",
        "providers": {
            "deepseek": {
                "name": "DeepSeek",
                "api": "anthropic",
                "base_url": "https://user:pw@api.deepseek.com/anthropic",
                "has_key": True,
                "key_source": "env:DEEPSEEK_API_KEY",
            }
        },
    }
    snap = proxy_status.Snapshot(
        settings=None,
        config_problems=[],
        pid_problem=None,
        record=None,
        url="http://127.0.0.1:8082",
        healthz=healthz,
        port_taken=False,
    )
    report = proxy_status.model_proxy_report(snap)
    assert (report["listening"], report["external"]) == (True, True)
    deepseek = report["providers"]["deepseek"]
    assert deepseek["hasApiKey"] is True and deepseek["has_key"] is True
    assert deepseek["upstreamBaseUrl"] == "https://api.deepseek.com/anthropic"
    assert "pw" not in json.dumps(report)
    # An answer without key flags (another program, an older anthroxy) is not used for them.
    snap_without = dataclasses.replace(snap, healthz={"providers": {"mock": {"api": "chat"}}})
    assert proxy_status.model_proxy_report(snap_without)["providers"] == {}
