"""``python -m anthroxy_server [--config FILE] [--host HOST] [--port PORT] [--debug]``.

``main(argv) -> int`` loads the settings (files, environment, these flags), sets up logging and
runs the app until interrupted. ``SIGHUP`` reloads the configuration files (``reload.py``).
Exit codes: 0 after a clean stop, 1 when the address cannot be listened on (one line saying
why and what to do), 2 for a configuration problem (or a log file that cannot be written, or
an address beyond loopback without ``server.auth_token``). The
state directory (``config/paths.py``) holds the optional log file (``logs.py``) and body log
(``bodylog.py``).
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

from .. import speedups
from ..config import paths
from . import supervise
from .bodylog import BODY_LOG_NAME, BodyLogFile
from .live import LIVE
from .logs import LOGGER_NAME, settings_secrets, setup_logging
from .state import CACHE_DIR

if TYPE_CHECKING:
    from ..config.schema import Settings

log = logging.getLogger(LOGGER_NAME)


# Connections the kernel queues before the server accepts them. aiohttp's default of 128
# overflows when many clients connect at once (a team's gateway after a restart, a burst of
# parallel subagents): the extra ones are dropped and their clients retry after 1, 3, 7 ... s.
# The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024


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
    parser.add_argument(
        "--workers", type=int, metavar="N", help="processes serving the port (default 1)"
    )


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["server.host"] = args.host
    if args.port is not None:
        overrides["server.port"] = args.port
    if args.debug:
        overrides["server.log_level"] = "debug"
    if getattr(args, "workers", None) is not None:
        overrides["server.workers"] = args.workers
    return overrides


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_bind_message(host: str) -> str:
    """Why the server will not listen on a non-loopback ``host`` without a token, and the fix."""
    return (
        f"refusing to listen on {host} without server.auth_token: anyone who can reach this "
        "address could spend your provider keys. Set a token (export ANTHROXY_AUTH_TOKEN=<a long "
        "random value>, or auth_token in the [server] table of a file only you can read) and "
        "give it to clients as ANTHROPIC_AUTH_TOKEN; or listen on 127.0.0.1"
    )


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
    if not server.auth_token and not is_loopback(server.host):
        print(f"anthroxy: error: {open_bind_message(server.host)}", file=sys.stderr)
        return 2
    logs = _Logs(paths.state_dir(environ, Path.home()))
    try:
        logs.setup(settings, settings_secrets(settings))
    except OSError as exc:
        print(f"anthroxy: cannot write to {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    group = supervise.group_info(environ)
    if server.workers > 1 and group is None:
        return _supervise(args, server.workers, logs)
    _announce(settings)
    try:
        web.run_app(
            _app(settings, environ, load, logs),
            host=server.host,
            port=server.port,
            access_log=None,  # our middleware writes the access line
            handler_cancellation=True,  # a client that goes away cancels its upstream call
            print=None,
            reuse_port=group is not None or None,
            backlog=LISTEN_BACKLOG,
            loop=speedups.new_event_loop(),  # uvloop with the fast extra, else asyncio's
        )
    except OSError as exc:
        print(f"anthroxy: error: {cannot_listen(exc, server.host, server.port)}", file=sys.stderr)
        return 1
    finally:
        logs.close()
    return 0


def _supervise(args: argparse.Namespace, workers: int, logs: _Logs) -> int:
    if not supervise.supported():
        print(f"anthroxy: error: {supervise.unsupported_message()}", file=sys.stderr)
        return 2
    argv = [f"--{name}={value}" for name in ("config", "host", "port")
            if (value := getattr(args, name)) is not None]  # fmt: skip
    argv += ["--debug"] if args.debug else []
    try:
        return supervise.Supervisor(argv, workers, logs.state).run()
    finally:
        logs.close()


class _Logs:
    """The server's log outputs, set up at start and again by every reload (new secrets to
    mask, new levels, body logging switched on or off)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.bodies: BodyLogFile | None = None

    def setup(self, settings: Settings, secrets: tuple[str, ...]) -> None:
        server = settings.config.server
        setup_logging(
            level=server.log_level,
            fmt=server.log_format,
            secret_values=secrets,
            file_path=self.state / paths.SERVER_LOG_NAME,
            file_level=server.log_file_level,
        )
        self.close()
        self.bodies = _open_body_log(settings, self.state / BODY_LOG_NAME, secrets)

    def close(self) -> None:
        if self.bodies is not None:
            self.bodies.close()
            self.bodies = None


def _open_body_log(settings: Settings, path: Path, secrets: tuple[str, ...]) -> BodyLogFile | None:
    server = settings.config.server
    if not (server.logs_bodies):
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
    log.info(
        "anthroxy %s on http://%s:%d (pid %d; providers: %s; config: %s; speed-ups: %s)",
        __version__,
        server.host,
        server.port,
        os.getpid(),
        ", ".join(settings.providers) or "none",
        ", ".join(settings.sources) or "none",
        ", ".join(speedups.active()) or "none",
    )


def _app(
    settings: Settings, environ: dict[str, str], load: Callable[[], Settings], logs: _Logs
) -> web.Application:
    from ..config import fingerprint, paths
    from . import reload
    from .app import create_app

    pepper = fingerprint.load_pepper(fingerprint.pepper_file(environ, Path.home()))
    cache_dir = paths.cache_dir(environ, Path.home())
    state_dir = paths.state_dir(environ, Path.home())
    app = create_app(settings, pepper=pepper, cache_dir=cache_dir, state_dir=state_dir)
    app[CACHE_DIR] = cache_dir
    base = int(environ.get(supervise.RELOADS_ENV, "0"))
    if base:

        async def count_group_reloads(app: web.Application) -> None:
            # A restarted worker counts the group's reloads, like its siblings
            app[LIVE].reloads.attempts = base

        app.on_startup.append(count_group_reloads)
    reload.enable(app, load, logs.setup)
    return app


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
