"""One proxy, however it was started, driven as a person would: a real
``python -m anthroxy_server serve`` process on a free port, a real config file edited between
commands, then ``anthroxy status | run | reload | logs | stop`` (a stand-in ``claude`` on a temp
PATH records the environment it was given). Every process is bounded by timeouts and killed at
the end."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli import daemon, service
from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config.paths import Locations

from .test_cli_daemon import _kill_leftover, free_port

CLAUDE = """#!{python}
import json, os, sys
with open(os.environ["RECORD_TO"], "w") as f:
    json.dump({{"argv": sys.argv[1:], "env": dict(os.environ)}}, f)
"""
CONFIG = """[server]
port = {port}
[providers.mock]
api = "chat"
base_url = "http://127.0.0.1:9/v1"
auth = "none"
[tiers]
opus = "mock/{opus}"
sonnet = "mock/mid"
default = "mock/small"
"""


@dataclass
class World:
    loc: Locations
    config: Path
    port: int
    record: Path
    processes: list[subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write(self, opus: str) -> None:
        self.config.write_text(CONFIG.format(port=self.port, opus=opus))

    def cli(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(list(argv), self.loc, io.StringIO(), out, err)
        return code, out.getvalue(), err.getvalue()

    def serve(self, *extra: str, log: Path | None = None) -> subprocess.Popen[bytes]:
        sink = log.open("wb") if log is not None else subprocess.PIPE
        process = subprocess.Popen(
            [sys.executable, "-m", "anthroxy_server", "serve", *extra],
            env=dict(self.loc.env),
            cwd=self.loc.cwd,
            stdout=sink,
            stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
        )
        self.processes.append(process)
        return process

    def claude_env(self) -> dict[str, str]:
        env: dict[str, str] = json.loads(self.record.read_text())["env"]
        self.record.unlink()
        return env


def healthz(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except OSError:
        return None


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = healthz(url)
        if answer is not None:
            return answer
        assert process.poll() is None, "the server exited while starting"
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within 20 s")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    home = tmp_path / "home"
    config = home / ".config" / "anthroxy" / "config.toml"
    config.parent.mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    claude.write_text(CLAUDE.format(python=sys.executable))
    claude.chmod(0o755)
    env = {
        "HOME": str(home),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(sys.path),
        "RECORD_TO": str(tmp_path / "claude.json"),
    }
    state = World(Locations(env, home, tmp_path), config, free_port(), tmp_path / "claude.json", [])
    state.write("big")
    yield state
    for process in state.processes:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=10)
    _kill_leftover(state.loc)


def test_a_serve_started_proxy_is_the_proxy(world: World) -> None:
    log = world.loc.cwd / "serve.log"
    process = world.serve(log=log)
    answer = wait_healthy(world.url, process)
    assert answer["service"] == "anthroxy" and answer["pid"] == process.pid
    assert answer["config"]["sources"] == [str(world.config)]
    assert answer["log"] == str(log)

    code, out, _ = world.cli("status")
    assert code == 0, out
    assert f"pid:      {process.pid}" in out and f"url:      {world.url}" in out
    assert "started outside `anthroxy start`" in out
    assert "(the configuration this shell would use)" in out

    code, out, _ = world.cli("logs", "-n", "200")
    assert code == 0 and "GET /healthz" in out  # the file its stderr goes to

    code, out, err = world.cli("run", "-p", "hi")
    assert code == 0, err
    assert f"anthroxy is already running at {world.url} (pid {process.pid})" in err
    assert world.claude_env()["ANTHROPIC_BASE_URL"] == world.url

    code, out, _ = world.cli("stop", "--timeout", "20")
    assert (code, out) == (0, f"stopped anthroxy (pid {process.pid})\n")
    assert process.wait(timeout=20) == 0
    assert world.cli("status")[0] == 1


def test_run_reloads_a_proxy_serving_an_edited_config(world: World) -> None:
    process = world.serve()
    before = wait_healthy(world.url, process)
    assert world.cli("run")[0] == 0
    assert world.claude_env()["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "mock/big"

    world.write("bigger")  # the user edits the file while the proxy runs
    code, _, err = world.cli("run")
    assert code == 0, err
    assert "was serving an older configuration (changed: routing, tiers); reloaded it" in err
    assert world.claude_env()["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "mock/bigger"
    after = healthz(world.url)
    assert after is not None and after["pid"] == process.pid  # reloaded, not restarted
    assert after["config"]["fingerprint"] != before["config"]["fingerprint"]
    assert "bigger" in after["routing"]["tiers"]["opus"]


def test_run_with_another_file_never_sends_its_names_to_a_proxy_it_cannot_restart(
    world: World,
) -> None:
    process = world.serve()
    wait_healthy(world.url, process)
    other = world.loc.cwd / "other.toml"
    other.write_text(CONFIG.format(port=world.port, opus="other-opus"))
    code, _, err = world.cli("run", "--config", str(other))
    assert code == 1
    assert "serves another configuration than this command would use" in err
    assert "differs in: routing, tiers" in err and "anthroxy stop" in err
    assert not world.record.exists()  # Claude Code was not launched
    assert process.poll() is None  # and the user's proxy was left alone


def test_run_restarts_the_proxy_it_started_for_another_file(world: World) -> None:
    code, _, err = world.cli("start", "--timeout", "20")
    assert code == 0, err
    first = healthz(world.url)
    assert first is not None
    other = world.loc.cwd / "other.toml"
    other.write_text(CONFIG.format(port=world.port, opus="other-opus"))
    code, _, err = world.cli("run", "--config", str(other))
    assert code == 0, err
    assert f"restarted anthroxy at {world.url} (pid {first['pid']} -> " in err
    assert world.claude_env()["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "mock/other-opus"
    after = healthz(world.url)
    assert after is not None and after["pid"] != first["pid"]
    assert after["config"]["sources"] == [str(other)]
    assert world.cli("stop", "--timeout", "20")[0] == 0


def test_a_broken_file_is_refused_and_the_old_one_keeps_serving(world: World) -> None:
    process = world.serve()
    before = wait_healthy(world.url, process)
    world.config.write_text(
        world.config.read_text().replace('sonnet = "mock/mid"', 'sonet = "mock/mid"')
    )
    _, _, check = world.cli("config", "check")
    problems = [line.strip() for line in check.splitlines()[1:]]
    assert problems and any("sonet" in p for p in problems)

    code, _, err = world.cli("reload")
    assert code == 2
    assert "refused the new configuration and keeps serving the one it had" in err
    assert [line.strip() for line in err.splitlines()[1:]] == problems  # config check's words
    after = healthz(world.url)
    assert after is not None
    assert after["config"]["fingerprint"] == before["config"]["fingerprint"]
    assert after["routing"]["tiers"] == before["routing"]["tiers"]

    # SIGHUP alone (no CLI) does the same, and a fixed file then loads.
    world.write("fixed")
    os.kill(process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = healthz(world.url)
        if answer is not None and answer["config"]["generation"] == 2:
            break
        time.sleep(0.05)
    code, out, err = world.cli("reload")
    assert code == 0, err
    assert out == f"reloaded anthroxy at {world.url} (pid {process.pid}) (no change)\n"
    current = healthz(world.url)
    assert current is not None and current["routing"]["tiers"]["opus"] == "mock/fixed"


def test_serve_on_a_busy_port_says_what_start_says(world: World) -> None:
    process = world.serve()
    wait_healthy(world.url, process)
    second = world.serve()
    _, err = second.communicate(timeout=30)
    text = err.decode()
    assert second.returncode == 1
    assert f"already runs on port {world.port}" in text and "anthroxy stop" in text
    assert "internal error" not in text and "Traceback" not in text and "Errno" not in text

    with socket.socket() as blocker:  # another program holds the port
        port = free_port()
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        third = world.serve("--port", str(port))
        _, err = third.communicate(timeout=30)
    assert third.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use by another program" in err.decode()


def test_a_service_managed_proxy_is_stopped_through_its_manager(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The /healthz answer names the unit; `anthroxy stop` asks systemd, and kills nothing."""
    process = world.serve()
    answer = wait_healthy(world.url, process)
    managed = {**answer, "managed_by": {"manager": "systemd", "unit": "anthroxy.service",
                                        "scope": "user"}}  # fmt: skip
    real_health = daemon.health
    monkeypatch.setattr(
        "anthroxy_server.cli.proxy.health",
        lambda url, **k: managed if url == world.url else real_health(url, **k),
    )
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    real_stop = service.stop_managed
    monkeypatch.setattr(
        service, "stop_managed", lambda m, out, **k: real_stop(m, out, **k, run=fake_run)
    )
    code, out, _ = world.cli("stop")
    assert code == 0
    assert calls == [["systemctl", "--user", "stop", "anthroxy.service"]]
    assert "runs under systemd (anthroxy.service)" in out
    assert process.poll() is None  # not killed behind systemd's back

    code, out, _ = world.cli("status")
    assert "started:  run by systemd (anthroxy.service)" in out
    code, _, err = world.cli("logs")
    assert code == 1 and "journalctl --user -u anthroxy.service -f" in err


@pytest.mark.parametrize(
    ("cgroup", "expected"),
    [
        (
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/anthroxy.service\n",
            {"manager": "systemd", "unit": "anthroxy.service", "scope": "user"},
        ),
        (
            "0::/system.slice/anthroxy.service\n",
            {"manager": "systemd", "unit": "anthroxy.service", "scope": "system"},
        ),
        # Spawned by some other service (an editor's server): not that service's to stop.
        ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/code-server.service\n", None),
        ("0::/user.slice/user-1000.slice/session-2.scope\n", None),
    ],
)
def test_the_service_manager_is_told_by_the_cgroup(
    tmp_path: Path, cgroup: str, expected: dict[str, str] | None
) -> None:
    from anthroxy_server.gateway.identity import service_manager

    path = tmp_path / "cgroup"
    path.write_text(cgroup)
    assert service_manager({}, path) == expected
    launchd = service_manager({"XPC_SERVICE_NAME": "dev.anthroxy"}, tmp_path / "absent")
    assert launchd == {"manager": "launchd", "label": "dev.anthroxy"}


def test_manager_commands() -> None:
    user = {"manager": "systemd", "unit": "anthroxy.service", "scope": "user"}
    assert service.manager_command(user, "restart") == [
        "systemctl", "--user", "restart", "anthroxy.service"
    ]  # fmt: skip
    with pytest.raises(service.CommandError, match=r"sudo systemctl stop anthroxy\.service"):
        service.manager_command({**user, "scope": "system"}, "stop")
    launchd = service.manager_command({"manager": "launchd", "label": "dev.anthroxy"}, "stop")
    assert launchd == ["launchctl", "kill", "SIGTERM", f"gui/{os.getuid()}/dev.anthroxy"]


def test_a_file_that_does_not_load_still_names_the_address(world: World) -> None:
    from anthroxy_server.cli import proxy

    world.config.write_text(f'[server]\nport = {world.port}\nhost = "127.0.0.2"\n[tiers\n')
    assert proxy.configured_address(world.loc) == ("127.0.0.2", world.port)
    world.config.write_text("[server]\nport = 9123\n[tiers]\nopus = 3\n")  # valid TOML
    assert proxy.configured_address(world.loc) == ("127.0.0.1", 9123)


def test_run_port_uses_the_proxy_on_that_port(world: World) -> None:
    port = free_port()
    process = world.serve("--port", str(port))
    wait_healthy(f"http://127.0.0.1:{port}", process)
    code, _, err = world.cli("run", "--port", str(port), "--", "-p", "hi")
    assert code == 0, err
    assert f"anthroxy is already running at http://127.0.0.1:{port} (pid {process.pid})" in err
    recorded = json.loads(world.record.read_text())
    assert recorded["argv"] == ["-p", "hi"]
    assert recorded["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}"
    assert healthz(world.url) is None  # nothing was started on the configured port


def test_logs_of_a_proxy_started_in_a_terminal_show_its_log_file(world: World) -> None:
    # Its stderr is a terminal (a pipe here), but [server] log_file_level writes server.log in the
    # state directory: `anthroxy logs` shows that instead of giving up.
    world.config.write_text(
        world.config.read_text().replace("[server]\n", '[server]\nlog_file_level = "info"\n')
    )
    process = world.serve()
    wait_healthy(world.url, process)
    code, out, err = world.cli("logs", "-n", "50")
    assert code == 0, err
    assert "GET /healthz" in out
    assert world.cli("stop", "--timeout", "20")[0] == 0
    process.communicate(timeout=20)
