"""The ``gemini`` provider: Google's Gemini API with an API key, over its OpenAI-compatible
endpoint (``…/v1beta/openai/chat/completions``), plus what a key alone does not say:

* the live model list, from the native ``GET …/v1beta/models`` (paginated with
  ``nextPageToken``; only models whose ``supportedGenerationMethods`` hold ``generateContent``;
  ids without the ``models/`` prefix), less the models the key's tier cannot use;
* the tier probe (``gemini_tiers``), run in the background when the server starts: with a
  free-tier key, a paid-only model is refused before anything is sent (``check_target``, asked
  for each target of a fallback chain, so the chain moves on to its next target), with a
  message naming the model, the tier and the fix, instead of a 429 in the middle of a session;
* an invalid key found by the probe: one log line, and ``/healthz`` (so ``anthroxy status``)
  says so.

docs/providers/gemini.md is the user's page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from anthroxy.errors import AnthroxyError, AuthenticationFailed, TargetUnavailable
from anthroxy.routing.live_models import LiveModel

from ..config import paths
from ..config.schema import ResolvedProvider
from ..gateway.logs import LOGGER_NAME
from ..gateway.state import CACHE_DIR, SETTINGS
from .gemini_tiers import (
    TierBook,
    Verdict,
    book_path,
    error_object,
    key_digest,
    probe_models,
    verdict,
)

log = logging.getLogger(LOGGER_NAME)

PROVIDER_ID = "gemini"
PAGE_SIZE = 1000  # the most models.list gives per page
MAX_PAGES = 20  # a server that keeps sending page tokens cannot hold the listing forever
LIST_TIMEOUT = 5.0
# key digest -> the verdicts for that key (a reload with another key gets another book).
GEMINI_TIERS: web.AppKey[dict[str, TierBook]] = web.AppKey("gemini_tiers")
_CHECK_TASK: web.AppKey[list[asyncio.Task[None]]] = web.AppKey("gemini_check_task")


def is_gemini(provider: ResolvedProvider) -> bool:
    return provider.id == PROVIDER_ID


def models_url(provider: ResolvedProvider) -> str:
    """``models_url`` if set, else the native list beside the compatible endpoint
    (``…/v1beta/openai`` -> ``…/v1beta/models``)."""
    if provider.models_url:
        return provider.models_url
    base = provider.base_url.rstrip("/")
    base = base.removesuffix("/openai")
    return f"{base}/models"


class KeyRefused(AuthenticationFailed):
    """The provider refused the key; ``said`` is its own message (never the key)."""

    def __init__(self, message: str, said: str) -> None:
        super().__init__(message)
        self.said = said


class ListingFailed(AnthroxyError):
    """The model list could not be read (the message says why, never the key)."""

    status = 502


def _live_model(entry: Mapping[str, Any]) -> LiveModel | None:
    name = entry.get("name")
    methods = entry.get("supportedGenerationMethods")
    if not isinstance(name, str) or not isinstance(methods, list):
        return None
    if "generateContent" not in methods:
        return None  # embeddings, AQA, Imagen's predict: nothing a chat client can call
    display = entry.get("displayName")
    return LiveModel(
        id=name.removeprefix("models/"),
        display_name=display if isinstance(display, str) else None,
    )


async def _page(
    provider: ResolvedProvider, session: aiohttp.ClientSession, token: str | None
) -> Mapping[str, Any]:
    params = {"pageSize": str(PAGE_SIZE), **({"pageToken": token} if token else {})}
    headers = {**provider.headers, "x-goog-api-key": provider.api_key or ""}
    try:
        async with session.get(
            models_url(provider),
            params=params,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=LIST_TIMEOUT),
        ) as response:
            raw = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise ListingFailed(
            f"provider '{provider.id}': the model list did not come ({type(exc).__name__})"
        ) from None
    error = error_object(raw)
    if verdict(status, raw) is Verdict.KEY_INVALID:
        said = str(error.get("message") or "API key not valid")
        raise KeyRefused(f"provider '{provider.id}': {_key_hint(provider, error)}", said)
    if status != 200:
        message = error.get("message") or raw[:200].decode(errors="replace")
        raise ListingFailed(f"provider '{provider.id}': listing models gave {status}: {message}")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        raise ListingFailed(f"provider '{provider.id}': the model list is not a JSON object")
    return body


async def fetch_models(
    provider: ResolvedProvider, session: aiohttp.ClientSession
) -> list[LiveModel]:
    """Every model of the list that can generate content, in the provider's order."""
    found: list[LiveModel] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        body = await _page(provider, session, token)
        models = body.get("models")
        for entry in models if isinstance(models, list) else ():
            model = _live_model(entry) if isinstance(entry, Mapping) else None
            if model is not None:
                found.append(model)
        next_token = body.get("nextPageToken")
        if not isinstance(next_token, str) or not next_token:
            return found
        token = next_token
    return found


def default_cache_dir() -> Path:
    return paths.cache_dir(os.environ, Path.home())


async def list_models(
    provider: ResolvedProvider, session: aiohttp.ClientSession
) -> list[LiveModel]:
    """The lister (``providers.LISTERS``): the live list without the models this key's tier
    cannot use; probes the pro and preview models that have no verdict from the last 24 h."""
    models = await fetch_models(provider, session)
    book = TierBook.load(book_path(default_cache_dir(), provider))
    await probe_models(provider, session, book, [m.id for m in models])
    refused = set(book.unavailable())
    return [m for m in models if m.id not in refused]


# ---------------------------------------------------------------------------------------------
# The server side: the check at start, the refusal, the health fields.


def _key_hint(provider: ResolvedProvider, error: Mapping[str, Any]) -> str:
    said = str(error.get("message") or "API key not valid")
    source = provider.key_source or ""
    where = source[4:] if source.startswith("env:") else f"providers.{provider.id}.api_key"
    return (
        f"the API key was refused ({said.rstrip('.')}); check {where} "
        "(keys are made at https://aistudio.google.com/apikey)"
    )


async def check_provider(
    provider: ResolvedProvider, session: aiohttp.ClientSession, book: TierBook
) -> None:
    """List the models and probe the tiers; log what the user must know, once."""
    try:
        ids = [m.id for m in await fetch_models(provider, session)]
    except KeyRefused as refused:
        book.key_problem = refused.said
        log.error("%s", refused.message)
        return
    except ListingFailed as failed:
        log.warning("%s; probing the configured models instead", failed.message)
        ids = []
    await probe_models(provider, session, book, [*ids, *provider.models])
    if book.key_problem is not None:
        hint = _key_hint(provider, {"message": book.key_problem})
        log.error("provider '%s': %s", provider.id, hint)
    elif paid := book.unavailable():
        log.warning(
            "provider '%s': this key is on the Gemini API free tier; these models need a paid "
            "key and are refused at once: %s",
            provider.id,
            ", ".join(paid),
        )


async def _check_all(app: web.Application, cache_dir: Path) -> None:
    trust_env = app[SETTINGS].config.server.trust_env
    async with aiohttp.ClientSession(trust_env=trust_env) as session:
        checks = []
        for provider in app[SETTINGS].providers.values():
            if not is_gemini(provider) or not provider.api_key:
                continue
            book = TierBook.load(book_path(cache_dir, provider))
            app[GEMINI_TIERS][key_digest(provider)] = book
            checks.append(check_provider(provider, session, book))
        await asyncio.gather(*checks)


async def _check_context(app: web.Application) -> AsyncIterator[None]:
    """The check runs beside the server, never before it answers; a server started without a
    cache directory (the gateway tests) makes no background requests."""
    cache_dir = app.get(CACHE_DIR)
    if cache_dir is not None:
        app[_CHECK_TASK].append(asyncio.create_task(_check_all(app, cache_dir)))
    yield
    for task in app[_CHECK_TASK]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def setup(app: web.Application) -> None:
    app[GEMINI_TIERS] = {}
    app[_CHECK_TASK] = []
    app.cleanup_ctx.append(_check_context)


async def wait_checked(app: web.Application) -> None:
    """Wait for the start-up check (tests; ``anthroxy`` itself never waits)."""
    await asyncio.gather(*app[_CHECK_TASK], return_exceptions=True)


def health_fields(app: web.Application, provider: ResolvedProvider) -> dict[str, object]:
    """What ``/healthz`` adds for a Gemini provider: the tier check's outcome, never the key."""
    if not is_gemini(provider):
        return {}
    book = app.get(GEMINI_TIERS, {}).get(key_digest(provider))
    if book is None:
        return {}
    if book.key_problem is not None:
        return {"tier_check": "API key refused: " + book.key_problem}
    paid = book.unavailable()
    if paid:
        return {"tier_check": "free tier; paid-only: " + ", ".join(paid), "unavailable": paid}
    return {"tier_check": "ok" if book.verdicts else "pending"}


def check_target(app: web.Application, provider: ResolvedProvider, model: str) -> None:
    """Refuse at once a model the key's tier has no quota for (a fresh verdict of the probe)."""
    if not is_gemini(provider):
        return
    book = app.get(GEMINI_TIERS, {}).get(key_digest(provider))
    if book is not None and book.fresh(model) is Verdict.PAID_ONLY:
        raise paid_only_error(provider, model, book.checked_at(model))


def paid_only_error(
    provider: ResolvedProvider, model: str, checked: float | None
) -> TargetUnavailable:
    when = (
        datetime.fromtimestamp(checked, UTC).strftime(" (checked %Y-%m-%d %H:%M UTC)")
        if checked is not None
        else ""
    )
    return TargetUnavailable(
        f"{provider.id}/{model} is not available with this API key: the key is on the Gemini API "
        f"free tier, which has no quota for {model}{when}. Pick another model (`anthroxy models "
        f"{provider.id}` lists the ones this key can use) or use a key of a Google Cloud project "
        "with billing enabled.",
        should_retry=False,
    )
