"""claude-model-proxy's README, as a migrating user has it: its Run section's keys and its three
"Default mapping values" (MODEL_MAP, MODEL_ALIASES, MODEL_ROUTES) set together exactly as printed
(tests/fixtures/migrating/claude-model-proxy.env), each provider's base URL variable pointed at a
fake upstream on loopback. anthroxy starts from that environment, and every model name of the
README's table reaches the provider, model and dialect the README gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from anthroxy_server.config import Settings, load_settings
from anthroxy_server.gateway.app import create_app

from .conftest import message_body, sse_events
from .migration_fakes import Recorder, start_recorder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "migrating" / "claude-model-proxy.env"

# The README's default mappings table, by eye: (Claude model, upstream provider, upstream model).
README_TABLE = [
    ("claude-haiku-4-5", "Anthropic", "claude-haiku-4-5"),
    ("claude-sonnet-4-6", "Anthropic", "claude-sonnet-4-6"),
    ("claude-opus-4-7", "Anthropic", "claude-opus-4-7"),
    ("claude-deepseek-v4-flash", "DeepSeek", "deepseek-v4-flash"),
    ("claude-deepseek-v4-pro", "DeepSeek", "deepseek-v4-pro"),
    ("claude-kimi-k2.6", "Moonshot/Kimi", "kimi-k2.6"),
    ("claude-glm-4.5-air", "GLM", "glm-4.5-air"),
    ("claude-glm-4.7", "GLM", "glm-4.7"),
    ("claude-glm-5.1", "GLM", "glm-5.1"),
    ("claude-mimo-v2-flash", "Xiaomi MiMo", "mimo-v2-flash"),
    ("claude-mimo-v2-pro", "Xiaomi MiMo", "mimo-v2-pro"),
    ("claude-mimo-v2.5-pro", "Xiaomi MiMo", "mimo-v2.5-pro"),
    ("claude-qwen-flash", "Qwen", "qwen-flash"),
    ("claude-qwen-plus", "Qwen", "qwen-plus"),
    ("claude-qwen-max", "Qwen", "qwen-max"),
    ("claude-gpt-5.4-mini", "OpenAI", "gpt-5.4-mini"),
    ("claude-gpt-5.4", "OpenAI", "gpt-5.4"),
    ("claude-gpt-5.5", "OpenAI", "gpt-5.5"),
    ("claude-gemini-3.1-flash-lite-preview", "Gemini", "gemini-3.1-flash-lite-preview"),
    ("claude-gemini-3-flash-preview", "Gemini", "gemini-3-flash-preview"),
    ("claude-gemini-3.1-pro-preview", "Gemini", "gemini-3.1-pro-preview"),
]
# Names the printed MODEL_MAP has beyond the table (its MODEL_ROUTES names their provider).
MAP_ONLY = [
    ("claude-glm-4.6", "GLM", "glm-4.6"),
    ("claude-glm-5", "GLM", "glm-5"),
    ("claude-mimo-v2-omni", "Xiaomi MiMo", "mimo-v2-omni"),
    ("claude-gemini-2.5-pro", "Gemini", "gemini-2.5-pro"),
    ("claude-gemini-2.5-flash", "Gemini", "gemini-2.5-flash"),
    ("claude-gemini-2.0-flash", "Gemini", "gemini-2.0-flash"),
    ("claude-sonnet-4-5", "Anthropic", "claude-sonnet-4-5"),
    ("claude-opus-4-1", "Anthropic", "claude-opus-4-1"),
]
MESSAGES, CHAT = "/v1/messages", "/chat/completions"
# README provider -> (its base URL variable, where the fake serves it, the Run section's key
# variable, anthroxy's provider id, the endpoint its dialect posts to). The README's Notes: the
# first five are Anthropic Messages upstreams, OpenAI, Gemini and Qwen Chat Completions ones.
PROVIDERS = {
    "Anthropic": ("ANTHROPIC_BASE_URL", "/anthropic", "ANTHROPIC_API_KEY", "anthropic", MESSAGES),
    "DeepSeek": ("DEEPSEEK_BASE_URL", "/ds/anthropic", "DEEPSEEK_API_KEY", "deepseek", MESSAGES),
    "Moonshot/Kimi": ("MOONSHOT_BASE_URL", "/ms/anthropic", "MOONSHOT_API_KEY", "kimi", MESSAGES),
    "GLM": ("GLM_BASE_URL", "/glm/api/anthropic", "GLM_API_KEY", "glm", MESSAGES),
    "Xiaomi MiMo": ("XIAOMI_BASE_URL", "/xiaomi/anthropic", "XIAOMI_API_KEY", "mimo", MESSAGES),
    "Qwen": ("QWEN_BASE_URL", "/qwen/compatible-mode/v1", "DASHSCOPE_API_KEY", "qwen", CHAT),
    "OpenAI": ("OPENAI_BASE_URL", "/openai/v1", "OPENAI_API_KEY", "openai", CHAT),
    "Gemini": ("GEMINI_BASE_URL", "/gemini/v1beta/openai", "GEMINI_API_KEY", "gemini", CHAT),
}


def key_for(var: str) -> str:
    return f"sk-test-{var.lower().replace('_', '-')}-0123456789"


def readme_env(fake_url: str, keys: set[str] | None = None) -> dict[str, str]:
    """The fixture as exported by `set -a; . ./.env`, with test keys and the fake's URLs."""
    env = {name: value for name, value in dotenv_values(FIXTURE).items() if value is not None}
    documented = {name for name in env if name.endswith("_API_KEY")}
    assert documented == {p[2] for p in PROVIDERS.values()}  # the Run section's keys, all of them
    for var in documented:
        if keys is None or var in keys:
            env[var] = key_for(var)
        else:
            del env[var]
    for base_var, path, *_ in PROVIDERS.values():
        env[base_var] = fake_url + path
    # The README's defaults for the listen port and the gateway-facing URL.
    env.update(PORT="8787", BASE_URL="http://127.0.0.1:8787")
    return env


def load(tmp_path: Path, env: dict[str, str]) -> Settings:
    return load_settings(env=env, cwd=tmp_path, home=tmp_path, managed_path=tmp_path / "managed")


@pytest.fixture
async def fake(aiohttp_server: Any) -> Recorder:
    return await start_recorder(aiohttp_server)


async def test_readme_defaults_start_and_route_every_name(
    aiohttp_client: Any, fake: Recorder, tmp_path: Path
) -> None:
    settings = load(tmp_path, readme_env(fake.url))
    assert settings.config.server.port == 8787
    assert settings.providers["qwen"].api == "chat"  # QWEN_BASE_URL is compatible-mode
    client = await aiohttp_client(create_app(settings))
    for name, provider, model in README_TABLE + MAP_ONLY:
        _base_var, path, key_var, pid, endpoint = PROVIDERS[provider]
        route = settings.routing.resolve(name)
        assert (route.provider, route.model) == (pid, model), name
        response = await client.post("/v1/messages", json=message_body(name))
        assert response.status == 200, (name, await response.text())
        reply = await response.json()
        assert reply["model"] == name  # the reply carries the name asked for
        assert reply["content"][0]["text"] == f"answer from {model}"
        hit = fake.hits[-1]
        assert (hit.path, hit.key, hit.model) == (path + endpoint, key_for(key_var), model), name
    assert len(fake.hits) == len(README_TABLE + MAP_ONLY)


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_readme_defaults_stream_through_each_provider(
    aiohttp_client: Any, fake: Recorder, tmp_path: Path, provider: str
) -> None:
    name, _, model = next(row for row in README_TABLE if row[1] == provider)
    client = await aiohttp_client(create_app(load(tmp_path, readme_env(fake.url))))
    response = await client.post("/v1/messages", json=message_body(name, stream=True))
    assert response.status == 200
    events = sse_events(await response.read())
    assert events[0][0] == "message_start"
    assert events[0][1]["message"]["model"] == name
    text = "".join(d["delta"].get("text", "") for e, d in events if e == "content_block_delta")
    assert text == f"answer from {model}"
    assert events[-1][0] == "message_stop"
    assert fake.hits[-1].path == PROVIDERS[provider][1] + PROVIDERS[provider][4]


async def test_readme_defaults_with_only_the_installers_two_keys(
    aiohttp_client: Any, fake: Recorder, tmp_path: Path
) -> None:
    # The extension installer asks for DeepSeek and Moonshot/Kimi keys only; the default tables
    # still name eight providers. anthroxy starts, and names of providers without a key do not
    # reach those providers.
    env = readme_env(fake.url, keys={"DEEPSEEK_API_KEY", "MOONSHOT_API_KEY"})
    settings = load(tmp_path, env)
    assert {"glm", "mimo", "qwen", "openai", "gemini", "anthropic"}.isdisjoint(settings.providers)
    client = await aiohttp_client(create_app(settings))
    for name in ("claude-deepseek-v4-pro", "claude-kimi-k2.6"):
        response = await client.post("/v1/messages", json=message_body(name))
        assert response.status == 200
    assert [h.path for h in fake.hits] == ["/ds/anthropic/v1/messages", "/ms/anthropic/v1/messages"]
    for name in ("claude-glm-4.7", "claude-qwen-max", "claude-gpt-5.5", "claude-sonnet-4-6"):
        assert settings.routing.resolve(name).provider in {"deepseek", "kimi", "ollama"}


def test_advanced_env_adds_keys_and_never_overrides_exported_ones(tmp_path: Path) -> None:
    # The README's "Extension install UI" JSON, as the installer passes it.
    advanced = (
        '{"GLM_API_KEY": "glm-from-advanced-0123", "XIAOMI_API_KEY": "mimo-from-advanced-0123",'
        ' "OPENAI_API_KEY": "sk-from-advanced-0123", "MODEL_MAP": "fast=glm/glm-4.7"}'
    )
    env = {"ADVANCED_ENV": advanced, "OPENAI_API_KEY": "sk-exported-0123456789"}
    settings = load(tmp_path, env)
    assert settings.providers["glm"].api_key == "glm-from-advanced-0123"
    assert settings.providers["glm"].key_source == "ADVANCED_ENV:GLM_API_KEY"
    assert settings.providers["mimo"].api_key == "mimo-from-advanced-0123"
    assert settings.providers["openai"].api_key == "sk-exported-0123456789"
    assert settings.providers["openai"].key_source == "env:OPENAI_API_KEY"
    assert settings.routing.resolve("fast").provider == "glm"
    assert settings.origins["aliases.fast"] == "ADVANCED_ENV:MODEL_MAP"


@pytest.mark.parametrize(
    ("advanced", "expected"),
    [
        ("{oops", "ADVANCED_ENV: not valid JSON"),
        ('["GLM_API_KEY"]', "ADVANCED_ENV: expected a JSON object"),
        ('{"GLM_API_KEY": {"nested": 1}}', "ADVANCED_ENV: 'GLM_API_KEY' must be"),
    ],
)
def test_a_bad_advanced_env_names_itself(tmp_path: Path, advanced: str, expected: str) -> None:
    from anthroxy_server.config import ConfigError

    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"ADVANCED_ENV": advanced})
    assert any(line.startswith(expected) for line in info.value.problems), info.value.problems


@pytest.mark.parametrize(
    ("variable", "provider"),
    [
        # The README's "also accepted" key names.
        ("ZAI_API_KEY", "glm"),
        ("ZHIPU_API_KEY", "glm"),
        ("MIMO_API_KEY", "mimo"),
        ("GOOGLE_API_KEY", "gemini"),
        ("QWEN_API_KEY", "qwen"),
        ("DASHSCOPE_API_KEY", "qwen"),
    ],
)
def test_documented_key_aliases(tmp_path: Path, variable: str, provider: str) -> None:
    settings = load(tmp_path, {variable: "key-0123456789abcdef"})
    assert settings.providers[provider].api_key == "key-0123456789abcdef"
    assert settings.providers[provider].key_source == f"env:{variable}"
