"""Model limits: exact rows, family rows, provider-prefixed ids, the safe default."""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest

from anthroxy.routing import capabilities
from anthroxy.routing.capabilities import DEFAULT_LIMITS, ModelLimits, lookup
from anthroxy.routing.catalog import CATALOG


def test_known_model_exact_row() -> None:
    gemini = lookup("gemini-3.1-pro-preview")
    assert gemini == ModelLimits(1_048_576, 65_536, True, True, True, True)
    sonar = lookup("sonar")
    assert not sonar.tools and not sonar.tool_choice and sonar.images
    assert lookup("deepseek-v4-pro").images is False  # DeepSeek's endpoint takes no images
    assert lookup("claude-haiku-4-5").max_output_tokens == 64_000


@pytest.mark.parametrize(
    ("model", "same_as"),
    [
        ("GPT-5.4", "gpt-5"),  # case-insensitive family match
        ("gpt-5.4-mini-2026-03-01", "gpt-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4"),
        ("claude-3-7-sonnet-latest", "claude-"),
        ("qwen3-coder-480b-a35b-instruct", "qwen3-coder"),  # longer prefix beats "qwen3"
        ("qwen3-235b-a22b", "qwen3"),
        ("glm-4.5v", "glm-4.5v"),  # longer prefix beats "glm-"
        ("glm-4.7", "glm-"),
        ("gemini-2.5-flash-lite", "gemini-2.5"),
        ("gemini-2.0-flash", "gemini-"),
        ("llama-4-scout-17b-16e-instruct", "llama-4"),
    ],
)
def test_family_prefix_match(model: str, same_as: str) -> None:
    assert lookup(model) is capabilities._FAMILIES[same_as]


@pytest.mark.parametrize(
    ("model", "row"),
    [
        ("deepseek/deepseek-v4-pro", "deepseek-v4-pro"),  # OpenRouter id
        ("google/gemini-2.5-pro", "gemini-2.5-pro"),
        ("@cf/openai/gpt-oss-120b", "gpt-oss-120b"),  # Cloudflare id
        ("gpt-oss:120b", "gpt-oss-120b"),  # Ollama tag
        ("accounts/fireworks/models/gpt-oss-120b", "gpt-oss-120b"),
        ("NousResearch/Hermes-4-405B", "hermes-4-405b"),
        ("MiniMax-M2", "minimax-m2"),
    ],
)
def test_provider_prefixed_ids_find_the_exact_row(model: str, row: str) -> None:
    assert lookup(model) is capabilities._EXACT[row]


def test_prefixed_ids_find_families_too() -> None:
    assert (
        lookup("meta-llama/llama-4-maverick-17b-128e-instruct") is capabilities._FAMILIES["llama-4"]
    )
    assert lookup("moonshotai/kimi-k2-instruct-0905") is capabilities._FAMILIES["kimi-k2"]
    assert lookup("kimi-k2:1t") is capabilities._FAMILIES["kimi-k2"]


@pytest.mark.parametrize("model", ["", "my-finetune", "totally/unknown-model", "x:7b"])
def test_unknown_model_gets_safe_default(model: str) -> None:
    assert lookup(model) is DEFAULT_LIMITS


def test_default_is_permissive_where_refusing_would_break_clients() -> None:
    assert DEFAULT_LIMITS.tools and DEFAULT_LIMITS.images and DEFAULT_LIMITS.tool_choice
    assert not DEFAULT_LIMITS.thinking  # no reasoning controls to a model that may reject them
    assert DEFAULT_LIMITS.context_window == 128_000
    assert DEFAULT_LIMITS.max_output_tokens == 8192


def test_tables_and_rows_are_read_only() -> None:
    with pytest.raises(TypeError):
        capabilities._EXACT["new"] = DEFAULT_LIMITS  # type: ignore[index]
    with pytest.raises(TypeError):
        capabilities._FAMILIES["new"] = DEFAULT_LIMITS  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.context_window = 1  # type: ignore[misc]


def test_every_row_is_sane() -> None:
    rows = [*capabilities._EXACT.values(), *capabilities._FAMILIES.values()]
    for row in rows:
        assert 0 < row.max_output_tokens <= row.context_window
        assert row.tools or not row.tool_choice  # tool_choice without tools makes no sense
    for name in [*capabilities._EXACT, *capabilities._FAMILIES]:
        assert name == name.lower()


def test_every_catalogue_model_has_known_limits() -> None:
    missing = [
        f"{p.id}:{m}" for p in CATALOG.values() for m in p.models if lookup(m) is DEFAULT_LIMITS
    ]
    assert not missing


# --- overrides -------------------------------------------------------------------------------

from anthroxy.errors import InvalidRequest, UnsupportedFeature  # noqa: E402
from anthroxy.routing.capabilities import fit_request, parse_overrides  # noqa: E402


def test_override_replaces_only_the_fields_it_sets() -> None:
    overrides = parse_overrides({"GPT-4o": {"max_output_tokens": 4000, "tools": None}})
    limits = lookup("gpt-4o", overrides)
    assert limits == ModelLimits(128_000, 4000, True, True, False, True)
    # found by the last segment of a provider-prefixed id too
    assert lookup("openai/gpt-4o", overrides).max_output_tokens == 4000
    assert lookup("gpt-4.1", overrides) is capabilities._EXACT["gpt-4.1"]  # others untouched
    assert lookup("gpt-4o", parse_overrides({})) is capabilities._EXACT["gpt-4o"]


def test_override_of_unknown_model() -> None:
    overrides = parse_overrides({"my-finetune": {"context_window": 32_768, "images": False}})
    assert lookup("my-finetune", overrides) == ModelLimits(32_768, 8192, True, False, False, True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"context_window": 0}, 'models."m".context_window: must be a positive integer'),
        ({"max_output_tokens": True}, 'models."m".max_output_tokens: must be a positive integer'),
        ({"tools": "yes"}, 'models."m".tools: must be true or false'),
        ({"window": 5}, "unknown field 'window'"),
    ],
)
def test_bad_override_is_refused_naming_the_key(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_overrides({"m": fields})


# --- fit_request -----------------------------------------------------------------------------

SMALL = ModelLimits(1000, 500, tools=True, images=True, thinking=True, tool_choice=True)


def _body(**extra: object) -> dict[str, object]:
    return {
        "model": "x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def test_a_fitting_request_is_returned_as_is() -> None:
    body = _body(tools=[{"name": "t", "input_schema": {}}], tool_choice={"type": "auto"})
    assert fit_request(body, SMALL, model="m", input_tokens=1000) is body


def test_max_tokens_is_clamped_without_mutating_the_body() -> None:
    body = _body(max_tokens=32_000)
    snapshot = copy.deepcopy(body)
    fitted = fit_request(body, SMALL, model="m", input_tokens=10)
    assert fitted["max_tokens"] == 500
    assert body == snapshot
    assert {k: v for k, v in fitted.items() if k != "max_tokens"} == {
        k: v for k, v in body.items() if k != "max_tokens"
    }


def test_thinking_budget_stays_below_clamped_max_tokens() -> None:
    limits = dataclasses.replace(SMALL, max_output_tokens=8192)
    thinking = {"type": "enabled", "budget_tokens": 31_999}
    fitted = fit_request(
        _body(max_tokens=32_000, thinking=thinking), limits, model="m", input_tokens=1
    )
    assert fitted["max_tokens"] == 8192
    assert fitted["thinking"] == {"type": "enabled", "budget_tokens": 8191}
    assert thinking["budget_tokens"] == 31_999  # caller's nested dict untouched
    # a budget already below the cap is kept; adaptive thinking has no budget to fix
    kept = fit_request(
        _body(max_tokens=32_000, thinking={"type": "enabled", "budget_tokens": 2000}),
        limits,
        model="m",
        input_tokens=1,
    )
    assert kept["thinking"] == {"type": "enabled", "budget_tokens": 2000}


def test_thinking_dropped_when_the_clamp_leaves_no_room_for_the_minimum_budget() -> None:
    body = _body(max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 3000})
    fitted = fit_request(body, SMALL, model="m", input_tokens=1)  # cap 500 < 1024 + 1
    assert "thinking" not in fitted and fitted["max_tokens"] == 500


def test_parameters_the_model_refuses_are_dropped() -> None:
    limits = dataclasses.replace(SMALL, thinking=False, tool_choice=False)
    body = _body(thinking={"type": "adaptive"}, tool_choice={"type": "any"}, tools=[{"name": "t"}])
    fitted = fit_request(body, limits, model="m", input_tokens=1)
    assert "thinking" not in fitted and "tool_choice" not in fitted
    assert fitted["tools"] == [{"name": "t"}]
    assert "thinking" in body and "tool_choice" in body


def test_too_long_prompt_is_refused_in_claude_codes_wording() -> None:
    assert fit_request(_body(), SMALL, model="m", input_tokens=1000) is not None  # == window fits
    with pytest.raises(InvalidRequest) as info:
        fit_request(_body(), SMALL, model="m", input_tokens=1001)
    assert info.value.status == 400 and info.value.error_type == "invalid_request_error"
    assert info.value.message.startswith("prompt is too long: 1001 tokens > 1000 maximum")
    assert "context_window" in info.value.message


def test_tools_on_a_model_without_tools_are_refused_but_server_tools_pass() -> None:
    limits = dataclasses.replace(SMALL, tools=False, tool_choice=False)
    server_only = _body(tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert fit_request(server_only, limits, model="sonar", input_tokens=1)["tools"] == [
        {"type": "web_search_20250305", "name": "web_search"}
    ]
    body = _body(tools=[{"type": "web_search_20250305", "name": "web_search"}, {"name": "Bash"}])
    with pytest.raises(UnsupportedFeature) as info:
        fit_request(body, limits, model="sonar", input_tokens=1)
    assert info.value.path == "$.tools[1]"
    assert "'sonar' does not support tools" in info.value.message


def test_images_on_a_text_only_model_are_refused_with_their_path() -> None:
    limits = dataclasses.replace(SMALL, images=False)
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}
    direct = _body(messages=[{"role": "user", "content": [{"type": "text", "text": "a"}, image]}])
    nested = _body(
        messages=[
            {"role": "user", "content": "look"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Read"}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": [image]}],
            },
        ]
    )
    for body, path in (
        (direct, "$.messages[0].content[1]"),
        (nested, "$.messages[2].content[0].content[0]"),
    ):
        with pytest.raises(UnsupportedFeature) as info:
            fit_request(body, limits, model="deepseek-v4-pro", input_tokens=1)
        assert info.value.path == path
        assert "'deepseek-v4-pro' does not accept images" in info.value.message
    assert fit_request(_body(), limits, model="m", input_tokens=1) is not None  # text is fine


# --- one fit, for the body and for the parsed request ------------------------------------------

from anthroxy.messages.request import parse_request  # noqa: E402
from anthroxy.routing.capabilities import plan_fit  # noqa: E402

TOOLS = [{"name": "t", "input_schema": {"type": "object"}}]
FITS = [
    ({}, SMALL),
    ({"max_tokens": 32_000}, SMALL),
    ({"max_tokens": 32_000, "thinking": {"type": "enabled", "budget_tokens": 31_999}},
     dataclasses.replace(SMALL, max_output_tokens=8192)),
    ({"max_tokens": 32_000, "thinking": {"type": "enabled", "budget_tokens": 2000}},
     dataclasses.replace(SMALL, max_output_tokens=8192)),
    ({"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 3000}}, SMALL),
    ({"thinking": {"type": "adaptive"}, "tools": TOOLS, "tool_choice": {"type": "any"}},
     dataclasses.replace(SMALL, thinking=False, tool_choice=False)),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "limits"), FITS)
def test_a_fit_changes_the_parsed_request_as_it_changes_the_body(
    extra: dict[str, object], limits: ModelLimits
) -> None:
    body = _body(**extra)
    fit = plan_fit(body, limits, model="m", input_tokens=1)
    parsed = parse_request(body)
    assert fit.to_request(parsed) == parse_request(fit.to_body(body))
    assert fit.to_body(body) == fit_request(body, limits, model="m", input_tokens=1)
    if fit.to_body(body) is body:
        assert fit.to_request(parsed) is parsed  # nothing to change: nothing copied
