"""The real Claude Code CLI in front of an anthroxy whose Anthropic upstream is anthroxy itself
(``ANTHROPIC_BASE_URL`` exported for both): the loop's 403 reaches the person at once, with its
explanation, instead of minutes of retries (docs/protocol/claude-code.md §5)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.loop import HOP_HEADER

from ..server.conftest import free_port
from .claude_cli import needs_claude, run_claude, settings

pytestmark = needs_claude


@pytest.fixture
async def looped() -> AsyncIterator[tuple[str, list[str]]]:
    """An anthroxy whose provider is its own URL (its config names another port, as when the URL
    names this machine in a way the start-up check cannot know); the paths clients asked for."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings(url, api="anthropic", model="claude-test", provider_id="anthropic"))
    asked: list[str] = []

    async def note(request: web.Request, response: web.StreamResponse) -> None:
        if HOP_HEADER not in request.headers:  # the client's own requests, not the loop's
            asked.append(f"{request.method} {request.path} {response.status}")

    app.on_response_prepare.append(note)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield url, asked
    await runner.cleanup()


async def test_claude_code_shows_the_loop_and_stops(looped: Any, tmp_path: Path) -> None:
    url, asked = looped
    started = time.monotonic()
    status, output = await run_claude(url, tmp_path, "Say hi", timeout=120)
    elapsed = time.monotonic() - started
    assert status != 0, output
    assert "anthroxy loop" in output and "ANTHROPIC_BASE_URL" in output
    messages = [line for line in asked if line.startswith("POST /v1/messages ")]
    assert messages and all(line.endswith(" 403") for line in messages)
    assert len(messages) == 1, asked  # shown at once, never retried
    assert elapsed < 60, elapsed
