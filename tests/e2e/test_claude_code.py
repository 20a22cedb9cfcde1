"""The real Claude Code CLI, headless and offline, works through anthroxy.

Claude Code runs as a subprocess against the real app, which translates to a scripted model
behind a local Chat Completions endpoint. The CLI is found through ``$ANTHROXY_CLAUDE_BIN``, then
``claude`` on PATH, then the copy ``.ci/run`` installs; without any, the tests skip and say so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.app import create_app
from anthroxy_server.config import settings_from_config, structure_config

from .scripted_model import REQUESTS, make_app

ROOT = Path(__file__).resolve().parents[2]
CI_COPY = ROOT / ".ci" / "claude-code" / "node_modules" / ".bin" / "claude"


def _claude_binary() -> str | None:
    explicit = os.environ.get("ANTHROXY_CLAUDE_BIN")
    if explicit:
        return explicit
    return shutil.which("claude") or (str(CI_COPY) if CI_COPY.exists() else None)


CLAUDE = _claude_binary()
pytestmark = pytest.mark.skipif(CLAUDE is None, reason="Claude Code CLI not installed")


def _settings(model_url: str, **provider: Any) -> Any:
    target = "mock/gpt-mock"
    raw = {
        "providers": {
            "mock": {
                "api": "chat",
                "base_url": model_url + "/v1",
                "auth": "none",
                "models": ["gpt-mock"],
                **provider,
            }
        },
        "tiers": {"opus": target, "sonnet": target, "haiku": target, "default": target},
    }
    return settings_from_config(structure_config(raw), {})


async def _run_claude(base_url: str, home: Path, prompt: str) -> tuple[int, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "placeholder-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    assert CLAUDE is not None
    process = await asyncio.create_subprocess_exec(
        CLAUDE,
        "-p",
        prompt,
        "--allowedTools",
        "Write",
        "--permission-mode",
        "acceptEdits",
        env=env,
        cwd=str(home),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        raise
    return process.returncode or 0, output.decode(errors="replace")


async def test_claude_code_runs_a_tool_loop_through_a_chat_upstream(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model = await aiohttp_server(make_app())
    proxy = await aiohttp_server(create_app(_settings(str(model.make_url("")).rstrip("/"))))
    target = tmp_path / "hello.txt"

    status, output = await _run_claude(
        str(proxy.make_url("")).rstrip("/"), tmp_path, f"Please write hi there into {target}"
    )

    assert status == 0, output
    assert target.read_text() == "hi there\n"  # the Write tool ran with the streamed arguments
    assert "The file is written." in output
    requests = model.app[REQUESTS]
    first, last = requests[0], requests[-1]
    assert first["stream"] is True and first["model"] == "gpt-mock"
    assert {"Write", "Bash", "Read"} <= {t["function"]["name"] for t in first["tools"]}
    # The tool result went back as a tool message answering the model's call.
    tool_messages = [m for m in last["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_scripted_1"]


async def test_claude_code_stops_at_once_when_the_upstream_refuses_the_key(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    async def refuse(request: web.Request) -> web.Response:
        body = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
        return web.json_response(body, status=401)

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", refuse)
    model = await aiohttp_server(upstream)
    proxy = await aiohttp_server(create_app(_settings(str(model.make_url("")).rstrip("/"))))

    # Claude Code retries 401s for minutes unless told not to (x-should-retry: false).
    status, output = await asyncio.wait_for(
        _run_claude(str(proxy.make_url("")).rstrip("/"), tmp_path, "say hi"), timeout=60
    )

    assert status != 0
    assert "mock" in output  # the message names the provider whose key was refused
