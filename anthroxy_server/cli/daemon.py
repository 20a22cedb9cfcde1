"""The proxy's life: ``start``, ``stop``, ``restart``, ``reload``, ``status`` and ``logs``.

The proxy is whatever anthroxy answers on the configured address (``proxy.py``), however it
was started; these commands work with it, and fall back to the pid file's proxy when the
address has none (the configuration may have moved it). ``start`` spawns ``python -m
anthroxy_server serve`` in its own session (so a closed terminal does not take it down), sends
its output to the log file in the state directory, records a pid file and returns once
``GET /healthz`` answers. The pid file is JSON: pid, url, host, port, start time and the
command line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..atomic import write_atomic
from ..config import fingerprint, paths
from ..config.paths import CommandError, Locations
from . import proxy, service, status_view
from .credential_view import credential_section
from .probe import (
    HEALTH_PATH,
    PidRecord,
    ProcessState,
    client_url,
    health,
    port_free,
    process_alive,
    process_state,
)

# Looked up here by other commands (mcp.py) and tests since before probe.py held them.
__all__ = ["PidRecord", "client_url", "health", "process_alive", "process_state"]

if TYPE_CHECKING:  # config.py imports attrs/cattrs; only the CLI paths that need it load it
    from ..config.schema import Settings


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


def read_record(path: Path) -> PidRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PidRecord(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, OSError) as exc:
        raise CommandError(f"unreadable pid file {path} ({exc}); delete it and retry") from exc


def _write_record(path: Path, record: PidRecord) -> None:
    write_atomic(path, json.dumps(asdict(record)).encode(), mode=0o644)


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
    """Start the proxy in the background; a proxy already on the address is used, reloaded or
    restarted so that it serves this configuration (``proxy.reconcile``). Its record."""
    settings = load_settings(loc, config_path, overrides)
    server = settings.config.server
    url = client_url(server.host, server.port)
    record = _check_existing(loc, out)
    found = proxy.find(url, server.auth_token, record)
    if found is not None:
        kept = proxy.reconcile(
            loc,
            found,
            settings,
            out,
            lambda: _replace(loc, found.as_record(), settings, config_path, timeout, python),
        )
        out.write(f"dashboard: {url}/ui\n")
        return kept
    if record is not None and not overrides:
        # The configuration moved the proxy (another port or host): the old one goes.
        out.write(f"stopping anthroxy at {record.url} (pid {record.pid}): the proxy is now {url}\n")
        stop_pid(loc, record, out)
    elif record is not None:  # --port/--host asked for a second one: the first keeps serving
        out.write(f"note: anthroxy at {record.url} (pid {record.pid}) keeps running\n")
    if not port_free(server.host, server.port):
        raise CommandError(proxy.busy_port_message(server.host, server.port))
    record = _launch(loc, settings, config_path, timeout, python)
    out.write(f"anthroxy is running at {url} (pid {record.pid}); log: {record_log(loc)}\n")
    out.write(f"dashboard: {url}/ui\n")
    return record


def record_log(loc: Locations) -> Path:
    return paths.log_file(loc.env, loc.home)


def _replace(
    loc: Locations,
    old: PidRecord,
    settings: Settings,
    config_path: str | None,
    timeout: float,
    python: str,
) -> PidRecord:
    """Stop the proxy ``anthroxy start`` launched and launch it again with ``settings``."""
    if not _terminate(old.pid, grace=65.0):
        raise CommandError(f"anthroxy (pid {old.pid}) did not stop; `anthroxy stop` and retry")
    paths.pid_file(loc.env, loc.home).unlink(missing_ok=True)
    return _launch(loc, settings, config_path, timeout, python)


def _launch(
    loc: Locations, settings: Settings, config_path: str | None, timeout: float, python: str
) -> PidRecord:
    server = settings.config.server
    url = client_url(server.host, server.port)
    argv = serve_argv(python, server.host, server.port, _absolute(loc, config_path))
    log = record_log(loc)
    proc = _spawn(loc, argv, log)
    record = PidRecord(proc.pid, url, server.host, server.port, time.time(), argv)
    pid_path = paths.pid_file(loc.env, loc.home)
    _write_record(pid_path, record)
    _await_health(proc, record, pid_path, log, timeout, server.auth_token)
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


def locate(loc: Locations, out: TextIO) -> proxy.Proxy | None:
    """The proxy: anthroxy on the configured address, else the one the pid file names (a
    stale pid file is reported and removed)."""
    record = _check_existing(loc, out)
    try:
        server = load_settings(loc).config.server
        host, port, token = server.host, server.port, server.auth_token
    except CommandError:  # a broken file must not hide a running proxy
        (host, port), token = proxy.configured_address(loc), ""
    found = proxy.find(client_url(host, port), token, record)
    if found is not None:
        return found
    if record is None:
        return None
    answer = health(record.url, timeout=2.0, token=_token(loc))
    return proxy.Proxy(record.url, answer or {}, record)


def stop(loc: Locations, out: TextIO, *, grace: float = 65.0) -> bool:
    """Stop the proxy, however it was started; False if none was running.

    A proxy run by a login service is stopped through its service manager (which would
    otherwise start it again). ``grace`` must exceed the server's own shutdown grace (aiohttp's
    ``run_app`` lets running requests finish for ``shutdown_timeout``, 60 s by default, after
    SIGTERM), so a healthy shutdown is never cut short by SIGKILL.
    """
    found = locate(loc, out)
    if found is None:
        out.write("anthroxy is not running\n")
        return False
    if found.managed_by is not None:
        service.stop_managed(found.managed_by, out)
        return True
    if found.record is not None:
        stop_pid(loc, found.record, out, grace=grace)
        return True
    pid = proxy.signal_target(found)
    stop_pid(loc, PidRecord(pid, found.url, "", 0, 0.0, []), out, grace=grace)
    return True


def stop_pid(loc: Locations, record: PidRecord, out: TextIO, *, grace: float = 65.0) -> None:
    if _terminate(record.pid, grace=grace):
        out.write(f"stopped anthroxy (pid {record.pid})\n")
    else:
        out.write(f"anthroxy (pid {record.pid}) ignored SIGTERM for {grace:g} s; killed it\n")
    pid_path = paths.pid_file(loc.env, loc.home)
    current = read_record(pid_path)
    if current is not None and current.pid == record.pid:
        pid_path.unlink(missing_ok=True)


def format_uptime(seconds: float) -> str:
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    return "".join(f"{n}{unit} " for n, unit in parts if n) + f"{secs}s"


def status(loc: Locations, out: TextIO, *, now: Callable[[], float] = time.time) -> int:
    """Print pid, URL, uptime, who started it, its configuration and providers; 0 when up and
    answering, 1 otherwise."""
    found = locate(loc, out)
    if found is None:
        out.write("anthroxy is not running (start it with `anthroxy start`)\n")
        return 1
    pid = "unknown" if found.pid is None else found.pid
    workers = found.health.get("workers")
    several = isinstance(workers, int) and workers > 1
    group = f" (supervisor of {workers} workers)" if several else ""
    out.write(f"pid:      {pid}{group}\nurl:      {found.url}\n")
    out.write(f"dashboard: {found.url}/ui\n")
    uptime = found.health.get("uptime_s")
    if not isinstance(uptime, int | float):
        uptime = now() - found.record.started_at if found.record is not None else None
    if uptime is not None:
        out.write(f"uptime:   {format_uptime(uptime)}\n")
    out.write(f"started:  {found.origin()}\n")
    if not found.health:
        out.write(f"health:   {found.url}{HEALTH_PATH} does not answer (see `anthroxy logs`)\n")
        return 1
    config = _config_line(loc, found)
    out.write(f"config:   {config}\n" if config else "")
    out.write(status_view.render(found.health))  # health (ok/degraded), providers, breakers
    out.write(credential_section(found.health))  # several keys per provider: their states
    return 0


def _config_line(loc: Locations, found: proxy.Proxy) -> str:
    sources = found.config.get("sources")
    if not isinstance(sources, list) or found.sections is None:
        return ""
    read = ", ".join(map(str, sources)) or "no file"
    try:
        mine = proxy.local_sections(loc, load_settings(loc))
    except CommandError:
        return f"{read} (this shell's configuration does not load: `anthroxy config check`)"
    differs = fingerprint.differences(mine, found.sections)
    if not differs:
        return f"{read} (the configuration this shell would use)"
    return f"{read} (differs from this shell's in {', '.join(differs)}: `anthroxy reload`)"


def _token(loc: Locations) -> str:
    try:
        return load_settings(loc).config.server.auth_token
    except CommandError:
        return ""


def reload_proxy(loc: Locations, out: TextIO, *, timeout: float = proxy.RELOAD_TIMEOUT) -> int:
    """``anthroxy reload``: SIGHUP to the proxy, then its verdict; 2 when it refused the files
    (their problems printed as ``config check`` prints them), 1 when no proxy runs."""
    found = locate(loc, out)
    if found is None:
        raise CommandError("anthroxy is not running; nothing to reload (`anthroxy start`)")
    after = proxy.reload(found, timeout=timeout, token=_token(loc))
    problems = proxy.refused(after)
    if problems:
        lines = "\n  ".join(problems)
        raise CommandError(
            f"{found.describe()} refused the new configuration and keeps serving the one it "
            f"had:\n  {lines}",
            code=2,
        )
    changed = fingerprint.differences(after.sections or {}, found.sections or {})
    what = f"changed: {', '.join(changed)}" if changed else "no change"
    out.write(f"reloaded {found.describe()} ({what})\n")
    for key in proxy.restart_needed(after):
        out.write(f"note: {key} changed; it takes effect after `anthroxy restart`\n")
    return 0


def log_of(loc: Locations, out: TextIO) -> Path:
    """The file the proxy logs to: the one ``anthroxy start`` (or the LaunchAgent) writes, or
    the one a proxy started otherwise reports; a journal or a terminal is named instead."""
    found = locate(loc, io.StringIO())
    default = paths.log_file(loc.env, loc.home)
    if found is None or found.owned:
        return default
    reported = found.health.get("log")
    if isinstance(reported, str):
        return Path(reported)
    # A proxy with ``[server] log_file_level`` also writes its log here, wherever it was started.
    own_file = paths.state_dir(loc.env, loc.home) / paths.SERVER_LOG_NAME
    if own_file.exists():
        return own_file
    manager = found.managed_by
    if manager is not None and manager.get("manager") == "launchd":
        return default  # the LaunchAgent sends its output there (service.py)
    if manager is not None:
        user = " --user" if manager.get("scope") == "user" else ""
        raise CommandError(
            f"{found.describe()} runs under systemd; its log is in the journal: "
            f"journalctl{user} -u {manager.get('unit')} -f"
        )
    raise CommandError(
        f"{found.describe()} was {found.origin()}; its log goes to the terminal that started it"
    )


def print_log(loc: Locations, out: TextIO, *, lines: int = 50) -> Path:
    path = log_of(loc, out)
    if not path.exists():
        raise CommandError(f"no log yet at {path} (the server has not been started)")
    for line in tail(path, lines):
        out.write(line + "\n")
    return path


def follow_log(path: Path, out: TextIO, *, stop_when: Callable[[], bool] = lambda: False) -> None:
    """``tail -f``: print what is appended until ``stop_when()`` or Ctrl-C."""
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
