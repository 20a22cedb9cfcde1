"""A subscription's quota, plan and token expiry on the Health section, from the real source:
a gateway with a GitHub Copilot provider and a ChatGPT provider, each logged in, in front of the
fakes of GitHub (token exchange, ``/copilot_internal/user``) and of the ChatGPT backend (its
``x-codex-*`` headers). Requests go through both; the page must then show what
``GET /ui/api/health`` gives, and nothing the fakes issued as a token (the ``dash`` fixture
also checks every answer the page received, and that the console stayed quiet)."""

from __future__ import annotations

import json
import time
from typing import Any

from . import page_numbers as show
from .conftest import Dash
from .harness import Gateway
from .subscriptions import CHATGPT_MODEL, COPILOT_MODEL, Subscriptions

LABELS = {"premium_interactions": "premium requests", "primary": "5-hour limit",
          "secondary": "weekly limit"}  # fmt: skip


def _serve_both(gateway: Gateway, fakes: Subscriptions) -> list[str]:
    """One request through each subscription; the request ids."""
    copilot = gateway.send(COPILOT_MODEL)
    fakes.expect_chatgpt()
    chatgpt = gateway.send(CHATGPT_MODEL, stream=True)
    assert (copilot[0], chatgpt[0]) == (200, 200)
    # The fakes answered them (not the Anthropic fake): the readings are theirs.
    assert [seen.path for seen in fakes.copilot.seen] == ["/chat/completions"]
    assert len(fakes.backend.seen) == 1
    return [copilot[1], chatgpt[1]]


def _card(page: Any, provider: str) -> Any:
    return page.locator(f'.card[data-provider="{provider}"] [data-field="subscription"]')


def _assert_moment(node: Any, at: float, since: float) -> None:
    """A <time> the page drew for ``at``: the exact instant, and text relative to some moment
    between ``since`` and now (the page's clock is the overview's ``now``) or the date."""
    assert node.get_attribute("datetime") == show.iso(at)
    text = node.inner_text()
    moments = range(int(since) - 1, int(time.time()) + 2)
    assert text in {show.relative(at, now) for now in moments} or text == node.get_attribute(
        "title"
    ), text


def _assert_quota(box: Any, quota: dict[str, Any], since: float) -> None:
    line = box.locator(f'[data-quota="{quota["name"]}"]')
    assert line.locator(".name").inner_text() == LABELS[quota["name"]]
    assert line.locator(".value").inner_text() == f"{show.percent(quota['used_percent'])} used"
    width = line.locator(".bar .fill").evaluate("node => node.style.width")
    assert width == f"{show.number(quota['used_percent'])}%"
    if quota["remaining"] is None:
        assert line.locator('[data-field="left"]').count() == 0
    else:
        left = f"{show.number(quota['remaining'])} of {show.number(quota['entitlement'])} left"
        assert line.locator('[data-field="left"]').inner_text() == left
    _assert_moment(line.locator('[data-field="resets"] time'), quota["resets_at"], since)


def test_each_subscription_shows_quota_plan_and_expiry_as_the_api_gives_them(
    start: Any, subscriptions: Subscriptions, open_dash: Any
) -> None:
    subscriptions.use_premium(300, 87)
    gateway: Gateway = start(seed=False, subscriptions=subscriptions)
    ids = _serve_both(gateway, subscriptions)
    since = time.time()
    dash: Dash = open_dash(gateway)
    page = dash.ready()
    health = {p["id"]: p["subscription"] for p in gateway.api("health")["providers"]}
    copilot, chatgpt = health["copilot"], health["chatgpt"]
    # What GitHub's and the backend's answers said, as subscription_status.py read them.
    assert (copilot["plan"], chatgpt["plan"]) == ("individual_pro", "plus")
    premium = copilot["quota"][0]
    assert (premium["used_percent"], premium["remaining"], premium["entitlement"]) == (71, 87, 300)
    assert [(q["name"], q["used_percent"]) for q in chatgpt["quota"]] == [
        ("primary", 38.0),
        ("secondary", 61.5),
    ]
    for provider, sub in health.items():
        if sub is None:
            assert _card(page, provider).count() == 0
            continue
        box = _card(page, provider)
        assert box.get_attribute("data-kind") == sub["kind"]
        assert box.locator('[data-field="plan"]').inner_text() == sub["plan"]
        expiry = box.locator('[data-field="token-expiry"] time')
        _assert_moment(expiry, sub["token_expires_at"], since)
        limited = [q for q in sub["quota"] if not q.get("unlimited")]
        assert box.locator("[data-quota]").count() == len(limited) > 0
        for quota in limited:
            _assert_quota(box, quota, since)
        unlimited = [q["name"] for q in sub["quota"] if q.get("unlimited")]
        shown = box.locator('[data-field="unlimited"]')
        assert shown.count() == int(bool(unlimited))
        if unlimited:
            assert shown.inner_text() == ", ".join(unlimited) + ": unlimited"
    assert _card(page, "copilot").locator('.bar[data-level="mid"]').count() == 1  # 71 %
    # Nothing the fakes issued as a token is in an answer: the page's (checked by the fixture)
    # nor the API's for the requests that used them.
    answers = [gateway.api(path) for path in ("health", "routing", "requests")]
    answers += [gateway.api(f"requests/{request_id}") for request_id in ids]
    text = json.dumps(answers)
    for secret in subscriptions.secrets():
        assert secret not in text


def test_a_refused_quota_read_shows_the_expiry_and_no_bars(
    start: Any, subscriptions: Subscriptions, open_dash: Any
) -> None:
    """GitHub answers the quota read with its 401 body: the token exchange worked, so the card
    shows when the token expires, and says no quota is known."""
    subscriptions.github.quota_status = 401
    gateway: Gateway = start(seed=False, subscriptions=subscriptions)
    _serve_both(gateway, subscriptions)
    since = time.time()
    dash: Dash = open_dash(gateway)
    page = dash.ready()
    copilot = next(p for p in gateway.api("health")["providers"] if p["id"] == "copilot")
    sub = copilot["subscription"]
    assert sub["quota"] == [] and sub["token_expires_at"] is not None
    assert len(subscriptions.github.quota_calls) == 1
    box = _card(page, "copilot")
    _assert_moment(box.locator('[data-field="token-expiry"] time'), sub["token_expires_at"], since)
    assert box.locator(".bar").count() == 0 and box.locator("[data-quota]").count() == 0
    assert "No quota seen yet." in box.inner_text()
    # The ChatGPT card beside it still has its windows.
    assert _card(page, "chatgpt").locator(".bar").count() == 2


def test_several_copilot_accounts_each_show_their_own_quota(
    start: Any, subscriptions: Subscriptions, open_dash: Any
) -> None:
    subscriptions.accounts = ("work", "home")
    subscriptions.use_premium(300, 87, account="work")
    subscriptions.use_premium(1500, 1200, account="home")
    gateway: Gateway = start(seed=False, subscriptions=subscriptions)
    _serve_both(gateway, subscriptions)
    since = time.time()
    dash: Dash = open_dash(gateway)
    page = dash.ready()
    copilot = next(p for p in gateway.api("health")["providers"] if p["id"] == "copilot")
    sub = copilot["subscription"]
    assert [a["account"] for a in sub["accounts"]] == ["work", "home"]
    assert [a["quota"][0]["used_percent"] for a in sub["accounts"]] == [71.0, 20.0]
    box = _card(page, "copilot")
    head = box.locator(".sub-head").first.inner_text()
    assert head == f"Subscription · 2 accounts, last used: {sub['account']}"
    for account in sub["accounts"]:
        part = box.locator(f'.account[data-account="{account["account"]}"]')
        assert part.locator('[data-field="account"]').inner_text() == account["account"]
        assert part.locator('[data-field="plan"]').inner_text() == account["plan"]
        if account["token_expires_at"] is not None:
            moment = part.locator('[data-field="token-expiry"] time')
            _assert_moment(moment, account["token_expires_at"], since)
        premium = account["quota"][0]
        _assert_quota(part, premium, since)
    # The account that served has its token; the other exchanges on its first request.
    assert sub["account"] == "work" and sub["accounts"][0]["token_expires_at"] is not None
