"""Who may open the dashboard.

Without ``[server] auth_token`` the page and its API answer loopback peers only: nothing else
stands between the network and the request list. With a token, the page and its static files
(which hold no data) are served to anyone, and every ``/ui/api/`` call must present the token
(``Authorization: Bearer`` or ``x-api-key``, as ``/v1`` takes it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

from anthroxy.errors import AnthroxyError, AuthenticationFailed

from ..gateway import guard
from ..gateway.live import settings_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_STORE = {"Cache-Control": "no-store"}


def is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.partition("%")[0]).is_loopback
    except ValueError:
        return False


def check(request: web.Request, *, data: bool) -> None:
    """Raise the 403 or 401 ``request`` earns; ``data``: an API call (not the page itself)."""
    token = settings_of(request).config.server.auth_token
    if not token:
        if not is_loopback(request.remote):
            raise AnthroxyError(
                f"anthroxy: the dashboard answers only this machine (loopback) while the proxy "
                f"has no token; {request.remote or 'this client'} is not loopback. Set [server] "
                "auth_token to open the dashboard to other machines (the page then asks for it)",
                status=403,
                error_type="permission_error",
                should_retry=False,
            )
        return
    if data and not guard.token_presented(request.headers, token):
        sent = guard.presented_credentials(request.headers)
        problem = "a wrong token" if sent else "no token"
        raise AuthenticationFailed(
            f"anthroxy: the dashboard API got {problem}: send [server] auth_token as "
            "Authorization: Bearer <token> (the page asks for it once per browser session)",
            should_retry=False,
        )


def api(handler: Handler) -> Handler:
    """``handler`` behind the API's access check."""

    async def checked(request: web.Request) -> web.StreamResponse:
        check(request, data=True)
        return await handler(request)

    return checked


async def no_store(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: no answer of the dashboard is cached, its errors included."""
    if request.path == "/ui" or request.path.startswith("/ui/"):
        response.headers.update(NO_STORE)
