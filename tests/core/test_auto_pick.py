"""``@auto`` picks from real model lists (tests/fixtures/live_models/, each with its source)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anthroxy.routing.auto import auto_hint, is_auto, pick_auto, words
from anthroxy.routing.live_models import LiveModel

LISTS = Path(__file__).parent.parent / "fixtures" / "live_models"


def load(name: str) -> list[LiveModel]:
    lines = (LISTS / name).read_text().splitlines()
    # Gemini names its models "models/<id>"; requests (and the Gemini lister) use the bare id.
    ids = [line.strip().removeprefix("models/") for line in lines if line and line[0] != "#"]
    return [LiveModel(id=i) for i in ids]


# (list, hint, the model an experienced user expects)
REAL_LISTS = [
    ("gemini-2025-10.txt", None, "gemini-2.5-flash"),  # flash and pro tie: the id decides
    ("gemini-2025-10.txt", "pro", "gemini-2.5-pro"),
    ("gemini-2025-10.txt", "flash", "gemini-2.5-flash"),
    ("gemini-2025-10.txt", "flash-lite", "gemini-2.5-flash-lite"),
    ("gemini-2025-10.txt", "lite", "gemini-2.5-flash-lite"),
    ("gemini-2025-10.txt", "gemma", "gemma-3-27b-it"),  # a hint may name another family
    ("gemini-2025-10.txt", "thinking", "gemini-2.0-flash-thinking-exp"),  # the alias
    ("gemini-2025-10.txt", "tts", "gemini-2.5-flash-preview-tts"),  # named: allowed
    ("gemini-3.txt", None, "gemini-3.1-pro-preview"),
    ("gemini-3.txt", "pro", "gemini-3.1-pro-preview"),
    ("gemini-3.txt", "flash", "gemini-3.1-flash-lite-preview"),
    ("gemini-3.txt", "2.5", "gemini-2.5-flash"),
    ("gemini-3.txt", "2.5-pro", "gemini-2.5-pro"),
    ("openai.txt", None, "gpt-5.5"),
    ("openai.txt", "mini", "gpt-5.4-mini"),
    ("openai.txt", "nano", "gpt-5.4-nano"),
    ("openai.txt", "pro", "gpt-5.4-pro"),
    ("openai.txt", "4o", "gpt-4o"),
    ("openai.txt", "o3", "o3"),
    ("openai.txt", "chat", "gpt-5.3-chat-latest"),
    ("openai.txt", "turbo", "gpt-3.5-turbo"),
    ("anthropic.txt", None, "claude-opus-4-5-20251101"),
    ("anthropic.txt", "sonnet", "claude-sonnet-4-5-20250929"),
    ("anthropic.txt", "opus", "claude-opus-4-5-20251101"),
    ("anthropic.txt", "haiku", "claude-haiku-4-5-20251001"),
    ("deepseek.txt", None, "deepseek-chat"),
    ("deepseek.txt", "reasoner", "deepseek-reasoner"),
    ("mistral.txt", "devstral", "devstral-2512"),
    ("mistral.txt", "magistral", "magistral-medium-2509"),
    ("mistral.txt", "codestral", "codestral-2508"),
    ("mistral.txt", "mistral-medium", "mistral-medium-2508"),
]


@pytest.mark.parametrize(("name", "hint", "expected"), REAL_LISTS)
def test_pick_from_real_lists(name: str, hint: str | None, expected: str) -> None:
    picked = pick_auto(load(name), hint)
    assert picked is not None and picked.id == expected


@pytest.mark.parametrize("name", ["gemini-2025-10.txt", "openai.txt", "anthropic.txt"])
def test_the_pick_does_not_depend_on_list_order(name: str) -> None:
    models = load(name)
    for hint in (None, "pro", "mini", "flash", "sonnet"):
        a, b = pick_auto(models, hint), pick_auto(list(reversed(models)), hint)
        assert (a.id if a else None) == (b.id if b else None), hint


def ids(*names: str) -> list[LiveModel]:
    return [LiveModel(id=n) for n in names]


RULES = [
    # whole words: "pro" is not "prompt", "mini" is not "gemini"
    (ids("gemini-prompt-1", "gemini-2.5-pro"), "pro", "gemini-2.5-pro"),
    (ids("gemini-2.5-flash", "gemini-2.0-mini"), "mini", "gemini-2.0-mini"),
    (ids("gemini-prompt-9"), "pro", None),
    # the hint's words in order, others between (an aggregator's maker/model ids)
    (
        ids("google/gemini-2.5-pro", "openai/gpt-5.4-pro", "google/gemini-3-flash"),
        "gemini-pro",
        "google/gemini-2.5-pro",
    ),
    (ids("x-pro-flash"), "flash-pro", None),
    # numeric versions
    (ids("gemini-2.5-pro", "gemini-3-pro", "gemini-3.1-pro"), "pro", "gemini-3.1-pro"),
    (ids("gpt-5.9", "gpt-5.10", "gpt-5.2"), None, "gpt-5.10"),
    (
        ids("claude-sonnet-4-20250514", "claude-sonnet-4-5-20250929"),
        None,
        "claude-sonnet-4-5-20250929",
    ),
    (ids("qwen2.5-coder-32b", "qwen3-coder-plus"), "coder", "qwen3-coder-plus"),
    # stable > latest > preview > experimental, within one version
    (ids("m-2-exp", "m-2-preview", "m-2-latest", "m-2"), None, "m-2"),
    (ids("m-2-exp", "m-2-preview", "m-2-latest"), None, "m-2-latest"),
    (ids("m-2-exp", "m-2-preview"), None, "m-2-preview"),
    (ids("m-2-exp", "m-2-beta"), None, "m-2-beta"),
    # the newest dated snapshot, in each date style
    (ids("gpt-4o-2024-05-13", "gpt-4o-2024-11-20", "gpt-4o-2024-08-06"), None, "gpt-4o-2024-11-20"),
    (ids("mistral-large-2407", "mistral-large-2411"), None, "mistral-large-2411"),
    (
        ids("g-2.5-flash-preview-05-20", "g-2.5-flash-preview-09-2025"),
        None,
        "g-2.5-flash-preview-09-2025",
    ),
    (ids("gpt-3.5-turbo-0125", "gpt-3.5-turbo-1106"), None, "gpt-3.5-turbo-1106"),
    (ids("g-2.0-flash-001", "g-2.0-flash-002"), None, "g-2.0-flash-002"),
    # sizes are not versions
    (ids("ministral-8b-2410", "ministral-3b-2410"), None, "ministral-8b-2410"),
    # non-chat models only when named
    (ids("text-embedding-3-large", "gpt-4.1"), None, "gpt-4.1"),
    (ids("gpt-5-image", "gpt-4.1"), None, "gpt-4.1"),
    # an empty list, or nothing of the family
    ([], None, None),
    ([], "pro", None),
]


@pytest.mark.parametrize(("models", "hint", "expected"), RULES)
def test_rules(models: list[LiveModel], hint: str | None, expected: str | None) -> None:
    picked = pick_auto(models, hint)
    assert (picked.id if picked else None) == expected


def test_the_providers_priority_decides_within_a_version() -> None:
    models = [
        LiveModel("gpt-5.1-codex", priority=2),
        LiveModel("gpt-5.1-codex-max", priority=1),
        LiveModel("gpt-5-codex", priority=0),
    ]
    picked = pick_auto(models, "codex")
    assert picked is not None and picked.id == "gpt-5.1-codex-max"


def test_auto_names() -> None:
    assert is_auto("@auto") and is_auto("@auto:pro") and not is_auto("@autopilot")
    assert auto_hint("@auto") is None and auto_hint("@auto:") is None
    assert auto_hint("@auto:Pro") == "pro"
    assert words("qwen3-coder_plus/v1.5") == ["qwen", "3", "coder", "plus", "v", "1.5"]


@pytest.mark.parametrize(
    "junk", ["", "-", "0", "00000000", "9999-99-99", "a" * 300, "2.5.5.5.5", "@auto", "ü-ß"]
)
def test_odd_ids_never_crash(junk: str) -> None:
    pick_auto([LiveModel(junk), LiveModel("x-1")], None)
    pick_auto([LiveModel(junk)], junk or None)


@given(
    st.lists(st.from_regex(r"[a-z0-9.\-_/:]{0,30}", fullmatch=True), max_size=12),
    st.one_of(st.none(), st.from_regex(r"[a-z0-9.\-]{1,10}", fullmatch=True)),
)
def test_any_list_gives_one_of_its_models_or_none(names: list[str], hint: str | None) -> None:
    models = [LiveModel(n) for n in names]
    picked = pick_auto(models, hint)
    assert picked is None or picked in models
    again = pick_auto(list(reversed(models)), hint)
    assert (picked.id if picked else None) == (again.id if again else None)
