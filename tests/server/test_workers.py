"""``serve --workers 2``: a real supervisor and its workers in subprocesses, a fake Anthropic
upstream on loopback in a thread. Every process is bounded by timeouts; the fixture kills the
supervisor and every worker pid it saw, whatever the test's outcome."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config.paths import Locations

from .test_cli_daemon import free_port

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SO_REUSEPORT")

REPLY = {
    "id": "msg_w", "type": "message", "role": "assistant", "model": "up-model",
    "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
    "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1},
}  # fmt: skip
CONFIG = """[server]
port = {port}
workers = 2
log_level = "warning"
[providers.fake]
api = "anthropic"
base_url = "{upstream}"
auth = "none"
models = ["up-model"]
[tiers]
default = "fake/{model}"
"""


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = json.dumps(REPLY).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Group:
    loc: Locations
    config: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    seen: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write(self, model: str) -> None:
        upstream = self.loc.env["UPSTREAM"]
        self.config.write_text(CONFIG.format(port=self.port, model=model, upstream=upstream))

    def start(self) -> dict[str, Any]:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "anthroxy_server", "serve"],
            env=dict(self.loc.env), cwd=self.loc.cwd,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until both workers answer
            answers = self.workers(10)
            if len(answers) == 2:
                return next(iter(answers.values()))
            assert self.process.poll() is None, "the supervisor exited while starting"
            time.sleep(0.1)
        raise AssertionError("two workers did not answer within 30 s")

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=3) as response:
                data: dict[str, Any] = json.loads(response.read())
        except OSError:
            return None
        self.seen.add(int(data["worker_pid"]))
        return data

    def workers(self, tries: int = 60) -> dict[int, dict[str, Any]]:
        """The answers of the distinct workers met over ``tries`` fresh connections."""
        found: dict[int, dict[str, Any]] = {}
        for _ in range(tries):
            answer = self.health()
            if answer is not None:
                found[int(answer["worker_pid"])] = answer
        return found

    def message(self) -> int:
        request = urllib.request.Request(
            self.url + "/v1/messages",
            data=json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 5,
                             "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"content-type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())
            return int(response.status)

    def cli(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(list(argv), self.loc, io.StringIO(), out, err)
        return code, out.getvalue(), err.getvalue()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (a worker whose parent is gone, not yet reaped) is not serving
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return True


def gone(pids: set[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    config = home / ".config" / "anthroxy" / "config.toml"
    config.parent.mkdir(parents=True)
    env = {
        "HOME": str(home), "PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path),
        "UPSTREAM": f"http://127.0.0.1:{server.server_address[1]}",
    }  # fmt: skip
    state = Group(Locations(env, home, tmp_path), config, free_port())
    state.write("up-model")
    try:
        yield state
    finally:
        if state.process is not None:
            state.seen.add(state.process.pid)
            state.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                state.process.wait(timeout=10)
        for pid in state.seen:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        server.shutdown()
        server.server_close()


def test_both_workers_serve_and_the_cli_manages_them_as_one(group: Group) -> None:
    first = group.start()
    assert group.process is not None
    assert first["pid"] == group.process.pid and first["workers"] == 2
    workers = group.workers()
    assert len(workers) == 2, f"one worker answered every connection: {sorted(workers)}"
    assert group.process.pid not in workers
    assert all(answer["pid"] == group.process.pid for answer in workers.values())
    code, out, err = group.cli("status")
    assert code == 0, err
    assert f"pid:      {group.process.pid} (supervisor of 2 workers)" in out
    code, out, err = group.cli("stop")
    assert code == 0, err
    assert group.process.wait(timeout=20) == 0
    assert gone(set(workers), within=10), "a worker outlived its supervisor"


def test_a_dead_worker_is_replaced_and_requests_keep_succeeding(group: Group) -> None:
    group.start()
    victim, survivor = sorted(group.workers())
    os.kill(victim, signal.SIGKILL)
    # Connections queued on the killed worker's socket die with it (SO_REUSEPORT gives each
    # worker a queue of its own); from its exit on, the kernel sends them to the others.
    assert gone({victim}, within=5)
    deadline = time.monotonic() + 20
    replaced: set[int] = set()
    refused = 0
    while time.monotonic() < deadline and not replaced:
        try:
            assert group.message() == 200
        except OSError:  # seen once in a while as the new worker's socket joins the port
            refused += 1
        replaced = set(group.workers(10)) - {victim, survivor}
    assert replaced, "no new worker answered within 20 s"
    assert refused <= 2, f"{refused} connections refused while the worker was replaced"
    assert all(group.message() == 200 for _ in range(10))
    assert group.process is not None
    group.process.send_signal(signal.SIGTERM)
    assert group.process.wait(timeout=20) == 0
    assert gone(group.seen - {group.process.pid}, within=10)


def test_reload_reaches_every_worker(group: Group) -> None:
    group.start()
    before = {pid: a["config"]["fingerprint"] for pid, a in group.workers().items()}
    assert len(before) == 2
    group.write("other-model")  # a new default route: a new fingerprint
    code, out, err = group.cli("reload")
    assert code == 0, err + out
    deadline = time.monotonic() + 15
    after: dict[int, str] = {}
    while time.monotonic() < deadline:
        after = {pid: a["config"]["fingerprint"] for pid, a in group.workers(20).items()}
        if set(after) == set(before) and all(after[p] != before[p] for p in before):
            break
        time.sleep(0.2)
    assert set(after) == set(before)
    assert all(after[pid] != before[pid] for pid in before), (before, after)
    assert len(set(after.values())) == 1


def test_metrics_and_ledger_gather_every_worker(group: Group) -> None:
    group.start()
    sent = 40
    for _ in range(sent):
        assert group.message() == 200
    assert len(group.seen) >= 1
    time.sleep(0.5)
    with urllib.request.urlopen(group.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("anthroxy_requests_total{") and 'status="200"' in line
    )
    assert counted == sent, text
    assert group.process is not None
    group.process.send_signal(signal.SIGTERM)  # the ledger's writers flush on the way out
    assert group.process.wait(timeout=20) == 0
    ledger = group.loc.home / ".local" / "state" / "anthroxy" / "usage.sqlite3"
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM requests").fetchone()
    assert rows == (sent, sent)


WRITER = """
import dataclasses, sys, time
from pathlib import Path
from anthroxy_server.ledger.store import Ledger
from tests.server.test_usage_ledger import BASE
ledger = Ledger(Path(sys.argv[1]), retention_days=90)
ledger.start()  # its thread flushes too, as in a worker
while time.time() < float(sys.argv[3]):  # both writers begin together
    time.sleep(0.005)
for n in range(300):
    ledger.record(dataclasses.replace(BASE, time=time.time(), request_id=f"{sys.argv[2]}-{n}"))
    if n % 3 == 0:
        ledger.flush()  # many small transactions: the most contention two workers can make
ledger.close()
print(ledger.dropped)
"""


def test_two_processes_writing_the_ledger_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    start = time.time() + 1.5
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, str(start)],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )
        for name in ("a", "b")
    ]
    try:
        dropped = [int(w.communicate(timeout=60)[0]) for w in writers]
    finally:
        for writer in writers:
            writer.kill()
    assert dropped == [0, 0]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        counts = dict(conn.execute("SELECT substr(request_id, 1, 1), COUNT(*) FROM requests "
                                   "GROUP BY 1").fetchall())  # fmt: skip
    assert counts == {"a": 300, "b": 300}


@pytest.fixture
def quiet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("ANTHROXY_", "XDG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_workers_without_so_reuseport_are_refused(
    quiet_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from anthroxy_server.gateway import serve, supervise

    monkeypatch.setattr(supervise.socket, "SO_REUSEPORT", None, raising=False)
    monkeypatch.delattr(supervise.socket, "SO_REUSEPORT")
    assert serve.main(["--workers", "2", "--port", str(free_port())]) == 2
    assert "SO_REUSEPORT" in capsys.readouterr().err


@pytest.mark.parametrize("count", ["0", "65"])
def test_a_worker_count_out_of_range_is_a_config_problem(
    quiet_home: Path, count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from anthroxy_server.gateway import serve

    assert serve.main(["--workers", count, "--port", str(free_port())]) == 2
    assert f"server.workers: must be from 1 to 64, got {count}" in capsys.readouterr().err


def test_a_closed_terminal_stops_the_group_and_a_hangup_otherwise_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for one process (reload.py): the SIGHUP of a closing terminal means "stop"; a SIGHUP
    # while the terminal is still there (or with none from the start) means "reload".
    from anthroxy_server.gateway import supervise

    terminal = [True]
    monkeypatch.setattr(supervise, "has_terminal", lambda: terminal[0])
    group = supervise.Supervisor(["serve"], 2, tmp_path)
    group._on_hangup(signal.SIGHUP, None)
    assert (group.reloads, group.stopping) == (1, False)
    terminal[0] = False
    group._on_hangup(signal.SIGHUP, None)
    assert (group.reloads, group.stopping) == (1, True)
    detached = supervise.Supervisor(["serve"], 2, tmp_path)  # a service: never had a terminal
    detached._on_hangup(signal.SIGHUP, None)
    assert (detached.reloads, detached.stopping) == (1, False)
