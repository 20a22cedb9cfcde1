"""The command line as a person types it: bare `anthroxy`, aliases, mistyped commands, every
command's --help, and `anthroxy models` asking the running proxy first.

The entry points are the real ones (`python -m anthroxy_server.cli` is the `anthroxy` script,
`python -m anthroxy_server` the README's command), run as processes in a temporary HOME with a
real configuration file; a real proxy is started where one is needed."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anthroxy_server.cli import daemon
from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config.paths import Locations

from .test_cli_daemon import _kill_leftover, free_port

KEY = "sk-test-0123456789abcdef"
TOKEN = "proxy-token-0123456789"


@pytest.fixture
def loc(tmp_path: Path) -> Iterator[Locations]:
    home = tmp_path / "home"
    (home / ".config" / "anthroxy").mkdir(parents=True)
    (home / ".config" / "anthroxy" / "config.toml").write_text(
        f'[server]\nport = {free_port()}\nauth_token = "{TOKEN}"\n'
        "[providers.deepseek]\n"
        '[tiers]\nopus = "deepseek/deepseek-v4-pro"\ndefault = "deepseek/deepseek-v4-flash"\n'
    )
    (home / ".config" / "anthroxy" / "config.toml").chmod(0o600)
    env = {
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(sys.path),
        "DEEPSEEK_API_KEY": KEY,
    }
    loc = Locations(env=env, home=home, cwd=tmp_path)
    yield loc
    _kill_leftover(loc)


def without_key(loc: Locations) -> Locations:
    env = {k: v for k, v in loc.env.items() if k != "DEEPSEEK_API_KEY"}
    return Locations(env=env, home=loc.home, cwd=loc.cwd)


def anthroxy(loc: Locations, *argv: str, module: str = "anthroxy_server.cli") -> tuple[int, str]:
    """The command as a person runs it: a process, stdout and stderr together."""
    done = subprocess.run(
        [sys.executable, "-m", module, *argv],
        env=dict(loc.env),
        cwd=loc.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def test_bare_anthroxy_prints_help_and_the_status(loc: Locations) -> None:
    code, text = anthroxy(loc)
    assert code == 0, text
    assert "usage: anthroxy" in text and "examples:" in text
    port = daemon.load_settings(loc).config.server.port
    assert f"status: not running at http://127.0.0.1:{port}; `anthroxy start`" in text
    assert daemon.port_free("127.0.0.1", port)  # and it started nothing
    code, text = anthroxy(loc, "--port", "9")
    assert code == 2
    assert "no command given; to run the server in the foreground: anthroxy serve --port 9" in text


def test_python_m_anthroxy_server_without_a_command_serves(loc: Locations) -> None:
    port = daemon.load_settings(loc).config.server.port
    proc = subprocess.Popen(
        [sys.executable, "-m", "anthroxy_server"],
        env=dict(loc.env),
        cwd=loc.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        answer = None
        while answer is None and time.monotonic() < deadline and proc.poll() is None:
            answer = daemon.health(f"http://127.0.0.1:{port}", token=TOKEN)
            time.sleep(0.1)
        assert answer is not None and answer["status"] == "ok"
        # ... and the bare `anthroxy` sees it, though `anthroxy start` did not start it.
        code, out = anthroxy(loc)
        assert code == 0
        assert f"status: running at http://127.0.0.1:{port}; `anthroxy status`" in out
    finally:
        proc.terminate()
        proc.wait(timeout=70)


@pytest.mark.parametrize(
    ("typed", "means"),
    [
        (["version"], ["--version"]),
        (["--version"], ["--version"]),
        (["help"], ["--help"]),
        (["help", "run"], ["run", "--help"]),
        (["help", "init"], ["config", "init", "--help"]),
        (["code", "--help"], ["run", "--help"]),
        (["server", "--help"], ["serve", "--help"]),
        (["init", "--help"], ["config", "init", "--help"]),
    ],
)
def test_aliases_print_what_their_command_prints(
    loc: Locations, typed: list[str], means: list[str]
) -> None:
    code, text = anthroxy(loc, *typed)
    assert code == 0, text
    assert (code, text) == anthroxy(loc, *means)


def test_init_alias_writes_the_config_like_config_init(loc: Locations) -> None:
    """`ccproxy init --scope project|user` typed as `anthroxy init ...`."""
    target = loc.cwd / ".anthroxy" / "config.toml"
    code, text = anthroxy(loc, "init", "--scope", "project", "--yes", "--provider", "deepseek")
    assert code == 0, text
    assert f"wrote {target}" in text and target.exists()
    user = loc.home / ".config" / "anthroxy" / "config.toml"
    code, text = anthroxy(loc, "init", "--scope", "user", "--yes", "--force", "--provider", "groq")
    assert code == 0, text
    assert f"wrote {user}" in text and "[providers.groq]" in user.read_text()


@pytest.mark.parametrize(
    "argv", [["server", "--port", "{port}", "--debug"], ["--debug", "server", "--port", "{port}"]]
)
def test_server_alias_serves_in_the_foreground(loc: Locations, argv: list[str]) -> None:
    """`ccproxy server --port 8080 --debug` typed as `anthroxy server ...`."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "anthroxy_server.cli", *(a.format(port=port) for a in argv)],
        env=dict(loc.env),
        cwd=loc.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        answer = None
        while answer is None and time.monotonic() < deadline and proc.poll() is None:
            answer = daemon.health(f"http://127.0.0.1:{port}", token=TOKEN)
            time.sleep(0.1)
        assert answer is not None and answer["status"] == "ok"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=70)
    assert f"on http://127.0.0.1:{port}" in output and "error" not in output


def test_code_alias_launches_claude_like_run(loc: Locations, tmp_path: Path) -> None:
    """`anthroxy code` is `anthroxy run` (claude-code-router users type `ccr code`)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    record = tmp_path / "argv.txt"
    claude.write_text(f'#!/bin/sh\necho "$@ $ANTHROPIC_DEFAULT_OPUS_MODEL" > {record}\nexit 5\n')
    claude.chmod(0o755)
    env = {**loc.env, "PATH": f"{bin_dir}{os.pathsep}{loc.env['PATH']}"}
    code, text = anthroxy(Locations(env, loc.home, loc.cwd), "code", "--", "-p", "hi")
    assert code == 5, text
    assert record.read_text().split() == ["-p", "hi", "deepseek/deepseek-v4-pro"]


def test_a_mistyped_command_lists_the_valid_ones(loc: Locations) -> None:
    for module in ("anthroxy_server.cli", "anthroxy_server"):
        code, text = anthroxy(loc, "strat", module=module)
        assert code == 2
        assert "anthroxy: error: unknown command 'strat'; did you mean 'start'" in text
        assert "commands: serve, config, start" in text
        assert "code = run" in text
        assert "anthroxy_server: error" not in text and "Traceback" not in text
    code, _out, err = run(loc, "help", "stauts")
    assert code == 2 and "did you mean 'status'" in err
    code, _out, err = run(loc, "--debug", "modles")
    assert code == 2 and "did you mean 'models'" in err


def _subcommands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[tuple]:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*words, name)
                yield from _subcommands(sub, (*words, name))


def test_every_command_help_has_an_example(loc: Locations, capsys) -> None:  # type: ignore[no-untyped-def]
    commands = list(_subcommands(cli.build_parser()))
    assert ("serve",) in commands and ("config", "check") in commands
    assert {c[0] for c in commands} == set(cli.COMMANDS)
    for words in commands:
        code, _out, _err = run(loc, *words, "--help")
        printed = capsys.readouterr().out
        assert code == 0, words
        assert "\nexample:\n  anthroxy " in printed, words
    code, _out, _err = run(loc, "--help")
    assert "\nexamples:\n  anthroxy " in capsys.readouterr().out


def test_serve_help_is_the_commands_help_with_its_flags(loc: Locations) -> None:
    code, text = anthroxy(loc, "serve", "--help")
    assert code == 0
    assert "example:\n  anthroxy serve --port 9000" in text
    assert "--port" in text and "--config" in text


def test_models_asks_the_running_proxy_when_the_shell_has_no_keys(loc: Locations) -> None:
    code, _out, err = run(loc, "start", "--timeout", "20")
    assert code == 0, err
    try:
        code, out, err = run(without_key(loc), "models")
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("# from the proxy running at http://127.0.0.1:")
        rows = [line.split() for line in lines[2:]]
        assert ["opus", "deepseek", "deepseek-v4-pro", "tier:opus"] in [r[:4] for r in rows]
        context = {r[0]: r[4] for r in rows}
        assert context["opus"].isdigit()  # the proxy's limits, not "?"
        # A wrong token is a refusal, not an answer: the configuration is read instead.
        config = loc.home / ".config" / "anthroxy" / "config.toml"
        config.write_text(config.read_text().replace(TOKEN, "wrong-token-000000"))
        code, out, err = run(loc, "models")
        assert code == 0, err
        assert out.startswith("# no proxy answers at ")
    finally:
        run(loc, "stop", "--timeout", "10")
    code, out, err = run(without_key(loc), "models")
    assert code == 2
    assert "no proxy answers at http://127.0.0.1:" in err
    assert "providers.deepseek: no API key found" in err
