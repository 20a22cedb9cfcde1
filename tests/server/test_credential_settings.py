"""Several keys per provider, without a gateway: the settings (validation messages that name
the setting or the variable, the order and labels of the keys, the 0600 rule, the fingerprint),
how long a key rests, the pool's warnings, and the status lines."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli.credential_view import credential_section
from anthroxy_server.config import ConfigError, fingerprint, settings_from_config, structure_config
from anthroxy_server.config.files import read_toml
from anthroxy_server.providers.cooldown import cooldown_seconds, reset_seconds
from anthroxy_server.providers.credentials import Credential, CredentialPool, CredentialPools

from .conftest import FakeUpstream
from .test_credentials import KEYS, Clock, raw_config


def test_every_key_enters_the_fingerprint_without_showing(upstream: FakeUpstream) -> None:
    pepper = b"p" * 32

    def sections(env: dict[str, str]) -> dict[str, str]:
        config = structure_config(raw_config(upstream.url, api_keys=["sk-literal-0000000000001"]))
        return fingerprint.sections(settings_from_config(config, env), pepper)

    one = sections(KEYS)
    two = sections({**KEYS, "KEY_C": "sk-CCCC-another-key-00000000004"})
    assert fingerprint.differences(one, two) == ["key.multi"]
    assert "literal" not in repr(one) and "sk-" not in repr(one)


def problems_of(raw: dict[str, Any], env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from_config(structure_config(raw), env)
    return caught.value.problems


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            {"api_keys_env": []},
            "providers.multi.api_keys_env: the list is empty; give at least one entry or "
            "remove the setting",
        ),
        (
            {"api_keys_env": ["KEY_A", "KEY_MISSING"]},
            "providers.multi.api_keys_env: variable KEY_MISSING is not set (or empty); set it, "
            "or remove it from the list",
        ),
        (
            {"api_keys_env": None, "api_keys": ["sk-one-1234567890", " "]},
            "providers.multi.api_keys: entry #2 is empty; each entry must be a key",
        ),
        (
            {"auth": "none"},
            'providers.multi: auth = "none" takes no keys; remove api_keys_env/api_keys',
        ),
    ],
)
def test_config_problems_name_the_setting(
    upstream: FakeUpstream, provider: dict[str, Any], expected: str
) -> None:
    raw = raw_config(upstream.url)
    raw["providers"]["multi"].update(provider)
    raw["providers"]["multi"] = {
        k: v for k, v in raw["providers"]["multi"].items() if v is not None
    }
    assert problems_of(raw, KEYS) == [expected]


def test_rotation_must_be_one_of_two(upstream: FakeUpstream) -> None:
    raw = raw_config(upstream.url, rotation="random")
    with pytest.raises(ConfigError) as caught:
        structure_config(raw)
    (problem,) = caught.value.problems
    assert problem.startswith("providers.multi.rotation") and "fill-first" in problem


def test_keys_from_every_source_in_order_each_once(upstream: FakeUpstream) -> None:
    raw = raw_config(
        upstream.url,
        api_key_env="KEY_A",
        api_keys_env=["KEY_A", "KEY_B"],
        api_keys=["sk-literal-key-000000000009", KEYS["KEY_C"]],
    )
    provider = settings_from_config(structure_config(raw), KEYS).providers["multi"]
    assert [k.label for k in provider.keys] == [
        "env:KEY_A",
        "env:KEY_B",
        "api_keys #1",
        "api_keys #2",
    ]
    assert provider.api_key == KEYS["KEY_A"] and provider.key_source == "env:KEY_A"
    assert "secret" not in repr(provider) and "literal" not in repr(provider)


def test_a_file_with_api_keys_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[providers.multi]\napi_keys = ["sk-in-the-file-000000001"]\n')
    path.chmod(0o644)
    problems: list[str] = []
    read_toml(path, problems)
    assert len(problems) == 1 and "providers.multi.api_keys" in problems[0]
    assert "chmod 600" in problems[0] and "sk-in-the-file" not in problems[0]


def test_one_key_makes_no_pool(upstream: FakeUpstream) -> None:
    raw = raw_config(upstream.url, api_keys_env=["KEY_A"])
    provider = settings_from_config(structure_config(raw), KEYS).providers["multi"]
    assert CredentialPools().pool_for(provider, 1) is None  # behaves as before: no local 429s


def test_cooldown_follows_the_provider_s_word() -> None:
    now = 1_800_000_000.0
    assert cooldown_seconds(7.0, {}, now=now) == 7.0
    assert cooldown_seconds(0.0, {}, now=now) == 1.0  # at least a second
    assert cooldown_seconds(None, {}, now=now) == 60.0  # no word: the default
    openai = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m30s",
        "x-ratelimit-remaining-tokens": "1000",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert reset_seconds(openai, now=now) == 90.0  # the limit that ran out
    assert reset_seconds({"x-ratelimit-reset-tokens": "250ms"}, now=now) == 0.25
    anthropic = {
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:45Z",
        "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:01Z",
    }
    assert reset_seconds(anthropic, now=now) == 45.0
    assert cooldown_seconds(None, anthropic, now=now) == 45.0
    assert reset_seconds({"x-ratelimit-reset-requests": "soon"}, now=now) is None


def test_status_prints_nothing_without_several_keys() -> None:
    out = io.StringIO()
    out.write(credential_section({"providers": {"one": {"has_key": True}}}))
    assert out.getvalue() == ""


def test_two_requests_limited_at_once_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="anthroxy")
    clock = Clock()
    pool = CredentialPool(
        "p", [Credential("a", "env:A", {}), Credential("b", "env:B", {})], clock=clock
    )
    first, second = pool.pick(None), pool.pick(None)
    assert first is not None and second is not None and first != second
    pool.cool(first, 10)
    pool.cool(first, 20)  # a concurrent request on the same key hears the same news
    assert [r.getMessage().count("rate-limited") for r in caplog.records] == [1]
    assert pool.describe()[0]["retry_in_s"] == 20.0 and pool.describe()[0]["rate_limited"] == 2
    assert pool.wait() == 20.0 and pool.pick(None) == second
