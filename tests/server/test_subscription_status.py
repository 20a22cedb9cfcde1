"""The dashboard's ``subscription`` object (``providers/subscription_status.py``), against the
fakes of GitHub (token exchange, ``/copilot_internal/user``) and of the ChatGPT backend:

* the numbers GitHub's quota answer and the backend's ``x-codex-*`` headers give come through,
  per account, with the token's expiry;
* GitHub is asked at most once per five minutes per account; a refusal, a stall or an
  unreachable host leaves null (or the last known values), never an exception;
* nothing in the object is a secret.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.state import SETTINGS
from anthroxy_server.providers import subscription_status
from anthroxy_server.providers.quota_readings import codex_quota, copilot_quota, moment
from anthroxy_server.providers.quota_store import QUOTAS
from anthroxy_server.providers.subscription_status import subscription_of

from .fake_chatgpt import (
    json_reply,
    make_jwt,
    stream_reply,
    text_stream,
    write_auth,
)
from .fake_copilot import GITHUB_TOKEN, PLAN, quota_snapshot
from .test_chatgpt_accounts import USAGE_LIMIT, log_in
from .test_chatgpt_accounts import start_rig as start_chatgpt_rig
from .test_chatgpt_login import Rig as ChatGPTRig
from .test_copilot_accounts import HOME_TOKEN, AccountsRig
from .test_copilot_accounts import start_rig as start_copilot_rig

RESET = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def copilot_app(rig: AccountsRig, aiohttp_client: Any, **extra: Any) -> tuple[Any, Clock]:
    app = create_app(rig.settings(**extra))
    clock = Clock()
    app[QUOTAS].clock = clock
    rig.client = await aiohttp_client(app)
    return app, clock


@pytest.fixture
async def copilot_rig(aiohttp_server: Any, tmp_path: Path) -> AccountsRig:
    return await start_copilot_rig(aiohttp_server, tmp_path)


@pytest.fixture
async def chatgpt_rig(aiohttp_server: Any, tmp_path: Path) -> ChatGPTRig:
    return await start_chatgpt_rig(aiohttp_server, tmp_path)


def secrets_absent(result: Any, *secrets: str) -> None:
    text = json.dumps(result)
    for secret in secrets:
        assert secret not in text


# ---------------------------------------------------------------------------------------------
# Copilot.


async def test_copilot_quota_and_expiry_come_from_github(
    copilot_rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig = copilot_rig
    rig.log_in()
    rig.github.quota_snapshots["octocat"] = {
        "premium_interactions": quota_snapshot("premium_interactions", 300, 120)
    }
    app, clock = await copilot_app(rig, aiohttp_client)
    provider = app[SETTINGS].providers["copilot"]
    before = await subscription_of(app, provider)
    assert before is not None
    assert before["token_expires_at"] is None  # no token exchanged yet
    assert (await rig.ask()).status == 200
    result = await subscription_of(app, provider)
    assert result is not None
    assert result["kind"] == "copilot" and result["account"] is None
    assert result["plan"] == "individual_pro"
    assert result["token_expires_at"] == 4102444800  # the exchange's expires_at
    assert result["quota_seen_at"] == clock.now
    premium, chat, completions = result["quota"]
    assert premium == {
        "name": "premium_interactions", "used_percent": 60.0, "remaining": 120.0,
        "entitlement": 300.0, "resets_at": RESET, "unlimited": False,
    }  # fmt: skip
    assert chat["name"] == "chat" and chat["unlimited"] is True and chat["used_percent"] is None
    assert completions["name"] == "completions"
    # GitHub's own way: the GitHub token as "token", with the editor's identity.
    (seen,) = rig.github.quota_calls
    assert seen["authorization"] == f"token {GITHUB_TOKEN}"
    assert seen["editor-version"].startswith("vscode/")
    secrets_absent(result, GITHUB_TOKEN, "tid=copilot")


async def test_github_is_asked_at_most_every_five_minutes(
    copilot_rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig = copilot_rig
    rig.log_in()
    app, clock = await copilot_app(rig, aiohttp_client)
    provider = app[SETTINGS].providers["copilot"]
    first = await subscription_of(app, provider)
    assert first is not None and first["quota"][0]["remaining"] == 300.0
    rig.github.quota_snapshots["octocat"] = {
        "premium_interactions": quota_snapshot("premium_interactions", 300, 30)
    }
    clock.now += 299.0
    again = await subscription_of(app, provider)
    assert again == first
    assert len(rig.github.quota_calls) == 1
    clock.now += 2.0
    # Due again: read in the background while the last known values are shown.
    stale = await subscription_of(app, provider)
    assert stale is not None and stale["quota"][0]["remaining"] == 300.0
    await app[QUOTAS].settled()
    fresh = await subscription_of(app, provider)
    assert len(rig.github.quota_calls) == 2
    assert fresh is not None and fresh["quota"][0]["remaining"] == 30.0
    assert fresh["quota"][0]["used_percent"] == 90.0
    assert fresh["quota_seen_at"] == clock.now


async def test_concurrent_callers_share_one_read(
    copilot_rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig = copilot_rig
    rig.log_in()
    rig.github.quota_delay = 0.2
    app, _ = await copilot_app(rig, aiohttp_client)
    provider = app[SETTINGS].providers["copilot"]
    results = await asyncio.gather(*(subscription_of(app, provider) for _ in range(5)))
    assert len(rig.github.quota_calls) == 1
    assert all(r is not None and r["quota"][0]["remaining"] == 300.0 for r in results)


@pytest.mark.parametrize("status", [401, 404])
async def test_a_refused_quota_read_leaves_null(
    copilot_rig: AccountsRig, aiohttp_client: Any, status: int
) -> None:
    rig = copilot_rig
    rig.log_in()
    rig.github.quota_status = status
    if status == 401:
        rig.github.users.clear()  # the login itself is refused: GitHub's "Bad credentials"
    app, _ = await copilot_app(rig, aiohttp_client)
    result = await subscription_of(app, app[SETTINGS].providers["copilot"])
    assert result is not None
    assert len(rig.github.quota_calls) == 1
    assert result["quota"] == [] and result["quota_seen_at"] is None
    assert result["plan"] is None and result["token_expires_at"] is None


async def test_a_failing_read_keeps_the_last_known_values(
    copilot_rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig = copilot_rig
    rig.log_in()
    app, clock = await copilot_app(rig, aiohttp_client)
    provider = app[SETTINGS].providers["copilot"]
    known = await subscription_of(app, provider)
    assert known is not None and known["quota"]
    rig.github.quota_status = 404
    clock.now += 301.0
    await subscription_of(app, provider)
    await app[QUOTAS].settled()
    assert len(rig.github.quota_calls) == 2
    assert await subscription_of(app, provider) == known


async def test_a_stalled_or_unreachable_quota_endpoint_is_null_in_bounded_time(
    copilot_rig: AccountsRig, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = copilot_rig
    rig.log_in()
    monkeypatch.setattr(subscription_status, "QUOTA_TIMEOUT", 0.3)
    rig.github.quota_delay = 5.0
    app, _ = await copilot_app(rig, aiohttp_client)
    started = time.monotonic()
    result = await subscription_of(app, app[SETTINGS].providers["copilot"])
    assert time.monotonic() - started < 2.0
    assert result is not None and result["quota"] == []
    closed = "http://127.0.0.1:9"  # a loopback port nobody listens on
    unreachable = create_app(
        rig.settings(copilot_token_url=closed + "/x", user_url=closed + "/user")
    )
    unreachable_client = await aiohttp_client(unreachable)
    found = await subscription_of(unreachable, unreachable[SETTINGS].providers["copilot"])
    assert found is not None and found["quota"] == [] and found["quota_seen_at"] is None
    await unreachable_client.close()


async def test_not_logged_in_is_null_and_a_keyed_provider_is_none(
    copilot_rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig = copilot_rig
    app, _ = await copilot_app(rig, aiohttp_client)
    result = await subscription_of(app, app[SETTINGS].providers["copilot"])
    assert result == {
        "kind": "copilot", "account": None, "plan": None, "token_expires_at": None,
        "quota": [], "quota_seen_at": None,
    }  # fmt: skip
    assert rig.github.quota_calls == []
    keyed = structure_config({"providers": {"deepseek": {"api_key": "sk-test"}}})
    settings = settings_from_config(keyed, {"HOME": str(rig.tmp)})
    plain = create_app(settings)
    assert await subscription_of(plain, settings.providers["deepseek"]) is None


async def test_a_free_plans_exchange_fills_in_when_github_refuses_the_read(
    copilot_rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig = copilot_rig
    rig.log_in()
    rig.github.quota_status = 404
    rig.github.exchange_extra = {
        "limited_user_quotas": {"chat": 410, "completions": 4000},
        "limited_user_reset_date": 1798761600,
    }
    app, _ = await copilot_app(rig, aiohttp_client)
    assert (await rig.ask()).status == 200
    result = await subscription_of(app, app[SETTINGS].providers["copilot"])
    assert result is not None and result["quota_seen_at"] is not None
    chat, completions = result["quota"]
    assert chat["name"] == "chat" and chat["remaining"] == 410.0
    assert chat["resets_at"] == 1798761600.0 and chat["used_percent"] is None
    assert completions["remaining"] == 4000.0
    assert result["token_expires_at"] == 4102444800
    assert result["plan"] == PLAN  # the exchange's sku


async def test_each_copilot_account_has_its_own_numbers(
    copilot_rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig = copilot_rig
    rig.log_in_account("work")
    rig.log_in_account("home")
    rig.github.quota_snapshots["octocat"] = {
        "premium_interactions": quota_snapshot("premium_interactions", 300, 150)
    }
    rig.github.quota_snapshots["hubber"] = {
        "premium_interactions": quota_snapshot("premium_interactions", 1500, 1200)
    }
    app, _ = await copilot_app(rig, aiohttp_client, accounts=["work", "home"])
    provider = app[SETTINGS].providers["copilot"]
    result = await subscription_of(app, provider)
    assert result is not None
    work, home = result["accounts"]
    assert (work["account"], home["account"]) == ("work", "home")
    assert work["quota"][0]["used_percent"] == 50.0
    assert home["quota"][0]["used_percent"] == 20.0 and home["quota"][0]["entitlement"] == 1500
    assert result["account"] == "work"  # nothing answered yet: the first account
    assert {c["authorization"] for c in rig.github.quota_calls} == {
        f"token {GITHUB_TOKEN}",
        f"token {HOME_TOKEN}",
    }
    secrets_absent(result, GITHUB_TOKEN, HOME_TOKEN, "tid=copilot")
    # "work" is rate-limited, "home" serves: the top level follows the account that served.
    limited = {"error": {"message": "rate limited", "code": "rate_limited"}}
    rig.copilot.account_errors["octocat"] = [(429, limited, {"retry-after": "60"})]
    assert (await rig.ask()).status == 200
    served = await subscription_of(app, provider)
    assert served is not None and served["account"] == "home"
    assert served["token_expires_at"] == 4102444800
    assert served["accounts"][0]["token_expires_at"] == 4102444800  # work exchanged too


# ---------------------------------------------------------------------------------------------
# ChatGPT.

WINDOWS = {
    "x-codex-plan-type": "plus",
    "x-codex-active-limit": "premium",
    "x-codex-primary-used-percent": "42",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-at": "1800003600",
    "x-codex-secondary-used-percent": "12.5",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-after-seconds": "86400",
    "x-codex-credits-has-credits": "False",
}


def chatgpt_settings(rig: ChatGPTRig, **extra: Any) -> Any:
    raw = {
        "providers": {"chatgpt": {**rig.table(), **extra}},
        "tiers": {"default": "chatgpt/gpt-5.4"},
    }
    return settings_from_config(structure_config(raw), rig.env)


async def ask_chatgpt(client: Any) -> Any:
    body = {"model": "chatgpt/gpt-5.4", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    return await client.post("/v1/messages", json=body)


async def test_chatgpt_windows_come_from_the_backends_headers(
    chatgpt_rig: ChatGPTRig, aiohttp_client: Any
) -> None:
    rig = chatgpt_rig
    exp = time.time() + 3600
    access = make_jwt(exp, nonce="solo")
    write_auth(rig.codex_home, access, "rt-solo")
    rig.backend.valid = {access}
    rig.backend.replies = [stream_reply(text_stream("hello"), WINDOWS)]
    app = create_app(chatgpt_settings(rig))
    clock = Clock()
    app[QUOTAS].clock = clock
    client = await aiohttp_client(app)
    provider = app[SETTINGS].providers["chatgpt"]
    before = await subscription_of(app, provider)
    assert before is not None and before["quota"] == [] and before["quota_seen_at"] is None
    assert before["token_expires_at"] == int(exp)  # read from the stored login
    assert (await ask_chatgpt(client)).status == 200
    result = await subscription_of(app, provider)
    assert result is not None
    assert result["kind"] == "chatgpt" and result["plan"] == "plus"
    assert result["token_expires_at"] == int(exp)
    assert result["quota_seen_at"] == clock.now
    assert result["quota"] == [
        {"name": "primary", "used_percent": 42.0, "remaining": None, "entitlement": None,
         "resets_at": 1800003600.0, "window_minutes": 300},
        {"name": "secondary", "used_percent": 12.5, "remaining": None, "entitlement": None,
         "resets_at": clock.now + 86400, "window_minutes": 10080},
    ]  # fmt: skip
    secrets_absent(result, access, "rt-solo")


async def test_a_usage_limit_answer_is_recorded_per_account(
    chatgpt_rig: ChatGPTRig, aiohttp_client: Any
) -> None:
    rig = chatgpt_rig
    work, home = log_in(rig, "work"), log_in(rig, "home")
    rig.backend.valid = {work, home}
    exhausted = {**WINDOWS, "x-codex-primary-used-percent": "100", "retry-after": "60"}
    rig.backend.replies = [
        json_reply(429, USAGE_LIMIT, exhausted),
        stream_reply(text_stream("from home"), {**WINDOWS, "x-codex-primary-used-percent": "7"}),
    ]
    app = create_app(chatgpt_settings(rig, accounts=["work", "home"], rotation="fill-first"))
    client = await aiohttp_client(app)
    assert (await ask_chatgpt(client)).status == 200
    result = await subscription_of(app, app[SETTINGS].providers["chatgpt"])
    assert result is not None
    by_account = {a["account"]: a for a in result["accounts"]}
    assert by_account["work"]["quota"][0]["used_percent"] == 100.0
    assert by_account["home"]["quota"][0]["used_percent"] == 7.0
    assert result["account"] == "home"  # the account that answered last
    assert by_account["work"]["token_expires_at"] is not None
    assert by_account["home"]["token_expires_at"] is not None
    secrets_absent(result, work, home, "rt-none")


# ---------------------------------------------------------------------------------------------
# The readings themselves.


def test_codex_headers_in_either_reset_form_and_garbage_ignored() -> None:
    quota = codex_quota(
        {"X-Codex-Primary-Used-Percent": "5", "x-codex-primary-reset-after-seconds": "60",
         "x-codex-primary-window-minutes": "garbage", "x-codex-secondary-used-percent": "nan"},
        now=1000.0,
    )  # fmt: skip
    assert quota == [
        {"name": "primary", "used_percent": 5.0, "remaining": None, "entitlement": None,
         "resets_at": 1060.0, "window_minutes": None}
    ]  # fmt: skip
    assert codex_quota({"content-type": "text/event-stream"}, now=1.0) == []


def test_a_free_plans_user_answer_gives_used_percent_from_the_monthly_allowance() -> None:
    payload = {
        "copilot_plan": "individual", "access_type_sku": "free_limited_copilot",
        "limited_user_quotas": {"chat": 410, "completions": 4000},
        "monthly_quotas": {"chat": 500, "completions": 4000},
        "limited_user_reset_date": "2027-01-11",
    }  # fmt: skip
    chat, completions = copilot_quota(payload)
    assert chat["used_percent"] == 18.0 and chat["entitlement"] == 500.0
    assert completions["used_percent"] == 0.0
    assert chat["resets_at"] == datetime.datetime(2027, 1, 11, tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-01T00:00:00.000Z", RESET),
        ("2027-01-01", RESET),
        (RESET, RESET),
        (str(int(RESET)), RESET),
        ("soon", None),
        (True, None),
        (None, None),
    ],
)
def test_times_in_the_forms_github_uses(value: Any, expected: float | None) -> None:
    assert moment(value) == expected
