"""`anthroxy import FILE`: each other proxy's configuration becomes a TOML file that loads with
load_settings, keys become api_key_env references where the source used $VAR, literal keys make the
file 0600, and whatever could not be carried over is reported, one line each."""

from __future__ import annotations

import io
import json
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config import Settings, load_settings
from anthroxy_server.config.importers import convert, detect
from anthroxy_server.config.paths import CommandError, Locations

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"
ENV = {
    "OPENROUTER_API_KEY": "or-" + "1" * 30,
    "DEEPSEEK_API_KEY": "ds-" + "2" * 30,
    "OPENAI_API_KEY": "oa-" + "3" * 30,
    "ANTHROPIC_API_KEY": "an-" + "4" * 30,
    "GEMINI_API_KEY": "ge-" + "5" * 30,
    "LOCAL_KEY": "lo-" + "6" * 30,
}


@pytest.fixture
def loc(tmp_path: Path) -> Locations:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    return Locations(env={"HOME": str(home), **ENV}, home=home, cwd=work)


def run_import(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["import", *argv], loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def imported(loc: Locations, fixture: str) -> tuple[dict, str, Path]:
    dest = loc.cwd / "out.toml"
    code, out, err = run_import(loc, str(FIXTURES / fixture), "--output", str(dest))
    assert code == 0, err
    return tomllib.loads(dest.read_text()), out, dest


def settings(loc: Locations, path: Path) -> Settings:
    return load_settings(
        cli_path=str(path), env=loc.env, cwd=loc.cwd, home=loc.home, managed_path=loc.cwd / "m"
    )


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [
        ("ccr-config.json", "claude-code-router"),
        ("ccproxy-settings.json", "ccproxy"),
        ("clco-config.json", "clco-proxy"),
    ],
)
def test_detects_each_format(fixture: str, fmt: str) -> None:
    assert detect(json.loads((FIXTURES / fixture).read_text())) == fmt


def test_unknown_shape_is_refused() -> None:
    with pytest.raises(CommandError) as info:
        detect({"model": "x"})
    assert info.value.code == 2


def test_claude_code_router(loc: Locations) -> None:
    data, out, dest = imported(loc, "ccr-config.json")
    # $VAR and ${VAR} become references; the literal key stays (and makes the file private).
    assert data["providers"]["openrouter"] == {
        "api_key_env": "OPENROUTER_API_KEY",
        "models": ["google/gemini-2.5-pro-preview", "anthropic/claude-sonnet-4"],
    }
    assert data["providers"]["deepseek"]["api_key_env"] == "DEEPSEEK_API_KEY"
    assert data["providers"]["ollama"] == {"models": ["qwen2.5-coder:latest"]}  # catalogue URL
    assert data["providers"]["my-gateway"] == {
        "api": "chat",
        "base_url": "https://llm.internal.example/v1",  # "/chat/completions" removed
        "api_key": "sk-literal-gateway-key-0001",
        "models": ["house-model"],
    }
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert data["tiers"] == {
        "opus": "deepseek/deepseek-chat",
        "sonnet": "deepseek/deepseek-chat",
        "default": "deepseek/deepseek-chat",
        "haiku": "ollama/qwen2.5-coder:latest",
    }
    assert data["routing"]["scenarios"] == {
        "background": "ollama/qwen2.5-coder:latest",
        "think": "deepseek/deepseek-reasoner",
        "long_context": "openrouter/google/gemini-2.5-pro-preview",
        "long_context_threshold": 60000,
        "web_search": "openrouter/anthropic/claude-sonnet-4",
        "image": "my-gateway/house-model",
    }
    assert data["server"] == {
        "host": "127.0.0.1",
        "port": 3456,
        "auth_token": "local-proxy-secret-123",
        "log_level": "warning",
    }
    # One line per thing not carried over.
    assert "transformer openrouter not carried over" in out
    assert "transformer tooluse for deepseek-chat not carried over" in out
    assert "CUSTOM_ROUTER_PATH: custom router" in out
    assert "API_TIMEOUT_MS: not carried over" in out
    assert "check: the configuration loads" in out
    s = settings(loc, dest)
    assert s.routing.resolve("claude-sonnet-4-5").provider == "deepseek"
    assert s.providers["my-gateway"].key_source.startswith("file")


def test_ccproxy(loc: Locations) -> None:
    data, out, dest = imported(loc, "ccproxy-settings.json")
    assert data["providers"] == {
        "openai": {"api_key_env": "OPENAI_API_KEY"},
        "anthropic": {"api_key_env": "ANTHROPIC_API_KEY"},
        "openrouter": {"api_key": "sk-or-v1-literal-key-000111222"},
    }
    assert data["tiers"] == {
        "opus": "openrouter/moonshotai/kimi-k2",
        "sonnet": "openrouter/moonshotai/kimi-k2",
        "default": "openrouter/moonshotai/kimi-k2",
        "haiku": "openai/gpt-4.1-mini",
    }
    assert data["server"] == {
        "host": "127.0.0.1",
        "port": 8090,
        "log_level": "debug",
        "log_format": "json",
    }
    assert "claude.args: pass them to `anthroxy run -- ARGS` instead" in out
    s = settings(loc, dest)
    route = s.routing.resolve("claude-haiku-4-5")
    assert (route.provider, route.model) == ("openai", "gpt-4.1-mini")
    assert s.providers["anthropic"].base_url == "https://api.anthropic.com"


def test_clco_proxy(loc: Locations) -> None:
    data, out, dest = imported(loc, "clco-config.json")
    assert data["providers"]["local"] == {
        "api": "chat",
        "base_url": "http://127.0.0.1:9999/v1",
        "api_key_env": "LOCAL_KEY",
        "models": ["qwen3-coder"],
    }
    assert data["tiers"]["haiku"] == "gemini/gemini-2.5-flash"
    assert data["aliases"] == {"fast": "gemini/gemini-2.5-flash"}
    assert "providers.local.stealth: not carried over" in out
    # No literal key anywhere: the file may be world-readable like any config.
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    s = settings(loc, dest)
    assert s.routing.resolve("fast").provider == "gemini"
    assert s.providers["deepseek"].api == "anthropic"


def test_never_overwrites_without_force(loc: Locations) -> None:
    dest = loc.cwd / "out.toml"
    dest.write_text("# mine\n")
    code, _, err = run_import(loc, str(FIXTURES / "clco-config.json"), "--output", str(dest))
    assert code == 1
    assert "already exists; pass --force" in err
    assert dest.read_text() == "# mine\n"
    code, _, err = run_import(
        loc, str(FIXTURES / "clco-config.json"), "--output", str(dest), "--force"
    )
    assert code == 0, err
    assert "[providers.deepseek]" in dest.read_text()


def test_default_output_is_the_user_file(loc: Locations) -> None:
    shutil.copy(FIXTURES / "ccproxy-settings.json", loc.cwd / "settings.json")
    code, _, err = run_import(loc, "settings.json")  # relative to the working directory
    assert code == 0, err
    assert (loc.home / ".config" / "anthroxy" / "config.toml").is_file()


def test_missing_key_variable_is_reported_after_writing(loc: Locations) -> None:
    env = {k: v for k, v in loc.env.items() if k != "LOCAL_KEY"}
    bare = Locations(env=env, home=loc.home, cwd=loc.cwd)
    code, out, _ = run_import(bare, str(FIXTURES / "clco-config.json"), "--output", "x.toml")
    assert code == 0
    assert "to fix before it runs: providers.local: no API key found: set LOCAL_KEY" in out


def test_bad_json_and_missing_file(loc: Locations) -> None:
    (loc.cwd / "bad.json").write_text("{nope")
    code, _, err = run_import(loc, "bad.json")
    assert code == 2
    assert "not valid JSON" in err
    code, _, err = run_import(loc, "absent.json")
    assert code == 1
    assert "cannot read" in err


def test_router_entries_naming_unknown_providers_are_reported() -> None:
    result = convert(
        {
            "Providers": [{"name": "p", "api_base_url": "https://x.example/v1/chat/completions"}],
            "Router": {"default": "q,model", "think": "no-comma", "weird": "p,m"},
        }
    )
    assert "tiers" not in result.table
    assert "Router.default: provider 'q' is not defined; entry skipped" in result.notes
    assert "Router.think: 'no-comma' is not \"provider,model\"; skipped" in result.notes
    assert "Router.weird: not carried over (no such route in anthroxy)" in result.notes
