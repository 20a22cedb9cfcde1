"""A subscription provider's quota and token expiry, for the dashboard's health section
(``subscription_of``; the object's shape is the ``subscription`` of ``GET /ui/api/health``).

* ChatGPT (``auth = "codex"``): the usage windows the backend's last answer to each account
  carried (``quota_store.record_codex``), and the access token's expiry.
* Copilot (``auth = "copilot"``): GitHub's ``/copilot_internal/user`` answer, read here when
  the dashboard asks, at most once per ``quota_store.REFRESH_EVERY`` per account, with its own
  ``QUOTA_TIMEOUT``, over the provider's session; the first read of an account is waited for,
  later ones run in the background while the last known values are shown. A free plan's token
  exchange answer fills in when that read failed. The Copilot token's expiry comes from the
  exchange.

Nothing here raises for a provider's sake: what cannot be read is null. Nothing returned is a
secret: the values are numbers, times, plan and account names.
docs/providers/copilot.md and chatgpt.md, "Quota and expiry on the dashboard", say where each
value comes from.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import aiohttp
from aiohttp import web

from anthroxy.errors import AnthroxyError

from ..config.schema import CopilotSettings, ResolvedProvider
from ..gateway.live import LIVE
from ..gateway.logs import LOGGER_NAME
from .accounts import account_provider
from .chatgpt import credentials_for
from .copilot import auth_for
from .copilot_auth import EDITOR_HEADERS, get_json, read_login
from .quota_readings import copilot_plan, copilot_quota, limited_quota
from .quota_store import QUOTAS, Key, QuotaStore, Reading

log = logging.getLogger(LOGGER_NAME)

KINDS = {"copilot": "copilot", "codex": "chatgpt"}  # provider.auth -> the dashboard's kind
QUOTA_TIMEOUT = 5.0  # seconds for one read of GitHub's quota endpoint
TOKEN_PATH = "/copilot_internal/v2/token"
QUOTA_PATH = "/copilot_internal/user"


async def subscription_of(
    app: web.Application, provider: ResolvedProvider
) -> dict[str, Any] | None:
    """The provider's ``subscription`` object; None when it is not a subscription. With named
    accounts, the top level describes the account that served last (else the first) and
    ``accounts`` lists one object per account, in the configured order."""
    kind = KINDS.get(provider.auth)
    if kind is None:
        return None
    store = app.get(QUOTAS) or QuotaStore()
    names: list[str | None] = list(provider.accounts) or [None]
    if kind == "copilot":
        await _refresh_copilot(app, provider, names, store)
    described = [_describe(app, provider, kind, name, store) for name in names]
    if not provider.accounts:
        return described[0]
    last = store.last_account(provider.id)
    top = next((d for d in described if d["account"] == last), described[0])
    return {**top, "accounts": described}


def _describe(
    app: web.Application,
    provider: ResolvedProvider,
    kind: str,
    account: str | None,
    store: QuotaStore,
) -> dict[str, Any]:
    reading = store.reading((provider.id, account))
    plan = reading.plan if reading is not None else None
    if kind == "copilot":
        expires, sku, exchanged = _copilot_token(app, provider, account)
        reading, plan = reading or exchanged, plan or sku
    else:
        expires = _chatgpt_expiry(app, provider, account)
    return {
        "kind": kind,
        "account": account,
        "plan": plan,
        "token_expires_at": expires,
        "quota": [dict(item) for item in reading.quota] if reading is not None else [],
        "quota_seen_at": reading.seen_at if reading is not None else None,
    }


def _chatgpt_expiry(
    app: web.Application, provider: ResolvedProvider, account: str | None
) -> float | None:
    """The access token's expiry: the one in use, else the stored login's (read, not refreshed)."""
    try:
        credentials = credentials_for(app, provider, account)
        cached = credentials.cached_expiry
        return cached if cached is not None else credentials.load().expires_at
    except AnthroxyError:  # not set up, not logged in, unreadable: nothing known
        return None


def _copilot_token(
    app: web.Application, provider: ResolvedProvider, account: str | None
) -> tuple[float | None, str | None, Reading | None]:
    """The Copilot token's expiry and plan (``sku``), and the quota its exchange reported (free
    plans); all None before the first exchange."""
    try:
        auth = auth_for(app, provider, account)
    except AnthroxyError:
        return None, None, None
    token = auth.token
    if token is None:
        return None, None, None
    quota = limited_quota(auth.exchange_quota)
    exchanged = None
    if quota and auth.exchange_at is not None:
        exchanged = Reading(quota, auth.exchange_at, token.plan)
    return token.expires_at, token.plan, exchanged


# ---------------------------------------------------------------------------------------------
# Copilot: GitHub's quota endpoint.


def quota_url(settings: CopilotSettings) -> str:
    """``/copilot_internal/user`` on the host the token exchange goes to (api.github.com, an
    Enterprise host, or a test's fake), else beside the configured ``user_url``."""
    token_url = settings.copilot_token_url.rstrip("/")
    if token_url.endswith(TOKEN_PATH):
        return token_url.removesuffix(TOKEN_PATH) + QUOTA_PATH
    return settings.user_url.rstrip("/").removesuffix("/user") + QUOTA_PATH


async def _refresh_copilot(
    app: web.Application, provider: ResolvedProvider, names: list[str | None], store: QuotaStore
) -> None:
    """Start the reads that are due; wait (at most ``QUOTA_TIMEOUT`` and a little) only for
    those of accounts nothing is known of yet, so a page shows numbers from its first load."""
    first: list[asyncio.Task[None]] = []
    for name in names:
        key: Key = (provider.id, name)
        if store.due(key):
            store.start(key, functools.partial(_read_copilot, app, provider, name, store))
        task = store.pending(key)
        if task is not None and store.reading(key) is None:
            first.append(task)
    if first:
        await asyncio.wait(first, timeout=QUOTA_TIMEOUT + 1.0)


async def _read_copilot(
    app: web.Application, provider: ResolvedProvider, account: str | None, store: QuotaStore
) -> None:
    """One read of an account's quota; a failure keeps what was known, logged without detail
    that could hold a secret."""
    where = provider.id if account is None else f"{provider.id} account {account}"
    try:
        payload = await _fetch_copilot(app, provider, account)
    except (AnthroxyError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        reason = exc.message if isinstance(exc, AnthroxyError) else type(exc).__name__
        log.debug("Copilot quota of %s not read: %s", where, reason)
        return
    if payload is not None:
        store.put((provider.id, account), copilot_quota(payload), copilot_plan(payload))


async def _fetch_copilot(
    app: web.Application, provider: ResolvedProvider, account: str | None
) -> Any | None:
    """GitHub's answer as JSON, or None (no session yet, or a refusal: logged)."""
    live = app.get(LIVE)
    session = live.current.sessions.get(provider.id) if live is not None else None
    if session is None or provider.copilot is None:
        return None
    login = read_login(account_provider(provider, account))
    headers = {**EDITOR_HEADERS, "accept": "application/json"}
    headers["authorization"] = f"token {login['github_token']}"
    url = quota_url(provider.copilot)
    status, payload = await asyncio.wait_for(
        get_json(session, url, headers, provider=provider.id), QUOTA_TIMEOUT
    )
    if status != 200:
        log.debug("Copilot quota of %s: %s answered HTTP %s", provider.id, url, status)
        return None
    return payload
