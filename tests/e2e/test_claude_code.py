"""The real Claude Code CLI, headless and offline, works through anthroxy.

Claude Code runs as a subprocess against the real app, which translates to a scripted model
behind a local Chat Completions endpoint (``claude_cli`` finds the CLI; without it, the tests
skip and say so). The other dialects and the failure paths are in the sibling test modules.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.gateway.app import create_app

from .claude_cli import base_url, claude_writes, needs_claude, run_claude, settings
from .scripted_model import REQUESTS, make_app

pytestmark = needs_claude


async def test_claude_code_runs_a_tool_loop_through_a_chat_upstream(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model = await aiohttp_server(make_app())
    proxy = await aiohttp_server(create_app(settings(base_url(model) + "/v1")))
    await claude_writes(proxy, tmp_path, "hello.txt", "hi there")
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
    proxy = await aiohttp_server(create_app(settings(base_url(model) + "/v1")))

    # Claude Code retries 401s for minutes unless told not to (x-should-retry: false).
    status, output = await asyncio.wait_for(
        run_claude(base_url(proxy), tmp_path, "say hi"), timeout=60
    )

    assert status != 0
    assert "mock" in output  # the message names the provider whose key was refused
