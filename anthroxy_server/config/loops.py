"""A provider whose base URL is anthroxy's own listening address: a loop, refused at start.

``ANTHROPIC_BASE_URL`` has two meanings. Claude Code and the Anthropic SDKs send their requests
to it, so every guide to a proxy tells users to export it pointing at the proxy; anthroxy's
catalogue also reads it (``<ID>_BASE_URL``) as the Anthropic upstream's URL. Exported in the
shell that starts anthroxy with ``ANTHROPIC_API_KEY`` set, it makes anthroxy's Anthropic upstream
anthroxy itself. ``self_address_problems`` finds such a provider from the configuration alone (no
name lookups: a host name that only resolves to this machine is caught at run time by the hop
header, ``gateway/loop.py``), and says where the URL came from and how to fix it.

"This machine" is the server's own ``host``, any loopback name (``localhost``, ``*.localhost``
per RFC 6761 §6.3, 127.0.0.0/8, ``::1``) and the unspecified addresses; the URL's host matches the
server when it equals ``host``, or when it is one of those and the server listens on loopback or
on every address (``0.0.0.0``, ``::``). The port must be the server's (the scheme's default when
the URL names none).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from anthroxy.routing import catalog

if TYPE_CHECKING:
    from .schema import Config, ResolvedProvider

DEFAULT_PORTS = {"http": 80, "https": 443}
# The variable Claude Code reads as its endpoint and the catalogue reads as Anthropic's URL.
CLAUDE_CODE_URL_VAR = "ANTHROPIC_BASE_URL"


def self_address_problems(
    config: Config,
    providers: Mapping[str, ResolvedProvider],
    env: Mapping[str, str],
    origins: Mapping[str, str],
) -> list[str]:
    """One line per provider whose base URL is this server's own address."""
    server = config.server
    problems = []
    for pid, provider in providers.items():
        if not _points_at(provider.base_url, server.host, server.port):
            continue
        source = _source(pid, config, env, origins)
        where = f"providers.{pid}.base_url"
        problems.append(
            f"{where}: {provider.base_url} (from {source}) is anthroxy's own address "
            f"(server.host {server.host}, server.port {server.port}): every request for "
            f"'{pid}' would come back to anthroxy in a loop. {_fix(pid, source)}"
        )
    return problems


def _fix(pid: str, source: str) -> str:
    if source == CLAUDE_CODE_URL_VAR:
        return (
            f"{CLAUDE_CODE_URL_VAR} means two things: Claude Code sends its requests there (to "
            "anthroxy), and anthroxy takes it as the Anthropic upstream's URL. Unset it in the "
            "environment anthroxy starts in (keep it only for Claude Code; `anthroxy run` sets it "
            f"for Claude Code by itself), or set providers.{pid}.base_url explicitly "
            '(e.g. "https://api.anthropic.com").'
        )
    return f"Set providers.{pid}.base_url to the provider's own URL."


def _source(pid: str, config: Config, env: Mapping[str, str], origins: Mapping[str, str]) -> str:
    """Where the base URL came from, in the words the user would search their setup for."""
    cfg = config.providers.get(pid)
    if cfg is not None and cfg.base_url:
        origin = origins.get(f"providers.{pid}.base_url", "the configuration")
        return origin.removeprefix("env:")
    preset = catalog.CATALOG.get(pid)
    if preset is not None and env.get(preset.base_url_env, "").strip():
        return preset.base_url_env
    return "the catalogue"


def _points_at(url: str, host: str, port: int) -> bool:
    try:
        parts = urlsplit(url)
        url_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a malformed port: the URL checks report it
        return False
    # A trailing dot is the same (fully qualified) name.
    url_host = (parts.hostname or "").lower().rstrip(".")
    if url_port != port or not url_host:
        return False
    bind = host.strip("[]").lower().rstrip(".")
    if url_host == bind:
        return True
    return _this_machine(url_host) and (_this_machine(bind) or not bind)


def _this_machine(host: str) -> bool:
    """A loopback or unspecified address, or a loopback name (RFC 6761 §6.3)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    return address.is_loopback or address.is_unspecified
