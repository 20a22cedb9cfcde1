"""``anthroxy ui [--print]``: open the running proxy's dashboard (``/ui``) in the browser."""

from __future__ import annotations

import argparse
import webbrowser
from collections.abc import Callable
from typing import TextIO

from ..config.paths import CommandError, Locations
from . import daemon

NAME = "ui"
HELP = "open the running proxy's dashboard in the browser"
EXAMPLE = "anthroxy ui --print"
PATH = "/ui"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--print", action="store_true", help="only print the dashboard's URL")


def dashboard_url(proxy_url: str) -> str:
    return proxy_url.rstrip("/") + PATH


def command(
    args: argparse.Namespace,
    loc: Locations,
    out: TextIO,
    opener: Callable[[str], bool] = webbrowser.open,
) -> int:
    found = daemon.locate(loc, out)
    if found is None or not found.health:
        out.write(
            "anthroxy is not running, so there is no dashboard to open: start it with "
            "`anthroxy start`, then run `anthroxy ui` again\n"
        )
        return 1
    url = dashboard_url(found.url)
    out.write(f"dashboard: {url}\n")
    note = token_note(loc)
    if note:
        out.write(note + "\n")
    if not args.print and not opener(url):
        out.write("no browser could be opened here: open the URL above yourself\n")
    return 0


def token_note(loc: Locations) -> str:
    """Where the token the page asks for is, when the proxy has one (never the token)."""
    try:
        settings = daemon.load_settings(loc)
    except CommandError:
        return ""
    if not settings.config.server.auth_token:
        return ""
    where = settings.origins.get("server.auth_token", "the configuration")
    return (
        "the proxy has an auth_token: the page asks for it once per browser session "
        f"(it is [server] auth_token, set in {where})"
    )
