"""The proxy: whatever anthroxy answers on the configured address, however it was started.

``anthroxy start`` records the proxy it launches in a pid file, but a proxy started with
``serve``, ``python -m anthroxy_server`` or a login service has none. All of them answer
``GET /healthz`` with ``"service": "anthroxy"``, their pid and their configuration's fingerprint
(``gateway/identity.py``), so the commands find the proxy by its address (``find``), reload it
with ``SIGHUP`` (``reload``), and ``run``/``start`` bring it to the configuration they would load
(``reconcile``): unchanged, reloaded, or, for the proxy ``anthroxy start`` launched, restarted.
"""

from __future__ import annotations

import os
import re
import signal
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from ..config import fingerprint
from ..config.paths import APP, CommandError, Locations
from .probe import PidRecord, client_url, health, process_state

RELOAD_TIMEOUT = 15.0
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8082  # ServerConfig's defaults


@dataclass(frozen=True)
class Proxy:
    url: str
    health: Mapping[str, Any]  # its /healthz answer
    record: PidRecord | None  # set when it is the proxy `anthroxy start` launched

    @property
    def pid(self) -> int | None:
        pid = self.health.get("pid")
        if isinstance(pid, int) and not isinstance(pid, bool):
            return pid
        return None if self.record is None else self.record.pid

    @property
    def owned(self) -> bool:
        return self.record is not None

    @property
    def managed_by(self) -> Mapping[str, str] | None:
        found = self.health.get("managed_by")
        return found if isinstance(found, Mapping) else None

    @property
    def config(self) -> Mapping[str, Any]:
        found = self.health.get("config")
        return found if isinstance(found, Mapping) else {}

    @property
    def sections(self) -> Mapping[str, str] | None:
        found = self.config.get("sections")
        return found if isinstance(found, Mapping) else None

    def origin(self) -> str:
        manager = self.managed_by
        if manager is not None and manager.get("manager") == "systemd":
            return f"run by systemd ({manager.get('unit')})"
        if manager is not None:
            return f"run by launchd ({manager.get('label')})"
        if self.owned:
            return "started by `anthroxy start`"
        return "started outside `anthroxy start` (`anthroxy serve` or `python -m anthroxy_server`)"

    def describe(self) -> str:
        pid = "pid unknown" if self.pid is None else f"pid {self.pid}"
        return f"anthroxy at {self.url} ({pid})"

    def as_record(self) -> PidRecord:
        if self.record is not None:
            return self.record
        uptime = self.health.get("uptime_s")
        started = time.time() - (uptime if isinstance(uptime, int | float) else 0.0)
        host, _, port = self.url.removeprefix("http://").rpartition(":")
        return PidRecord(self.pid or 0, self.url, host.strip("[]"), int(port), started, [])


def is_anthroxy(answer: Mapping[str, Any]) -> bool:
    # Versions before the "service" mark are known by their /healthz keys.
    return answer.get("service") == APP or {"version", "routing", "providers"} <= set(answer)


def find(url: str, token: str, record: PidRecord | None) -> Proxy | None:
    """The anthroxy answering at ``url``; ``record`` (the pid file's) marks it as ours when
    it is the same process."""
    answer = health(url, timeout=2.0, token=token)
    if answer is None:
        return None
    ours = record if record is not None and record.url == url else None
    pid = answer.get("pid")
    if ours is not None and isinstance(pid, int) and pid != ours.pid:
        ours = None  # the pid file names another process
    if ours is None and not is_anthroxy(answer):
        return None
    return Proxy(url, answer, ours)


def configured_address(loc: Locations) -> tuple[str, int]:
    """``[server] host`` and ``port`` read leniently, for a configuration that does not load:
    a broken file must not hide the running proxy from ``status``, ``reload`` or ``stop``."""
    from ..config.files import MANAGED_PATH, find_config_files

    host, port = DEFAULT_HOST, DEFAULT_PORT
    files = find_config_files(
        cli_path=None, env=loc.env, cwd=loc.cwd, home=loc.home, managed_path=MANAGED_PATH
    )
    for path in files:  # later files override earlier ones, as when loading
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        try:
            server = tomllib.loads(text).get("server", {})
        except tomllib.TOMLDecodeError:
            server = _scan_server_table(text)
        if isinstance(server, Mapping):
            found_host, found_port = server.get("host"), server.get("port")
            host = found_host if isinstance(found_host, str) else host
            port = found_port if isinstance(found_port, int) else port
    return host, port


_HEADER = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]")
_ADDRESS_KEY = re.compile(r"^\s*(host|port)\s*=\s*(\"[^\"]*\"|\d+)")


def _scan_server_table(text: str) -> dict[str, object]:
    """``host``/``port`` under ``[server]`` of a file that is not valid TOML as a whole."""
    found: dict[str, object] = {}
    section = ""
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            section = header.group(1)
            continue
        key = _ADDRESS_KEY.match(line)
        if section == "server" and key:
            raw = key.group(2)
            found[key.group(1)] = raw.strip('"') if raw.startswith('"') else int(raw)
    return found


def busy_port_message(host: str, port: int) -> str:
    """Why ``host:port`` cannot be used, and what to do (``start`` and ``serve`` say the same)."""
    url = client_url(host, port)
    answer = health(url, timeout=1.0)
    if answer is not None and is_anthroxy(answer):
        found = Proxy(url, answer, None)
        return (
            f"{found.describe()} already runs on port {port}; `anthroxy status` shows it, "
            "`anthroxy stop` stops it, or pick another port with --port"
        )
    return (
        f"port {port} on {host} is already in use by another program; "
        "pick another with --port or [server] port in the config"
    )


def signal_target(found: Proxy) -> int:
    """The proxy's pid, checked to be an anthroxy process of this machine."""
    pid = found.pid
    if pid is None:
        raise CommandError(
            f"{found.describe()} does not report its pid (an older anthroxy); "
            "restart it to apply the configuration"
        )
    state = process_state(pid)
    if state != "running":
        # A proxy in a container reports a pid of its own namespace.
        raise CommandError(
            f"{found.url}/healthz reports pid {pid}, which is not an anthroxy process on this "
            "machine (a container?); restart it where it runs"
        )
    return pid


def reload(found: Proxy, *, timeout: float = RELOAD_TIMEOUT, token: str = "") -> Proxy:
    """``SIGHUP``, then wait until the proxy reports the reload's outcome; the proxy after it."""
    pid = signal_target(found)
    reload_info = found.config.get("reload")
    before = reload_info.get("attempts", 0) if isinstance(reload_info, Mapping) else None
    if before is None:
        raise CommandError(f"{found.describe()} cannot reload (an older anthroxy); restart it")
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError as exc:
        raise CommandError(f"{found.describe()} belongs to another user; cannot reload it") from exc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = health(found.url, timeout=1.0, token=token)
        if answer is not None:
            after = Proxy(found.url, answer, found.record)
            info = after.config.get("reload")
            if isinstance(info, Mapping) and info.get("attempts", 0) > before:
                return after
        time.sleep(0.05)
    raise CommandError(f"{found.describe()} did not report a reload within {timeout:g} s")


def refused(after: Proxy) -> list[str]:
    """The problem lines of a refused reload (empty when it was applied)."""
    info = after.config.get("reload")
    problems = info.get("problems") if isinstance(info, Mapping) else None
    return [str(p) for p in problems] if isinstance(problems, list) else []


def restart_needed(after: Proxy) -> list[str]:
    info = after.config.get("reload")
    keys = info.get("restart_needed") if isinstance(info, Mapping) else None
    return [str(k) for k in keys] if isinstance(keys, list) else []


def local_sections(loc: Locations, settings: Any) -> dict[str, str]:
    pepper = fingerprint.load_pepper(fingerprint.pepper_file(loc.env, loc.home))
    return fingerprint.sections(settings, pepper)


def reconcile(
    loc: Locations,
    found: Proxy,
    settings: Any,
    out: TextIO,
    restart: Callable[[], PidRecord],
) -> PidRecord:
    """Bring ``found`` to ``settings``: use it as it is, reload it, or restart it (only the
    proxy ``anthroxy start`` launched); one line says which. Refuses a proxy that still
    serves another configuration and is not ours to restart."""
    theirs = found.sections
    if theirs is None:
        out.write(
            f"{found.describe()} is already running; it does not report its configuration "
            "(an older anthroxy): `anthroxy restart` applies the current one\n"
        )
        return found.as_record()
    mine = local_sections(loc, settings)
    before = fingerprint.differences(mine, theirs)
    if not before:
        out.write(f"anthroxy is already running at {found.url} (pid {found.pid})\n")
        return found.as_record()
    token = settings.config.server.auth_token
    why = ""
    try:
        after = reload(found, token=token)
        left = fingerprint.differences(mine, after.sections or {})
        if not left:
            out.write(
                f"{found.describe()} was serving an older configuration "
                f"(changed: {', '.join(before)}); reloaded it\n"
            )
            return after.as_record()
        problems = refused(after)
        why = "; it refused the files: " + "; ".join(problems) if problems else ""
        found, before = after, left
    except CommandError as exc:
        why = f"; {exc.message}"
    if found.owned and found.managed_by is None:
        record = restart()
        out.write(
            f"restarted anthroxy at {record.url} (pid {found.pid} -> {record.pid}): it was "
            f"serving another configuration (differs in: {', '.join(before)})\n"
        )
        return record
    if all(name.startswith(fingerprint.KEY_PREFIX) for name in before):
        out.write(
            f"note: {found.describe()} ({found.origin()}) uses other keys than this shell for "
            f"{', '.join(n.removeprefix(fingerprint.KEY_PREFIX) for n in before)}; it keeps its "
            "own until it is restarted\n"
        )
        return found.as_record()
    raise CommandError(
        f"{found.describe()}, {found.origin()}, serves another configuration than this command "
        f"would use (differs in: {', '.join(before)}){why}. {_how_to_replace(found)}"
    )


def _how_to_replace(found: Proxy) -> str:
    manager = found.managed_by
    if manager is not None and manager.get("manager") == "systemd":
        user = " --user" if manager.get("scope") == "user" else ""
        return (
            f"Restart it with `systemctl{user} restart {manager.get('unit')}` (a service reads "
            "its own environment file), or use another port with --port"
        )
    return "Stop it with `anthroxy stop` and try again, or use another port with --port"
