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
    "vertex", "vertex-gemini",
}  # fmt: skip
ANTHROPIC_NATIVE = {
    "anthropic", "deepseek", "glm", "kimi", "minimax", "qwen", "mimo",
    "glm-cn", "kimi-cn", "minimax-cn", "qwen-cn", "vertex", "bedrock",
}  # fmt: skip
# Region/plan variants, written from the providers' own pages (docs/providers.md):
# id -> (base id, base URL, the variable only this variant reads).
VARIANTS = {
    "glm-cn": ("glm", "https://open.bigmodel.cn/api/anthropic", "GLM_CN_API_KEY"),
    "kimi-cn": ("kimi", "https://api.moonshot.cn/anthropic", "KIMI_CN_API_KEY"),
    "minimax-cn": ("minimax", "https://api.minimaxi.com/anthropic", "MINIMAX_CN_API_KEY"),
    "qwen-cn": ("qwen", "https://dashscope.aliyuncs.com/apps/anthropic", "QWEN_CN_API_KEY"),
    "alibaba-coding-cn": (
        "alibaba-coding", "https://coding.dashscope.aliyuncs.com/v1", "ALIBABA_CODING_CN_API_KEY",
    ),
    "siliconflow-cn": ("siliconflow", "https://api.siliconflow.cn/v1", "SILICONFLOW_CN_API_KEY"),
    "stepfun-cn": ("stepfun", "https://api.stepfun.com/v1", "STEPFUN_CN_API_KEY"),
}  # fmt: skip
# The base (international) URL of each provider whose URL or dialect clco-proxy's list has
# differently, as the provider's own documentation gives it.
CURRENT_URLS = {
    "glm": ("anthropic", "https://api.z.ai/api/anthropic"),
    "minimax": ("anthropic", "https://api.minimax.io/anthropic"),
    "mimo": ("anthropic", "https://api.xiaomimimo.com/anthropic"),
    "alibaba-coding": ("chat", "https://coding-intl.dashscope.aliyuncs.com/v1"),
    "azure": ("chat", "https://{AZURE_RESOURCE_NAME}.openai.azure.com/openai/v1"),
    "cloudflare": (
        "chat", "https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/ai/v1",
    ),
    "cohere": ("chat", "https://api.cohere.ai/compatibility/v1"),
    "huggingface": ("chat", "https://router.huggingface.co/v1"),
    "kilocode": ("chat", "https://api.kilo.ai/api/gateway"),
    "ollama-cloud": ("chat", "https://ollama.com/v1"),
    "siliconflow": ("chat", "https://api.siliconflow.com/v1"),
    "stepfun": ("chat", "https://api.stepfun.ai/v1"),
    "vercel": ("chat", "https://ai-gateway.vercel.sh/v1"),
    "kimi": ("anthropic", "https://api.moonshot.ai/anthropic"),
    "qwen": ("anthropic", "https://dashscope-intl.aliyuncs.com/apps/anthropic"),
}  # fmt: skip


def test_catalog_holds_every_required_provider() -> None:
    assert set(CATALOG) >= REQUIRED | set(VARIANTS)
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
    elif preset.auth in ("codex", "copilot"):  # a subscription login, never an API key
        assert url.scheme == "https", preset.base_url
        assert not preset.key_env and not preset.needs_key and not preset.auto_enable
        assert preset.api == ("responses" if preset.auth == "codex" else "chat")
    elif preset.auth == "google":  # Application Default Credentials, never an API key
        assert url.scheme == "https", preset.base_url
        assert not preset.key_env and not preset.needs_key and not preset.auto_enable
    elif preset.auth == "bedrock":  # a Bedrock API key if set, else the AWS credential chain
        assert url.scheme == "https", preset.base_url
        assert not preset.needs_key and not preset.auto_enable
        assert preset.key_env == ("AWS_BEARER_TOKEN_BEDROCK",)
    else:
        assert url.scheme == "https", preset.base_url
        assert preset.needs_key and preset.key_env
        assert preset.auth in ("bearer", "x-api-key", "azure")  # azure: the api-key header
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
    # Bedrock gets the betas it takes in its body (anthroxy.bedrock.BETAS), not the header
    assert CATALOG["bedrock"].profile.drop_betas == ()
    for pid in ANTHROPIC_NATIVE - {"anthropic", "bedrock"}:
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
        # The verified column: the day and the provider's page, for exactly the checked ones.
        verified = f"{preset.verified} ([source]({preset.source}))"
        assert (verified in rows[preset.id]) == bool(preset.verified), preset.id


@pytest.mark.parametrize("pid", sorted(CURRENT_URLS))
def test_base_urls_are_the_documented_current_ones(pid: str) -> None:
    assert (CATALOG[pid].api, CATALOG[pid].base_url) == CURRENT_URLS[pid]


@pytest.mark.parametrize("vid", sorted(VARIANTS))
def test_region_variant_is_its_base_at_another_endpoint(vid: str) -> None:
    base_id, url, own_key = VARIANTS[vid]
    variant, base = CATALOG[vid], CATALOG[base_id]
    assert variant.variant_of == base_id and variant.name != base.name
    assert variant.base_url == url and base.base_url != url
    # its own variable first, then every variable of the base, in the base's order
    assert variant.key_env == (own_key, *base.key_env)
    assert variant.base_url_env == vid.upper().replace("-", "_") + "_BASE_URL"
    for same in ("api", "auth", "profile", "cleaner", "models", "default_model", "needs_key"):
        assert getattr(variant, same) == getattr(base, same), (vid, same)
    # a key exported under the base's name reaches the variant once it is configured
    assert find_key(variant, {base.key_env[0]: "shared"}) == "shared"
    assert find_key(variant, {base.key_env[0]: "shared", own_key: "own"}) == "own"


@pytest.mark.parametrize("vid", sorted(VARIANTS))
def test_discovery_never_enables_both_regions_for_one_key(vid: str) -> None:
    base_id, _, own_key = VARIANTS[vid]
    for name in CATALOG[base_id].key_env:
        found = {p.id for p in available_presets({name: "k"})}
        assert base_id in found and vid not in found, name
    assert {p.id for p in available_presets({own_key: "k"})} == {vid, "ollama"}
    both = {p.id for p in available_presets({own_key: "k", CATALOG[base_id].key_env[0]: "k"})}
    assert {vid, base_id} <= both


def test_verified_entries_name_the_day_and_an_https_page() -> None:
    checked = {p.id for p in PRESETS if p.verified}
    # clco-proxy's 13 differing providers and the region variants, where a page was at hand
    assert checked >= {
        "minimax", "minimax-cn", "qwen", "qwen-cn", "glm-cn", "alibaba-coding-cn", "azure",
        "cloudflare", "cohere", "huggingface", "kilocode", "ollama-cloud", "siliconflow",
        "siliconflow-cn", "stepfun", "stepfun-cn", "vercel",
    }  # fmt: skip
    for preset in PRESETS:
        if preset.verified:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", preset.verified), preset.id
            assert urlsplit(preset.source).scheme == "https", preset.id
        else:
            assert not preset.source, preset.id


def test_claude_model_proxy_models_are_well_known() -> None:
    # its default MODEL_MAP, by provider (a claude-<model> name resolves through these lists)
    expected = {
        "deepseek": {"deepseek-v4-flash", "deepseek-v4-pro"},
        "kimi": {"kimi-k2.6"},
        "glm": {"glm-4.5-air", "glm-4.6", "glm-4.7", "glm-5", "glm-5.1"},
        "mimo": {"mimo-v2-flash", "mimo-v2-pro", "mimo-v2.5-pro", "mimo-v2-omni"},
        "openai": {"gpt-5.5", "gpt-5.4", "gpt-5.4-mini"},
        "gemini": {
            "gemini-3.1-pro-preview", "gemini-3-flash-preview", "gemini-2.5-pro",
            "gemini-2.5-flash", "gemini-3.1-flash-lite-preview", "gemini-2.0-flash",
        },
        "qwen": {"qwen-flash", "qwen-plus", "qwen-max"},
    }  # fmt: skip
    for pid, models in expected.items():
        assert models <= set(CATALOG[pid].models), pid
    # the defaults stay what they were (the first entry is each provider's default model), but
    # Gemini's, which is one a free-tier key may use (a paid-only preview refused every tier)
    defaults = {p: CATALOG[p].default_model for p in ("glm", "mimo", "openai", "gemini", "qwen")}
    assert defaults == {
        "glm": "glm-4.6", "mimo": "mimo-v2.5-pro", "openai": "gpt-5.4",
        "gemini": "gemini-2.5-flash", "qwen": "qwen3.5-plus",
    }  # fmt: skip
