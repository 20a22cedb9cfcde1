"""``python -m anthroxy_server [--config FILE] [--host HOST] [--port PORT] [--debug]``.

``main(argv) -> int`` loads the settings (files, environment, these flags), sets up logging and
runs the app until interrupted. ``SIGHUP`` reloads the configuration files (``reload.py``).
Exit codes: 0 after a clean stop, 1 when the address cannot be listened on (one line saying
why and what to do), 2 for a configuration problem.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from anthroxy import __version__

from .logs import LOGGER_NAME, settings_secrets, setup_logging

if TYPE_CHECKING:
    from ..config.schema import Settings

log = logging.getLogger(LOGGER_NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anthroxy_server",
        description="Anthropic Messages API gateway to other model providers.",
    )
    add_arguments(parser)
    parser.add_argument("--version", action="version", version=f"anthroxy {__version__}")
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The serve flags, also used by the ``anthroxy serve`` subcommand."""
    parser.add_argument("--config", metavar="FILE", help="config file (default: discovered)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8082)")
    parser.add_argument("--debug", action="store_true", help="log at debug level")


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["server.host"] = args.host
    if args.port is not None:
        overrides["server.port"] = args.port
    if args.debug:
        overrides["server.log_level"] = "debug"
    return overrides


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    from ..config import ConfigError, load_settings

    environ = dict(os.environ)  # a reload re-reads the files, not the environment

    def load() -> Settings:
        return load_settings(cli_path=args.config, env=environ, overrides=overrides_from(args))

    try:
        settings = load()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"anthroxy: config: {problem}", file=sys.stderr)
        return 2
    server = settings.config.server
    _setup_logging(settings, settings_secrets(settings))
    if not server.auth_token and not is_loopback(server.host):
        log.warning(
            "listening on %s without server.auth_token: anyone who can reach this port can "
            "spend your provider keys",
            server.host,
        )
    log.info(
        "anthroxy %s on http://%s:%d (pid %d; providers: %s; config: %s)",
        __version__,
        server.host,
        server.port,
        os.getpid(),
        ", ".join(settings.providers) or "none",
        ", ".join(settings.sources) or "none",
    )
    try:
        web.run_app(
            _app(settings, environ, load),
            host=server.host,
            port=server.port,
            access_log=None,  # our middleware writes the access line
            handler_cancellation=True,  # a client that goes away cancels its upstream call
            print=None,
        )
    except OSError as exc:
        print(f"anthroxy: error: {cannot_listen(exc, server.host, server.port)}", file=sys.stderr)
        return 1
    return 0


def _app(
    settings: Settings, environ: dict[str, str], load: Callable[[], Settings]
) -> web.Application:
    from ..config import fingerprint
    from . import reload
    from .app import create_app

    pepper = fingerprint.load_pepper(fingerprint.pepper_file(environ, Path.home()))
    app = create_app(settings, pepper=pepper)
    reload.enable(app, load, _setup_logging)
    return app


def _setup_logging(settings: Settings, secrets: tuple[str, ...]) -> None:
    server = settings.config.server
    setup_logging(level=server.log_level, fmt=server.log_format, secret_values=secrets)


def cannot_listen(exc: OSError, host: str, port: int) -> str:
    """Why the server cannot listen on host:port, in the words ``anthroxy start`` uses."""
    if exc.errno == errno.EADDRINUSE:
        from ..cli.proxy import busy_port_message

        return busy_port_message(host, port)
    if exc.errno == errno.EACCES:
        return (
            f"not allowed to listen on port {port} (ports below 1024 need privileges); "
            "pick another with --port or [server] port in the config"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {host}: no network interface of this machine has that address; "
            "use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
