"""``python -m anthroxy_server [--config FILE] [--host HOST] [--port PORT] [--debug]``.

``main(argv) -> int`` loads the settings (files, environment, these flags), sets up logging and
runs the app until interrupted. Exit codes: 0 after a clean stop, 2 for a configuration problem
(or a log file that cannot be written). The state directory (``config/paths.py``) holds the
optional log file (``logs.py``) and body log (``bodylog.py``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from anthroxy import __version__

from ..config import paths
from .bodylog import BODY_LOG_NAME, BodyLogFile
from .logs import LOGGER_NAME, SERVER_LOG_NAME, settings_secrets, setup_logging

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
    from .app import create_app

    try:
        settings = load_settings(
            cli_path=args.config, env=os.environ, overrides=overrides_from(args)
        )
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"anthroxy: config: {problem}", file=sys.stderr)
        return 2
    server = settings.config.server
    secrets = settings_secrets(settings)
    state = paths.state_dir(os.environ, Path.home())
    try:
        setup_logging(
            level=server.log_level,
            fmt=server.log_format,
            secret_values=secrets,
            file_path=state / SERVER_LOG_NAME,
            file_level=server.log_file_level,
        )
        bodies = _open_body_log(settings, state / BODY_LOG_NAME, secrets)
    except OSError as exc:
        print(f"anthroxy: cannot write to {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    _announce(settings)
    try:
        web.run_app(
            create_app(settings),
            host=server.host,
            port=server.port,
            access_log=None,  # our middleware writes the access line
            handler_cancellation=True,  # a client that goes away cancels its upstream call
            print=None,
        )
    finally:
        if bodies is not None:
            bodies.close()
    return 0


def _open_body_log(settings: Settings, path: Path, secrets: tuple[str, ...]) -> BodyLogFile | None:
    server = settings.config.server
    if not (server.log_request_body or server.log_response_body):
        return None
    bodies = BodyLogFile(path, secrets)
    kinds = (("request", server.log_request_body), ("response", server.log_response_body))
    which = [name for name, on in kinds if on]
    log.warning(
        "%s bodies of /v1/messages are being written to %s: they hold prompts, code and replies "
        "(keys masked); turn server.log_request_body / log_response_body off when done",
        " and ".join(which),
        path,
    )
    return bodies


def _announce(settings: Settings) -> None:
    server = settings.config.server
    if not server.auth_token and not is_loopback(server.host):
        log.warning(
            "listening on %s without server.auth_token: anyone who can reach this port can "
            "spend your provider keys",
            server.host,
        )
    log.info(
        "anthroxy %s on http://%s:%d (providers: %s; config: %s)",
        __version__,
        server.host,
        server.port,
        ", ".join(settings.providers) or "none",
        ", ".join(settings.sources) or "none",
    )
