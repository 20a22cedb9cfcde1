"""Claude-style model names: claude-model-proxy's built-in ``claude-<model>`` table reaches each
model's provider, and stock Claude names reach Anthropic as named when the table is told to
send them there (rule ``anthropic``, docs/configuration.md "Routing order")."""

from __future__ import annotations

import pytest

from anthroxy.routing.table import STOCK_CLAUDE, Route, RoutingTable

# claude-model-proxy's default MODEL_MAP with its MODEL_ROUTES, copied by eye from its README
# (request name -> (its provider name, upstream model)).
MODEL_MAP = {
    "claude-deepseek-v4-flash": ("deepseek", "deepseek-v4-flash"),
    "claude-deepseek-v4-pro": ("deepseek", "deepseek-v4-pro"),
    "claude-kimi-k2.6": ("moonshot", "kimi-k2.6"),
    "claude-glm-4.5-air": ("glm", "glm-4.5-air"),
    "claude-glm-4.6": ("glm", "glm-4.6"),
    "claude-glm-4.7": ("glm", "glm-4.7"),
    "claude-glm-5": ("glm", "glm-5"),
    "claude-glm-5.1": ("glm", "glm-5.1"),
    "claude-mimo-v2-flash": ("xiaomi", "mimo-v2-flash"),
    "claude-mimo-v2-pro": ("xiaomi", "mimo-v2-pro"),
    "claude-mimo-v2.5-pro": ("xiaomi", "mimo-v2.5-pro"),
    "claude-mimo-v2-omni": ("xiaomi", "mimo-v2-omni"),
    "claude-gpt-5.5": ("openai", "gpt-5.5"),
    "claude-gpt-5.4": ("openai", "gpt-5.4"),
    "claude-gpt-5.4-mini": ("openai", "gpt-5.4-mini"),
    "claude-gemini-3.1-pro-preview": ("gemini", "gemini-3.1-pro-preview"),
    "claude-gemini-3-flash-preview": ("gemini", "gemini-3-flash-preview"),
    "claude-gemini-2.5-pro": ("gemini", "gemini-2.5-pro"),
    "claude-gemini-2.5-flash": ("gemini", "gemini-2.5-flash"),
    "claude-gemini-3.1-flash-lite-preview": ("gemini", "gemini-3.1-flash-lite-preview"),
    "claude-gemini-2.0-flash": ("gemini", "gemini-2.0-flash"),
    "claude-qwen-flash": ("qwen", "qwen-flash"),
    "claude-qwen-plus": ("qwen", "qwen-plus"),
    "claude-qwen-max": ("qwen", "qwen-max"),
    "claude-haiku-4-5": ("anthropic", "claude-haiku-4-5"),
    "claude-sonnet-4-6": ("anthropic", "claude-sonnet-4-6"),
    "claude-opus-4-7": ("anthropic", "claude-opus-4-7"),
    "claude-sonnet-4-5": ("anthropic", "claude-sonnet-4-5"),
    "claude-opus-4-1": ("anthropic", "claude-opus-4-1"),
}
# claude-model-proxy's provider names -> catalogue ids
CATALOGUE_ID = {"moonshot": "kimi", "xiaomi": "mimo"}
# Every provider configured with no models of its own: only the catalogue's lists apply.
PROVIDERS: dict[str, list[str]] = {
    pid: [] for pid in ("deepseek", "kimi", "glm", "mimo", "openai", "gemini", "qwen", "anthropic")
}
DEFAULT_TIERS = dict.fromkeys(("opus", "sonnet", "haiku", "default"), "deepseek/deepseek-v4-pro")


def proxy_like(*, stock_claude: str | None = "anthropic") -> RoutingTable:
    return RoutingTable(
        providers=PROVIDERS, tiers=DEFAULT_TIERS, aliases={}, stock_claude=stock_claude
    )


@pytest.mark.parametrize("name", sorted(MODEL_MAP))
def test_every_default_model_map_name_reaches_its_documented_provider(name: str) -> None:
    provider, upstream = MODEL_MAP[name]
    route = proxy_like().resolve(name)
    assert (route.provider, route.model) == (CATALOGUE_ID.get(provider, provider), upstream)
    assert route.rule == ("anthropic" if provider == "anthropic" else "claude-name")


@pytest.mark.parametrize(
    "name",
    [
        "claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5", "claude-opus-4-6",
        "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001",
        "claude-opus-4-20250514", "claude-3-7-sonnet-20250219", "claude-3-5-haiku-latest",
    ],
)  # fmt: skip
def test_stock_names_and_dated_forms_go_to_anthropic_as_named(name: str) -> None:
    assert STOCK_CLAUDE.match(name)
    assert proxy_like().resolve(name) == Route(name, "anthropic", name, "anthropic")
    # without a stock provider the same name is a tier name, as before
    assert proxy_like(stock_claude=None).resolve(name).rule.startswith("tier:")


@pytest.mark.parametrize(
    "name",
    ["claude-sonnet", "anthroxy-opus", "claude-deepseek-v4-pro", "claude-sonnet-4-6-thinking",
     "Claude-Sonnet-4-6", "claude-sonnet-4-6x", "my-claude-sonnet-4-6"],
)  # fmt: skip
def test_other_names_are_not_stock_claude_names(name: str) -> None:
    assert not STOCK_CLAUDE.match(name)
    assert proxy_like().resolve(name).rule != "anthropic"


def test_aliases_and_scenarios_still_win_over_the_stock_rule() -> None:
    t = RoutingTable(
        providers=PROVIDERS,
        tiers=DEFAULT_TIERS,
        aliases={"claude-sonnet-4-6": "glm/glm-4.7"},
        scenarios={"image": "gemini/gemini-2.5-flash"},
        stock_claude="anthropic",
    )
    assert t.resolve("claude-sonnet-4-6").rule == "alias"
    image = {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}
    assert t.resolve("claude-opus-4-7", image).rule == "scenario:image"
    assert t.resolve("claude-opus-4-7", {"messages": []}).rule == "anthropic"


def test_stock_provider_must_be_configured() -> None:
    with pytest.raises(ValueError, match="'anthropic' is not configured"):
        RoutingTable(providers={"deepseek": []}, tiers={}, aliases={}, stock_claude="anthropic")


def test_model_names_list_the_stock_names_only_while_the_rule_is_on() -> None:
    t = RoutingTable(
        providers={"anthropic": ["claude-opus-4-7", "claude-sonnet-4-6"], "deepseek": []},
        tiers={},
        aliases={},
        stock_claude="anthropic",
    )
    names = t.model_names()
    assert {"claude-opus-4-7", "claude-sonnet-4-6"} <= set(names)
    assert all(t.resolve(n).rule == "anthropic" for n in ("claude-opus-4-7", "claude-sonnet-4-6"))
    off = RoutingTable(providers={"anthropic": ["claude-opus-4-7"]}, tiers={}, aliases={})
    assert "claude-opus-4-7" not in off.model_names()


def test_describe_shows_the_stock_rule() -> None:
    assert proxy_like().describe()["stock_claude"] == "anthropic"
    assert proxy_like(stock_claude=None).describe()["stock_claude"] is None
    order = proxy_like().describe()["order"]
    assert order.index("scenario") < order.index("anthropic") < order.index("tier")


def test_variants_answer_claude_names_like_their_base() -> None:
    t = RoutingTable(providers={"glm-cn": [], "minimax-cn": []}, tiers={}, aliases={})
    route = t.resolve("claude-glm-5.1")
    assert route == Route("claude-glm-5.1", "glm-cn", "glm-5.1", "claude-name")
    assert t.resolve("claude-MiniMax-M2.7").provider == "minimax-cn"
