"""How the real Claude Code CLI and anthroxy together survive upstream failures.

docs/protocol/claude-code.md §5-§6 describes what the CLI does with each failure; these tests check
that anthroxy
hands the failure over in the form that makes Claude Code recover by itself: a stream cut while
a block is open, in any of the three upstream dialects, becomes an SSE ``error`` with the block
left open (Claude Code then retries at once without streaming), and an upstream 429 keeps its
``retry-after`` (Claude Code waits exactly that long).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anthroxy_server.gateway.app import create_app

from . import scripted_anthropic, scripted_responses
from .claude_cli import base_url, claude_writes, needs_claude, settings
from .scripted_model import ARRIVALS, CUT_TEXT, REQUESTS, Script, make_app

pytestmark = needs_claude


async def _proxy_for(aiohttp_server: Any, script: Script) -> tuple[Any, Any]:
    model = await aiohttp_server(make_app(script))
    proxy = await aiohttp_server(create_app(settings(base_url(model) + "/v1")))
    return model, proxy


async def test_a_stream_cut_mid_text_is_retried_without_streaming_and_succeeds(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model, proxy = await _proxy_for(aiohttp_server, Script(cut_first_stream=True))
    output = await claude_writes(proxy, tmp_path, "cut.txt", "after a cut")
    assert "".join(CUT_TEXT) not in output  # the broken answer was discarded, not shown
    requests = model.app[REQUESTS]
    assert [r.get("stream") for r in requests[:2]] == [True, None]
    assert requests[1]["messages"] == requests[0]["messages"]


async def test_a_429_with_retry_after_is_waited_out_and_then_succeeds(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model, proxy = await _proxy_for(aiohttp_server, Script(retry_after=1))
    await claude_writes(proxy, tmp_path, "later.txt", "in time")
    arrivals = model.app[ARRIVALS]
    assert arrivals[1] - arrivals[0] >= 1.0


async def test_a_pass_through_stream_cut_mid_text_is_retried_without_streaming(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model = await aiohttp_server(scripted_anthropic.make_app(cut_first_stream=True))
    config = settings(base_url(model), api="anthropic", model=scripted_anthropic.MODEL)
    proxy = await aiohttp_server(create_app(config))
    output = await claude_writes(proxy, tmp_path, "native-cut.txt", "native retry")
    assert scripted_anthropic.CUT_TEXT not in output
    cut, retry, after_tool = (seen.body for seen in model.app[scripted_anthropic.REQUESTS])
    assert cut["stream"] is True
    assert not retry.get("stream")
    assert retry["messages"] == cut["messages"]
    assert after_tool["messages"][-1]["content"][-1]["type"] == "tool_result"


async def test_a_responses_stream_cut_mid_text_is_retried_without_streaming(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model = await aiohttp_server(scripted_responses.make_app(cut_first_stream=True))
    config = settings(base_url(model) + "/v1", api="responses", model=scripted_responses.MODEL)
    proxy = await aiohttp_server(create_app(config))
    output = await claude_writes(proxy, tmp_path, "responses-cut.txt", "responses retry")
    assert scripted_responses.CUT_TEXT not in output
    cut, retry, after_tool = model.app[scripted_responses.REQUESTS]
    assert cut["stream"] is True
    assert not retry.get("stream")
    assert retry["input"] == cut["input"]
    assert after_tool["input"][-1]["type"] == "function_call_output"
