"""The ``[server]`` part of the environment overlay: the listen port and the logging variables of
the proxies anthroxy replaces (docs/migrating.md).

* ``PORT`` -> ``server.port``: claude-model-proxy's listen port, and what container platforms
  set for the process to listen on. It wins over the files; ``--port`` wins over it.
* ``BASE_URL`` (claude-model-proxy's gateway-facing URL, ``http://127.0.0.1:8787``): when
  ``PORT`` is not set and the URL is plain http on a loopback address with an explicit port,
  that port is the listen port, so the gateway URL a client was given keeps working. Any other
  URL (https, another host: a reverse proxy in front) says nothing about where anthroxy listens
  and is left alone. The host is never taken from it: listening beyond loopback stays an
  explicit ``server.host``.
* freecc's ``CONSOLE_LOG_LEVEL`` -> ``server.log_level``, ``FILE_LOG_LEVEL`` ->
  ``server.log_file_level``, ``LOG_REQUEST_BODY``/``LOG_RESPONSE_BODY`` ->
  ``server.log_request_body``/``server.log_response_body``.

Bad values are problem lines naming the variable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from .schema import LOG_LEVELS

__all__ = ["FALSE", "TRUE", "server_values"]

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
LEVELS: Mapping[str, str] = {"CONSOLE_LOG_LEVEL": "log_level", "FILE_LOG_LEVEL": "log_file_level"}
BODIES: Mapping[str, str] = {
    "LOG_REQUEST_BODY": "log_request_body",
    "LOG_RESPONSE_BODY": "log_response_body",
}

Add = Callable[[str, tuple[str, ...], object], None]  # (variable, key path, value)


def server_values(env: Mapping[str, str], add: Add, problems: list[str]) -> None:
    """Call ``add`` for every ``[server]`` key a variable sets; bad values go to ``problems``."""
    port = _port(env, problems)
    if port is not None:
        add(port[1], ("server", "port"), port[0])
    for var, key in LEVELS.items():
        level = env.get(var, "").strip()
        if not level:
            continue
        if level.lower() in LOG_LEVELS:
            add(var, ("server", key), level.lower())
        else:
            problems.append(f"{var}: expected one of {', '.join(LOG_LEVELS)}, got {level!r}")
    for var, key in BODIES.items():
        flag = env.get(var, "").strip().lower()
        if flag in TRUE or flag in FALSE:
            add(var, ("server", key), flag in TRUE)
        elif flag:
            problems.append(f"{var}: expected true or false, got {flag!r}")


def _port(env: Mapping[str, str], problems: list[str]) -> tuple[int, str] | None:
    """(port, variable that set it) from PORT, else from a loopback BASE_URL; None if neither."""
    raw = env.get("PORT", "").strip()
    if raw:
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535:
            return int(raw), "PORT"
        problems.append(f"PORT: expected a port number between 1 and 65535, got {raw!r}")
        return None
    base = env.get("BASE_URL", "").strip()
    if not base:
        return None
    try:
        parts = urlsplit(base)
        port = parts.port
    except ValueError:
        problems.append(f"BASE_URL: {base!r} is not a URL like http://127.0.0.1:8787")
        return None
    if parts.scheme != "http" or not port or not _loopback(parts.hostname or ""):
        return None
    return port, "BASE_URL"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
