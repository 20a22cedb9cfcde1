"""The real Claude Code CLI on Claude through a scripted AWS Bedrock runtime.

Bedrock answers ``invoke-with-response-stream`` in AWS's binary event stream, each Anthropic event
base64 inside a ``chunk`` message (``tests/eventstream_frames.py``); Claude Code must see an
ordinary Anthropic stream and run the Write-tool loop of ``test_claude_code`` to the end, while
Bedrock sees its own request shape: model id in the path, no ``model``/``stream``,
``anthropic_version``, only the betas it takes, the Bedrock API key as a bearer token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.gateway.app import create_app
from tests.eventstream_frames import chunk

from . import scripted_anthropic
from .claude_cli import base_url, claude_writes, needs_claude, settings

pytestmark = needs_claude

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
KEY = "bedrock-e2e-key-0123456789"
SEEN = web.AppKey("seen", list)


async def invoke(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    request.app[SEEN].append((request.raw_path, dict(request.headers), body))
    content, stop_reason = scripted_anthropic.reply_blocks(body["messages"])
    events = scripted_anthropic.stream_events(content, stop_reason)
    if not request.path.endswith("/invoke-with-response-stream"):
        message = {**events[0]["message"], "content": content, "stop_reason": stop_reason}
        return web.json_response(message)
    response = web.StreamResponse(headers={"content-type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    for event in events:
        await response.write(chunk(event))
    return response


def bedrock_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[SEEN] = []
    app.router.add_post("/model/{model}/{operation}", invoke)
    return app


async def test_claude_code_through_bedrock(aiohttp_server: Any, tmp_path: Path) -> None:
    bedrock = await aiohttp_server(bedrock_app())
    config = settings(
        base_url(bedrock),
        api="anthropic",
        model=MODEL,
        provider_id="bedrock",
        auth="bedrock",
        region="us-east-1",
        api_key=KEY,
    )
    proxy = await aiohttp_server(create_app(config))
    await claude_writes(proxy, tmp_path, "bedrock.txt", "through bedrock")
    streamed = [s for s in bedrock.app[SEEN] if s[0].endswith("/invoke-with-response-stream")]
    assert len(streamed) >= 2  # the tool call, then the answer to its result
    for path, headers, body in bedrock.app[SEEN]:
        assert path.startswith(f"/model/{MODEL}/invoke")
        assert headers["Authorization"] == f"Bearer {KEY}"
        assert "placeholder-key" not in str(headers)
        assert "model" not in body and "stream" not in body and "metadata" not in body
        assert body["anthropic_version"] == "bedrock-2023-05-31"
        assert not any(
            beta.startswith(("claude-code-", "oauth-")) for beta in body.get("anthropic_beta", [])
        )
    last = streamed[-1][2]["messages"]
    assert any(b.get("type") == "tool_result" for b in last[-1]["content"])
