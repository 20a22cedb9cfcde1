"""`anthroxy config init` (wizard) and the config show/path/check/models commands, in a temp HOME.

Every written file is read back with tomllib and loaded with config.load_settings."""

from __future__ import annotations

import io
import json
import stat
import time
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


def test_pasted_key_makes_the_user_file_private_and_loadable(loc: Locations) -> None:
    env = {k: v for k, v in loc.env.items() if k != "DEEPSEEK_API_KEY"}
    loc = Locations(env=env, home=loc.home, cwd=loc.cwd)
    # "1" is anthropic (first in the catalogue list); its key variable stays the default.
    answers = f"u\n1,deepseek\n\n{KEY}\n\n\n\n\n\n"
    code, _out, err = run(loc, "config", "init", stdin=answers)
    assert code == 0, err
    path = user_file(loc)
    data = tomllib.loads(path.read_text())
    assert data["providers"]["deepseek"] == {"api_key": KEY}
    assert list(data["providers"]) == ["anthropic", "deepseek"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["tiers"]["opus"] == "anthropic/claude-sonnet-4-6"
    validates(Locations({**env, "ANTHROPIC_API_KEY": "a"}, loc.home, loc.cwd), path)


def _without_deepseek_key(loc: Locations) -> Locations:
    env = {k: v for k, v in loc.env.items() if k != "DEEPSEEK_API_KEY"}
    return Locations(env=env, home=loc.home, cwd=loc.cwd)


def test_project_scope_puts_a_pasted_key_in_the_users_env_file(loc: Locations) -> None:
    loc = _without_deepseek_key(loc)
    answers = f"p\ndeepseek\n{KEY}\n\n\n\n\n\nenv\n"
    code, out, err = run(loc, "config", "init", stdin=answers)
    assert code == 0, err
    project = loc.cwd / ".anthroxy" / "config.toml"
    assert KEY not in project.read_text()
    assert tomllib.loads(project.read_text())["providers"] == {"deepseek": {}}
    env_file = loc.home / ".config" / "anthroxy" / ".env"
    assert env_file.read_text() == f"DEEPSEEK_API_KEY='{KEY}'\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert f"stored DEEPSEEK_API_KEY in {env_file} (mode 0600), not in {project}" in out
    assert "warning" not in out  # the key is known to be there
    # Another project later: its key joins the file, the first one stays.
    other = Locations(loc.env, loc.home, loc.cwd / "other")
    other.cwd.mkdir()
    code, _out, err = run(
        other, "init", "--scope", "project", "--yes", "--provider", "groq", "--key", "gsk_1"
    )
    assert code == 0, err
    assert env_file.read_text() == f"DEEPSEEK_API_KEY='{KEY}'\nGROQ_API_KEY='gsk_1'\n"
    assert "gsk_1" not in (other.cwd / ".anthroxy" / "config.toml").read_text()


def test_project_scope_keeps_the_key_in_the_project_file_when_the_user_insists(
    loc: Locations,
) -> None:
    loc = _without_deepseek_key(loc)
    answers = f"p\ndeepseek\n{KEY}\n\n\n\n\n\nmaybe\nproject\n"
    code, out, err = run(loc, "config", "init", stdin=answers)
    assert code == 0, err
    assert "answer one of: env, e, project, p; try again" in out
    project = loc.cwd / ".anthroxy" / "config.toml"
    assert tomllib.loads(project.read_text())["providers"] == {"deepseek": {"api_key": KEY}}
    assert stat.S_IMODE(project.stat().st_mode) == 0o600
    assert not (loc.home / ".config" / "anthroxy" / ".env").exists()
    code, _out, err = run(
        Locations(loc.env, loc.home, loc.cwd / "x"), "config", "init", "--scope", "project",
        "--yes", "--provider", "deepseek", "--key", KEY, "--key-in-project",
    )  # fmt: skip
    assert code == 0, err
    assert KEY in (loc.cwd / "x" / ".anthroxy" / "config.toml").read_text()


def test_each_answer_is_checked_when_given_and_asked_again(loc: Locations) -> None:
    answers = "\n".join(
        [
            "x",  # scope: not u or p -> asked again, not taken as the default
            "p",
            "deepseek",
            "DEEPSEEK KEY",  # a space: asked again
            "sk-'x",  # a quote (it could not be written to the .env file as is)
            "",
            "openai/gpt-5.4",  # opus: a provider not chosen -> asked again
            "deepseek/deepseek-v4-flash",
            "",
            "",
            "",
            "70000",  # port out of range
            "9000",
        ]
    )
    code, out, err = run(loc, "config", "init", stdin=answers + "\n")
    assert code == 0, err
    assert "answer one of: u, user, p, project; try again" in out
    assert out.count("a key or a variable name holds no spaces or quotes; try again") == 2
    assert "names provider 'openai', which is not configured" in out
    assert "a port is a number from 1 to 65535; try again" in out
    data = tomllib.loads((loc.cwd / ".anthroxy" / "config.toml").read_text())
    assert data["tiers"]["opus"] == "deepseek/deepseek-v4-flash"
    assert data["server"] == {"port": 9000}


def test_overwrite_question_takes_only_yes_or_no(loc: Locations) -> None:
    path = user_file(loc)
    path.parent.mkdir(parents=True)
    path.write_text("# mine\n")
    code, out, _err = run(loc, "config", "init", "--scope", "user", stdin="sure\nn\n")
    assert (code, path.read_text()) == (1, "# mine\n")
    assert "answer one of: y, yes, n, no; try again" in out


def test_one_rule_for_tiers_nobody_answered(loc: Locations) -> None:
    """`--yes --opus X` and the questions with only opus answered write the same tiers."""
    code, _out, err = run(
        loc, "config", "init", "--yes", "--provider", "deepseek",
        "--opus", "deepseek/deepseek-v4-flash",
    )  # fmt: skip
    assert code == 0, err
    by_flags = tomllib.loads(user_file(loc).read_text())["tiers"]
    answers = "deepseek\n\ndeepseek/deepseek-v4-flash\n\n\n\n\n"
    code, _out, err = run(loc, "config", "init", "--scope", "user", "--force", stdin=answers)
    assert code == 0, err
    asked = tomllib.loads(user_file(loc).read_text())["tiers"]
    assert (
        by_flags
        == asked
        == {
            "opus": "deepseek/deepseek-v4-flash",
            "sonnet": "deepseek/deepseek-v4-pro",  # the suggestion, not the opus answer
            "haiku": "deepseek/deepseek-v4-pro",
            "default": "deepseek/deepseek-v4-pro",  # follows sonnet
        }
    )


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
    path.chmod(0o600)  # it holds a token
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
    assert f"providers.chatgpt: provider 'chatgpt': no ChatGPT login found at {auth}" in err
    assert "`codex login`" in err
    write_auth(auth.parent, make_jwt(4e9), "refresh-token")
    code, out, err = run(loc, "config", "check")
    assert code == 0, err
    assert out.startswith("ok: ")


class _ModelsServer:
    """A loopback OpenAI-style endpoint answering GET /v1/models (or, silent, never answering)."""

    def __init__(self, *, silent: bool = False) -> None:
        import http.server
        import threading

        self.seen: list[tuple[str, str | None]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, self.headers.get("authorization")))
                if silent:
                    time.sleep(3)
                    return
                body = json.dumps(
                    {
                        "object": "list",
                        "data": [
                            {"id": "qwen3-coder", "object": "model", "owned_by": "vllm"},
                            {"id": "llama-4", "object": "model", "owned_by": "vllm"},
                        ],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_another_compatible_endpoint_with_models_from_its_list(loc: Locations) -> None:
    fake = _ModelsServer()
    try:
        loc = Locations({**loc.env, "MYVLLM_KEY": "local-secret"}, loc.home, loc.cwd)
        answers = f"u\nother\nmyvllm\n{fake.url}/v1/\nchat\nMYVLLM_KEY\n\n\n\n\n\n"
        code, out, err = run(loc, "config", "init", stdin=answers)
    finally:
        fake.close()
    assert code == 0, err
    assert "another OpenAI- or Anthropic-compatible endpoint" in out
    assert "it lists 2 model(s): qwen3-coder, llama-4" in out
    assert fake.seen == [("/v1/models", "Bearer local-secret")]
    data = tomllib.loads(user_file(loc).read_text())
    assert data["providers"] == {
        "myvllm": {
            "api": "chat",
            "base_url": f"{fake.url}/v1",
            "models": ["qwen3-coder", "llama-4"],
            "api_key_env": "MYVLLM_KEY",
        }
    }
    assert set(data["tiers"].values()) == {"myvllm/qwen3-coder"}
    validates(loc, user_file(loc))
    assert "local-secret" not in user_file(loc).read_text()


def test_an_endpoint_that_does_not_answer_lets_the_user_name_models(
    loc: Locations, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anthroxy_server.cli.setup import endpoint

    monkeypatch.setattr(endpoint, "MODELS_TIMEOUT", 0.5)
    fake = _ModelsServer(silent=True)
    try:
        answers = (
            "u\nother\ndeepseek\nlocal\nlocalhost:8000\n"  # a catalogue id, then no scheme
            f"{fake.url}\nxml\nanthropic\nnone\n\nm1, m2\n\n\n\n\n\n"
        )
        started = time.monotonic()
        code, out, err = run(loc, "config", "init", stdin=answers)
        took = time.monotonic() - started
    finally:
        fake.close()
    assert code == 0, err
    assert took < 3
    assert "'deepseek' is a catalogue provider; pick another name; try again" in out
    assert "a base URL starts with http:// or https://; try again" in out
    assert "answer one of: chat, openai, responses, anthropic; try again" in out
    assert f"could not list its models (no answer from {fake.url}/v1/models: " in out
    assert "name at least one model; try again" in out
    assert fake.seen == [("/v1/models", None)]  # Anthropic's path; no key to send
    data = tomllib.loads(user_file(loc).read_text())
    assert data["providers"]["local"] == {
        "api": "anthropic",
        "base_url": fake.url,
        "auth": "none",
        "models": ["m1", "m2"],
    }
    assert data["tiers"]["opus"] == "local/m1"
    validates(loc, user_file(loc))


def test_bedrock_asks_only_the_region_the_environment_lacks(loc: Locations) -> None:
    answers = "\n".join(
        ["u", "bedrock", "eu-west-3", "", "", "", "", ""]  # scope, provider, region, tiers, port
    )
    env = {**loc.env, "AWS_BEARER_TOKEN_BEDROCK": "bedrock-key-0123456789"}
    loc = Locations(env=env, home=loc.home, cwd=loc.cwd)
    code, out, err = run(loc, "config", "init", stdin=answers + "\n")
    assert code == 0, err
    assert "Bedrock API key in AWS_BEARER_TOKEN_BEDROCK" in out
    data = tomllib.loads(user_file(loc).read_text())
    assert data["providers"] == {"bedrock": {"region": "eu-west-3"}}
    assert data["tiers"]["sonnet"] == "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert "bedrock-key" not in user_file(loc).read_text()
    validates(loc, user_file(loc))
    # With AWS_REGION set, nothing about AWS is asked: the next answer is already the first tier.
    env2 = {**env, "AWS_REGION": "us-west-2"}
    loc2 = Locations(env=env2, home=loc.home, cwd=loc.cwd)
    user_file(loc2).unlink()
    code, out, err = run(loc2, "config", "init", stdin="u\nbedrock\n\n\n\n\n\n")
    assert code == 0, err
    assert "region us-west-2, from the environment" in out
    assert tomllib.loads(user_file(loc2).read_text())["providers"] == {"bedrock": {}}
