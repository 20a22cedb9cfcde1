"""What keeps a web page the user visits from using the proxy, and client strings out of headers.

A browser sends requests to loopback for any page: a cross-site ``POST`` with a "simple"
content type (``text/plain``) needs no CORS preflight, and a DNS-rebinding page (its own name
resolving to 127.0.0.1) can even read the answers. Three checks stop both, and none of them
touches what Claude Code, the SDKs or curl send (no ``Origin``, a loopback ``Host``,
``application/json`` bodies):

- ``Host`` must name an address the server answers on: a loopback name or address, the bound
  ``[server] host``, any IP address when bound to every interface (rebinding needs a name), or
  an entry of ``[server] allowed_hosts`` (``"*"``: any). The port is not compared.
- ``Origin``, when present, must be the server's own (``http(s)://`` + the ``Host`` asked for) or
  listed in ``[server] allowed_origins`` (``"*"``: any).
- A request body must be ``application/json`` (parameters allowed): 415 otherwise.

``check_routed_strings`` refuses control characters in the strings that reach routing, reply
headers and log lines (``model``, ``metadata.user_id``).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from anthroxy.errors import AnthroxyError, InvalidRequest

if TYPE_CHECKING:
    from ..config.schema import ServerConfig

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# C0 and C1 controls, DEL, the Unicode line and paragraph separators (a log viewer breaks lines
# on them too), and lone surrogates (no header or log file can encode them).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHOWN = 80  # characters of a refused client string quoted back


def check_request(request: web.Request, server: ServerConfig) -> None:
    """Raise an Anthropic-shaped 403 or 415 for a request a web page could have forged."""
    host = request.headers.get("Host")
    if host is not None and not host_allowed(host, server):
        raise AnthroxyError(
            f"anthroxy: refused a request for host {shown(host)}: this proxy answers only on "
            "localhost, loopback addresses and its [server] host, so a web page cannot reach it "
            "through a name of its own. If you reach it by that name, add it to [server] "
            "allowed_hosts",
            status=403,
            error_type="permission_error",
            should_retry=False,
        )
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, host, server):
        raise AnthroxyError(
            f"anthroxy: refused a request from the web page at origin {shown(origin)}: pages "
            "other than the proxy's own may not use it (they would spend your keys). To allow "
            "that page, add its origin to [server] allowed_origins",
            status=403,
            error_type="permission_error",
            should_retry=False,
        )
    if request.method in BODY_METHODS and request.body_exists and not _json(request):
        raise InvalidRequest(
            f"Content-Type must be application/json, got {shown(_content_type(request))}; "
            "send the request body as JSON with that header",
            status=415,
        )


def _json(request: web.Request) -> bool:
    return request.content_type == "application/json"


def _content_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "(none)")


def host_allowed(host: str, server: ServerConfig) -> bool:
    allowed = [entry.lower() for entry in server.allowed_hosts]
    if "*" in allowed or host.lower() in allowed:
        return True
    name = hostname(host)
    if name in LOOPBACK_NAMES or name in allowed or name == hostname(server.host):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or server.host in WILDCARDS


def hostname(host: str) -> str:
    """``host`` without its port or IPv6 brackets, lower case, without a trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    if colon and ":" not in name and port.isdigit():
        host = name
    return host.rstrip(".")


def origin_allowed(origin: str, host: str | None, server: ServerConfig) -> bool:
    allowed = [entry.lower().rstrip("/") for entry in server.allowed_origins]
    origin = origin.strip().lower()
    if "*" in allowed or origin in allowed:
        return True
    return host is not None and origin in (f"http://{host.lower()}", f"https://{host.lower()}")


def token_presented(headers: Mapping[str, str], token: str) -> bool:
    """Whether either credential header holds ``token``."""
    expected = token.encode()
    # surrogateescape: aiohttp keeps undecodable header bytes as surrogates, which strict
    # UTF-8 cannot encode; such a header is simply a wrong token.
    return any(
        hmac.compare_digest(value.encode("utf-8", "surrogateescape"), expected)
        for value in presented_credentials(headers).values()
    )


def presented_credentials(headers: Mapping[str, str]) -> dict[str, str]:
    """Header name -> credential the client presented (x-api-key, Authorization: Bearer)."""
    given = {}
    if "x-api-key" in headers:
        given["x-api-key"] = headers["x-api-key"]
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        given["Authorization: Bearer"] = authorization[7:].strip()
    return given


def check_routed_strings(body: Mapping[str, Any]) -> None:
    """A 400 naming the field when ``model`` or ``metadata.user_id`` holds a control character:
    the model reaches the ``x-anthroxy-route`` reply header and the access log."""
    fields: list[tuple[str, object]] = [("model", body.get("model"))]
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping):
        fields.append(("metadata.user_id", metadata.get("user_id")))
    for name, value in fields:
        if isinstance(value, str) and _CONTROL.search(value):
            raise InvalidRequest(
                f"{name} must not contain control characters or line breaks, got {shown(value)}",
                path=f"$.{name}",
            )


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def shown(text: str) -> str:
    """A client string quoted for a message or a log line: escaped, and cut when long."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")
