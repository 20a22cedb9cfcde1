"""Looking at what runs: ``GET /healthz`` on an address, whether a port is free, whether a pid is
a live anthroxy process, and the pid file's record of the proxy ``anthroxy start`` launched."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
