"""The background server: ``start``, ``stop``, ``restart``, ``status`` and ``logs``.

``start`` spawns ``python -m anthroxy_server serve`` in its own session (so a closed terminal
does not take it down), sends its output to the log file in the state directory, records a pid
file and returns once ``GET /healthz`` answers. The pid file is JSON: pid, url, host, port,
start time and the command line, so ``status`` and ``stop`` need no configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from ..config import paths
from ..config.paths import CommandError, Locations
from . import status_view

if TYPE_CHECKING:  # config.py imports attrs/cattrs; only the CLI paths that need it load it
    from ..config.schema import Settings

ProcessState = Literal["running", "dead", "foreign"]
HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class PidRecord:
    pid: int
    url: str
    host: str
    port: int
    started_at: float  # time.time() when started
    argv: list[str]


def load_settings(
    loc: Locations, config_path: str | None = None, overrides: Mapping[str, object] | None = None
) -> Settings:
    """The merged configuration, or a CommandError (exit 2) listing every problem."""
    from ..config import load_settings as load
    from ..config.schema import ConfigError

    try:
        return load(
            cli_path=_absolute(loc, config_path),
            env=loc.env,
            cwd=loc.cwd,
            home=loc.home,
            overrides=overrides,
        )
    except ConfigError as exc:
        lines = "\n  ".join(exc.problems) or str(exc)
        raise CommandError(f"invalid configuration:\n  {lines}", code=2) from exc


def _absolute(loc: Locations, path: str | None) -> str | None:
    return None if path is None else str(loc.cwd / Path(path).expanduser())


def client_url(host: str, port: int) -> str:
    """The URL a local client uses: a wildcard bind address is reached over loopback."""
    connect = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in connect:  # RFC 3986: an IPv6 literal goes in brackets
        connect = f"[{connect}]"
    return f"http://{connect}:{port}"


# No proxies: urllib would send even a loopback poll, and its auth_token, through $http_proxy.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def health(url: str, *, timeout: float = 1.0, token: str = "") -> dict[str, Any] | None:
    """``GET <url>/healthz``: its JSON body (``{}`` if not JSON) if anything answers, else None."""
    request = urllib.request.Request(url + HEALTH_PATH)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:  # it answered, just not with 200
        body = exc.read()
    except (OSError, ValueError):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {"body": data}


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port (SO_REUSEADDR, as aiohttp sets, so sockets in
    TIME_WAIT from a previous run do not count as taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError:
            return False
    return True


def read_record(path: Path) -> PidRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PidRecord(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, OSError) as exc:
        raise CommandError(f"unreadable pid file {path} ({exc}); delete it and retry") from exc


def _write_record(path: Path, record: PidRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record)), encoding="utf-8")
    os.replace(tmp, path)


def _reap(pid: int) -> None:
    # A server started by this very process (tests, `restart`) stays a zombie until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def process_alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # Linux: a zombie still answers kill(0) but is gone
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def command_line(pid: int) -> str | None:
    """The process's command line, or None when the platform will not tell."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        pass
    try:
        done = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def process_state(pid: int) -> ProcessState:
    if not process_alive(pid):
        return "dead"
    cmd = command_line(pid)
    # The pid may have been reused by an unrelated program since the pid file was written.
    return "foreign" if cmd is not None and "anthroxy" not in cmd else "running"


def _stale_message(record: PidRecord, state: ProcessState) -> str:
    why = "is not running" if state == "dead" else "belongs to another program"
    return f"removed a stale pid file: pid {record.pid} {why}"


def tail(path: Path, lines: int) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:] if lines > 0 else []


def _log_excerpt(path: Path) -> str:
    last = tail(path, 15)
    body = "\n    ".join(last) if last else "(the log is empty)"
    return f"last lines of {path}:\n    {body}"


SERVE_MODULE = "anthroxy_server"  # `python -m anthroxy_server serve` (its __main__ runs the CLI)


def serve_argv(python: str, host: str, port: int, config_path: str | None) -> list[str]:
    argv = [python, "-m", SERVE_MODULE, "serve", "--host", host, "--port", str(port)]
    return [*argv, "--config", config_path] if config_path else argv


def _spawn(loc: Locations, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        sink.write(f"--- anthroxy start {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        sink.flush()
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the terminal; Ctrl-C in the shell does not reach it
            env=dict(loc.env),
            cwd=loc.cwd,
        )


def _check_existing(loc: Locations, out: TextIO) -> PidRecord | None:
    """The running server's record; a stale pid file is reported and removed."""
    pid_path = paths.pid_file(loc.env, loc.home)
    record = read_record(pid_path)
    if record is None:
        return None
    state = process_state(record.pid)
    if state == "running":
        return record
    out.write(_stale_message(record, state) + "\n")
    pid_path.unlink(missing_ok=True)
    return None


def start(
    loc: Locations,
    out: TextIO,
    *,
    config_path: str | None = None,
    overrides: Mapping[str, object] | None = None,
    timeout: float = 20.0,
    python: str = sys.executable,
) -> PidRecord:
    """Start the server in the background (a no-op if it already runs); its record."""
    running = _check_existing(loc, out)
    if running is not None:
        out.write(f"anthroxy is already running at {running.url} (pid {running.pid})\n")
        return running
    settings = load_settings(loc, config_path, overrides)
    server = settings.config.server
    url = client_url(server.host, server.port)
    if not port_free(server.host, server.port):
        if health(url, token=server.auth_token) is not None:
            raise CommandError(
                f"a server not started by `anthroxy start` already answers at {url}; "
                "stop it, or pick another port with --port"
            )
        raise CommandError(
            f"port {server.port} on {server.host} is already in use by another program; "
            "pick another with --port or [server] port in the config"
        )
    argv = serve_argv(python, server.host, server.port, _absolute(loc, config_path))
    log = paths.log_file(loc.env, loc.home)
    proc = _spawn(loc, argv, log)
    record = PidRecord(proc.pid, url, server.host, server.port, time.time(), argv)
    pid_path = paths.pid_file(loc.env, loc.home)
    _write_record(pid_path, record)
    _await_health(proc, record, pid_path, log, timeout, server.auth_token)
    out.write(f"anthroxy is running at {url} (pid {proc.pid}); log: {log}\n")
    return record


def _await_health(
    proc: subprocess.Popen[bytes],
    record: PidRecord,
    pid_path: Path,
    log: Path,
    timeout: float,
    token: str,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            pid_path.unlink(missing_ok=True)
            raise CommandError(
                f"the server exited with code {code} while starting; {_log_excerpt(log)}"
            )
        if health(record.url, timeout=0.5, token=token) is not None:
            return
        time.sleep(0.05)
    _terminate(proc.pid, grace=5.0)
    pid_path.unlink(missing_ok=True)
    raise CommandError(
        f"the server did not answer {record.url}{HEALTH_PATH} within {timeout:g} s; "
        f"{_log_excerpt(log)}"
    )


def _terminate(pid: int, *, grace: float) -> bool:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. True if it stopped by itself."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, grace):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0)
    return False


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while process_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop(loc: Locations, out: TextIO, *, grace: float = 65.0) -> bool:
    """Stop the background server; False if none was running.

    ``grace`` must exceed the server's own shutdown grace (aiohttp's ``run_app`` lets running
    requests finish for ``shutdown_timeout``, 60 s by default, after SIGTERM), so a healthy
    shutdown is never cut short by SIGKILL.
    """
    record = _check_existing(loc, out)
    if record is None:
        out.write("anthroxy is not running\n")
        return False
    if _terminate(record.pid, grace=grace):
        out.write(f"stopped anthroxy (pid {record.pid})\n")
    else:
        out.write(f"anthroxy (pid {record.pid}) ignored SIGTERM for {grace:g} s; killed it\n")
    paths.pid_file(loc.env, loc.home).unlink(missing_ok=True)
    return True


def format_uptime(seconds: float) -> str:
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    return "".join(f"{n}{unit} " for n, unit in parts if n) + f"{secs}s"


def status(loc: Locations, out: TextIO, *, now: Callable[[], float] = time.time) -> int:
    """Print pid, URL, uptime and providers; 0 when up and answering, 1 otherwise."""
    record = _check_existing(loc, out)
    if record is None:
        out.write("anthroxy is not running (start it with `anthroxy start`)\n")
        return 1
    answer = health(record.url, timeout=2.0, token=_token(loc))
    out.write(f"pid:      {record.pid}\nurl:      {record.url}\n")
    out.write(f"uptime:   {format_uptime(now() - record.started_at)}\n")
    if answer is None:
        out.write(f"health:   {record.url}{HEALTH_PATH} does not answer (see `anthroxy logs`)\n")
        return 1
    out.write(status_view.render(answer))  # health (ok/degraded), providers and breakers
    return 0


def _token(loc: Locations) -> str:
    try:
        return load_settings(loc).config.server.auth_token
    except CommandError:
        return ""


def print_log(loc: Locations, out: TextIO, *, lines: int = 50) -> None:
    path = paths.log_file(loc.env, loc.home)
    if not path.exists():
        raise CommandError(f"no log yet at {path} (the server has not been started)")
    for line in tail(path, lines):
        out.write(line + "\n")


def follow_log(
    loc: Locations, out: TextIO, *, stop_when: Callable[[], bool] = lambda: False
) -> None:
    """``tail -f``: print what is appended until ``stop_when()`` or Ctrl-C."""
    path = paths.log_file(loc.env, loc.home)
    position = path.stat().st_size if path.exists() else 0
    with contextlib.suppress(KeyboardInterrupt):
        while not stop_when():
            if path.exists():
                size = path.stat().st_size
                position = 0 if size < position else position  # truncated or rotated
                with path.open("rb") as handle:
                    handle.seek(position)
                    chunk = handle.read()
                position += len(chunk)
                out.write(chunk.decode("utf-8", errors="replace"))
                out.flush()
            time.sleep(0.2)
