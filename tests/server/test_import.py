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
        ("ccproxy-readme.json", "ccproxy"),
        ("ccproxy-custom-provider.json", "ccproxy"),
        ("clco-minimal.json", "clco-proxy"),
        ("clco-full.json", "clco-proxy"),
        ("clco-subscriptions.json", "clco-proxy"),
    ],
)
def test_detects_each_format(fixture: str, fmt: str) -> None:
    assert detect(json.loads((FIXTURES / fixture).read_text())) == fmt


def test_unknown_shape_is_refused() -> None:
    with pytest.raises(CommandError) as info:
        detect({"model": "x"})
    assert info.value.code == 2


def sections(out: str) -> dict[str, list[str]]:
    """The report's two lists: heading -> its indented lines."""
    found: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            current = found.setdefault(line[:-1], [])
        elif line.startswith("  ") and current is not None:
            current.append(line.strip())
        else:
            current = None
    return found


def test_claude_code_router(loc: Locations) -> None:
    data, out, dest = imported(loc, "ccr-config.json")
    # $VAR and ${VAR} become references; the literal key stays (and makes the file private).
    assert data["providers"]["openrouter"] == {
        "api_key_env": "OPENROUTER_API_KEY",
        "models": ["google/gemini-2.5-pro-preview", "anthropic/claude-sonnet-4"],
        "read_timeout": 600.0,  # API_TIMEOUT_MS 600000
    }
    assert data["providers"]["deepseek"]["api_key_env"] == "DEEPSEEK_API_KEY"
    assert data["providers"]["ollama"] == {  # the catalogue's URL
        "models": ["qwen2.5-coder:latest"],
        "read_timeout": 600.0,
    }
    assert data["providers"]["my-gateway"] == {
        "api": "chat",
        "base_url": "https://llm.internal.example/v1",  # "/chat/completions" removed
        "api_key": "sk-literal-gateway-key-0001",
        "models": ["house-model"],
        "read_timeout": 600.0,
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
        "trust_env": True,  # PROXY_URL
    }
    report = sections(out)
    assert set(report) == {"carried over with a change", "not carried over"}
    changed, dropped = report["carried over with a change"], report["not carried over"]
    assert (
        "PROXY_URL → server.trust_env = true: anthroxy takes the proxy from the environment; "
        "export HTTPS_PROXY=http://127.0.0.1:7890 (and HTTP_PROXY for http:// providers) where "
        "anthroxy starts"
    ) in changed
    assert (
        "API_TIMEOUT_MS 600000 → read_timeout = 600 (seconds) on every provider: how long "
        "anthroxy waits for an upstream that sends nothing"
    ) in changed
    assert any(line.startswith("keys of my-gateway → api_key in the file") for line in changed)
    # Only what was really left out is under "not carried over", each with its reason.
    assert (
        "Providers[0] (openrouter): transformer openrouter: anthroxy translates requests itself "
        "(see [providers.<id>.profile])"
    ) in dropped
    assert any("transformer tooluse for deepseek-chat" in line for line in dropped)
    assert any(line.startswith("CUSTOM_ROUTER_PATH: custom router") for line in dropped)
    assert not any("PROXY_URL" in line or "API_TIMEOUT_MS" in line for line in dropped)
    assert "check: the configuration loads" in out
    s = settings(loc, dest)
    assert s.routing.resolve("claude-sonnet-4-5").provider == "deepseek"
    assert s.providers["my-gateway"].key_source.startswith("file")
    assert s.providers["ollama"].read_timeout == 600.0
    assert s.config.server.trust_env is True


def test_proxy_url_password_is_not_printed() -> None:
    result = convert({"Providers": [], "PROXY_URL": "http://me:hunter2@proxy.corp:3128"})
    assert result.table["server"] == {"trust_env": True}
    (line,) = result.changed
    assert "hunter2" not in line
    assert "export HTTPS_PROXY=http://me:<password>@proxy.corp:3128 " in line
    bad = convert({"Providers": [], "API_TIMEOUT_MS": "soon"})
    assert bad.dropped == ["API_TIMEOUT_MS: 'soon' is not a number of milliseconds"]


def test_ccproxy_readme_example(loc: Locations) -> None:
    data, out, dest = imported(loc, "ccproxy-readme.json")
    assert data["providers"] == {
        "openai": {"api_key": "sk-..."},
        "anthropic": {"api_key": "sk-ant-..."},
        "gemini": {"api_key": "..."},  # its host's catalogue entry, /v1beta/openai
        "openrouter": {"api_key": "sk-or-v1-..."},
    }
    assert data["tiers"] == {
        "opus": "openai/gpt-4",
        "sonnet": "openai/gpt-4",
        "default": "openai/gpt-4",
        "haiku": "openai/gpt-4-mini",
    }
    assert data["server"] == {"host": "0.0.0.0", "port": 8082, "log_level": "info",
                              "log_format": "json"}  # fmt: skip
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    report = sections(out)
    assert report["not carried over"] == [
        "models.preferredProvider 'openai': anthroxy has no provider for bare model names; a "
        'name it does not know goes to openai/gpt-4; ask for "model@openai" to choose the '
        "provider"
    ]
    assert (
        "providers.gemini: https://generativelanguage.googleapis.com → [providers.gemini], "
        "Google Gemini's catalogue endpoint "
        "https://generativelanguage.googleapis.com/v1beta/openai (chat API)"
    ) in report["carried over with a change"]
    s = settings(Locations(env={"HOME": str(loc.home)}, home=loc.home, cwd=loc.cwd), dest)
    assert s.providers["gemini"].base_url.endswith("/v1beta/openai")
    assert s.providers["anthropic"].api == "anthropic"
    assert (s.config.server.log_format, s.config.server.log_level) == ("json", "info")
    route = s.routing.resolve("claude-3-opus@anthropic")
    assert (route.provider, route.model) == ("anthropic", "claude-3-opus")


def test_ccproxy_custom_provider_example(loc: Locations) -> None:
    data, out, dest = imported(loc, "ccproxy-custom-provider.json")
    assert data == {
        "providers": {
            "custom-llm": {
                "api": "anthropic",
                "base_url": "https://your-llm-api.com",
                "api_key": "your-api-key",
            }
        }
    }
    assert "not carried over" not in out
    route = settings(loc, dest).routing.resolve("custom-model@custom-llm")
    assert (route.provider, route.model) == ("custom-llm", "custom-model")


def test_clco_minimal_example(loc: Locations) -> None:
    data, out, dest = imported(loc, "clco-minimal.json")
    assert data == {
        "server": {"port": 8080},
        "providers": {
            "deepseek": {
                "api_key": "sk-your-key",
                "models": ["deepseek-v4-flash", "deepseek-v4-pro"],
            }
        },
        "tiers": {
            "opus": "deepseek/deepseek-v4-pro",
            "sonnet": "deepseek/deepseek-v4-flash",
            "haiku": "deepseek/deepseek-v4-flash",
            "default": "deepseek/deepseek-v4-flash",
        },
    }
    assert "not carried over" not in out
    assert "check: the configuration loads" in out
    assert settings(loc, dest).routing.resolve("claude-opus-4-6").model == "deepseek-v4-pro"


def test_clco_full_example_picks_models_for_auto(loc: Locations) -> None:
    data, out, dest = imported(loc, "clco-full.json")
    assert data["providers"] == {
        "gemini": {"api_key": "AIza...", "models": ["gemini-2.5-pro", "gemini-2.5-flash"]},
        "deepseek": {"api_key": "sk-..."},
        "ollama": {"models": ["qwen3:32b", "devstral:24b"]},  # local, keyless: the catalogue's
    }
    assert data["tiers"] == {  # anthroxy's @auto targets pick from the live list as clco-proxy's
        "opus": "gemini/@auto:pro",
        "sonnet": "gemini/@auto:flash",
        "haiku": "deepseek/deepseek-v4-flash",
        "default": "gemini/@auto",
    }
    assert "@auto" not in sections(out)["carried over with a change"]  # carried over as is
    assert "not carried over" not in out
    assert settings(loc, dest).providers["deepseek"].api == "anthropic"


def test_clco_subscriptions(loc: Locations) -> None:
    data, out, dest = imported(loc, "clco-subscriptions.json")
    assert data["providers"] == {
        "chatgpt": {"models": ["gpt-5.4", "gpt-5.4-mini"]},
        "gemini": {"api_key": "AIza-ultra-key-000111"},
        "copilot": {},
    }
    assert data["tiers"] == {
        "opus": "chatgpt/gpt-5.4",
        "sonnet": "gemini/@auto:pro",
        "haiku": "copilot/gpt-4.1",
        "default": "chatgpt/gpt-5.4-mini",
    }
    report = sections(out)
    assert "not carried over" not in report
    changed = report["carried over with a change"]
    assert any(
        line.startswith("providers[0] (chatgpt) → [providers.chatgpt]: the ChatGPT subscription")
        for line in changed
    )
    assert any(
        "[providers.copilot]" in line and "anthroxy login copilot" in line for line in changed
    )
    s = settings(loc, dest)
    assert (s.providers["chatgpt"].auth, s.providers["chatgpt"].api) == ("codex", "responses")
    assert s.routing.resolve("claude-haiku-4-5").provider == "copilot"  # clco's haiku mapping


def test_clco_custom_providers_and_mistakes() -> None:
    result = convert(
        {
            "port": "x",
            "providers": [
                {"id": "box", "baseUrl": "http://10.0.0.5:8000/v1", "apiKey": "$BOX_KEY",
                 "models": ["coder"]},
                {"id": "relay", "baseUrl": "https://relay.example/anthropic",
                 "anthropicCompat": True, "apiKey": "k"},
                {"name": "no id"},
                {"id": "codex", "stealth": "codex"},
            ],
            "modelMapping": {
                "opus": {"provider": "relay", "model": "r1"},
                "sonnet": {"provider": "nowhere", "model": "m"},
                "haiku": "box/coder",
                "fast": {"provider": "box", "model": "coder"},
                "default": {"provider": "box", "model": "@auto"},
            },
            "logLevel": "debug",
        }
    )  # fmt: skip
    assert result.table["providers"] == {
        "box": {"api": "chat", "base_url": "http://10.0.0.5:8000/v1", "api_key_env": "BOX_KEY",
                "models": ["coder"]},
        "relay": {"api": "anthropic", "base_url": "https://relay.example/anthropic",
                  "api_key": "k"},
        "chatgpt": {},
    }  # fmt: skip
    assert result.table["tiers"] == {"opus": "relay/r1", "default": "box/@auto"}
    assert result.dropped == [
        "port: port 'x' is not a number",
        "providers[2]: not an object with an id",
        "providers[3] (codex).stealth: anthroxy has no such setting",
        "modelMapping.sonnet: provider 'nowhere' is not defined in the file",
        "modelMapping.haiku: not {provider, model}",
        "modelMapping.fast: anthroxy's tiers are opus, sonnet, haiku, default",
        "logLevel: anthroxy has no such setting",
    ]


def test_never_overwrites_without_force(loc: Locations) -> None:
    dest = loc.cwd / "out.toml"
    dest.write_text("# mine\n")
    code, _, err = run_import(loc, str(FIXTURES / "clco-minimal.json"), "--output", str(dest))
    assert code == 1
    assert "already exists; pass --force" in err
    assert dest.read_text() == "# mine\n"
    code, _, err = run_import(
        loc, str(FIXTURES / "clco-minimal.json"), "--output", str(dest), "--force"
    )
    assert code == 0, err
    assert "[providers.deepseek]" in dest.read_text()


def test_default_output_is_the_user_file(loc: Locations) -> None:
    shutil.copy(FIXTURES / "ccproxy-readme.json", loc.cwd / "settings.json")
    code, out, err = run_import(loc, "settings.json")  # relative to the working directory
    assert code == 0, err
    assert (loc.home / ".config" / "anthroxy" / "config.toml").is_file()
    assert "note:" not in out
    # A project file here is layered over the user's file: the report says so.
    project = loc.cwd / ".anthroxy" / "config.toml"
    project.parent.mkdir()
    project.write_text('[tiers]\ndefault = "openai/gpt-5"\n')
    code, out, err = run_import(loc, "settings.json", "--force")
    assert code == 0, err
    assert f"note: {project} is layered over it in this directory; its keys win" in out


def test_missing_key_variable_is_reported_after_writing(loc: Locations) -> None:
    source = loc.cwd / "ccr.json"
    source.write_text(json.dumps({"Providers": [{"name": "deepseek", "api_key": "$NOPE_KEY"}]}))
    code, out, _ = run_import(loc, str(source), "--output", "x.toml")
    assert code == 0
    assert "to fix before it runs: providers.deepseek: no API key found: set NOPE_KEY" in out


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
    assert result.dropped == [
        "Router.default: provider 'q' is not defined in the file",
        "Router.think: 'no-comma' is not \"provider,model\"",
        "Router.weird: anthroxy has no such route",
    ]


def test_clco_urls_that_moved_become_the_catalogue_provider() -> None:
    # clco-proxy's README still lists these hosts (docs/providers.md, "Differences from
    # clco-proxy's list"); keeping them would send the key to a host that no longer serves the API.
    result = convert(
        {
            "providers": [
                {"id": "minimax", "baseUrl": "https://api.minimax.chat/v1/anthropic",
                 "anthropicCompat": True, "apiKey": "$MM"},
                {"id": "ollama-cloud", "baseUrl": "https://cloud.olama.com/v1", "apiKey": "$OC"},
                {"id": "hf", "baseUrl": "https://api-inference.huggingface.co/v1",
                 "apiKey": "$HF"},
                {"id": "mimo", "baseUrl": "https://platform.xiaomimimo.com/v1", "apiKey": "$MI"},
            ],
        }
    )  # fmt: skip
    assert result.table["providers"] == {
        "minimax-cn": {"api_key_env": "MM"},
        "ollama-cloud": {"api_key_env": "OC"},
        "huggingface": {"api_key_env": "HF"},
        "mimo": {"api_key_env": "MI"},
    }
    moved = [line for line in result.changed if "catalogue endpoint" in line]
    assert len(moved) == 4 and any("https://ollama.com/v1" in line for line in moved)
