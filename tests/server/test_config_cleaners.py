"""Each provider's request cleaner from the catalogue and its [providers.<id>] table: the
catalogue's rules for its own dialect only, ``cleaner`` naming another catalogue provider's or
``"none"``, ``drop_fields`` added to them, ``thinking_signatures``; every mistake one problem
line naming its key (docs/configuration.md, "Cleaning requests")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anthroxy.cleaning import ANTHROPIC, Drop
from anthroxy.cleaning import presets as cleaners
from anthroxy_server.config import ConfigError, load_settings, settings_from_config
from anthroxy_server.config.settings import structure_config

URL = "https://relay.example/anthropic"


def providers(**tables: dict[str, Any]) -> Any:
    raw = {"providers": tables, "tiers": {"default": f"{next(iter(tables))}/m"}}
    return settings_from_config(structure_config(raw), {}).providers


def problems(**tables: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        providers(**tables)
    return info.value.problems


def test_catalogue_providers_get_their_cleaner_for_their_own_dialect_only() -> None:
    got = providers(
        deepseek={"api_key": "k"},
        anthropic={"api_key": "k"},
        kimi={"api": "chat", "base_url": "https://api.moonshot.ai/v1", "api_key": "k"},
    )
    assert got["deepseek"].cleaner is cleaners.DEEPSEEK
    assert got["anthropic"].cleaner.rules == () and got["anthropic"].cleaner.signer == ANTHROPIC
    # Kimi's rules are written for its Anthropic endpoint, not for Chat Completions bodies.
    assert got["kimi"].cleaner.rules == () and got["kimi"].cleaner.signer == "kimi"
    assert got["deepseek"].learn_fields is True


def test_a_custom_provider_verifies_only_its_own_signatures_unless_told() -> None:
    got = providers(
        relay={"api": "anthropic", "base_url": URL, "api_key": "k"},
        corp={
            "api": "anthropic",
            "base_url": URL,
            "api_key": "k",
            "thinking_signatures": "anthropic",
        },
        dsrelay={"api": "anthropic", "base_url": URL, "api_key": "k", "cleaner": "deepseek"},
    )
    assert (got["relay"].cleaner.rules, got["relay"].cleaner.signer) == ((), "relay")
    assert got["corp"].cleaner.signer == ANTHROPIC
    assert got["dsrelay"].cleaner is cleaners.DEEPSEEK  # DeepSeek behind a relay: same family


def test_drop_fields_are_added_to_the_rules_and_none_removes_the_catalogue_s() -> None:
    got = providers(
        deepseek={"api_key": "k", "drop_fields": ["context_management", "tools.*.strict"]},
        glm={"api_key": "k", "cleaner": "none", "drop_fields": ["x"], "learn_fields": False},
    )
    rules = got["deepseek"].cleaner.rules
    assert rules[: len(cleaners.DEEPSEEK.rules)] == cleaners.DEEPSEEK.rules
    assert rules[len(cleaners.DEEPSEEK.rules) :] == (
        Drop("context_management", source="configuration"),
        Drop("tools.*.strict", source="configuration"),
    )
    assert got["deepseek"].cleaner.signer == "deepseek"
    assert got["glm"].cleaner.rules == (Drop("x", source="configuration"),)
    assert got["glm"].learn_fields is False


def test_every_mistake_names_its_key() -> None:
    lines = problems(
        deepseek={"api_key": "k", "drop_fields": ["ok", "tools.*", "a b"]},
        relay={"api": "chat", "base_url": URL, "api_key": "k", "cleaner": "deepseek"},
        other={"api": "anthropic", "base_url": URL, "api_key": "k", "cleaner": "nope"},
        third={"api": "anthropic", "base_url": URL, "api_key": "k", "thinking_signatures": "a/b"},
    )
    assert lines == [
        "providers.deepseek.drop_fields[1]: 'tools.*' is not a field path: it must end in a key",
        "providers.deepseek.drop_fields[2]: 'a b' is not a field path: 'a b' is neither a key "
        "nor *",
        "providers.relay.cleaner: 'deepseek' cleans 'anthropic' requests, this provider sends "
        "'chat'",
        "providers.other.cleaner: 'nope' is not a catalogue provider (docs/providers.md) nor "
        '"none"',
        "providers.third.thinking_signatures: a provider id (letters, digits, '-', '_'), got 'a/b'",
    ]


def test_a_second_entry_for_a_catalogue_provider_keeps_its_cleaner(tmp_path: Path) -> None:
    env = {
        "BIG_MODEL_PROVIDER": "deepseek", "BIG_MODEL_NAME": "deepseek-v4-pro",
        "BIG_MODEL_API_KEY": "k1",
        "SMALL_MODEL_PROVIDER": "deepseek", "SMALL_MODEL_NAME": "deepseek-v4-flash",
        "SMALL_MODEL_API_KEY": "k2",
    }  # fmt: skip
    settings = load_settings(
        cli_path=None, env=env, cwd=tmp_path, home=tmp_path, managed_path=tmp_path / "m"
    )
    assert settings.providers["deepseek-small"].cleaner is cleaners.DEEPSEEK


def test_config_show_lists_each_provider_s_rules_and_signatures() -> None:
    from anthroxy_server.cli.config_show import show_config_lines

    raw = {
        "providers": {"deepseek": {"api_key": "k", "drop_fields": ["x"]}},
        "tiers": {"default": "deepseek/m"},
    }
    lines = show_config_lines(settings_from_config(structure_config(raw), {}), {})
    (rules,) = [line for line in lines if line.startswith("deepseek.cleaner = ")]
    assert (
        "Drop output_config.effort (https://github.com/deepseek-ai/DeepSeek-V3/issues/1397)"
        in rules
    )
    assert "Drop x (configuration)" in rules
    assert any(line.startswith('deepseek.thinking_signatures = "deepseek"') for line in lines)
