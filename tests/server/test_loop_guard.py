"""Loops back into anthroxy: a provider URL that is the server's own address is refused at start
(and by ``config check``); a request that has come round through anthroxy is refused at once,
with a 403 that Claude Code does not retry, while one deliberate anthroxy-in-front-of-anthroxy
still works."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.loop import HOP_HEADER

from .conftest import SECRET_KEY, free_port, message_body

KEY_ENV = {"ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdef"}


def _problems(raw: dict[str, Any], env: dict[str, str]) -> list[str]:
    try:
        settings_from_config(structure_config(raw), env)
    except ConfigError as exc:
        return [p for p in exc.problems if "loop" in p]
    return []


def test_anthropic_base_url_at_anthroxy_is_refused_with_both_meanings() -> None:
    env = {**KEY_ENV, "ANTHROPIC_BASE_URL": "http://localhost:8082"}
    (problem,) = _problems({}, env)
    assert problem.startswith(
        "providers.anthropic.base_url: http://localhost:8082 (from ANTHROPIC_BASE_URL) is "
        "anthroxy's own address (server.host 127.0.0.1, server.port 8082)"
    )
    assert "Claude Code sends its requests there" in problem
    assert "takes it as the Anthropic upstream's URL" in problem
    assert "Unset it in the environment anthroxy starts in" in problem
    assert "set providers.anthropic.base_url explicitly" in problem


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8082"),
        ("127.0.0.1", "http://127.0.0.5:8082/"),
        ("127.0.0.1", "http://[::1]:8082"),
        ("127.0.0.1", "http://LOCALHOST.:8082"),
        ("127.0.0.1", "http://anthroxy.localhost:8082"),
        ("127.0.0.1", "http://[::ffff:127.0.0.1]:8082"),
        ("localhost", "http://127.0.0.1:8082"),
        ("0.0.0.0", "http://127.0.0.1:8082"),
        ("0.0.0.0", "http://0.0.0.0:8082"),
        ("::", "http://localhost:8082"),
        ("192.168.1.5", "http://192.168.1.5:8082"),
    ],
)
def test_a_provider_url_at_the_servers_own_address_is_refused(host: str, url: str) -> None:
    raw = {
        "server": {"host": host, "port": 8082},
        "providers": {"relay": {"api": "anthropic", "base_url": url, "api_key": SECRET_KEY}},
    }
    (problem,) = _problems(raw, {})
    assert problem.startswith(f"providers.relay.base_url: {url.rstrip('/')} (from ")
    assert "Set providers.relay.base_url to the provider's own URL." in problem


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8083"),  # another port
        ("127.0.0.1", "http://10.0.0.7:8082"),  # another machine
        ("192.168.1.5", "http://localhost:8082"),  # loopback is not where this server listens
        ("127.0.0.1", "https://api.anthropic.com"),
    ],
)
def test_other_addresses_pass(host: str, url: str) -> None:
    raw = {
        "server": {"host": host, "port": 8082},
        "providers": {"relay": {"api": "anthropic", "base_url": url, "api_key": SECRET_KEY}},
    }
    assert _problems(raw, {}) == []


def _run(args: list[str], tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        "HOME": str(tmp_path),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(sys.path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "anthroxy_server", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_and_config_check_refuse_to_start_on_a_loop(tmp_path: Path) -> None:
    port = free_port()
    env = {**KEY_ENV, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}
    served = _run(["serve", "--port", str(port)], tmp_path, env)
    # `config check` has no --port: the server's default port, 8082.
    checked = _run(["config", "check"], tmp_path, {**env, "ANTHROPIC_BASE_URL": _at(8082)})
    assert served.returncode == 2
    assert f"providers.anthropic.base_url: http://127.0.0.1:{port} (from ANTHROPIC_BASE_URL)" in (
        served.stderr
    )
    assert "Unset it in the environment anthroxy starts in" in served.stderr
    assert "Traceback" not in served.stderr
    assert checked.returncode == 2
    assert "ANTHROPIC_BASE_URL means two things" in checked.stdout + checked.stderr


def _at(port: int) -> str:
    return f"http://localhost:{port}"


# --- At run time: the hop header.


def _settings(base_url: str, port: int, **server: Any) -> Any:
    raw = {
        "server": {"port": port, **server},
        "providers": {
            "anthropic": {"base_url": base_url, "api_key": SECRET_KEY, "models": ["up-model"]}
        },
        "tiers": {"default": "anthropic/up-model"},
    }
    return settings_from_config(structure_config(raw), {})


@pytest.fixture
async def serve_at() -> AsyncIterator[Callable[[Any, int], Any]]:
    """Start real gateways on loopback ports the test chose."""
    runners: list[web.AppRunner] = []

    async def start(settings: Any, port: int) -> str:
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def _ask(
    url: str, headers: dict[str, str] | None = None, **body: Any
) -> tuple[int, dict[str, str], dict[str, Any]]:
    async with (
        ClientSession() as session,
        session.post(f"{url}/v1/messages", json=message_body(**body), headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.json()


def _assert_loop_refusal(status: int, headers: dict[str, str], answer: dict[str, Any]) -> None:
    assert status == 403, answer
    assert headers.get("x-should-retry") == "false"  # Claude Code stops at once
    assert answer["type"] == "error" and answer["error"]["type"] == "permission_error"
    message = answer["error"]["message"]
    assert "anthroxy loop: this request has already passed through anthroxy 2 times" in message
    assert "ANTHROPIC_BASE_URL, which means two things" in message
    assert SECRET_KEY not in message


@pytest.mark.parametrize("stream", [False, True])
async def test_a_server_pointed_at_itself_refuses_the_request(serve_at, stream) -> None:
    # The start-up check sees server.port 1; the server really listens elsewhere, as when the
    # URL names this machine by a name the check cannot know.
    port = free_port()
    url = await serve_at(_settings(f"http://127.0.0.1:{port}", 1), port)
    _assert_loop_refusal(*await _ask(url, stream=stream))


async def test_two_servers_pointed_at_each_other_refuse_the_request(serve_at) -> None:
    a_port, b_port = free_port(), free_port()
    a_url = await serve_at(_settings(f"http://127.0.0.1:{b_port}", a_port), a_port)
    await serve_at(_settings(f"http://127.0.0.1:{a_port}", b_port), b_port)
    _assert_loop_refusal(*await _ask(a_url))


async def test_a_loop_into_a_server_with_a_token_says_so(serve_at) -> None:
    # The looped request carries the provider's key, not the token: refused at the first hop.
    port = free_port()
    token = "proxy-token-0123456789"
    url = await serve_at(_settings(f"http://127.0.0.1:{port}", 1, auth_token=token), port)
    status, headers, answer = await _ask(url, {"x-api-key": token})
    assert status == 401 and headers.get("x-should-retry") == "false"
    message = answer["error"]["message"]
    assert "This request came through anthroxy (x-anthroxy-hops: 1)" in message
    assert "leads back here in a loop" in message and "ANTHROPIC_BASE_URL" in message
    assert token not in message and SECRET_KEY not in message


async def test_one_anthroxy_behind_another_still_works(serve_at, upstream) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(
            {"id": "msg_1", "type": "message", "role": "assistant", "model": "up-model",
             "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
             "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}
        )  # fmt: skip

    upstream.handler = answer
    inner_port, outer_port = free_port(), free_port()
    await serve_at(_settings(upstream.url, inner_port), inner_port)
    outer = await serve_at(_settings(f"http://127.0.0.1:{inner_port}", outer_port), outer_port)
    status, _, reply = await _ask(outer)
    assert status == 200 and reply["content"] == [{"type": "text", "text": "ok"}]
    assert upstream.seen[-1].headers[HOP_HEADER] == "2"  # client -> outer (0) -> inner (1) -> 2


async def test_every_upstream_request_carries_the_hop_header(upstream, make_gateway) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "no"}}, status=400)

    upstream.handler = refuse
    upstream.count_handler = refuse
    client = await make_gateway()
    for model in ("claude-sonnet-test", "chatty", "resp"):
        await (await client.post("/v1/messages", json=message_body(model))).read()
    await (await client.post("/v1/messages/count_tokens", json=message_body())).read()
    assert [seen.headers.get(HOP_HEADER) for seen in upstream.seen] == ["1"] * 4
    assert upstream.seen[-1].path.endswith("/count_tokens")
