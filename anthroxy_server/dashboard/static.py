"""``GET /ui`` (the page) and ``GET /ui/static/{name}`` (its scripts, styles and images), served
from the ``static/`` folder of this package: no build step, nothing fetched from elsewhere.

Only a file that is in the folder is served (the name is looked up in a listing of it, never
joined to a path), with the content type of its suffix and headers that keep the page from
running anything but its own files.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from anthroxy.errors import AnthroxyError

from .access import NO_STORE, check

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html",
    ".js": "application/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def served_files() -> dict[str, Path]:
    """Name -> path of each file the folder holds with a known type."""
    if not STATIC.is_dir():
        return {}
    return {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in TYPES}


async def page(request: web.Request) -> web.Response:
    check(request, data=False)
    return await _serve("index.html")


async def static_file(request: web.Request) -> web.Response:
    check(request, data=False)
    return await _serve(request.match_info["name"])


async def _serve(name: str) -> web.Response:
    path = served_files().get(name)
    if path is None:
        raise AnthroxyError(
            f"no dashboard file named {name[:80]!r}",
            status=404,
            error_type="not_found_error",
            should_retry=False,
        )
    body = await asyncio.to_thread(path.read_bytes)
    kind = TYPES[path.suffix]
    charset = None if kind.startswith("image/") and kind != "image/svg+xml" else "utf-8"
    return web.Response(body=body, content_type=kind, charset=charset, headers=PAGE_HEADERS)
