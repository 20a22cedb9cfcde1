"""RoutingTable: every routing rule (docs/configuration.md, "Routing order"), the precedence
between them, and config validation."""

from __future__ import annotations

import pytest

from anthroxy.errors import UnknownModel
from anthroxy.routing.table import Route, RoutingTable, split_target

PROVIDERS = {
    "deepseek": ["deepseek-v4-pro", "deepseek-v4-flash"],
    "openrouter": ["deepseek/deepseek-v4-pro", "moonshotai/kimi-k2.6"],
    "groq": ["llama-3.1-8b-instant", "deepseek-v4-flash"],
    "gemini": [],
}


def table(
    tiers: dict[str, str] | None = None, aliases: dict[str, str] | None = None
) -> RoutingTable:
    return RoutingTable(providers=PROVIDERS, tiers=tiers or {}, aliases=aliases or {})


FULL = table(
    tiers={
        "opus": "deepseek/deepseek-v4-pro",
        "sonnet": "gemini/gemini-3.1-pro-preview",
        "haiku": "llama-3.1-8b-instant@groq",
        "default": "openrouter/moonshotai/kimi-k2.6",
    },
    aliases={
        "fast": "groq/llama-3.1-8b-instant",
        "claude-sonnet-4-5-20250929": "deepseek/deepseek-v4-flash",  # alias beats tier
        "deepseek-v4-flash": "groq/deepseek-v4-flash",  # alias beats provider list
        "big": "deepseek-v4-pro",  # bare name listed by a provider
    },
)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        # rule 1: exact alias (case-sensitive)
        ("fast", Route("fast", "groq", "llama-3.1-8b-instant", "alias")),
        ("big", Route("big", "deepseek", "deepseek-v4-pro", "alias")),
        (
            "claude-sonnet-4-5-20250929",
            Route("claude-sonnet-4-5-20250929", "deepseek", "deepseek-v4-flash", "alias"),
        ),
        # rule 2: provider/model, split at the first slash
        (
            "deepseek/deepseek-v4-pro",
            Route("deepseek/deepseek-v4-pro", "deepseek", "deepseek-v4-pro", "target"),
        ),
        (
            "openrouter/deepseek/deepseek-v4-pro",
            Route(
                "openrouter/deepseek/deepseek-v4-pro",
                "openrouter",
                "deepseek/deepseek-v4-pro",
                "target",
            ),
        ),
        # a model the provider does not list is still routed: the target names it explicitly
        ("groq/some-new-model", Route("groq/some-new-model", "groq", "some-new-model", "target")),
        # rule 2: model@provider, split at the last @
        (
            "gemini-2.5-pro@gemini",
            Route("gemini-2.5-pro@gemini", "gemini", "gemini-2.5-pro", "target"),
        ),
        (
            "deepseek/deepseek-v4-pro@openrouter",
            Route(
                "deepseek/deepseek-v4-pro@openrouter",
                "openrouter",
                "deepseek/deepseek-v4-pro",
                "target",
            ),
        ),
        # rule 3: tier word anywhere in the name, case-insensitive
        (
            "claude-opus-4-6",
            Route("claude-opus-4-6", "deepseek", "deepseek-v4-pro", "tier:opus"),
        ),
        (
            "Claude-SONNET-4-5-20250930",
            Route("Claude-SONNET-4-5-20250930", "gemini", "gemini-3.1-pro-preview", "tier:sonnet"),
        ),
        ("haiku", Route("haiku", "groq", "llama-3.1-8b-instant", "tier:haiku")),
        # Vertex-style '@date' is not a provider: the tier rule still applies
        (
            "claude-sonnet-4@20250514",
            Route("claude-sonnet-4@20250514", "gemini", "gemini-3.1-pro-preview", "tier:sonnet"),
        ),
        # an unknown prefix before '/' is not a target
        (
            "anthropic/claude-haiku-4-5",
            Route("anthropic/claude-haiku-4-5", "groq", "llama-3.1-8b-instant", "tier:haiku"),
        ),
        # rule 4: a provider's models list (first provider in config order)
        (
            "llama-3.1-8b-instant",
            Route("llama-3.1-8b-instant", "groq", "llama-3.1-8b-instant", "provider-models"),
        ),
        (
            "moonshotai/kimi-k2.6",
            Route("moonshotai/kimi-k2.6", "openrouter", "moonshotai/kimi-k2.6", "provider-models"),
        ),
        # rule 5: default tier
        ("gpt-5.4", Route("gpt-5.4", "openrouter", "moonshotai/kimi-k2.6", "default")),
        ("", Route("", "openrouter", "moonshotai/kimi-k2.6", "default")),
        # empty model part after a known provider is not a target
        ("groq/", Route("groq/", "openrouter", "moonshotai/kimi-k2.6", "default")),
    ],
)
def test_resolve_rules(requested: str, expected: Route) -> None:
    assert FULL.resolve(requested) == expected


def test_provider_models_order_is_config_order() -> None:
    # deepseek-v4-flash is listed by deepseek first, then groq
    assert table().resolve("deepseek-v4-flash") == Route(
        "deepseek-v4-flash", "deepseek", "deepseek-v4-flash", "provider-models"
    )


def test_target_beats_tier_and_tier_beats_provider_models() -> None:
    t = table(tiers={"sonnet": "groq/llama-3.1-8b-instant"})
    assert t.resolve("deepseek/sonnet-like").rule == "target"
    t2 = RoutingTable(
        providers={"groq": ["haiku-sized-model"], "deepseek": []},
        tiers={"haiku": "deepseek/deepseek-v4-flash"},
        aliases={},
    )
    assert t2.resolve("haiku-sized-model") == Route(
        "haiku-sized-model", "deepseek", "deepseek-v4-flash", "tier:haiku"
    )


def test_unconfigured_tier_word_falls_through() -> None:
    t = table(tiers={"default": "deepseek/deepseek-v4-pro"})
    assert t.resolve("claude-opus-4-6").rule == "default"


def test_unknown_model_error_names_model_choices_and_fix() -> None:
    t = table(aliases={"fast": "groq/llama-3.1-8b-instant"})
    with pytest.raises(UnknownModel) as info:
        t.resolve("claude-opus-4-6")
    err = info.value
    assert err.status == 404
    assert err.error_type == "not_found_error"
    msg = err.message
    assert "'claude-opus-4-6'" in msg
    assert "fast" in msg and "deepseek/deepseek-v4-pro" in msg
    assert "[aliases]" in msg and '[tiers] default = "provider/model"' in msg
    assert err.to_body()["error"]["type"] == "not_found_error"


def test_target_naming_an_unconfigured_provider_is_a_404_not_the_default_tier() -> None:
    t = table(tiers={"default": "deepseek/deepseek-v4-pro"})
    with pytest.raises(UnknownModel) as info:
        t.resolve("openai/gpt-4o")
    assert info.value.status == 404
    message = info.value.message
    assert "provider 'openai'" in message and "not configured" in message
    assert "deepseek, gemini, groq, openrouter" in message
    # Names a configured provider lists, and slashes that name no known provider, still route.
    assert t.resolve("moonshotai/kimi-k2.6").provider == "openrouter"
    assert t.resolve("my-org/custom-model").rule == "default"


def test_unknown_model_message_is_bounded() -> None:
    many = {"p": [f"m{i}" for i in range(100)]}
    t = RoutingTable(providers=many, tiers={}, aliases={})
    with pytest.raises(UnknownModel) as info:
        t.resolve("x")
    # 100 p/m<i> targets + 100 claude-m<i> names, 12 shown
    assert "... and 188 more" in info.value.message
    assert len(info.value.message) < 600


def test_unknown_model_with_nothing_configured() -> None:
    t = RoutingTable(providers={}, tiers={}, aliases={})
    with pytest.raises(UnknownModel) as info:
        t.resolve("claude-sonnet-4-5")
    message = info.value.message
    assert "'claude-sonnet-4-5'" in message and "none is set up yet" in message
    assert "DEEPSEEK_API_KEY" in message and "anthroxy config init" in message


@pytest.mark.parametrize(
    ("tiers", "aliases", "pattern"),
    [
        ({"sonnet": "mistral/mistral-large-latest"}, {}, r"\[tiers\] sonnet.*'mistral'"),
        ({}, {"x": "mistral-large-latest@mistral"}, r"\[aliases\] 'x'.*'mistral'.*deepseek"),
        ({}, {"x": "no-such-model"}, r"not 'provider/model'"),
        ({}, {"x": ""}, r"non-empty"),
        ({}, {"x": "groq/"}, r"'groq/'"),
        ({"medium": "groq/llama-3.1-8b-instant"}, {}, r"unknown tier name.*'medium'"),
    ],
)
def test_bad_config_values_raise_value_error(
    tiers: dict[str, str], aliases: dict[str, str], pattern: str
) -> None:
    with pytest.raises(ValueError, match=pattern):
        table(tiers=tiers, aliases=aliases)


def test_model_names_lists_aliases_tier_words_and_targets() -> None:
    names = FULL.model_names()
    assert names[:4] == ["fast", "claude-sonnet-4-5-20250929", "deepseek-v4-flash", "big"]
    assert {"opus", "sonnet", "haiku"} <= set(names)
    assert "default" not in names
    assert "openrouter/deepseek/deepseek-v4-pro" in names
    assert "groq/llama-3.1-8b-instant" in names
    assert len(names) == len(set(names))
    # every advertised name actually resolves
    for name in names:
        FULL.resolve(name)


def test_describe_is_json_ready() -> None:
    import json

    data = json.loads(json.dumps(FULL.describe()))
    assert data["tiers"]["haiku"] == "groq/llama-3.1-8b-instant"
    assert data["aliases"]["big"] == "deepseek/deepseek-v4-pro"
    assert data["providers"]["openrouter"] == ["deepseek/deepseek-v4-pro", "moonshotai/kimi-k2.6"]


def test_table_does_not_follow_later_changes_to_config() -> None:
    # "local" is no catalogue id, so no well-known models join the claude-<model> names
    providers = {"local": ["a"]}
    aliases = {"x": "local/a"}
    t = RoutingTable(providers=providers, tiers={}, aliases=aliases)
    providers["local"].append("b")
    aliases["y"] = "local/a"
    assert t.model_names() == ["x", "local/a", "claude-a"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b/c", ("a", "b/c")),
        ("b/c@a", ("a", "b/c")),
        ("x/b", None),
        ("b@x", None),
        ("a@b@a", ("a", "a@b")),
        ("@a", None),
        ("a/", None),
        ("", None),
    ],
)
def test_split_target(name: str, expected: tuple[str, str] | None) -> None:
    assert split_target(name, {"a"}) == expected


# --- fallback chains -------------------------------------------------------------


def test_chain_appends_fallbacks_in_config_order_keeping_the_requested_name() -> None:
    t = RoutingTable(
        providers=PROVIDERS,
        tiers={"sonnet": "deepseek/deepseek-v4-pro"},
        aliases={},
        fallbacks={
            "deepseek/deepseek-v4-pro": [
                "openrouter/deepseek/deepseek-v4-pro",
                "llama-3.1-8b-instant@groq",
            ]
        },
    )
    route = t.resolve("claude-sonnet-4-6")
    assert t.chain(route) == [
        Route("claude-sonnet-4-6", "deepseek", "deepseek-v4-pro", "tier:sonnet"),
        Route("claude-sonnet-4-6", "openrouter", "deepseek/deepseek-v4-pro", "fallback:1"),
        Route("claude-sonnet-4-6", "groq", "llama-3.1-8b-instant", "fallback:2"),
    ]


def test_chain_key_spelling_does_not_matter_and_duplicates_are_dropped() -> None:
    # The key is written model@provider, the route comes from provider/model; the list repeats
    # one target and names the key itself: each target is tried once, the primary first.
    t = RoutingTable(
        providers=PROVIDERS,
        tiers={},
        aliases={},
        fallbacks={
            "deepseek-v4-pro@deepseek": [
                "groq/llama-3.1-8b-instant",
                "deepseek/deepseek-v4-pro",
                "llama-3.1-8b-instant@groq",
                "gemini/gemini-2.5-pro",
            ]
        },
    )
    chain = t.chain(t.resolve("deepseek/deepseek-v4-pro"))
    assert [(r.provider, r.model, r.rule) for r in chain] == [
        ("deepseek", "deepseek-v4-pro", "target"),
        ("groq", "llama-3.1-8b-instant", "fallback:1"),
        ("gemini", "gemini-2.5-pro", "fallback:2"),
    ]


def test_chain_without_fallbacks_is_the_route_alone_and_not_transitive() -> None:
    t = RoutingTable(
        providers=PROVIDERS,
        tiers={},
        aliases={},
        fallbacks={
            "deepseek/deepseek-v4-pro": ["groq/llama-3.1-8b-instant"],
            "groq/llama-3.1-8b-instant": ["gemini/gemini-2.5-pro"],
        },
    )
    alone = t.resolve("deepseek/deepseek-v4-flash")
    assert t.chain(alone) == [alone]
    # groq's own fallback (gemini) is not appended to deepseek's chain
    assert [r.provider for r in t.chain(t.resolve("deepseek/deepseek-v4-pro"))] == [
        "deepseek",
        "groq",
    ]


@pytest.mark.parametrize(
    ("fallbacks", "pattern"),
    [
        ({"grok/x": ["groq/llama-3.1-8b-instant"]}, r"\[routing\.fallbacks\] 'grok/x'.*'grok'"),
        (
            {"deepseek/deepseek-v4-pro": ["groq/a", "mistral/b"]},
            r"\[routing\.fallbacks\] 'deepseek/deepseek-v4-pro'\[1\].*'mistral'",
        ),
        ({"deepseek/deepseek-v4-pro": "groq/a"}, r"expected a list of targets"),
        ({"deepseek/deepseek-v4-pro": [""]}, r"\[0\].*non-empty"),
        (
            {"deepseek/deepseek-v4-pro": [], "deepseek-v4-pro@deepseek": []},
            r"same target as 'deepseek/deepseek-v4-pro'",
        ),
    ],
)
def test_bad_fallbacks_raise_value_error_naming_the_entry(
    fallbacks: dict[str, object], pattern: str
) -> None:
    with pytest.raises(ValueError, match=pattern):
        RoutingTable(providers=PROVIDERS, tiers={}, aliases={}, fallbacks=fallbacks)  # type: ignore[arg-type]


# --- claude-<upstream model> names -----------------------------------------------


CATALOGUE_PROVIDERS = {
    "deepseek": ["deepseek-v4-pro", "deepseek-v4-flash"],
    "kimi": ["kimi-k2.6"],
    "gemini": [],  # lists nothing itself: its catalogue models count
    "anthropic": ["claude-sonnet-4-6"],
}
NAMED = RoutingTable(
    providers=CATALOGUE_PROVIDERS,
    tiers={"sonnet": "kimi/kimi-k2.6", "default": "deepseek/deepseek-v4-flash"},
    aliases={"claude-kimi-k2.6": "deepseek/deepseek-v4-pro"},  # an alias still wins
)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("claude-deepseek-v4-pro", ("deepseek", "deepseek-v4-pro", "claude-name")),
        ("claude-gemini-3.1-pro-preview", ("gemini", "gemini-3.1-pro-preview", "claude-name")),
        ("claude-gemini-2.5-flash", ("gemini", "gemini-2.5-flash", "claude-name")),
        ("claude-kimi-k2.6", ("deepseek", "deepseek-v4-pro", "alias")),
        # kimi-k2-thinking is a catalogue model of kimi though the config lists only kimi-k2.6
        ("claude-kimi-k2-thinking", ("kimi", "kimi-k2-thinking", "claude-name")),
        # not a model anyone lists: the tier word decides, as before
        ("claude-sonnet-4-5", ("kimi", "kimi-k2.6", "tier:sonnet")),
        ("claude-sonnet-4-6", ("kimi", "kimi-k2.6", "tier:sonnet")),
        # groq is not configured: its catalogue models give no claude- names
        ("claude-llama-3.1-8b-instant", ("deepseek", "deepseek-v4-flash", "default")),
        # no double prefix for models already named claude-...
        ("claude-claude-sonnet-4-6", ("kimi", "kimi-k2.6", "tier:sonnet")),
        # the prefix is exact
        ("Claude-deepseek-v4-pro", ("deepseek", "deepseek-v4-flash", "default")),
    ],
)
def test_claude_prefixed_upstream_names(requested: str, expected: tuple[str, str, str]) -> None:
    route = NAMED.resolve(requested)
    assert (route.provider, route.model, route.rule) == expected
    assert route.requested_model == requested


def test_claude_names_follow_config_order_for_a_shared_model() -> None:
    t = RoutingTable(
        providers={"groq": ["deepseek-v4-flash"], "deepseek": ["deepseek-v4-flash"]},
        tiers={},
        aliases={},
    )
    assert t.resolve("claude-deepseek-v4-flash").provider == "groq"
    # deepseek-v4-pro is listed by no one but is deepseek's catalogue model
    assert t.resolve("claude-deepseek-v4-pro") == Route(
        "claude-deepseek-v4-pro", "deepseek", "deepseek-v4-pro", "claude-name"
    )


def test_model_names_include_claude_names_and_all_resolve() -> None:
    names = NAMED.model_names()
    assert "claude-deepseek-v4-pro" in names
    assert "claude-gemini-3.1-pro-preview" in names
    assert "claude-claude-sonnet-4-6" not in names
    assert len(names) == len(set(names))
    for name in names:
        NAMED.resolve(name)


def test_describe_reports_issue_4_routing() -> None:
    t = RoutingTable(
        providers=PROVIDERS,
        tiers={},
        aliases={},
        fallbacks={"deepseek-v4-pro@deepseek": ["groq/llama-3.1-8b-instant"]},
        scenarios={"think": "deepseek-v4-flash"},
        long_context_threshold=1000,
    )
    data = t.describe()
    assert data["fallbacks"] == {"deepseek/deepseek-v4-pro": ["groq/llama-3.1-8b-instant"]}
    assert data["scenarios"] == {"think": "deepseek/deepseek-v4-flash"}
    assert data["long_context_threshold"] == 1000
    assert data["order"][:4] == ["alias", "target", "claude-name", "scenario"]
