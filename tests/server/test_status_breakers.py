"""A provider that is down, as a person meets it: a real `anthroxy start`, one request that fails,
then `anthroxy status`. The request gets a final 503 naming the provider and the reason, and
`status` reads degraded and shows the open breaker and its last error (never a key)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from anthroxy_server.cli import daemon
from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config import paths
from anthroxy_server.config.paths import Locations

KEY = "sk-status-test-secret-key-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def loc(tmp_path: Path) -> Iterator[Locations]:
    home = tmp_path / "home"
    (home / ".config" / "anthroxy").mkdir(parents=True)
    dead = free_port()  # nothing listens there: connection refused
    (home / ".config" / "anthroxy" / "config.toml").write_text(
        f'[server]\nport = {free_port()}\n[providers.mock]\napi = "chat"\n'
        f'base_url = "http://127.0.0.1:{dead}/v1"\napi_key_env = "MOCK_KEY"\n'
        '[tiers]\ndefault = "mock/m1"\n'
        "[routing.circuit_breaker]\nfailures = 1\ncooldown = 600\n"
    )
    env = {
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MOCK_KEY": KEY,
    }
    yield Locations(env=env, home=home, cwd=tmp_path)
    with contextlib.suppress(Exception):
        record = daemon.read_record(paths.pid_file(env, home))
        if record is not None and daemon.process_alive(record.pid):
            os.kill(record.pid, signal.SIGKILL)


def cli_run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def test_status_shows_the_open_breaker_and_the_reason(loc: Locations) -> None:
    code, _text, err = cli_run(loc, "start", "--timeout", "15")
    assert code == 0, err
    try:
        record = daemon.read_record(paths.pid_file(loc.env, loc.home))
        assert record is not None
        code, text, _ = cli_run(loc, "status")
        assert "health:   ok\n" in text and "  breaker: closed\n" in text

        body = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
        body["messages"] = [{"role": "user", "content": "hi"}]
        request = urllib.request.Request(
            f"{record.url}/v1/messages",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 503
        assert refused.value.headers["x-should-retry"] == "false"
        message = json.loads(refused.value.read())["error"]["message"]
        assert "mock/m1: cannot reach provider 'mock'" in message

        code, text, _ = cli_run(loc, "status")
        assert code == 0
        assert "health:   degraded (a provider's circuit breaker is open: see below)\n" in text
        assert "    breaker: open until 20" in text and "Z (10 min more, after 1 failure)" in text
        assert "    last error: 502 cannot reach provider 'mock' at http://127.0.0.1:" in text
        assert KEY not in text
    finally:
        code, _text, err = cli_run(loc, "stop", "--timeout", "10")
    assert code == 0, err
