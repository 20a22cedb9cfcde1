"""The ``anthroxy`` command: argument parsing and dispatch to the modules that do the work.

``main(argv)`` returns the exit code. A ``CommandError`` becomes one line on stderr
(``anthroxy: error: ...``) and its exit code; any other exception is reported in one line too,
with the traceback only under ``--debug``. Aliases and mistyped commands are ``commandline``'s.
With no command, ``anthroxy`` prints its help and one line about the proxy's status, while
``python -m anthroxy_server`` (the README's first command) runs the foreground server, exactly
like ``anthroxy serve``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from ..config.paths import CommandError, Locations
from . import (
    claude_settings,
    commandline,
    config_check,
    daemon,
    desktop_extension,
    launcher,
    live_commands,
    login,
    mcp,
    models,
    running,
    service,
    ui,
    usage,
)
from .config_show import show_config_lines
from .setup import wizard

if TYPE_CHECKING:
    pass

COMMANDS = (
    "serve", "config", "start", "stop", "restart", "reload", "status", "logs", "run", "restore",
    "models", "service", "mcp", "import", "desktop-extension", "login", "logout", "usage", "ui",
    *live_commands.NAMES,
)  # fmt: skip
EPILOG = """examples:
  anthroxy config init          set up providers and models (asks a few questions)
  anthroxy start                run the proxy in the background
  anthroxy run                  launch Claude Code through it
  anthroxy status               is it up? which providers?
  anthroxy serve --port 9000    run in the foreground
  anthroxy help run             one command's options and example

aliases: code = run, init = config init, server = serve, version, help [COMMAND]
"""


class _Parser(argparse.ArgumentParser):
    """Examples shown verbatim; errors raise instead of exiting the interpreter."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def _sub(
    subparsers: argparse._SubParsersAction[_Parser], name: str, help_: str, example: str
) -> _Parser:
    parser: _Parser = subparsers.add_parser(
        name, help=help_, description=help_, epilog=f"example:\n  {example}"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="configuration file to use")


def build_parser() -> _Parser:
    parser = _Parser(
        prog="anthroxy",
        description="Run Claude Code and Anthropic-SDK apps on other model providers.",
        epilog=EPILOG,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    from anthroxy import __version__

    parser.add_argument("--version", action="version", version=f"anthroxy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p = _sub(sub, "serve", "run the proxy in the foreground", "anthroxy serve --port 9000")
    _config_flag(p)  # the server's own parser reads these; listed here for --help
    p.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default from config: 8082)")
    _add_config(sub)
    _add_daemon(sub)
    p = _sub(
        sub,
        "run",
        "launch Claude Code through the proxy (extra arguments go to claude)",
        "anthroxy run --model deepseek/deepseek-chat -- -p 'hello'",
    )
    _config_flag(p)
    p.add_argument("--port", type=int, help="the proxy's port (default from config: 8082)")
    p.add_argument("--model", help="model for Claude Code's main loop (ANTHROPIC_MODEL)")
    p.add_argument(
        "--persist",
        action="store_true",
        help="also write the settings into ~/.claude/settings.json",
    )
    _sub(sub, "restore", "undo `run --persist` (settings.json back as it was)", "anthroxy restore")
    p = _sub(sub, "models", "list the model names clients can use", "anthroxy models")
    _config_flag(p)
    p.add_argument("provider", nargs="?", help="a provider: its live model list, fetched now")
    for name, text, example in live_commands.COMMANDS:
        live_commands.add_arguments(name, _sub(sub, name, text, example))
    usage.add_arguments(_sub(sub, usage.NAME, usage.HELP, usage.EXAMPLE))
    ui.add_arguments(_sub(sub, ui.NAME, ui.HELP, ui.EXAMPLE))
    _add_tools(sub)
    return parser


def _add_tools(sub: argparse._SubParsersAction[_Parser]) -> None:
    """service, mcp, desktop-extension, import, login and logout."""
    p = _sub(
        sub,
        "service",
        "install or remove a login service (systemd / launchd)",
        "anthroxy service install",
    )
    p.add_argument("action", choices=("install", "uninstall"))
    p.add_argument("--platform", choices=("linux", "macos"), help="default: this system's")
    p.add_argument("--no-start", action="store_true", help="write the files; load nothing")
    _config_flag(p)
    p = _sub(sub, "mcp", "MCP server on stdio with a model_proxy_status tool", "anthroxy mcp")
    _config_flag(p)
    p.add_argument("--port", help="the proxy's port (default from config)")
    p = _sub(sub, "desktop-extension", "write a Claude Desktop .mcpb", "anthroxy desktop-extension")
    desktop_extension.add_arguments(p)
    p = _sub(
        sub,
        "import",
        "convert a claude-code-router, ccproxy or clco-proxy config into anthroxy TOML",
        "anthroxy import ~/.claude-code-router/config.json",
    )
    p.add_argument("file", metavar="FILE", help="the other proxy's JSON configuration")
    p.add_argument("--output", metavar="F", help="where to write (default: the user's file)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    for verb, does in (("login", "log in to a subscription"), ("logout", "forget a login")):
        p = _sub(sub, verb, f"{does} (GitHub Copilot)", f"anthroxy {verb} copilot")
        p.add_argument("provider", metavar="PROVIDER", help="the provider id, e.g. copilot")
        p.add_argument("--account", metavar="NAME", help="one of several logins (accounts)")
        _config_flag(p)


def _add_daemon(sub: argparse._SubParsersAction[_Parser]) -> None:
    for name, text in (
        ("start", "start the proxy in the background"),
        ("restart", "stop, then start the background proxy"),
    ):
        p = _sub(sub, name, text, f"anthroxy {name} --port 9000")
        _config_flag(p)
        p.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
        p.add_argument("--port", type=int, help="port to listen on (default from config: 8082)")
        p.add_argument(
            "--timeout", type=float, default=20.0, help="seconds to wait for /healthz (default 20)"
        )
    p = _sub(sub, "stop", "stop the background proxy", "anthroxy stop")
    p.add_argument(
        "--timeout",
        type=float,
        default=65.0,
        help="seconds to let running streams finish before SIGKILL (default 65)",
    )
    p = _sub(sub, "reload", "make the proxy read its configuration files again", "anthroxy reload")
    p.add_argument(
        "--timeout", type=float, default=15.0, help="seconds to wait for its answer (default 15)"
    )
    _sub(sub, "status", "show whether the background proxy runs", "anthroxy status")
    p = _sub(sub, "logs", "print the background proxy's log", "anthroxy logs -f")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, default=50, help="lines to print (default 50)")


def _add_config(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = _sub(sub, "config", "set up, inspect and check the configuration", "anthroxy config show")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    init = _sub(
        actions,
        "init",
        "write a configuration file by answering questions",
        "anthroxy config init --yes --provider deepseek --key-env DEEPSEEK_API_KEY",
    )
    init.add_argument(
        "--scope",
        choices=("user", "project"),
        help="user: ~/.config/anthroxy/config.toml; project: ./.anthroxy/config.toml",
    )
    init.add_argument("--yes", action="store_true", help="ask nothing; use flags and defaults")
    init.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="ID",
        help="catalogue provider id (repeatable)",
    )
    init.add_argument("--key-env", metavar="VAR", help="variable holding the provider's key")
    init.add_argument(
        "--key",
        metavar="KEY",
        help="the key itself (stored in the file with mode 0600; prefer --key-env)",
    )
    for tier in wizard.TIERS:
        init.add_argument(f"--{tier}", metavar="TARGET", help=f"provider/model for {tier}")
    init.add_argument("--port", type=int, help="port for the proxy (default 8082)")
    init.add_argument(
        "--key-in-project",
        action="store_true",
        help="with --scope project: keep --key in ./.anthroxy/config.toml, not in the user's .env",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    for name, text in (
        ("show", "the merged configuration, secrets masked, with each source"),
        ("path", "which configuration files are read, in order"),
        ("check", "validate the configuration (exit 2 listing every problem)"),
    ):
        _config_flag(_sub(actions, name, text, f"anthroxy config {name}"))


def _serve(argv: list[str]) -> int:
    try:
        from ..gateway import serve
    except ImportError as exc:
        raise CommandError(f"the server is not available ({exc})") from exc
    return int(serve.main(argv))


NoCommand = Literal["help", "serve"]


def _bare(argv: Sequence[str], out: TextIO, loc: Locations) -> int:
    """``anthroxy`` alone: the help and where the proxy stands."""
    if any(word != "--debug" for word in argv):  # server flags without a command
        raise CommandError(
            f"no command given; to run the server in the foreground: "
            f"anthroxy serve {' '.join(argv)}",
            code=2,
        )
    build_parser().print_help(out)
    out.write("\n" + running.status_line(loc) + "\n")
    return 0


def main(argv: list[str] | None = None, *, no_command: NoCommand = "help") -> int:
    argv = sys.argv[1:] if argv is None else argv
    loc = Locations(env=dict(os.environ), home=Path.home(), cwd=Path.cwd())
    return run(argv, loc, sys.stdin, sys.stdout, sys.stderr, no_command=no_command)


def run(
    argv: Sequence[str],
    loc: Locations,
    inp: TextIO,
    out: TextIO,
    err: TextIO,
    *,
    no_command: NoCommand = "help",
) -> int:
    """``main`` with its surroundings passed in (the tests' entry point)."""
    debug = "--debug" in argv
    try:
        argv = commandline.expand(argv, COMMANDS)
        serve_args = commandline.serve_args(argv, no_command_serves=no_command == "serve")
        if serve_args is not None:
            return _serve(serve_args)
        if commandline.command_word(argv) is None and not set(argv) & set(commandline.HELP_FLAGS):
            return _bare(argv, out, loc)
        args, extra = build_parser().parse_known_args(argv)
        if extra and args.command != "run":
            raise CommandError(f"unrecognized arguments: {' '.join(extra)}", code=2)
        return _HANDLERS[args.command](_Call(args, extra, loc, inp, out, err))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    except CommandError as exc:
        err.write(f"anthroxy: error: {exc.message}\n")
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc(file=err)
        else:
            err.write(
                f"anthroxy: internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for the traceback)\n"
            )
        return 1


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    found = {"server.host": args.host, "server.port": args.port}
    return {k: v for k, v in found.items() if v is not None}


@dataclass(frozen=True)
class _Call:
    """One parsed command line and the surroundings it runs in."""

    args: argparse.Namespace
    extra: list[str]  # unparsed arguments: only `run` accepts them (they go to claude)
    loc: Locations
    inp: TextIO
    out: TextIO
    err: TextIO


def _start(c: _Call) -> int:
    if c.args.command == "restart":
        found = daemon.locate(c.loc, c.out)
        if found is not None and found.managed_by is not None:
            service.stop_managed(found.managed_by, c.out, action="restart")
            return 0
        daemon.stop(c.loc, c.out)
    a = c.args
    daemon.start(c.loc, c.out, config_path=a.config, overrides=_overrides(a), timeout=a.timeout)
    return 0


def _stop(c: _Call) -> int:
    return 0 if daemon.stop(c.loc, c.out, grace=c.args.timeout) else 1


def _logs(c: _Call) -> int:
    path = daemon.print_log(c.loc, c.out, lines=c.args.lines)
    if c.args.follow:
        daemon.follow_log(path, c.out)
    return 0


def _run(c: _Call) -> int:
    extra = list(c.extra)
    if "--" in extra:  # the separator itself is ours; a later "--" belongs to claude
        extra.remove("--")
    a = c.args
    port = {} if a.port is None else {"server.port": a.port}
    return launcher.run(
        c.loc, c.err, claude_args=extra, model=a.model, persist=a.persist, config_path=a.config,
        overrides=port,
    )  # fmt: skip


def _restore(c: _Call) -> int:
    claude_settings.restore_settings(c.loc, c.out)
    return 0


def _status(c: _Call) -> int:
    code = daemon.status(c.loc, c.out)
    login.write_status(c.loc, c.out)
    return code


def _models(c: _Call) -> int:
    return models.command(c.loc, c.out, c.args.config, c.args.provider)


def _service(c: _Call) -> int:
    a, start = c.args, False if c.args.no_start else None
    if a.action == "install":
        service.install(c.loc, c.out, platform=a.platform, config_path=a.config, start=start)
    else:
        service.uninstall(c.loc, c.out, platform=a.platform, stop=start)
    return 0


def _mcp(c: _Call) -> int:
    return mcp.run(c.loc, c.inp.buffer, c.out.buffer, c.args.config, c.args.port)


def _import(c: _Call) -> int:
    from ..config import importers

    importers.run_import(c.loc, c.out, c.args.file, c.args.output, c.args.force)
    return 0


_HANDLERS: dict[str, Callable[[_Call], int]] = {
    "config": lambda c: _config(c.args, c.loc, c.inp, c.out),
    "start": _start,
    "restart": _start,
    "stop": _stop,
    "reload": lambda c: daemon.reload_proxy(c.loc, c.out, timeout=c.args.timeout),
    "status": _status,
    "login": lambda c: login.login_command(
        c.loc, c.out, c.args.provider, c.args.config, c.args.account
    ),
    "logout": lambda c: login.logout_command(
        c.loc, c.out, c.args.provider, c.args.config, c.args.account
    ),
    "logs": _logs,
    "run": _run,
    "restore": _restore,
    "models": _models,
    "service": _service,
    "mcp": _mcp,
    "desktop-extension": lambda c: desktop_extension.command(c.args, c.loc, c.out),
    "import": _import,
    "usage": lambda c: usage.command(c.args, c.loc, c.out),
    "ui": lambda c: ui.command(c.args, c.loc, c.out),
    **dict.fromkeys(live_commands.NAMES, lambda c: live_commands.handle(c.args, c.loc, c.out)),
}


def _config(args: argparse.Namespace, loc: Locations, inp: TextIO, out: TextIO) -> int:
    if args.action == "init":
        flags = wizard.Flags(
            scope=args.scope,
            providers=args.provider,
            key_env=args.key_env,
            key=args.key,
            tiers={t: getattr(args, t) for t in wizard.TIERS},
            port=args.port,
            yes=args.yes,
            force=args.force,
            key_in_project=args.key_in_project,
        )
        wizard.init(loc, inp, out, flags)
        return 0
    if args.action == "path":
        out.write(config_check.path_report(loc, args.config))
        return 0
    if args.action == "check":
        return config_check.check(loc, args.config, out)
    settings = daemon.load_settings(loc, args.config)
    out.write("\n".join(show_config_lines(settings, loc.env)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
