"""Finding the running proxy even when the configuration would not load in this shell.

A command that only talks to the proxy (``anthroxy models``, the bare ``anthroxy`` status line)
needs its address and token, not the provider keys: those live in the proxy's environment, which
may not be this shell's. ``server_config`` therefore reads only the ``[server]`` table of the
files (and the environment overlay), and falls back to the defaults for what it cannot read.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..config import paths
from ..config.paths import CommandError, Locations
from ..config.schema import ServerConfig
from . import daemon

# No proxies: a loopback request, and its token, must not go through $http_proxy.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Proxy:
    url: str
    token: str
    pid: int | None  # known when `anthroxy start` started it


def server_config(loc: Locations, config_path: str | None = None) -> ServerConfig:
    """``[server]`` as the proxy would read it; defaults for whatever is missing or invalid."""
    from ..config import ConfigError, structure_config
    from ..config.env_overlay import apply_env_overlay
    from ..config.files import find_config_files, merge_into, read_toml

    cli_path = None if config_path is None else str(loc.cwd / config_path)
    files = find_config_files(cli_path=cli_path, env=loc.env, cwd=loc.cwd, home=loc.home)
    merged: dict[str, Any] = {}
    ignored: list[str] = []  # problems are `config check`'s to report, not ours
    for path in files:
        data = read_toml(path, ignored)
        if data is not None:
            merge_into(merged, data, str(path), {})
    apply_env_overlay(merged, loc.env, {}, ignored)
    try:
        return structure_config({"server": merged.get("server", {})}).server
    except ConfigError:
        return ServerConfig()


def find_proxy(loc: Locations, config_path: str | None = None) -> Proxy:
    """The proxy `anthroxy start` runs (unless another file is named), else the configured
    address; whether anything answers there is the caller's question."""
    server = server_config(loc, config_path)
    if config_path is None:
        record = _started_record(loc)
        if record is not None:
            return Proxy(record.url, server.auth_token, record.pid)
    return Proxy(daemon.client_url(server.host, server.port), server.auth_token, None)


def _started_record(loc: Locations) -> daemon.PidRecord | None:
    try:
        record = daemon.read_record(paths.pid_file(loc.env, loc.home))
    except CommandError:
        return None
    if record is None or daemon.process_state(record.pid) != "running":
        return None
    return record


def get_json(proxy: Proxy, path: str, *, timeout: float = 3.0) -> dict[str, Any] | None:
    """``GET`` an endpoint of the proxy with its token: the JSON object, or None on any failure
    (nothing answers, a refused token, not JSON)."""
    request = urllib.request.Request(proxy.url + path)
    if proxy.token:
        request.add_header("Authorization", f"Bearer {proxy.token}")
    try:
        with DIRECT.open(request, timeout=timeout) as response:
            data = json.loads(response.read())
    except (OSError, ValueError, urllib.error.HTTPError):
        return None
    return data if isinstance(data, dict) else None


def status_line(loc: Locations) -> str:
    """One line: where the proxy answers, or how to start it."""
    proxy = find_proxy(loc)
    answer = daemon.health(proxy.url, timeout=1.0, token=proxy.token)
    if answer is None:
        if proxy.pid is not None:
            return (
                f"status: anthroxy (pid {proxy.pid}) does not answer at {proxy.url}; "
                "see `anthroxy logs`"
            )
        return f"status: not running at {proxy.url}; `anthroxy start` runs it in the background"
    if "providers" not in answer:
        return f"status: another program (not anthroxy) answers at {proxy.url}"
    started = f" (pid {proxy.pid})" if proxy.pid is not None else ""
    return f"status: running at {proxy.url}{started}; `anthroxy status` for details"


def query(path: str, **params: str) -> str:
    return f"{path}?{urllib.parse.urlencode(params)}" if params else path
