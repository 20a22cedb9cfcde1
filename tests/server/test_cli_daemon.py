"""`anthroxy start | status | stop | logs`: real detached processes on free loopback ports.

Most tests drive a stand-in server (a few lines of http.server answering /healthz, launched the
way `start` launches the real one) so the daemon logic is tested on its own; one test runs the
real `python -m anthroxy_server serve` when serve.py exists. Every test kills what it started.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anthroxy_server.cli import daemon
from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config import paths
from anthroxy_server.config.paths import CommandError, Locations

FAKE_SERVER = textwrap.dedent(
    """\
    import http.server, json, os, signal, sys, time
    args = sys.argv[1:]  # -m anthroxy_server serve --host H --port P
    host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])
    mode = os.environ.get("FAKE_MODE", "ok")
    print("fake anthroxy starting", flush=True)
    if mode == "exit":
        print("boom: cannot start", flush=True)
        sys.exit(3)
    if mode == "silent":
        time.sleep(60)
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok", "providers": {"mock": {"api": "chat"}}}).encode()
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            print("GET", self.path, flush=True)

    http.server.HTTPServer((host, port), Health).serve_forever()
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def loc(tmp_path: Path) -> Iterator[Locations]:
    home = tmp_path / "home"
    (home / ".config" / "anthroxy").mkdir(parents=True)
    port = free_port()
    (home / ".config" / "anthroxy" / "config.toml").write_text(
        f'[server]\nport = {port}\n[providers.mock]\napi = "chat"\n'
        'base_url = "http://127.0.0.1:9/v1"\nauth = "none"\n[tiers]\ndefault = "mock/m1"\n'
    )
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path)}
    loc = Locations(env=env, home=home, cwd=tmp_path)
    yield loc
    _kill_leftover(loc)


def _kill_leftover(loc: Locations) -> None:
    with contextlib.suppress(Exception):
        record = daemon.read_record(paths.pid_file(loc.env, loc.home))
        if record is not None and daemon.process_alive(record.pid):
            os.kill(record.pid, signal.SIGKILL)
            daemon._wait_gone(record.pid, 5)


def write_fake_python(tmp_path: Path) -> str:
    """An executable that takes `start`'s argv (`-m anthroxy_server serve ...`) and serves."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!{sys.executable}\n{FAKE_SERVER}")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    return write_fake_python(tmp_path)


def cli_run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def test_start_status_healthz_stop(loc: Locations, fake_python: str) -> None:
    out = io.StringIO()
    record = daemon.start(loc, out, python=fake_python, timeout=10)
    pid_path = paths.pid_file(loc.env, loc.home)
    assert pid_path.exists()
    assert record.url.startswith("http://127.0.0.1:")
    assert f"anthroxy is running at {record.url} (pid {record.pid})" in out.getvalue()
    assert daemon.health(record.url) == {"status": "ok", "providers": {"mock": {"api": "chat"}}}
    # Detached: its own session, so the terminal's Ctrl-C and hang-up do not reach it.
    assert os.getsid(record.pid) == record.pid

    again = io.StringIO()
    assert daemon.start(loc, again, python=fake_python).pid == record.pid
    assert "already running" in again.getvalue()

    code, text, _ = cli_run(loc, "status")
    assert code == 0
    assert f"pid:      {record.pid}" in text and f"url:      {record.url}" in text
    assert "uptime:" in text and "mock: api=chat" in text

    code, text, _ = cli_run(loc, "logs")
    assert code == 0 and "fake anthroxy starting" in text and "GET /healthz" in text

    code, text, _ = cli_run(loc, "stop")
    assert (code, text) == (0, f"stopped anthroxy (pid {record.pid})\n")
    assert not pid_path.exists()
    assert not daemon.process_alive(record.pid)
    code, text, _ = cli_run(loc, "status")
    assert code == 1 and "not running" in text
    assert cli_run(loc, "stop")[0] == 1


def test_stop_kills_a_server_that_ignores_sigterm(
    loc: Locations, fake_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loc = Locations({**loc.env, "FAKE_MODE": "ignore-term"}, loc.home, loc.cwd)
    record = daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    out = io.StringIO()
    assert daemon.stop(loc, out, grace=0.3)
    assert "ignored SIGTERM" in out.getvalue()
    assert not daemon.process_alive(record.pid)


def test_server_that_exits_during_start_shows_the_log(loc: Locations, fake_python: str) -> None:
    loc = Locations({**loc.env, "FAKE_MODE": "exit"}, loc.home, loc.cwd)
    with pytest.raises(CommandError) as caught:
        daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    assert "exited with code 3 while starting" in caught.value.message
    assert "boom: cannot start" in caught.value.message
    assert not paths.pid_file(loc.env, loc.home).exists()


def test_start_times_out_clearly(loc: Locations, fake_python: str) -> None:
    loc = Locations({**loc.env, "FAKE_MODE": "silent"}, loc.home, loc.cwd)
    with pytest.raises(CommandError) as caught:
        daemon.start(loc, io.StringIO(), python=fake_python, timeout=0.5)
    assert "did not answer" in caught.value.message and "/healthz" in caught.value.message
    assert "fake anthroxy starting" in caught.value.message
    assert not paths.pid_file(loc.env, loc.home).exists()


def test_taken_port_is_reported(loc: Locations, fake_python: str) -> None:
    port = daemon.load_settings(loc).config.server.port
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(CommandError) as caught:
            daemon.start(loc, io.StringIO(), python=fake_python)
    assert f"port {port} on 127.0.0.1 is already in use" in caught.value.message


def _write_record(loc: Locations, pid: int) -> None:
    record = {"pid": pid, "url": "http://127.0.0.1:1", "host": "127.0.0.1", "port": 1,
              "started_at": time.time(), "argv": []}  # fmt: skip
    path = paths.pid_file(loc.env, loc.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_stale_pid_files_are_reported_and_removed(loc: Locations) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    _write_record(loc, dead.pid)
    code, text, _ = cli_run(loc, "status")
    assert code == 1
    assert f"removed a stale pid file: pid {dead.pid} is not running" in text
    assert not paths.pid_file(loc.env, loc.home).exists()

    other = subprocess.Popen(["sleep", "30"])
    try:
        _write_record(loc, other.pid)
        code, text, _ = cli_run(loc, "stop")
        assert code == 1
        assert f"pid {other.pid} belongs to another program" in text
        assert other.poll() is None  # never signal a process that is not ours
    finally:
        other.kill()
        other.wait()


def test_follow_prints_appended_lines(loc: Locations) -> None:
    log = paths.log_file(loc.env, loc.home)
    log.parent.mkdir(parents=True)
    log.write_text("old line\n")
    out = io.StringIO()
    calls = iter(range(100))

    def stop_when() -> bool:
        n = next(calls)
        if n == 1:
            with log.open("a") as handle:
                handle.write("new line\n")
        return n >= 3

    daemon.follow_log(log, out, stop_when=stop_when)
    assert out.getvalue() == "new line\n"


def test_real_server_start_status_stop(loc: Locations) -> None:
    code, text, err = cli_run(loc, "start", "--timeout", "15")
    assert code == 0, err
    assert "anthroxy is running at http://127.0.0.1:" in text
    try:
        record = daemon.read_record(paths.pid_file(loc.env, loc.home))
        assert record is not None
        assert (daemon.health(record.url) or {}).get("status") == "ok"
        code, text, _ = cli_run(loc, "status")
        assert code == 0 and "mock: chat http" in text and "  breaker: closed" in text
    finally:
        code, _text, err = cli_run(loc, "stop", "--timeout", "10")
    assert code == 0, err
    assert not paths.pid_file(loc.env, loc.home).exists()


def test_health_goes_straight_to_the_server_never_through_an_env_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # urllib honours http_proxy even for loopback unless no_proxy says otherwise; the poll must
    # neither hand the proxy's auth_token to a corporate proxy nor report a proxy's answer.
    import http.server
    import threading

    seen: list[tuple[str, str | None]] = []

    def handler(name: str) -> type[http.server.BaseHTTPRequestHandler]:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((name, self.headers.get("authorization")))
                body = json.dumps({"status": name}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    servers = [
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(name))
        for name in ("anthroxy", "proxy")
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        real, proxy = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy)
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        assert daemon.health(real, token="proxy-token-123456") == {"status": "anthroxy"}
        assert seen == [("anthroxy", "Bearer proxy-token-123456")]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_start_follows_the_port_the_config_moved_to(loc: Locations, fake_python: str) -> None:
    first = daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    config = loc.home / ".config" / "anthroxy" / "config.toml"
    new_port = free_port()
    config.write_text(config.read_text().replace(f"port = {first.port}", f"port = {new_port}"))
    out = io.StringIO()
    second = daemon.start(loc, out, python=fake_python, timeout=10)
    assert second.port == new_port and second.pid != first.pid
    assert (
        f"stopping anthroxy at {first.url} (pid {first.pid}): the proxy is now {second.url}"
        in out.getvalue()
    )
    assert not daemon.process_alive(first.pid)
    assert daemon.read_record(paths.pid_file(loc.env, loc.home)) == second
