"""`anthroxy config init` (wizard) and the config show/path/check/models commands, in a temp HOME.

Every written file is read back with tomllib and loaded with config.load_settings."""

from __future__ import annotations

import io
import stat
import tomllib
from pathlib import Path

import pytest

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config import load_settings
from anthroxy_server.config.paths import Locations

KEY = "sk-live-0123456789abcdefWXYZ"


@pytest.fixture
def loc(tmp_path: Path) -> Locations:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "DEEPSEEK_API_KEY": KEY}
    return Locations(env=env, home=home, cwd=work)


def run(loc: Locations, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


def user_file(loc: Locations) -> Path:
    return loc.home / ".config" / "anthroxy" / "config.toml"


def validates(loc: Locations, path: Path) -> None:
    settings = load_settings(cli_path=str(path), env=loc.env, cwd=loc.cwd, home=loc.home)
    assert settings.sources == [str(path)]


def test_interactive_answers_write_a_valid_user_file(loc: Locations) -> None:
    answers = "\n".join(
        [
            "u",  # scope
            "deepseek",  # providers
            "",  # key: default variable DEEPSEEK_API_KEY
            "",  # opus: suggested deepseek/deepseek-v4-pro
            "deepseek/deepseek-v4-flash",  # sonnet
            "",  # haiku: the opus answer
            "",  # default: the sonnet answer
            "9100",  # port
        ]
    )
    code, out, err = run(loc, "config", "init", stdin=answers + "\n")
    assert code == 0, err
    path = user_file(loc)
    assert f"wrote {path}" in out
    assert tomllib.loads(path.read_text()) == {
        "server": {"port": 9100},
        "providers": {"deepseek": {}},
        "tiers": {
            "opus": "deepseek/deepseek-v4-pro",
            "sonnet": "deepseek/deepseek-v4-flash",
            "haiku": "deepseek/deepseek-v4-pro",
            "default": "deepseek/deepseek-v4-flash",
        },
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # no secret inside
    validates(loc, path)


def test_pasted_key_makes_the_file_private_and_loadable(loc: Locations) -> None:
    env = {k: v for k, v in loc.env.items() if k != "DEEPSEEK_API_KEY"}
    loc = Locations(env=env, home=loc.home, cwd=loc.cwd)
    # "1" is anthropic (first in the catalogue list); its key variable stays the default.
    answers = f"p\n1,deepseek\n\n{KEY}\n\n\n\n\n\n"
    code, _out, err = run(loc, "config", "init", stdin=answers)
    assert code == 0, err
    path = loc.cwd / ".anthroxy" / "config.toml"
    data = tomllib.loads(path.read_text())
    assert data["providers"]["deepseek"] == {"api_key": KEY}
    assert list(data["providers"]) == ["anthropic", "deepseek"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["tiers"]["opus"] == "anthropic/claude-sonnet-4-6"
    validates(Locations({**env, "ANTHROPIC_API_KEY": "a"}, loc.home, loc.cwd), path)


def test_wrong_provider_is_asked_again_and_missing_variable_noted(loc: Locations) -> None:
    answers = "u\nnosuch\ngroq\nMY_GROQ_KEY\n\n\n\n\n\n"
    code, out, err = run(loc, "config", "init", stdin=answers)
    assert code == 0, err
    assert "unknown provider 'nosuch'; try again" in out
    assert "MY_GROQ_KEY is not set now" in out
    assert "warning: providers.groq: no API key found" in out
    data = tomllib.loads(user_file(loc).read_text())
    assert data["providers"] == {"groq": {"api_key_env": "MY_GROQ_KEY"}}
    validates(Locations({**loc.env, "MY_GROQ_KEY": "gsk_x"}, loc.home, loc.cwd), user_file(loc))


def test_end_of_input_writes_nothing(loc: Locations) -> None:
    code, _out, err = run(loc, "config", "init", stdin="u\ndeepseek\n")
    assert code == 1
    assert "input ended before the wizard finished" in err
    assert not user_file(loc).exists()


def test_yes_flags_form(loc: Locations) -> None:
    code, _out, err = run(
        loc, "config", "init", "--yes", "--provider", "deepseek",
        "--key-env", "DS_KEY", "--haiku", "deepseek/deepseek-v4-flash", "--port", "9200",
    )  # fmt: skip
    assert code == 0, err
    data = tomllib.loads(user_file(loc).read_text())
    assert data["server"] == {"port": 9200}
    assert data["providers"] == {"deepseek": {"api_key_env": "DS_KEY"}}
    assert data["tiers"]["haiku"] == "deepseek/deepseek-v4-flash"
    assert data["tiers"]["opus"] == "deepseek/deepseek-v4-pro"
    validates(Locations({**loc.env, "DS_KEY": "k"}, loc.home, loc.cwd), user_file(loc))


def test_yes_picks_providers_from_the_environment(loc: Locations) -> None:
    code, _out, err = run(loc, "config", "init", "--yes")
    assert code == 0, err
    assert list(tomllib.loads(user_file(loc).read_text())["providers"]) == ["deepseek"]


def test_yes_without_any_provider_is_a_clear_error(loc: Locations) -> None:
    loc = Locations({"PATH": "/bin"}, loc.home, loc.cwd)
    code, _out, err = run(loc, "config", "init", "--yes")
    assert code == 1
    assert "pass --provider ID" in err


def test_invalid_tier_target_is_refused_and_nothing_written(loc: Locations) -> None:
    code, _out, err = run(
        loc, "config", "init", "--yes", "--provider", "deepseek", "--opus", "openai/gpt-5.4"
    )
    assert code == 2
    assert "tiers.opus" in err and "'openai'" in err
    assert not user_file(loc).exists()
    assert list(user_file(loc).parent.iterdir()) == []  # no temp file left


def test_existing_file_is_never_overwritten_silently(loc: Locations) -> None:
    path = user_file(loc)
    path.parent.mkdir(parents=True)
    path.write_text("# mine\n")
    code, _out, err = run(loc, "config", "init", "--yes", "--provider", "deepseek")
    assert (code, path.read_text()) == (1, "# mine\n")
    assert "--force" in err
    code, _out, err = run(loc, "config", "init", "--scope", "user", stdin="n\n")
    assert (code, path.read_text()) == (1, "# mine\n")
    assert "left" in err
    code, _out, err = run(loc, "config", "init", "--yes", "--provider", "deepseek", "--force")
    assert code == 0, err
    assert "[providers.deepseek]" in path.read_text()


def test_config_show_masks_secrets_and_labels_sources(loc: Locations) -> None:
    path = user_file(loc)
    path.parent.mkdir(parents=True)
    path.write_text(
        '[server]\nport = 9300\nauth_token = "proxy-token-abcdefgh1234"\n'
        '[providers.deepseek]\n[tiers]\ndefault = "deepseek/deepseek-v4-pro"\n'
    )
    code, out, err = run(loc, "config", "show")
    assert code == 0, err
    assert KEY not in out and "proxy-token-abcdefgh1234" not in out
    lines = {line.split(" = ")[0]: line for line in out.splitlines() if " = " in line}
    assert lines["server.port"].endswith(f"# {path}")
    assert lines["server.host"].endswith("# default")
    assert '"pro…1234"' in lines["server.auth_token"]
    assert '"sk-…WXYZ"' in lines["deepseek.api_key"]
    assert lines["deepseek.api_key"].endswith("# env:DEEPSEEK_API_KEY")


def test_config_check_lists_every_problem_with_exit_2(loc: Locations) -> None:
    path = user_file(loc)
    path.parent.mkdir(parents=True)
    path.write_text('[server]\nport = 0\nhots = "x"\n')
    code, _out, err = run(loc, "config", "check")
    assert code == 2
    assert "server.hots: unknown key" in err
    path.write_text('[server]\nport = 9300\n[tiers]\ndefault = "deepseek/deepseek-v4-pro"\n')
    assert run(loc, "config", "check")[0] == 0


def test_config_path_lists_candidates_in_order(loc: Locations) -> None:
    path = user_file(loc)
    path.parent.mkdir(parents=True)
    path.write_text("")
    code, out, _err = run(loc, "config", "path")
    assert code == 0
    assert f"read     {path}" in out
    assert f"absent   {loc.cwd / '.anthroxy' / 'config.toml'}" in out


def test_models_lists_routable_names(loc: Locations) -> None:
    path = user_file(loc)
    path.parent.mkdir(parents=True)
    path.write_text('[providers.deepseek]\n[tiers]\nopus = "deepseek/deepseek-v4-pro"\n'
                    'default = "deepseek/deepseek-v4-flash"\n')  # fmt: skip
    code, out, err = run(loc, "models")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:]]
    assert ["opus", "deepseek", "deepseek-v4-pro", "tier:opus"] in [r[:4] for r in rows]


def test_errors_are_one_line_without_traceback(loc: Locations) -> None:
    code, _out, err = run(loc, "restore")
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    code, _out, err = run(loc, "status", "--bogus")
    assert code == 2


def test_every_command_has_help_with_an_example(loc: Locations, capsys) -> None:  # type: ignore[no-untyped-def]
    for argv in (["start"], ["run"], ["config", "init"], ["service"], ["mcp"], ["logs"]):
        code, _out, _err = run(loc, *argv, "--help")
        assert code == 0
        assert "example:" in capsys.readouterr().out


def test_config_check_names_a_missing_codex_login(loc: Locations) -> None:
    from .fake_chatgpt import make_jwt, write_auth

    path = user_file(loc)
    path.parent.mkdir(parents=True)
    path.write_text('[providers.chatgpt]\n[tiers]\ndefault = "chatgpt/gpt-5.4"\n')
    code, out, err = run(loc, "config", "check")
    assert (code, out) == (2, "")
    auth = loc.home / ".codex" / "auth.json"
    assert f"providers.chatgpt: provider 'chatgpt': no Codex login found at {auth}" in err
    assert "`codex login`" in err
    write_auth(auth.parent, make_jwt(4e9), "refresh-token")
    code, out, err = run(loc, "config", "check")
    assert code == 0, err
    assert out.startswith("ok: ")
