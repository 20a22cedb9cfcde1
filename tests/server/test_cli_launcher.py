"""`anthroxy run` (a stand-in `claude` on a temp PATH records what it got), `--persist` and
`restore` (only what --persist wrote is undone; an untouched file comes back byte-identical),
and which model names Claude Code is given."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from anthroxy_server.cli import claude_settings, daemon, launcher
from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config import (
    Config,
    ProviderConfig,
    ServerConfig,
    paths,
    settings_from_config,
)
from anthroxy_server.config.paths import CommandError, Locations

from .test_cli_daemon import _kill_leftover, free_port, write_fake_python

CLAUDE = """#!{python}
import json, os, sys
with open(os.environ["RECORD_TO"], "w") as f:
    json.dump({{"argv": sys.argv[1:], "env": dict(os.environ)}}, f)
sys.exit(7)
"""


@pytest.fixture
def loc(tmp_path: Path) -> Iterator[Locations]:
    home = tmp_path / "home"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (home / ".config" / "anthroxy").mkdir(parents=True)
    (home / ".config" / "anthroxy" / "config.toml").write_text(
        f"[server]\nport = {free_port()}\n"
        '[providers.mock]\napi = "chat"\nbase_url = "http://127.0.0.1:9/v1"\nauth = "none"\n'
        '[tiers]\nopus = "mock/big"\nsonnet = "mock/mid"\ndefault = "mock/small"\n'
    )
    claude = bin_dir / "claude"
    claude.write_text(CLAUDE.format(python=sys.executable))
    claude.chmod(0o755)
    env = {
        "HOME": str(home),
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "RECORD_TO": str(tmp_path / "claude-record.json"),
        "ANTHROPIC_API_KEY": "sk-ant-real-key-must-not-leak",
    }
    loc = Locations(env=env, home=home, cwd=tmp_path)
    yield loc
    _kill_leftover(loc)


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    return write_fake_python(tmp_path)


def run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def test_run_launches_claude_with_the_proxy_environment(loc: Locations, fake_python: str) -> None:
    record = daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    code, _out, err = run(loc, "run", "--model", "mock/big", "--", "-p", "hi", "--", "x")
    assert code == 7, err  # claude's exit code passes through
    seen = json.loads(Path(loc.env["RECORD_TO"]).read_text())
    assert seen["argv"] == ["-p", "hi", "--", "x"]
    env = seen["env"]
    assert env["ANTHROPIC_BASE_URL"] == record.url
    assert env["ANTHROPIC_AUTH_TOKEN"] == "anthroxy"  # the server has no auth_token
    assert env["ANTHROPIC_MODEL"] == "mock/big"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "mock/big"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "mock/mid"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "mock/small"  # no haiku tier: the default
    assert env["CLAUDE_CODE_SUBAGENT_MODEL"] == "mock/mid"
    assert "ANTHROPIC_API_KEY" not in env
    assert env["HOME"] == loc.env["HOME"]  # the rest of the environment is kept
    # Every name Claude Code will send routes where its tier says.
    routing = daemon.load_settings(loc).routing
    for variable, upstream in (
        ("ANTHROPIC_DEFAULT_OPUS_MODEL", "big"),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", "small"),
    ):
        assert routing.resolve(env[variable]).model == upstream


def test_run_starts_the_proxy_when_needed(
    loc: Locations, fake_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_start = daemon.start
    monkeypatch.setattr(
        daemon, "start", lambda *a, **k: real_start(*a, **{**k, "python": fake_python})
    )
    code, _out, err = run(loc, "run", "-p", "hi")  # unknown options go to claude, too
    assert code == 7, err
    assert "anthroxy is running at" in err
    assert json.loads(Path(loc.env["RECORD_TO"]).read_text())["argv"] == ["-p", "hi"]


def test_missing_claude_says_how_to_install_and_starts_nothing(loc: Locations) -> None:
    loc = Locations({**loc.env, "PATH": "/nonexistent"}, loc.home, loc.cwd)
    code, _out, err = run(loc, "run")
    assert code == 127
    assert "npm install -g @anthropic-ai/claude-code" in err
    assert not paths.pid_file(loc.env, loc.home).exists()


def test_unknown_model_is_refused_before_launch() -> None:
    config = Config(
        providers={"mock": ProviderConfig(api="chat", base_url="http://h/v1", auth="none")},
        tiers={"opus": "mock/big"},  # no default tier: other names are unknown
    )
    settings = settings_from_config(config, {})
    with pytest.raises(CommandError, match="--model gpt-x"):
        launcher.claude_environment(settings, "http://x", model="gpt-x")
    variables = launcher.claude_environment(settings, "http://x")
    assert variables["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "mock/big"
    assert "ANTHROPIC_DEFAULT_HAIKU_MODEL" not in variables  # nothing to route it to


def test_tier_name_falls_back_when_an_alias_shadows_the_target() -> None:
    config = Config(
        server=ServerConfig(auth_token="proxy-secret"),
        providers={"mock": ProviderConfig(api="chat", base_url="http://h/v1", auth="none")},
        tiers={"opus": "mock/big", "default": "mock/small"},
        aliases={"mock/big": "mock/other"},  # a name the tier target can no longer use
    )
    settings = settings_from_config(config, {})
    variables = launcher.claude_environment(settings, "http://127.0.0.1:1")
    assert variables["ANTHROPIC_AUTH_TOKEN"] == "proxy-secret"
    assert variables["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "anthroxy-opus"
    assert settings.routing.resolve("anthroxy-opus").model == "big"
    assert variables["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "mock/small"


ORIGINAL = b'{"model": "opus",\n   "env": {"KEEP": "1", "ANTHROPIC_MODEL": "old"},\n "x": [1,2]}\n'
VARIABLES = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1", "ANTHROPIC_MODEL": "mock/big"}


def test_persist_then_restore_is_byte_identical(loc: Locations) -> None:
    target = loc.home / ".claude" / "settings.json"
    target.parent.mkdir()
    target.write_bytes(ORIGINAL)
    target.chmod(0o640)
    claude_settings.persist_settings(loc, VARIABLES, io.StringIO())
    claude_settings.persist_settings(loc, {"ANTHROPIC_MODEL": "mock/mid"}, io.StringIO())  # twice
    data = json.loads(target.read_bytes())
    assert data == {
        "model": "opus",
        "env": {
            "KEEP": "1",
            "ANTHROPIC_MODEL": "mock/mid",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
        },
        "x": [1, 2],
    }
    code, out, err = run(loc, "restore")
    assert code == 0, err
    assert f"restored {target}" in out
    assert target.read_bytes() == ORIGINAL  # the first original, not the first persist
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert run(loc, "restore")[0] == 1  # nothing left to restore


def test_persist_without_an_original_then_restore_removes_it(loc: Locations) -> None:
    target = loc.home / ".claude" / "settings.json"
    claude_settings.persist_settings(loc, VARIABLES, io.StringIO())
    assert json.loads(target.read_text()) == {"env": VARIABLES}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    code, out, _err = run(loc, "restore")
    assert code == 0 and "removed" in out
    assert not target.exists()


def test_run_persist_writes_settings(loc: Locations, fake_python: str) -> None:
    daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    code, _out, err = run(loc, "run", "--persist")
    assert code == 7, err
    env = json.loads((loc.home / ".claude" / "settings.json").read_text())["env"]
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "mock/big"
    assert run(loc, "restore")[0] == 0
    assert not (loc.home / ".claude" / "settings.json").exists()


def test_persist_refuses_a_broken_settings_file(loc: Locations) -> None:
    target = loc.home / ".claude" / "settings.json"
    target.parent.mkdir()
    target.write_bytes(b"{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        claude_settings.persist_settings(loc, VARIABLES, io.StringIO())
    assert target.read_bytes() == b"{not json"
    assert not paths.claude_settings_backup(loc.env, loc.home).exists()


def test_restore_undoes_only_what_persist_wrote_and_keeps_later_edits(
    loc: Locations, fake_python: str
) -> None:
    target = loc.home / ".claude" / "settings.json"
    target.parent.mkdir()
    target.write_text(
        json.dumps({"env": {"KEEP": "1", "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-old"}})
    )
    daemon.start(loc, io.StringIO(), python=fake_python, timeout=10)
    assert run(loc, "run", "--persist")[0] == 7
    # The user lives with it: a permission, a variable of their own, and one of ours changed.
    data = json.loads(target.read_text())
    data["permissions"] = {"allow": ["Bash(ls:*)"]}
    data["env"]["NEW"] = "mine"
    data["env"]["ANTHROPIC_DEFAULT_HAIKU_MODEL"] = "my-haiku"
    before_restore = json.dumps(data, indent=4)
    target.write_text(before_restore)
    code, out, err = run(loc, "restore")
    assert code == 0, err
    assert json.loads(target.read_text()) == {
        "env": {
            "KEEP": "1",
            "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-old",  # set back
            "NEW": "mine",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "my-haiku",  # the user's since
        },
        "permissions": {"allow": ["Bash(ls:*)"]},
    }
    assert "kept ANTHROPIC_DEFAULT_HAIKU_MODEL: changed since" in out
    assert "ANTHROPIC_BASE_URL" in out.splitlines()[0]  # named among the undone
    copy = target.with_name("settings.json.anthroxy-before-restore")
    assert copy.read_text() == before_restore
    assert f"before this restore: {copy}" in out
    assert run(loc, "restore")[0] == 1  # the record is gone with the restore


def test_restore_when_nothing_of_ours_is_left(loc: Locations) -> None:
    target = loc.home / ".claude" / "settings.json"
    claude_settings.persist_settings(loc, VARIABLES, io.StringIO())
    target.write_text('{"env": {"ANTHROPIC_BASE_URL": "https://elsewhere"}}')  # user's own
    code, out, _err = run(loc, "restore")
    assert code == 0
    assert json.loads(target.read_text()) == {"env": {"ANTHROPIC_BASE_URL": "https://elsewhere"}}
    assert "kept ANTHROPIC_BASE_URL" in out
    assert not target.with_name("settings.json.anthroxy-before-restore").exists()


def test_restore_of_a_backup_from_an_older_version(loc: Locations) -> None:
    """Older versions kept a raw copy of settings.json; restore still undoes only our keys."""
    target = loc.home / ".claude" / "settings.json"
    target.parent.mkdir()
    backup = paths.claude_settings_backup(loc.env, loc.home)
    backup.parent.mkdir(parents=True)
    backup.write_text('{"env": {"ANTHROPIC_MODEL": "old", "X": "1"}}')
    target.write_text(
        '{"env": {"ANTHROPIC_MODEL": "mock/big", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",'
        ' "X": "2"}, "theme": "dark"}'
    )
    code, _out, err = run(loc, "restore")
    assert code == 0, err
    assert json.loads(target.read_text()) == {
        "env": {"ANTHROPIC_MODEL": "old", "X": "2"},
        "theme": "dark",
    }


def test_restore_refuses_a_broken_file_and_keeps_its_record(loc: Locations) -> None:
    target = loc.home / ".claude" / "settings.json"
    claude_settings.persist_settings(loc, VARIABLES, io.StringIO())
    target.write_text("{oops")
    code, _out, err = run(loc, "restore")
    assert code == 1 and "not valid JSON" in err
    assert target.read_text() == "{oops"
    target.write_text(json.dumps({"env": VARIABLES, "y": 1}))
    assert run(loc, "restore")[0] == 0  # fixed by hand: the record was still there
    assert json.loads(target.read_text()) == {"y": 1}
