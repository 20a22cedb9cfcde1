"""Scenario routing: what each scenario matches, and the precedence between aliases, targets,
claude-<model> names, scenarios, tiers, provider lists and the default."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from anthroxy.errors import InvalidRequest
from anthroxy.routing.scenarios import has_image, has_web_search_tool, is_background, wants_thinking
from anthroxy.routing.table import Route, RoutingTable

PROVIDERS = {
    "deepseek": ["deepseek-v4-pro", "deepseek-v4-flash"],
    "groq": ["llama-3.1-8b-instant"],
    "gemini": ["gemini-2.5-pro"],
    "perplexity": ["sonar"],
    "openai": ["gpt-5.4"],
    "kimi": ["kimi-k2.6"],
}
SCENARIOS = {
    "background": "groq/llama-3.1-8b-instant",
    "think": "deepseek/deepseek-v4-pro",
    "long_context": "gemini/gemini-2.5-pro",
    "web_search": "perplexity/sonar",
    "image": "gpt-5.4@openai",
}
TABLE = RoutingTable(
    providers=PROVIDERS,
    tiers={
        "opus": "kimi/kimi-k2.6",
        "sonnet": "kimi/kimi-k2.6",
        "haiku": "deepseek/deepseek-v4-flash",
        "default": "deepseek/deepseek-v4-flash",
    },
    aliases={"mine": "openai/gpt-5.4"},
    scenarios=SCENARIOS,
    # above one image (an unreadable image counts as the 1,600-token cap), below LONG
    long_context_threshold=2000,
)

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
WEB_SEARCH_SERVER_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
# Claude Code's own client tool: present in every request, must NOT count as web search.
CLIENT_WEB_SEARCH = {
    "name": "WebSearch",
    "description": "search",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}


def body(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": "x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    out.update(extra)
    return out


def with_blocks(*blocks: Any) -> dict[str, Any]:
    return body(messages=[{"role": "user", "content": list(blocks)}])


# --- the predicates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        (with_blocks({"type": "text", "text": "look"}, IMAGE), True),
        (
            with_blocks(
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [IMAGE]},
            ),
            True,
        ),
        (with_blocks({"type": "tool_result", "tool_use_id": "toolu_1", "content": "png"}), False),
        (body(), False),  # string content
        (with_blocks({"type": "text", "text": "image"}), False),
        (body(messages="not a list"), False),  # shape problems are the translator's to report
        (with_blocks("stray string", 3), False),
        # a document is not an image
        (with_blocks({"type": "document", "source": {"type": "text", "data": "x"}}), False),
    ],
)
def test_has_image(request_body: dict[str, Any], expected: bool) -> None:
    assert has_image(request_body) is expected


def test_has_image_in_a_later_assistant_or_user_turn() -> None:
    request_body = body(
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "send it"}]},
            {"role": "user", "content": [IMAGE]},
        ]
    )
    assert has_image(request_body)


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        ([CLIENT_WEB_SEARCH, WEB_SEARCH_SERVER_TOOL], True),
        ([{"type": "web_search_20260209", "name": "web_search"}], True),
        ([CLIENT_WEB_SEARCH], False),
        ([{"name": "web_search", "input_schema": {"type": "object"}}], False),
        ([{"type": "custom", "name": "web_search", "input_schema": {}}], False),
        ([{"type": "web_fetch_20250910", "name": "web_fetch"}], False),
        ([], False),
        (None, False),
        ("web_search_20250305", False),
    ],
)
def test_has_web_search_tool(tools: Any, expected: bool) -> None:
    assert has_web_search_tool(body(tools=tools)) is expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}}, True),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, True),
        # Claude Code's everyday request: adaptive with effort high -> not "think"
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}, False),
        ({"thinking": {"type": "adaptive"}}, False),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}}, True),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, True),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, False),
        ({"thinking": {"type": "adaptive"}, "output_config": "max"}, False),
        ({"thinking": {"type": "disabled"}}, False),
        # effort without thinking is not thinking
        ({"output_config": {"effort": "max"}}, False),
        ({"thinking": "enabled"}, False),
        ({}, False),
    ],
)
def test_wants_thinking(extra: dict[str, Any], expected: bool) -> None:
    assert wants_thinking(body(**extra)) is expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-haiku-4-5", True),
        ("claude-3-5-HAIKU-20241022", True),
        ("haiku", True),
        ("claude-sonnet-4-6", False),
        ("deepseek-v4-flash", False),
    ],
)
def test_is_background(model: str, expected: bool) -> None:
    assert is_background(model) is expected


# --- each scenario through resolve --------------------------------------------------------

LONG = "word " * 4000  # 20,000 ASCII characters: about 5,000 tokens at 4 characters per token


@pytest.mark.parametrize(
    ("model", "request_body", "expected"),
    [
        ("claude-haiku-4-5", body(), ("groq", "llama-3.1-8b-instant", "scenario:background")),
        (
            "claude-sonnet-4-6",
            body(thinking={"type": "enabled", "budget_tokens": 4000}),
            ("deepseek", "deepseek-v4-pro", "scenario:think"),
        ),
        (
            "claude-sonnet-4-6",
            body(messages=[{"role": "user", "content": LONG}]),
            ("gemini", "gemini-2.5-pro", "scenario:long_context"),
        ),
        (
            "claude-sonnet-4-6",
            body(tools=[CLIENT_WEB_SEARCH, WEB_SEARCH_SERVER_TOOL]),
            ("perplexity", "sonar", "scenario:web_search"),
        ),
        ("claude-opus-4-6", with_blocks(IMAGE), ("openai", "gpt-5.4", "scenario:image")),
        # nothing special: the tier
        (
            "claude-sonnet-4-6",
            body(
                tools=[CLIENT_WEB_SEARCH],
                thinking={"type": "adaptive"},
                output_config={"effort": "high"},
            ),
            ("kimi", "kimi-k2.6", "tier:sonnet"),
        ),
    ],
)
def test_each_scenario(
    model: str, request_body: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    route = TABLE.resolve(model, request_body)
    assert (route.provider, route.model, route.rule) == expected
    assert route.requested_model == model


def test_input_tokens_from_the_caller_decide_long_context() -> None:
    # The caller's estimate wins over the table's own: a short body declared long, and back.
    short, long = body(), body(messages=[{"role": "user", "content": LONG}])
    assert TABLE.resolve("claude-sonnet-4-6", short, input_tokens=2001).rule == (
        "scenario:long_context"
    )
    # exactly the threshold is not above it
    assert TABLE.resolve("claude-sonnet-4-6", long, input_tokens=2000).rule == "tier:sonnet"


def test_without_the_request_no_scenario_applies() -> None:
    # count_tokens, /v1/models lookups and the launcher resolve names alone
    assert TABLE.resolve("claude-haiku-4-5").rule == "tier:haiku"
    assert TABLE.resolve("claude-haiku-4-5", input_tokens=10**6).rule == "tier:haiku"


def test_resolve_does_not_modify_the_request() -> None:
    request_body = body(
        messages=[{"role": "user", "content": [IMAGE]}],
        tools=[WEB_SEARCH_SERVER_TOOL],
        thinking={"type": "enabled", "budget_tokens": 2000},
    )
    before = copy.deepcopy(request_body)
    TABLE.resolve("claude-haiku-4-5", request_body)
    assert request_body == before


def test_long_context_estimate_reports_a_malformed_body_with_its_path() -> None:
    only_long = RoutingTable(
        providers=PROVIDERS, tiers={}, aliases={}, scenarios={"long_context": "gemini-2.5-pro"}
    )
    with pytest.raises(InvalidRequest) as info:
        only_long.resolve("claude-sonnet-4-6", {"messages": "oops"})
    assert info.value.path == "$.messages"


# --- precedence ---------------------------------------------------------------------------

EVERYTHING = body(
    messages=[{"role": "user", "content": [{"type": "text", "text": LONG}, IMAGE]}],
    tools=[WEB_SEARCH_SERVER_TOOL],
    thinking={"type": "enabled", "budget_tokens": 2000},
)


def without(request_body: dict[str, Any], *what: str) -> dict[str, Any]:
    """EVERYTHING minus some features, rebuilt (never by mutating a shared dict)."""
    out = copy.deepcopy(request_body)
    if "long" in what:
        out["messages"][0]["content"][0]["text"] = "short"
    if "image" in what:
        out["messages"][0]["content"] = out["messages"][0]["content"][:1]
    if "web" in what:
        out["tools"] = [CLIENT_WEB_SEARCH]
    if "think" in what:
        out["thinking"] = {"type": "adaptive"}
    return out


@pytest.mark.parametrize(
    ("removed", "expected_rule"),
    [
        ((), "scenario:long_context"),
        (("long",), "scenario:image"),
        (("long", "image"), "scenario:web_search"),
        (("long", "image", "web"), "scenario:think"),
        (("long", "image", "web", "think"), "scenario:background"),
    ],
)
def test_scenario_order(removed: tuple[str, ...], expected_rule: str) -> None:
    # a haiku name, so background matches too: every step shows the next scenario wins
    assert TABLE.resolve("claude-haiku-4-5", without(EVERYTHING, *removed)).rule == expected_rule


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # explicit choices beat every scenario
        ("mine", Route("mine", "openai", "gpt-5.4", "alias")),
        ("kimi/kimi-k2.6", Route("kimi/kimi-k2.6", "kimi", "kimi-k2.6", "target")),
        ("kimi-k2.6@kimi", Route("kimi-k2.6@kimi", "kimi", "kimi-k2.6", "target")),
        (
            "claude-deepseek-v4-flash",
            Route("claude-deepseek-v4-flash", "deepseek", "deepseek-v4-flash", "claude-name"),
        ),
        # scenarios beat tier words, provider lists and the default
        (
            "claude-opus-4-6",
            Route("claude-opus-4-6", "gemini", "gemini-2.5-pro", "scenario:long_context"),
        ),
        ("sonar", Route("sonar", "gemini", "gemini-2.5-pro", "scenario:long_context")),
        ("anything", Route("anything", "gemini", "gemini-2.5-pro", "scenario:long_context")),
    ],
)
def test_explicit_names_beat_scenarios_and_scenarios_beat_the_rest(
    model: str, expected: Route
) -> None:
    assert TABLE.resolve(model, EVERYTHING) == expected


def test_a_scenario_serves_names_nothing_else_routes() -> None:
    # no tiers, no default: without the scenario this would be a 404
    t = RoutingTable(providers=PROVIDERS, tiers={}, aliases={}, scenarios=SCENARIOS)
    assert t.resolve("claude-haiku-4-5", body()).rule == "scenario:background"


def test_unconfigured_scenarios_fall_through_to_tiers() -> None:
    t = RoutingTable(
        providers=PROVIDERS,
        tiers={"sonnet": "kimi/kimi-k2.6"},
        aliases={},
        scenarios={"image": "openai/gpt-5.4"},
    )
    # thinking and a web search tool, but only image is configured
    assert t.resolve("claude-sonnet-4-6", without(EVERYTHING, "image")).rule == "tier:sonnet"


def test_scenario_fallbacks_chain_from_the_scenario_target() -> None:
    t = RoutingTable(
        providers=PROVIDERS,
        tiers={},
        aliases={},
        scenarios={"think": "deepseek/deepseek-v4-pro"},
        fallbacks={"deepseek/deepseek-v4-pro": ["kimi/kimi-k2.6"]},
    )
    route = t.resolve("claude-sonnet-4-6", body(thinking={"type": "enabled"}))
    assert [(r.provider, r.rule) for r in t.chain(route)] == [
        ("deepseek", "scenario:think"),
        ("kimi", "fallback:1"),
    ]


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenarios", "threshold", "pattern"),
    [
        ({"thinking": "groq/llama-3.1-8b-instant"}, 1, r"unknown scenario.*'thinking'.*think"),
        ({"image": "mistral/pixtral"}, 1, r"\[routing\.scenarios\] image.*'mistral'"),
        ({"think": "no-such-model"}, 1, r"\[routing\.scenarios\] think.*not 'provider/model'"),
        ({}, 0, r"long_context_threshold: must be > 0"),
        ({}, True, r"long_context_threshold: must be an integer"),
    ],
)
def test_bad_scenarios_raise_value_error(
    scenarios: dict[str, str], threshold: int, pattern: str
) -> None:
    with pytest.raises(ValueError, match=pattern):
        RoutingTable(
            providers=PROVIDERS,
            tiers={},
            aliases={},
            scenarios=scenarios,
            long_context_threshold=threshold,
        )
