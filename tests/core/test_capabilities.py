"""Model limits: exact rows, family rows, provider-prefixed ids, the safe default."""

from __future__ import annotations

import dataclasses

import pytest

from anthroxy import capabilities
from anthroxy.capabilities import DEFAULT_LIMITS, ModelLimits, known_models, lookup
from anthroxy.catalog import CATALOG


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
    for name in [*known_models(), *capabilities._FAMILIES]:
        assert name == name.lower()


def test_every_catalogue_model_has_known_limits() -> None:
    missing = [
        f"{p.id}:{m}" for p in CATALOG.values() for m in p.models if lookup(m) is DEFAULT_LIMITS
    ]
    assert not missing
