"""Upstream HTTP plumbing: one ClientSession per provider, auth and forwarded headers.

Credentials other than keys reach a request through the provider's access
(``providers.access_for``); this module only knows keys.

Sessions are made when the app starts or reloads its configuration (``reload.py``) and closed
with the app or when no request uses them any more (``live.py``). Their timeout has no total
(long generations must not be cut) but bounds connecting and every socket read, so a stalled
upstream ends while a slow one does not (aiohttp's ``ClientTimeout``: ``sock_connect``,
``sock_read``).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohttp

from anthroxy.passthrough import filter_betas

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider

# The only Anthropic API version in use (docs/protocol/anthropic.md §2.1); sent when the client gave
# none.
ANTHROPIC_VERSION = "2023-06-01"
# Response headers an Anthropic-dialect upstream sends that the client should see
# (docs/protocol/anthropic.md §2.2).
COPIED_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-")
COPIED_HEADERS = ("retry-after", "retry-after-ms")


def open_session(provider: ResolvedProvider, *, trust_env: bool) -> aiohttp.ClientSession:
    """The provider's session (made inside the running loop: the app's startup or a reload)."""
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=provider.connect_timeout, sock_read=provider.read_timeout
    )
    # limit=0: concurrency is bounded by the clients, not by a hidden pool queue.
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=trust_env)


def credential_headers(
    provider: ResolvedProvider, auth: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A keyed provider's configured extra headers, then its credential: ``auth`` (the headers
    of the credential its pool chose, ``providers/credentials.py``), else its one key. A
    configured header cannot replace the credentials."""
    headers = dict(provider.headers)
    if auth is None:
        auth = key_headers(provider.auth, provider.api_key)
    headers.update(auth)
    return headers


def key_headers(auth: str, key: str | None) -> dict[str, str]:
    """The headers that carry ``key`` for a provider of this ``auth``."""
    if not key or auth == "none":
        return {}
    if auth == "x-api-key":
        return {"x-api-key": key}
    return {"authorization": f"Bearer {key}"}


def anthropic_headers(client: Mapping[str, str], provider: ResolvedProvider) -> dict[str, str]:
    """The Anthropic dialect's own headers: the client's version and its betas, less those the
    provider refuses."""
    headers = {
        "content-type": "application/json",
        "anthropic-version": client.get("anthropic-version", ANTHROPIC_VERSION),
    }
    betas = filter_betas(client.get("anthropic-beta"), provider.profile.drop_betas)
    if betas:
        headers["anthropic-beta"] = betas
    return headers


def json_headers() -> dict[str, str]:
    """The Chat Completions and Responses dialects' own headers."""
    return {"content-type": "application/json"}


def copied_headers(upstream: Mapping[str, str]) -> dict[str, str]:
    """Rate-limit and retry headers to hand back; the upstream's request id under its own name."""
    out = {}
    for name, value in upstream.items():
        lowered = name.lower()
        if lowered in COPIED_HEADERS or lowered.startswith(COPIED_PREFIXES):
            out[lowered] = value
        elif lowered == "request-id":
            out["upstream-request-id"] = value
    return out


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


class ReplyTooLarge(Exception):
    """The upstream body passed the cap (``server.max_reply_bytes``) before its end."""


# Bodies already read (None: too large), so a second reader (the relay after
# gateway/learned.py looked at a refusal) gets the same answer; weak keys let each entry go
# with its response.
_READ: weakref.WeakKeyDictionary[aiohttp.ClientResponse, bytes | None] = weakref.WeakKeyDictionary()


async def read_capped(upstream: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or ``ReplyTooLarge`` as soon as it passes ``limit`` bytes: a broken or
    hostile upstream answering gigabytes costs at most ``limit`` of memory, not all of it."""
    if upstream in _READ:
        known = _READ[upstream]
        if known is None:
            raise ReplyTooLarge
        return known
    length = upstream.content_length
    chunks: list[bytes] = []
    size = 0 if length is None else length
    if size <= limit:
        size = 0
        async for chunk in upstream.content.iter_any():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
    if size > limit:
        _READ[upstream] = None
        raise ReplyTooLarge
    body = _READ[upstream] = b"".join(chunks)
    return body
