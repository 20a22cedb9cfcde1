"""claude-model-proxy's habit carried over by the configuration: with an Anthropic key and no
tier of the user's own, Claude's stock model names reach Anthropic as named; once the user sets
a tier (file, environment or command line), the tiers redirect them. Region variants are
configured by naming them. No traffic: only the settings and the routing table."""

from __future__ import annotations

from pathlib import Path

import pytest

from anthroxy_server.config import ConfigError, load_settings
from anthroxy_server.config.schema import Settings

# The keys claude-model-proxy's README exports (placeholders, never sent anywhere).
PROXY_KEYS = {
    name: "k-" + name.lower()
    for name in (
        "DEEPSEEK_API_KEY", "MOONSHOT_API_KEY", "GLM_API_KEY", "XIAOMI_API_KEY",
        "DASHSCOPE_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY",
    )
}  # fmt: skip
STOCK = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7", "claude-sonnet-4-5")


def load(tmp_path: Path, env: dict[str, str], toml: str = "", **kw: object) -> Settings:
    home = tmp_path / "home"
    if toml:
        (home / ".config" / "anthroxy").mkdir(parents=True)
        (home / ".config" / "anthroxy" / "config.toml").write_text(toml)
    home.mkdir(parents=True, exist_ok=True)
    return load_settings(
        env=env,
        cwd=tmp_path,
        home=home,
        managed_path=tmp_path / "none.toml",
        **kw,  # type: ignore[arg-type]
    )


def test_claude_model_proxy_environment_routes_every_documented_name(tmp_path: Path) -> None:
    s = load(tmp_path, PROXY_KEYS)
    expected = {
        "claude-deepseek-v4-pro": ("deepseek", "deepseek-v4-pro"),
        "claude-kimi-k2.6": ("kimi", "kimi-k2.6"),
        "claude-glm-5.1": ("glm", "glm-5.1"),
        "claude-mimo-v2-omni": ("mimo", "mimo-v2-omni"),
        "claude-qwen-max": ("qwen", "qwen-max"),
        "claude-gpt-5.5": ("openai", "gpt-5.5"),
        "claude-gemini-2.0-flash": ("gemini", "gemini-2.0-flash"),
        **{name: ("anthropic", name) for name in STOCK},
        "claude-opus-4-1-20250805": ("anthropic", "claude-opus-4-1-20250805"),
    }
    for name, target in expected.items():
        route = s.routing.resolve(name)
        assert (route.provider, route.model) == target, name
    # the discovered default still catches everything else, and the tiers' own words
    assert s.routing.resolve("sonnet").provider == "deepseek"
    assert s.routing.resolve("something-else").rule == "default"
    assert s.routing.describe()["stock_claude"] == "anthropic"


def test_tiers_in_a_file_win_over_the_stock_rule(tmp_path: Path) -> None:
    s = load(tmp_path, PROXY_KEYS, '[tiers]\nsonnet = "glm/glm-4.7"\n')
    assert s.routing.describe()["stock_claude"] is None
    assert s.routing.resolve("claude-sonnet-4-6").provider == "glm"
    # no opus tier and no default: the name is one Anthropic's catalogue entry lists
    route = s.routing.resolve("claude-opus-4-7")
    assert (route.provider, route.rule) == ("anthropic", "provider-models")


def test_tiers_from_environment_variables_win_too(tmp_path: Path) -> None:
    s = load(tmp_path, {**PROXY_KEYS, "BIG_MODEL": "deepseek/deepseek-v4-pro"})
    assert s.routing.resolve("claude-opus-4-7").rule == "tier:opus"
    assert s.routing.describe()["stock_claude"] is None


def test_tiers_from_the_command_line_win_too(tmp_path: Path) -> None:
    s = load(tmp_path, PROXY_KEYS, overrides={"tiers.haiku": "gemini/gemini-2.5-flash"})
    assert s.routing.resolve("claude-haiku-4-5").provider == "gemini"


@pytest.mark.parametrize(
    "env",
    [
        {"DEEPSEEK_API_KEY": "d"},  # no Anthropic key: the tiers, as before
        {"DEEPSEEK_API_KEY": "d", "ANTHROPIC_API_KEY": "   "},  # blank is no key
    ],
)
def test_without_an_anthropic_key_stock_names_go_to_the_tiers(
    tmp_path: Path, env: dict[str, str]
) -> None:
    s = load(tmp_path, env)
    assert s.routing.resolve("claude-sonnet-4-6").rule == "tier:sonnet"
    assert s.routing.describe()["stock_claude"] is None


def test_anthropic_in_a_file_without_tiers(tmp_path: Path) -> None:
    toml = "[providers.deepseek]\n[providers.anthropic]\n"
    s = load(tmp_path, {"DEEPSEEK_API_KEY": "d", "ANTHROPIC_API_KEY": "a"}, toml)
    route = s.routing.resolve("claude-opus-4-7")
    assert (route.provider, route.model) == ("anthropic", "claude-opus-4-7")
    assert route.rule == "anthropic"
    # an alias naming the stock name is the user's choice and wins
    s = load(
        tmp_path / "b",
        {"DEEPSEEK_API_KEY": "d", "ANTHROPIC_API_KEY": "a"},
        toml + '[aliases]\n"claude-opus-4-7" = "deepseek/deepseek-v4-pro"\n',
    )
    assert s.routing.resolve("claude-opus-4-7").provider == "deepseek"


def test_a_region_variant_is_enabled_by_its_own_key_or_by_naming_it(tmp_path: Path) -> None:
    s = load(tmp_path, {"MINIMAX_API_KEY": "intl"})
    assert set(s.providers) >= {"minimax"} and "minimax-cn" not in s.providers
    s = load(tmp_path / "b", {"MINIMAX_CN_API_KEY": "cn"})
    assert "minimax-cn" in s.providers and "minimax" not in s.providers
    assert s.providers["minimax-cn"].base_url == "https://api.minimaxi.com/anthropic"
    assert s.routing.resolve("claude-sonnet-4-6").provider == "minimax-cn"  # the only provider
    s = load(tmp_path / "c", {"ZHIPU_API_KEY": "z"}, "[providers.glm-cn]\n")
    provider = s.providers["glm-cn"]
    assert provider.base_url == "https://open.bigmodel.cn/api/anthropic"
    assert (provider.api, provider.key_source) == ("anthropic", "env:ZHIPU_API_KEY")
    assert provider.cleaner.signer == "glm"  # one thinking-signature family with Z.AI


def test_a_named_variant_without_any_key_says_which_variables_it_reads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {}, "[providers.stepfun-cn]\n")
    assert any("STEPFUN_CN_API_KEY or STEPFUN_API_KEY" in line for line in info.value.problems)
