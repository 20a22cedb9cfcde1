"""``server.log_file_level``: the log also goes to ``server.log`` in the state directory, each
output at its own level; and the real server with both file logs on (the body log's warning at
start, its records, the server log) as a user starts it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.config.paths import SERVER_LOG_NAME
from anthroxy_server.gateway.logs import LOGGER_NAME, setup_logging

from .conftest import SECRET_KEY, fixture_bytes, free_port, message_body


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    saved = {}
    for name in (LOGGER_NAME, "aiohttp"):
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.level, logger.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.parametrize(("console", "to_file"), [("warning", "debug"), ("debug", "error")])
def test_console_and_file_keep_their_own_levels(
    tmp_path, capsys, restore_loggers, console, to_file
) -> None:
    path = tmp_path / "state" / SERVER_LOG_NAME
    setup_logging(
        level=console, fmt="text", secret_values=(SECRET_KEY,), file_path=path, file_level=to_file
    )
    log = logging.getLogger(LOGGER_NAME)
    for level in ("debug", "info", "warning", "error"):
        log.log(logging.getLevelName(level.upper()), "line at %s with %s", level, SECRET_KEY)
    written = path.read_text()
    shown = capsys.readouterr().err
    order = ["debug", "info", "warning", "error"]
    for level in order:
        assert (f"line at {level}" in shown) == (order.index(level) >= order.index(console))
        assert (f"line at {level}" in written) == (order.index(level) >= order.index(to_file))
    assert SECRET_KEY not in written + shown and "[REDACTED]" in written
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_file_without_a_file_level(tmp_path, capsys, restore_loggers) -> None:
    path = tmp_path / SERVER_LOG_NAME
    setup_logging(level="info", fmt="text", file_path=path, file_level="")
    logging.getLogger(LOGGER_NAME).info("console only")
    assert "console only" in capsys.readouterr().err
    assert not path.exists()


@pytest.mark.parametrize(("value", "ok"), [("", True), ("DEBUG", True), ("verbose", False)])
def test_log_file_level_is_validated(value: str, ok: bool) -> None:
    config = structure_config({"server": {"log_file_level": value}})
    try:
        settings_from_config(config, {"ANTHROPIC_API_KEY": "sk-ant-test-0123456789"})
    except ConfigError as exc:
        assert not ok
        assert exc.problems == [
            "server.log_file_level: expected one of debug, info, warning, error, critical, "
            'got "verbose"'
        ]
    else:
        assert ok


async def test_the_real_server_writes_both_files(tmp_path: Path, upstream) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(fixture_bytes("stream_text.sse"))
        return response

    upstream.handler = answer
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nport = {port}\nlog_level = "warning"\nlog_file_level = "info"\n'
        "log_request_body = true\nlog_response_body = true\n"
        f'[providers.fake]\napi = "anthropic"\nbase_url = "{upstream.url}"\n'
        f'api_key = "{SECRET_KEY}"\nauth = "x-api-key"\nmodels = ["up-model"]\n'
        '[tiers]\ndefault = "fake/up-model"\n'
    )
    config.chmod(0o600)
    state = tmp_path / "xdg-state"
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "XDG_STATE_HOME": str(state),
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "anthroxy_server", "serve", "--config", str(config),
        cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        answer_text = await _converse(f"http://127.0.0.1:{port}")
    finally:
        server.send_signal(signal.SIGINT)  # a clean stop writes what the body log queued
        _, err = await asyncio.wait_for(server.communicate(), 30)
    console = err.decode()
    home = state / "anthroxy"
    bodies = [json.loads(line) for line in (home / "bodies.jsonl").read_text().splitlines()]
    server_log = (home / SERVER_LOG_NAME).read_text()
    assert f"bodies of /v1/messages are being written to {home / 'bodies.jsonl'}" in console
    assert "POST /v1/messages" not in console  # the access line is info: file only
    assert "POST /v1/messages model=claude-sonnet-test route=fake/up-model" in server_log
    assert f"on http://127.0.0.1:{port}" in server_log
    assert [b["direction"] for b in bodies] == ["request", "response"]
    assert bodies[0]["body"] == message_body(stream=True)
    assert bodies[1]["body"]["content"] == [{"type": "text", "text": answer_text}]
    assert SECRET_KEY not in console + server_log + (home / "bodies.jsonl").read_text()


async def _converse(url: str) -> str:
    """Wait for the server, then one streamed request; the text the client received."""
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        body = message_body(stream=True)
        async with session.post(f"{url}/v1/messages", json=body) as response:
            raw = await response.read()
    texts: list[Any] = []
    for line in raw.decode().splitlines():
        if line.startswith("data:") and "text_delta" in line:
            texts.append(json.loads(line[5:])["delta"]["text"])
    return "".join(texts)
