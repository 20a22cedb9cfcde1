"""The provider catalogue: well-formed presets, key lookup, base URL overrides, availability.

No test sends traffic anywhere: the URLs are only inspected as strings.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from anthroxy.routing.catalog import (
    CATALOG,
    ProviderPreset,
    available_presets,
    base_url_for,
    find_key,
)

PRESETS = list(CATALOG.values())
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")

# Every provider the product promises (docs/providers.md) must be in the catalogue.
REQUIRED = {
    "anthropic", "deepseek", "glm", "kimi", "minimax", "qwen", "mimo",
    "ai21", "alibaba-coding", "arcee", "azure", "cerebras", "cloudflare", "cohere", "fireworks",
    "gemini", "groq", "huggingface", "kilocode", "lmstudio", "mistral", "nous", "nvidia",
    "ollama", "ollama-cloud", "openai", "opencode-zen", "opencode-go", "openrouter",
    "perplexity", "siliconflow", "stepfun", "together", "vercel", "volcengine", "xai",
}  # fmt: skip
ANTHROPIC_NATIVE = {"anthropic", "deepseek", "glm", "kimi", "minimax", "qwen", "mimo"}


def test_catalog_holds_every_required_provider() -> None:
    assert set(CATALOG) >= REQUIRED
    assert {p.id for p in PRESETS if p.api == "anthropic"} == ANTHROPIC_NATIVE


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOG["x"] = CATALOG["groq"]  # type: ignore[index]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_preset_is_well_formed(preset: ProviderPreset) -> None:
    assert CATALOG[preset.id] is preset
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", preset.id), preset.id
    assert preset.name
    url = urlsplit(preset.base_url.replace("{", "x").replace("}", "x"))
    if preset.local:
        assert url.scheme == "http" and url.hostname == "localhost"
        assert not preset.needs_key and preset.auth == "none"
    elif preset.auth == "codex":  # a subscription login (auth.json), never an API key
        assert url.scheme == "https", preset.base_url
        assert not preset.key_env and preset.api == "responses"
    else:
        assert url.scheme == "https", preset.base_url
        assert preset.needs_key and preset.key_env
        assert preset.auth in ("bearer", "x-api-key")
    assert not preset.base_url.endswith("/")
    # base URLs stop before the path the translator appends
    assert not preset.base_url.endswith(("/chat/completions", "/messages", "/v1/messages"))
    for name in (*preset.key_env, *preset.url_vars, preset.base_url_env):
        assert ENV_NAME.match(name), name
    assert len(set(preset.key_env)) == len(preset.key_env)
    if preset.models:
        assert preset.default_model == preset.models[0]
        assert len(set(preset.models)) == len(preset.models)


def test_ids_are_unique_and_lowercase() -> None:
    ids = [p.id for p in PRESETS]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() for i in ids)


def test_profiles_carry_the_documented_quirks() -> None:
    gemini = CATALOG["gemini"]
    assert gemini.base_url.endswith("/v1beta/openai")
    assert gemini.profile.schema_dialect == "gemini"
    assert gemini.profile.tool_name_must_start_alpha
    assert gemini.profile.thought_signatures
    assert gemini.profile.reasoning_param == "reasoning_effort"
    openai = CATALOG["openai"].profile
    assert openai.max_tokens_field == "max_completion_tokens"
    assert openai.reasoning_param == "reasoning_effort" and openai.accepts_pdf
    router = CATALOG["openrouter"].profile
    assert router.reasoning_param == "openrouter"
    assert router.thinking_replay == "reasoning_details"
    assert router.user_max == 128
    # third-party Anthropic-compatible endpoints drop anthropic-beta; Anthropic keeps it
    assert CATALOG["anthropic"].profile.drop_betas == ()
    assert CATALOG["anthropic"].auth == "x-api-key"
    for pid in ANTHROPIC_NATIVE - {"anthropic"}:
        assert CATALOG[pid].profile.drop_betas == ("*",), pid
    assert CATALOG["ollama"].base_url == "http://localhost:11434/v1"
    assert CATALOG["lmstudio"].base_url == "http://localhost:1234/v1"


@pytest.mark.parametrize(
    ("pid", "names"),
    [
        ("glm", ("ZAI_API_KEY", "ZHIPU_API_KEY", "GLM_API_KEY")),
        ("kimi", ("MOONSHOT_API_KEY", "KIMI_API_KEY")),
        ("qwen", ("DASHSCOPE_API_KEY", "QWEN_API_KEY")),
        ("mimo", ("MIMO_API_KEY", "XIAOMI_API_KEY")),
        ("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    ],
)
def test_alternate_key_names_work_in_order(pid: str, names: tuple[str, ...]) -> None:
    preset = CATALOG[pid]
    assert preset.key_env[: len(names)] == names
    for i, name in enumerate(names):
        assert find_key(preset, {name: f"k{i}"}) == f"k{i}"
    # the first present name wins, whatever the mapping's order
    env = {names[-1]: "last", names[0]: "first"}
    assert find_key(preset, env) == "first"


def test_find_key_skips_empty_and_blank_values_and_strips() -> None:
    glm = CATALOG["glm"]
    assert find_key(glm, {}) is None
    assert find_key(glm, {"ZAI_API_KEY": "", "ZHIPU_API_KEY": "  \n"}) is None
    assert find_key(glm, {"ZAI_API_KEY": "", "GLM_API_KEY": " sk-1\n"}) == "sk-1"
    assert find_key(CATALOG["ollama"], {"OLLAMA_API_KEY": "x"}) is None  # local: no key vars


def test_base_url_default_and_override() -> None:
    deepseek = CATALOG["deepseek"]
    assert deepseek.base_url_env == "DEEPSEEK_BASE_URL"
    assert base_url_for(deepseek, {}) == "https://api.deepseek.com/anthropic"
    env = {"DEEPSEEK_BASE_URL": "http://127.0.0.1:9999/anthropic/"}
    assert base_url_for(deepseek, env) == "http://127.0.0.1:9999/anthropic"
    # hyphenated ids map to underscores
    assert CATALOG["ollama-cloud"].base_url_env == "OLLAMA_CLOUD_BASE_URL"
    env = {"OLLAMA_CLOUD_BASE_URL": "https://example.test/v1"}
    assert base_url_for(CATALOG["ollama-cloud"], env) == "https://example.test/v1"
    with pytest.raises(ValueError, match=r"DEEPSEEK_BASE_URL.*not an http"):
        base_url_for(deepseek, {"DEEPSEEK_BASE_URL": "api.deepseek.com"})


def test_placeholder_urls_need_their_variable() -> None:
    cf = CATALOG["cloudflare"]
    assert cf.url_vars == ("CLOUDFLARE_ACCOUNT_ID",)
    with pytest.raises(ValueError, match=r"CLOUDFLARE_ACCOUNT_ID.*CLOUDFLARE_BASE_URL"):
        base_url_for(cf, {})
    assert (
        base_url_for(cf, {"CLOUDFLARE_ACCOUNT_ID": "abc123"})
        == "https://api.cloudflare.com/client/v4/accounts/abc123/ai/v1"
    )
    with pytest.raises(ValueError, match="may only hold"):
        base_url_for(cf, {"CLOUDFLARE_ACCOUNT_ID": "evil.test/x?"})
    azure = CATALOG["azure"]
    with pytest.raises(ValueError, match=r"AZURE_RESOURCE_NAME.*AZURE_BASE_URL"):
        base_url_for(azure, {})
    assert base_url_for(azure, {"AZURE_RESOURCE_NAME": "me"}) == (
        "https://me.openai.azure.com/openai/v1"
    )
    custom = "https://me.services.ai.azure.com/openai/v1"
    assert base_url_for(azure, {"AZURE_BASE_URL": custom}) == custom


def test_available_presets() -> None:
    # with nothing set, only local Ollama is enabled; LM Studio is not
    assert [p.id for p in available_presets({})] == ["ollama"]
    env = {"GROQ_API_KEY": "g", "ZHIPU_API_KEY": "z", "OPENAI_API_KEY": " "}
    assert [p.id for p in available_presets(env)] == ["glm", "groq", "ollama"]
    # a key alone is not enough where the URL needs a per-user part
    assert "cloudflare" not in {p.id for p in available_presets({"CLOUDFLARE_API_TOKEN": "t"})}
    env = {"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ACCOUNT_ID": "acc"}
    assert "cloudflare" in {p.id for p in available_presets(env)}
    assert "azure" not in {p.id for p in available_presets({"AZURE_API_KEY": "k"})}
    # LM Studio is opted into with its base URL variable
    env = {"LMSTUDIO_BASE_URL": "http://localhost:1234/v1"}
    assert [p.id for p in available_presets(env)] == ["lmstudio", "ollama"]


def test_docs_table_matches_catalog() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "providers.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in docs.splitlines() if line[:3] == "| `"}
    assert set(rows) == set(CATALOG)
    for preset in PRESETS:
        assert f"`{preset.base_url}`" in rows[preset.id], preset.id
        for name in preset.key_env:
            assert f"`{name}`" in rows[preset.id], (preset.id, name)
        # What anthroxy changes for a provider: every rule of its cleaner, with its source.
        for rule in preset.cleaner.rules:
            assert f"({rule.source})" in rows[preset.id], (preset.id, rule)
