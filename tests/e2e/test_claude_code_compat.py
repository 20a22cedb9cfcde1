"""The real Claude Code CLI on an endpoint that refuses what DeepSeek's /anthropic refuses.

Claude Code puts ``role: "system"`` entries in ``messages`` and a JSON string in
``metadata.user_id`` (docs/protocol/claude-code.md §4.4, §4.7); DeepSeek answers both with a 400
(tests/server/compat_fakes.py has the texts and their sources). Through a provider with
DeepSeek's cleaner the Write-tool loop completes, and the thinking block the endpoint signed comes
back to it exactly as signed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.gateway.app import create_app

from ..server.compat_fakes import deepseek_refusal
from . import scripted_anthropic
from .claude_cli import base_url, claude_writes, needs_claude, settings

pytestmark = needs_claude


@web.middleware
async def refuses_like_deepseek(request: web.Request, handler: Any) -> web.StreamResponse:
    raw = await request.read()
    refusal = deepseek_refusal(raw, json.loads(raw))
    if refusal is None:
        response: web.StreamResponse = await handler(request)
        return response
    error = {"message": refusal, "type": "invalid_request_error", "param": None}
    return web.json_response({"error": {**error, "code": "invalid_request_error"}}, status=400)


async def test_claude_code_on_a_deepseek_like_endpoint(aiohttp_server: Any, tmp_path: Path) -> None:
    app = scripted_anthropic.make_app()
    app.middlewares.append(refuses_like_deepseek)
    model = await aiohttp_server(app)
    config = settings(
        base_url(model), api="anthropic", model=scripted_anthropic.MODEL, cleaner="deepseek"
    )
    proxy = await aiohttp_server(create_app(config))
    await claude_writes(proxy, tmp_path, "deep.txt", "cleaned for deepseek")
    seen = model.app[scripted_anthropic.REQUESTS]
    assert len(seen) == 2
    for request in seen:
        assert {m["role"] for m in request.body["messages"]} <= {"user", "assistant"}
        assert request.body["metadata"]["user_id"].isalnum()
    thinking = seen[1].body["messages"][1]["content"][0]
    assert thinking == {
        "type": "thinking",
        "thinking": scripted_anthropic.THINKING,
        "signature": scripted_anthropic.SIGNATURE,
    }
