"""Live model lists: ``GET`` a provider's models endpoint and read it into ``LiveModel`` values.

A ``Lister`` takes the provider and a ClientSession and returns the list, or raises
``ListingError`` with a message fit for a log line (never the key). The generic listers here
serve every provider without a lister of its own (``providers.LISTERS``):

* OpenAI-compatible (``api`` chat or responses): ``GET {base_url}/models``, ``data[].id`` and
  ``created`` (Unix seconds); https://platform.openai.com/docs/api-reference/models/list
* Anthropic dialect: ``GET {base_url}/v1/models?limit=1000``, followed while ``has_more`` with
  ``after_id={last_id}``; ``data[].id``, ``created_at`` (RFC 3339), ``display_name``;
  https://docs.anthropic.com/en/api/models-list

``models_url`` in the provider's table replaces the URL (enterprise hosts, tests).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp

from anthroxy.routing.live_models import LiveModel

from ..config.schema import ResolvedProvider
from ..gateway.upstream import credential_headers, join_url

Lister = Callable[[ResolvedProvider, aiohttp.ClientSession], Awaitable[list[LiveModel]]]

ANTHROPIC_VERSION = "2023-06-01"
_PAGE_LIMIT = 1000
_MAX_PAGES = 20  # a loop guard: no provider lists 20,000 models


class ListingError(Exception):
    """The list could not be read; the message names the provider and why, never a secret."""


def models_url(provider: ResolvedProvider) -> str:
    if provider.models_url:
        return provider.models_url
    path = "/v1/models" if provider.api == "anthropic" else "/models"
    return join_url(provider.base_url, path)


async def get_json(
    provider: ResolvedProvider,
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One GET answered with a JSON object, or ``ListingError``."""
    try:
        async with session.get(url, headers=headers, params=params) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, OSError) as exc:
        raise ListingError(f"{provider.id}: cannot reach {url}: {type(exc).__name__}") from exc
    if status != 200:
        hint = " (check the key)" if status in (401, 403) else ""
        raise ListingError(f"{provider.id}: {url} answered HTTP {status}{hint}")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ListingError(f"{provider.id}: {url} did not answer with a JSON object")
    return body


def _entries(provider: ResolvedProvider, body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data")
    if not isinstance(data, list):
        raise ListingError(f"{provider.id}: the model list has no 'data' array")
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str) and e["id"]]


async def list_openai(
    provider: ResolvedProvider, session: aiohttp.ClientSession
) -> list[LiveModel]:
    body = await get_json(provider, session, models_url(provider), credential_headers(provider))
    return [
        LiveModel(id=e["id"], created=_int(e.get("created")), display_name=_str(e.get("name")))
        for e in _entries(provider, body)
    ]


async def list_anthropic(
    provider: ResolvedProvider, session: aiohttp.ClientSession
) -> list[LiveModel]:
    headers = {"anthropic-version": ANTHROPIC_VERSION, **credential_headers(provider)}
    url, params = models_url(provider), {"limit": str(_PAGE_LIMIT)}
    found: list[LiveModel] = []
    for _ in range(_MAX_PAGES):
        body = await get_json(provider, session, url, headers, params)
        for e in _entries(provider, body):
            created = _rfc3339(e.get("created_at"))
            found.append(
                LiveModel(id=e["id"], created=created, display_name=_str(e.get("display_name")))
            )
        last = body.get("last_id")
        if body.get("has_more") is not True or not isinstance(last, str) or not last:
            break
        params = {"limit": str(_PAGE_LIMIT), "after_id": last}
    return found


async def list_generic(
    provider: ResolvedProvider, session: aiohttp.ClientSession
) -> list[LiveModel]:
    """The list in the provider's own dialect."""
    if provider.api == "anthropic":
        return await list_anthropic(provider, session)
    return await list_openai(provider, session)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _rfc3339(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
