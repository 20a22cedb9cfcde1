"""The environment variables of the proxies anthroxy replaces, read as an overlay on the TOML file:
every variable changes the resolved Settings as docs/migrating.md says, keys stay secret, and bad
values are problem lines naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from anthroxy_server.cli.config_show import show_config_lines
from anthroxy_server.config import ConfigError, Settings, load_settings

BIG_KEY = "sk-big-secret-0123456789abcdef"
SMALL_KEY = "sk-small-secret-9876543210fedc"
OPENAI_KEY = "sk-openai-secret-00112233445566"


def load(tmp_path: Path, env: dict[str, str], toml: str | None = None) -> Settings:
    path = None
    if toml is not None:
        file = tmp_path / "config.toml"
        file.write_text(toml)
        path = str(file)
    return load_settings(
        cli_path=path, env=env, cwd=tmp_path, home=tmp_path, managed_path=tmp_path / "managed"
    )


def problems(tmp_path: Path, env: dict[str, str], toml: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env, toml)
    return info.value.problems


def test_big_and_small_with_their_own_keys_and_url(tmp_path: Path) -> None:
    env = {
        "BIG_MODEL_PROVIDER": "openai",
        "BIG_MODEL_NAME": "gpt-4.1",
        "BIG_MODEL_API_KEY": BIG_KEY,
        "SMALL_MODEL_PROVIDER": "openai",
        "SMALL_MODEL_NAME": "gpt-4o-mini",
        "SMALL_MODEL_API_KEY": SMALL_KEY,
        "SMALL_MODEL_API_BASE": "https://small.example/v1",
    }
    s = load(tmp_path, env)
    # big -> opus and sonnet (and default, nothing else names it); small -> haiku on a second
    # entry, because the same provider id cannot hold two keys.
    assert s.config.tiers == {
        "opus": "openai/gpt-4.1",
        "sonnet": "openai/gpt-4.1",
        "haiku": "openai-small/gpt-4o-mini",
        "default": "openai/gpt-4.1",
    }
    assert s.providers["openai"].api_key == BIG_KEY
    assert s.providers["openai"].key_source == "env:BIG_MODEL_API_KEY"
    assert s.providers["openai"].base_url == "https://api.openai.com/v1"
    small = s.providers["openai-small"]
    assert (small.api, small.base_url, small.api_key) == (
        "chat",
        "https://small.example/v1",
        SMALL_KEY,
    )
    # The copy keeps OpenAI's quirks (gpt-5*/o* need max_completion_tokens).
    assert small.profile.max_tokens_field == "max_completion_tokens"
    assert s.routing.resolve("claude-3-5-haiku-20241022").provider == "openai-small"
    assert s.origins["tiers.haiku"] == "env:SMALL_MODEL_NAME"
    assert s.origins["providers.openai.api_key_env"] == "env:BIG_MODEL_API_KEY"


def test_keys_never_appear_in_origins_or_config_show(tmp_path: Path) -> None:
    env = {"BIG_MODEL": "openai/gpt-4.1", "BIG_MODEL_API_KEY": BIG_KEY}
    s = load(tmp_path, env)
    shown = "\n".join(show_config_lines(s, env))
    assert BIG_KEY not in shown
    assert BIG_KEY not in repr(s)
    assert all(BIG_KEY not in v for v in s.origins.values())
    assert "sk-…cdef" in shown  # masked: first three and last four characters
    assert "env:BIG_MODEL_API_KEY" in shown


def test_middle_model_takes_sonnet(tmp_path: Path) -> None:
    env = {
        "OPENAI_API_KEY": OPENAI_KEY,
        "BIG_MODEL": "gpt-4o",
        "MIDDLE_MODEL": "gpt-4.1",
        "SMALL_MODEL": "gpt-4o-mini",
    }
    tiers = load(tmp_path, env).config.tiers
    # Bare names go to PREFERRED_PROVIDER, default openai (claude-code-proxy's behaviour).
    assert tiers == {
        "opus": "openai/gpt-4o",
        "sonnet": "openai/gpt-4.1",
        "haiku": "openai/gpt-4o-mini",
        "default": "openai/gpt-4o",
    }


def test_provider_prefixed_names_and_preferred_provider(tmp_path: Path) -> None:
    env = {
        "OPENAI_API_KEY": OPENAI_KEY,
        "GEMINI_API_KEY": "g" * 30,
        "PREFERRED_PROVIDER": "google",  # LiteLLM's name for Gemini
        "BIG_MODEL": "gemini-2.5-pro",
        "SMALL_MODEL": "openai/gpt-4o-mini",
    }
    tiers = load(tmp_path, env).config.tiers
    assert tiers["opus"] == "gemini/gemini-2.5-pro"
    assert tiers["haiku"] == "openai/gpt-4o-mini"


def test_tiers_the_variables_do_not_name_keep_the_files(tmp_path: Path) -> None:
    toml = """
[providers.deepseek]
[providers.openai]
[tiers]
haiku = "deepseek/deepseek-v4-flash"
default = "deepseek/deepseek-v4-pro"
"""
    env = {"DEEPSEEK_API_KEY": "d" * 30, "OPENAI_API_KEY": OPENAI_KEY, "BIG_MODEL": "gpt-4.1"}
    s = load(tmp_path, env, toml)
    assert s.config.tiers == {
        "haiku": "deepseek/deepseek-v4-flash",
        "default": "deepseek/deepseek-v4-pro",
        "opus": "openai/gpt-4.1",
        "sonnet": "openai/gpt-4.1",
    }
    assert s.origins["tiers.haiku"].endswith("config.toml")
    assert s.origins["tiers.opus"] == "env:BIG_MODEL"


def test_overlay_keeps_the_discovered_providers(tmp_path: Path) -> None:
    # A [providers] table switches discovery off; the overlay writes one (for the BIG key), so
    # it lists what discovery would have offered first: GROQ stays usable.
    env = {"GROQ_API_KEY": "q" * 30, "BIG_MODEL": "openai/gpt-4.1", "BIG_MODEL_API_KEY": BIG_KEY}
    s = load(tmp_path, env)
    assert {"groq", "openai", "ollama"} <= set(s.providers)
    assert s.routing.resolve("groq/llama-3.1-8b-instant").provider == "groq"


def test_custom_endpoint_from_api_base(tmp_path: Path) -> None:
    env = {
        "BIG_MODEL_PROVIDER": "lab",
        "BIG_MODEL_NAME": "llama-3-70b",
        "BIG_MODEL_API_BASE": "http://127.0.0.1:8000/v1",
    }
    p = load(tmp_path, env).providers["lab"]
    # No key variable: the tools sent none, so neither does anthroxy.
    assert (p.api, p.base_url, p.auth, p.api_key) == (
        "chat",
        "http://127.0.0.1:8000/v1",
        "none",
        None,
    )


@pytest.mark.parametrize(
    ("mapping", "routes"),
    [
        ('{"claude-custom-gpt": "custom-gpt"}', '{"custom-gpt": "openai"}'),
        ("claude-custom-gpt=custom-gpt", "custom-gpt=openai"),
    ],
)
def test_model_map_and_routes_json_and_pairs(tmp_path: Path, mapping: str, routes: str) -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "MODEL_MAP": mapping, "MODEL_ROUTES": routes}
    s = load(tmp_path, env)
    assert s.config.aliases == {
        "custom-gpt": "openai/custom-gpt",
        "claude-custom-gpt": "openai/custom-gpt",
    }
    route = s.routing.resolve("claude-custom-gpt")
    assert (route.provider, route.model) == ("openai", "custom-gpt")
    assert s.origins["aliases.claude-custom-gpt"] == "env:MODEL_MAP"
    assert s.origins["aliases.custom-gpt"] == "env:MODEL_ROUTES"


def test_model_map_finds_the_catalogue_provider(tmp_path: Path) -> None:
    env = {"DEEPSEEK_API_KEY": "d" * 30, "MODEL_MAP": "fast=deepseek-v4-flash,big=openrouter/x/y"}
    env["OPENROUTER_API_KEY"] = "o" * 30
    aliases = load(tmp_path, env).config.aliases
    assert aliases == {"fast": "deepseek/deepseek-v4-flash", "big": "openrouter/x/y"}


def test_model_aliases_name_the_reply(tmp_path: Path) -> None:
    # upstream model -> the name reported back: that name routes to the upstream model, and as
    # rewrite_response_model is on, a reply to it carries that name.
    env = {
        "OLLAMA_API_KEY": "o" * 30,
        "MODEL_ALIASES": '{"gpt-oss:120b": "ollama-gpt-oss-120b"}',
        "MODEL_ROUTES": "gpt-oss:120b=ollama-cloud",
    }
    s = load(tmp_path, env)
    route = s.routing.resolve("ollama-gpt-oss-120b")
    assert (route.provider, route.model, route.requested_model) == (
        "ollama-cloud",
        "gpt-oss:120b",
        "ollama-gpt-oss-120b",
    )
    assert s.origins["aliases.ollama-gpt-oss-120b"] == "env:MODEL_ALIASES"


def test_model_aliases_also_name_replies_without_rewriting(tmp_path: Path) -> None:
    # With REWRITE_RESPONSES=false replies report the upstream model, under the MODEL_ALIASES
    # name when it has one: routing.response_names is keyed by the model the route names, so a
    # provider/model value is keyed by its model part.
    env = {
        "OLLAMA_API_KEY": "o" * 30,
        "OPENROUTER_API_KEY": "r" * 30,
        "MODEL_ALIASES": "gpt-oss:120b=ollama-gpt-oss-120b,openrouter/x/y=short",
        "MODEL_ROUTES": "gpt-oss:120b=ollama-cloud",
        "REWRITE_RESPONSES": "false",
    }
    s = load(tmp_path, env)
    assert s.config.routing.rewrite_response_model is False
    assert s.config.routing.response_names == {
        "gpt-oss:120b": "ollama-gpt-oss-120b",
        "x/y": "short",
    }
    assert s.routing.resolve("short").model == "x/y"
    assert s.origins["routing.response_names.x/y"] == "env:MODEL_ALIASES"


def test_model_map_and_routes_name_no_replies(tmp_path: Path) -> None:
    env = {"DEEPSEEK_API_KEY": "d" * 30, "MODEL_MAP": "fast=deepseek-v4-flash"}
    assert load(tmp_path, env).config.routing.response_names == {}


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("TRUE", True)])
def test_rewrite_responses(tmp_path: Path, value: str, expected: bool) -> None:
    s = load(tmp_path, {"REWRITE_RESPONSES": value})
    assert s.config.routing.rewrite_response_model is expected
    assert s.origins["routing.rewrite_response_model"] == "env:REWRITE_RESPONSES"


def test_command_line_still_wins(tmp_path: Path) -> None:
    s = load_settings(
        env={"REWRITE_RESPONSES": "false"},
        cwd=tmp_path,
        home=tmp_path,
        managed_path=tmp_path / "managed",
        overrides={"routing.rewrite_response_model": True},
    )
    assert s.config.routing.rewrite_response_model is True


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MODEL_MAP": "a"}, "MODEL_MAP: 'a' is not name=value (use JSON or a=b,c=d)"),
        ({"MODEL_MAP": "a=b,a=c"}, "MODEL_MAP: 'a' is given twice"),
        ({"MODEL_ROUTES": "{oops"}, "MODEL_ROUTES: not valid JSON"),
        ({"MODEL_ALIASES": '["x"]'}, "MODEL_ALIASES: expected a JSON object"),
        ({"MODEL_MAP": '{"a": 3}'}, "MODEL_MAP: 'a' must map to a non-empty string"),
        ({"MODEL_MAP": "a=mystery-model"}, "MODEL_MAP: no provider is known for model"),
        ({"MODEL_ROUTES": "m=nowhere"}, "MODEL_ROUTES: 'm' routes to provider 'nowhere'"),
        ({"REWRITE_RESPONSES": "maybe"}, "REWRITE_RESPONSES: expected true or false"),
        ({"BIG_MODEL_PROVIDER": "lab", "BIG_MODEL_NAME": "x"}, "BIG_MODEL_PROVIDER: provider"),
        ({"BIG_MODEL_PROVIDER": "openai"}, "BIG_MODEL_PROVIDER: set BIG_MODEL_NAME too"),
        (
            {"BIG_MODEL": "sagemaker/my-endpoint"},
            "BIG_MODEL: 'sagemaker' (AWS SageMaker) is not supported by anthroxy yet",
        ),
        ({"SMALL_MODEL": "a", "SMALL_MODEL_NAME": "b"}, "SMALL_MODEL_NAME and SMALL_MODEL"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    lines = problems(tmp_path, env)
    assert any(line.startswith(expected) for line in lines), lines


def test_a_provider_without_key_is_reported_by_its_variable(tmp_path: Path) -> None:
    lines = problems(tmp_path, {"SMALL_MODEL": "groq/llama-3.1-8b-instant"})
    assert "providers.groq: no API key found: set GROQ_API_KEY" in lines


def test_no_variables_change_nothing(tmp_path: Path) -> None:
    env = {"DEEPSEEK_API_KEY": "d" * 30}
    s = load(tmp_path, env)
    assert not any(source.startswith("env") for source in s.origins.values())
    assert s.config.aliases == {}


# -- .env files --------------------------------------------------------------------------------


def write_env(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_dotenv_in_the_working_directory_never_overrides_exports(tmp_path: Path) -> None:
    dotenv = write_env(
        tmp_path / ".env",
        f'export DEEPSEEK_API_KEY="{BIG_KEY}"  # a comment\nOPENAI_API_KEY=from-the-file-0123\n',
    )
    s = load(tmp_path, {"OPENAI_API_KEY": OPENAI_KEY})
    assert s.providers["deepseek"].api_key == BIG_KEY
    assert s.providers["deepseek"].key_source == "./.env:DEEPSEEK_API_KEY"
    assert s.providers["openai"].api_key == OPENAI_KEY  # exported: the file does not win
    assert s.providers["openai"].key_source == "env:OPENAI_API_KEY"
    assert s.sources == [str(dotenv)]
    shown = "\n".join(show_config_lines(s, {"OPENAI_API_KEY": OPENAI_KEY}))
    assert f"# files read: {dotenv}" in shown
    assert "# ./.env:DEEPSEEK_API_KEY" in shown
    assert BIG_KEY not in shown


def test_dotenv_beside_the_user_config_and_the_working_directorys_wins(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    beside = write_env(
        home / ".config" / "anthroxy" / ".env",
        f"DEEPSEEK_API_KEY={BIG_KEY}\nGROQ_API_KEY=gsk-beside-0123456789\n",
    )
    local = write_env(work / ".env", f"DEEPSEEK_API_KEY={SMALL_KEY}\n")
    s = load_settings(env={}, cwd=work, home=home, managed_path=tmp_path / "managed")
    assert s.providers["deepseek"].api_key == SMALL_KEY
    assert s.providers["deepseek"].key_source == "./.env:DEEPSEEK_API_KEY"
    assert s.providers["groq"].key_source == "~/.config/anthroxy/.env:GROQ_API_KEY"
    assert s.sources == [str(local), str(beside)]


def test_dotenv_beside_an_explicit_config_file(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    config = tmp_path / "elsewhere" / "config.toml"
    config.write_text("[tiers]\ndefault = 'deepseek/deepseek-v4-pro'\n")
    write_env(tmp_path / "elsewhere" / ".env", f"DEEPSEEK_API_KEY={BIG_KEY}\n")
    write_env(tmp_path / "home" / ".config" / "anthroxy" / ".env", "GROQ_API_KEY=gsk-x-012345\n")
    s = load_settings(
        cli_path=str(config),
        env={},
        cwd=tmp_path,
        home=tmp_path / "home",
        managed_path=tmp_path / "managed",
    )
    assert s.providers["deepseek"].api_key == BIG_KEY
    assert "groq" not in s.providers  # the file beside the default location is not read then


def test_a_readable_env_file_with_keys_gets_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_env(tmp_path / ".env", f"DEEPSEEK_API_KEY={BIG_KEY}\nPORT=9000\n", mode=0o644)
    load(tmp_path, {})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "DEEPSEEK_API_KEY" in warnings[0] and "chmod 600" in warnings[0]
    assert BIG_KEY not in warnings[0]
    caplog.clear()
    (tmp_path / ".env").chmod(0o600)
    load(tmp_path, {})
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_an_env_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"DEEPSEEK_API_KEY=\xff\xfe\n")
    lines = problems(tmp_path, {})
    assert lines == [f"{tmp_path / '.env'}: not valid UTF-8 (env files must be UTF-8)"]


# -- other tools' names for a provider's base URL ---------------------------------------------


@pytest.mark.parametrize(
    ("variable", "key_variable", "provider"),
    [
        ("MOONSHOT_BASE_URL", "MOONSHOT_API_KEY", "kimi"),
        ("XIAOMI_BASE_URL", "XIAOMI_API_KEY", "mimo"),
        ("OPENAI_API_BASE", "OPENAI_API_KEY", "openai"),
        ("GEMINI_API_BASE", "GEMINI_API_KEY", "gemini"),
        ("XAI_API_BASE", "XAI_API_KEY", "xai"),
        ("ANTHROPIC_API_BASE", "ANTHROPIC_API_KEY", "anthropic"),
    ],
)
def test_other_tools_base_url_variables(
    tmp_path: Path, variable: str, key_variable: str, provider: str
) -> None:
    env = {variable: "http://127.0.0.1:9/x/", key_variable: "k" * 20}
    s = load(tmp_path, env)
    assert s.providers[provider].base_url == "http://127.0.0.1:9/x"
    assert s.origins[f"providers.{provider}.base_url"] == f"env:{variable}"
    # anthroxy's own variable wins over the other tool's name.
    own = f"{provider.upper()}_BASE_URL"
    s = load(tmp_path, {**env, own: "http://127.0.0.1:8/own"})
    assert s.providers[provider].base_url == "http://127.0.0.1:8/own"


@pytest.mark.parametrize(
    ("url", "api", "auth"),
    [
        ("https://dashscope.aliyuncs.com/compatible-mode/v1", "chat", "bearer"),
        ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1/", "chat", "bearer"),
        ("https://dashscope-intl.aliyuncs.com/apps/anthropic", "anthropic", "x-api-key"),
    ],
)
def test_qwen_base_url_picks_the_dialect_from_its_path(
    tmp_path: Path, url: str, api: str, auth: str
) -> None:
    s = load(tmp_path, {"QWEN_BASE_URL": url, "DASHSCOPE_API_KEY": "d" * 20})
    qwen = s.providers["qwen"]
    assert (qwen.api, qwen.auth, qwen.base_url) == (api, auth, url.rstrip("/"))
    assert qwen.api_key == "d" * 20


def test_qwen_base_url_without_a_key_changes_nothing(tmp_path: Path) -> None:
    env = {"QWEN_BASE_URL": "https://dashscope.aliyuncs.com/compatible-mode/v1"}
    env["DEEPSEEK_API_KEY"] = "d" * 20
    s = load(tmp_path, env)
    assert "qwen" not in s.providers
    assert s.origins == {}  # discovery is untouched


def test_model_routes_take_claude_model_proxys_provider_names(tmp_path: Path) -> None:
    env = {
        "MOONSHOT_API_KEY": "m" * 20,
        "XIAOMI_API_KEY": "x" * 20,
        "MODEL_ROUTES": "kimi-k2.6=moonshot,mimo-v2-pro=xiaomi",
    }
    s = load(tmp_path, env)
    assert s.config.aliases == {"kimi-k2.6": "kimi/kimi-k2.6", "mimo-v2-pro": "mimo/mimo-v2-pro"}


# -- PORT and BASE_URL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "port", "origin"),
    [
        ({"PORT": "8787"}, 8787, "env:PORT"),
        ({"BASE_URL": "http://127.0.0.1:8787"}, 8787, "env:BASE_URL"),
        ({"BASE_URL": "http://localhost:9100/"}, 9100, "env:BASE_URL"),
        ({"PORT": "9000", "BASE_URL": "http://127.0.0.1:8787"}, 9000, "env:PORT"),
        # Not where anthroxy listens: a reverse proxy's URL, or no explicit port.
        ({"BASE_URL": "https://proxy.example.com:8443"}, 7000, "config"),
        ({"BASE_URL": "http://10.1.2.3:8787"}, 7000, "config"),
        ({"BASE_URL": "http://127.0.0.1"}, 7000, "config"),
    ],
)
def test_port_and_base_url(tmp_path: Path, env: dict[str, str], port: int, origin: str) -> None:
    s = load(tmp_path, env, "[server]\nport = 7000\n")  # the variables win over the file
    assert s.config.server.port == port
    assert s.config.server.host == "127.0.0.1"  # never taken from BASE_URL
    assert s.origins["server.port"].endswith(origin if origin != "config" else "config.toml")


def test_the_port_flag_wins_over_port(tmp_path: Path) -> None:
    s = load_settings(
        env={"PORT": "8787"},
        cwd=tmp_path,
        home=tmp_path,
        managed_path=tmp_path / "managed",
        overrides={"server.port": 9999},
    )
    assert s.config.server.port == 9999


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORT": "http"}, "PORT: expected a port number between 1 and 65535, got 'http'"),
        ({"PORT": "70000"}, "PORT: expected a port number between 1 and 65535, got '70000'"),
        ({"BASE_URL": "http://127.0.0.1:99999"}, "BASE_URL: 'http://127.0.0.1:99999' is not a"),
    ],
)
def test_bad_port_values_name_the_variable(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    lines = problems(tmp_path, env)
    assert any(line.startswith(expected) for line in lines), lines
