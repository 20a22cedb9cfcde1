"""How the real Claude Code CLI and anthroxy together survive upstream failures.

docs/protocol/claude-code.md §5-§6 describes what the CLI does with each failure; these tests check
that anthroxy
hands the failure over in the form that makes Claude Code recover by itself: a stream cut while
a block is open, in any of the three upstream dialects, becomes an SSE ``error`` with the block
left open (Claude Code then retries at once without streaming), and an upstream 429 keeps its
``retry-after`` (Claude Code waits exactly that long). When nothing can serve (a provider that
refuses connections, or one whose breaker opened) and when the proxy token is wrong, Claude Code
stops at once and prints anthroxy's message (docs/troubleshooting.md).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from . import scripted_anthropic, scripted_responses
from .claude_cli import base_url, claude_writes, needs_claude, run_claude, settings
from .scripted_model import ARRIVALS, CUT_TEXT, REQUESTS, Script, make_app

pytestmark = needs_claude
PROXY_TOKEN = "proxy-token-e2e-123"


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


# What a person sees when nothing can serve, or when the proxy token is wrong: Claude Code must
# stop at once and print anthroxy's message as it is (docs/troubleshooting.md has the table of
# answers tried with both releases). Before, a refused provider was a 502 that Claude Code
# retried silently for minutes.
STOPS_WITHIN = 20.0  # seconds; a retried 502 would still be retrying (10 tries, ~3 minutes)


async def test_a_provider_that_refuses_connections_stops_claude_code_with_the_reason(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    proxy = await aiohttp_server(create_app(settings(dead)))
    started = time.monotonic()
    status, output = await run_claude(base_url(proxy), tmp_path, "hello", timeout=STOPS_WITHIN)
    assert time.monotonic() - started < STOPS_WITHIN
    assert status != 0
    assert "API Error: 503 anthroxy: no provider can serve " in output
    assert f"mock/gpt-mock: cannot reach provider 'mock' at {dead}" in output


def _proxy_app(url: str, **top: Any) -> Any:
    """anthroxy with one Chat Completions provider ``mock`` at ``url`` and the config tables
    ``top`` (``server``, ``routing``)."""
    raw = {
        **top,
        "providers": {"mock": {"api": "chat", "base_url": url, "auth": "none"}},
        "tiers": dict.fromkeys(("opus", "sonnet", "haiku", "default"), "mock/gpt-mock"),
    }
    return create_app(settings_from_config(structure_config(raw), {}))


def _guarded(url: str) -> Any:
    return _proxy_app(url, server={"auth_token": PROXY_TOKEN})


async def test_a_wrong_proxy_token_is_shown_as_anthroxy_wrote_it(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model = await aiohttp_server(make_app(Script()))
    proxy = await aiohttp_server(_guarded(base_url(model) + "/v1"))
    wrong = {"ANTHROPIC_AUTH_TOKEN": "not-the-token"}
    started = time.monotonic()
    status, output = await run_claude(
        base_url(proxy), tmp_path, "hello", timeout=STOPS_WITHIN, credentials=wrong
    )
    assert time.monotonic() - started < STOPS_WITHIN
    assert status != 0
    assert (
        "API Error: 401 anthroxy: wrong proxy token (sent as Authorization: Bearer). "
        "This proxy requires its server.auth_token: set ANTHROPIC_AUTH_TOKEN to that value"
    ) in output
    assert model.app[REQUESTS] == []


async def test_the_proxy_token_in_anthropic_auth_token_works_beside_a_stale_api_key(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    """Claude Code sends both headers when both variables are set: the right bearer passes."""
    model = await aiohttp_server(make_app(Script()))
    proxy = await aiohttp_server(_guarded(base_url(model) + "/v1"))
    both = {"ANTHROPIC_AUTH_TOKEN": PROXY_TOKEN, "ANTHROPIC_API_KEY": "sk-ant-stale-key"}
    await claude_writes(proxy, tmp_path, "token.txt", "token accepted", credentials=both)


async def test_a_provider_failing_every_time_stops_claude_code_once_its_breaker_opens(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    """Each 500 alone is worth Claude Code's retry; three in a row open the breaker, and the
    next try (made anyway: it is the only target) ends the run with the reason."""
    hits: list[float] = []

    async def broken(request: web.Request) -> web.Response:
        hits.append(time.monotonic())
        error = {"error": {"message": "internal failure", "type": "server_error"}}
        return web.json_response(error, status=500)

    model = web.Application()
    model.router.add_post("/v1/chat/completions", broken)
    upstream = await aiohttp_server(model)
    app = _proxy_app(base_url(upstream) + "/v1", routing={"circuit_breaker": {"failures": 3}})
    proxy = await aiohttp_server(app)
    status, output = await run_claude(base_url(proxy), tmp_path, "hello", timeout=STOPS_WITHIN)
    assert status != 0
    assert len(hits) == 4  # three retried 500s, then the forced try behind the open breaker
    assert "API Error: 503 anthroxy: no provider can serve " in output
    assert "mock/gpt-mock: mock (HTTP 500): internal failure (breaker open)" in output
