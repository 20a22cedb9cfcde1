"""A provider's several credentials, and which one each request uses (docs/configuration.md,
"Several keys").

A ``Credential`` is opaque to the pool: an identity, a label safe to print and the headers that
authenticate a request. Keys are the first kind (``key_credentials``); the named logins of a
subscription (``accounts``) are the second: their tokens are renewed while the proxy runs, so
such a credential carries only the account's name and the provider's access makes its headers
at request time from that account's login (``accounts.py``).

The pool:

* picks for each request the credential of its conversation (``session_of``: Claude Code's
  session, so the provider's prompt cache keeps serving it) while that one is usable, else the
  next by ``rotation``: ``round-robin`` spreads new conversations and session-less requests over
  the credentials in turn, ``fill-first`` uses the first usable one until it is rate-limited;
* rests a credential that got a 429 (or a quota error) for as long as the provider says
  (``cooldown.py``), while the others carry on;
* sets aside for good a credential the provider refused (401, 402, 403), with a warning naming
  its label, never its secret; only a reload or a restart brings it back;
* answers, when none is usable, with the shortest wait (``wait``) or the refusals.

State lives per app in ``CredentialPools``. A reload builds a new pool for a provider whose
configuration changed and carries over, for each credential that is still there, its rest and
its counters; refusals and conversations are not carried (a reload is how the user says "the keys
are fixed now"). A request that started on an older configuration keeps using that
configuration's pool only when its credentials are the same. Touched only from the event loop.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from ..config.schema import ResolvedProvider, Rotation
from ..gateway.live import LIVE, generation_of
from ..gateway.logs import LOGGER_NAME
from ..gateway.state import CREDENTIAL_STATES
from ..gateway.upstream import key_headers
from .conversation import SESSION_HEADER, conversation_key

log = logging.getLogger(LOGGER_NAME)
MAX_SESSIONS = 4096  # conversations remembered per provider (least recently used dropped)


@dataclasses.dataclass(frozen=True, slots=True)
class Credential:
    id: str  # stable across reloads; a digest for keys, never shown
    label: str  # "env:KEY_A", "api_keys #2": what logs and /healthz call it
    headers: Mapping[str, str]
    account: str | None = None  # a named login: headers are made per request from its login


@dataclasses.dataclass(slots=True)
class _State:
    credential: Credential
    cooling_until: float = 0.0  # monotonic clock reading
    refused: int | None = None  # the HTTP status that set it aside
    requests: int = 0
    rate_limited: int = 0

    def usable(self, now: float) -> bool:
        return self.refused is None and self.cooling_until <= now


def key_credentials(provider: ResolvedProvider) -> list[Credential]:
    """One credential per key of ``provider``."""
    return [
        Credential(
            hashlib.blake2b(key.secret.encode(), digest_size=16).hexdigest(),
            key.label,
            key_headers(provider.auth, key.secret),
        )
        for key in provider.keys
    ]


def account_credentials(provider: ResolvedProvider) -> list[Credential]:
    """One credential per named login of ``provider`` (``accounts``)."""
    return [
        Credential(f"account:{name}", f"account {name}", {}, name) for name in provider.accounts
    ]


def provider_credentials(provider: ResolvedProvider) -> list[Credential]:
    return account_credentials(provider) if provider.accounts else key_credentials(provider)


def session_of(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The conversation a request belongs to when the client names one (Claude Code's session
    header, or ``metadata.user_id``); None for a request without (it just rotates)."""
    metadata = body.get("metadata")
    named = isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str)
    if headers.get(SESSION_HEADER) or named:
        return conversation_key(headers, body)
    return None


class CredentialPool:
    """The credentials of one provider and their state."""

    def __init__(
        self,
        provider: str,
        credentials: Sequence[Credential],
        *,
        rotation: Rotation = "round-robin",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self.rotation = rotation
        self._states = [_State(c) for c in credentials]
        self._clock = clock
        self._wall = wall
        self._next = 0  # round-robin: where the next search starts
        self._sessions: collections.OrderedDict[str, str] = collections.OrderedDict()

    def wall(self) -> float:
        """Unix time, for reset times the provider gives as dates (``cooldown.py``)."""
        return self._wall()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.credential.id for s in self._states)

    def pick(self, session: str | None, exclude: frozenset[str] = frozenset()) -> Credential | None:
        """The credential for the next request of ``session``; None when none is usable."""
        now = self._clock()
        usable = [
            i for i, s in enumerate(self._states)
            if s.usable(now) and s.credential.id not in exclude
        ]  # fmt: skip
        if not usable:
            return None
        index = self._sticky(session, usable)
        if index is None:
            index = usable[0] if self.rotation == "fill-first" else self._round_robin(usable)
        state = self._states[index]
        if session is not None:
            self._sessions[session] = state.credential.id
            self._sessions.move_to_end(session)
            if len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        state.requests += 1
        return state.credential

    def _sticky(self, session: str | None, usable: list[int]) -> int | None:
        wanted = self._sessions.get(session) if session is not None else None
        return next((i for i in usable if self._states[i].credential.id == wanted), None)

    def _round_robin(self, usable: list[int]) -> int:
        count = len(self._states)
        index = min(usable, key=lambda i: (i - self._next) % count)
        self._next = (index + 1) % count
        return index

    def cool(self, credential: Credential, seconds: float) -> None:
        """``credential`` got a 429 or a quota error: it rests ``seconds``."""
        state = self._state(credential)
        if state is None:
            return
        now = self._clock()
        resting = state.cooling_until > now  # a concurrent request already said so
        state.cooling_until = max(state.cooling_until, now + seconds)
        state.rate_limited += 1
        if resting:
            return
        log.warning(
            "provider '%s': credential %s is rate-limited; resting it %.0f s (%d of %d usable)",
            self.provider, credential.label, seconds, self._usable_count(), len(self._states),
        )  # fmt: skip

    def refuse(self, credential: Credential, status: int) -> None:
        """The provider refused ``credential`` (revoked, unpaid, forbidden): set aside."""
        state = self._state(credential)
        if state is None or state.refused is not None:
            return
        state.refused = status
        log.warning(
            "provider '%s': credential %s was refused (HTTP %d); not used again until "
            "`anthroxy reload` or a restart (%d of %d usable)",
            self.provider, credential.label, status, self._usable_count(), len(self._states),
        )  # fmt: skip

    def wait(self) -> float | None:
        """Seconds until the first resting credential is usable again; None when none rests."""
        now = self._clock()
        waits = [s.cooling_until - now for s in self._states if s.refused is None]
        resting = [w for w in waits if w > 0]
        return round(min(resting), 3) if resting else None

    def refusals(self) -> str:
        """``env:KEY_A: 401, api_keys #2: 403``"""
        return ", ".join(
            f"{s.credential.label}: {s.refused}" for s in self._states if s.refused is not None
        )

    def describe(self) -> list[dict[str, Any]]:
        """JSON-ready states for /healthz: labels and counters, never a secret."""
        now, wall = self._clock(), self._wall()
        out = []
        for s in self._states:
            entry: dict[str, Any] = {"label": s.credential.label, "state": "active"}
            if s.refused is not None:
                entry.update(state="refused", refused_status=s.refused)
            elif s.cooling_until > now:
                until = wall + (s.cooling_until - now)
                entry.update(state="cooling", until=_utc(until))
                entry["retry_in_s"] = round(s.cooling_until - now, 3)
            entry.update(requests=s.requests, rate_limited=s.rate_limited)
            out.append(entry)
        return out

    def carry_over(self, old: CredentialPool) -> None:
        """After a reload: rests and counters of the credentials still configured."""
        before = {s.credential.id: s for s in old._states}
        for state in self._states:
            kept = before.get(state.credential.id)
            if kept is not None:
                state.cooling_until = kept.cooling_until
                state.requests, state.rate_limited = kept.requests, kept.rate_limited

    def _state(self, credential: Credential) -> _State | None:
        return next((s for s in self._states if s.credential.id == credential.id), None)

    def _usable_count(self) -> int:
        now = self._clock()
        return sum(s.usable(now) for s in self._states)


def _utc(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclasses.dataclass(slots=True)
class _Entry:
    generation: int
    provider: ResolvedProvider
    pool: CredentialPool


class CredentialPools:
    """Every provider's pool in one app; a provider with fewer than two keys and no named
    accounts has none."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._entries: dict[str, _Entry] = {}

    def pool_for(self, provider: ResolvedProvider, generation: int) -> CredentialPool | None:
        """The pool of ``provider`` as configured in ``generation`` (``live.Generation.number``)."""
        if len(provider.keys) < 2 and not provider.accounts:
            return None  # named accounts make a pool even alone: its state shows in /healthz
        entry = self._entries.get(provider.id)
        if entry is not None and entry.provider is provider:
            return entry.pool
        pool = CredentialPool(
            provider.id,
            provider_credentials(provider),
            rotation=provider.rotation,
            clock=self._clock,
            wall=self._wall,
        )
        if entry is not None and generation < entry.generation:
            # A request still running on an older configuration.
            return entry.pool if entry.pool.ids == pool.ids else pool
        if entry is not None:
            pool.carry_over(entry.pool)
        self._entries[provider.id] = _Entry(generation, provider, pool)
        return pool


CREDENTIAL_POOLS: web.AppKey[CredentialPools] = web.AppKey("credential_pools")


def request_auth(
    request: web.Request, provider: ResolvedProvider, body: Mapping[str, Any]
) -> Mapping[str, str] | None:
    """The credential headers for a side request (count_tokens) of this conversation, from the
    provider's pool; None (the one key) for a provider without a pool or no usable key."""
    pool = pool_for(request, provider)
    chosen = pool.pick(session_of(request.headers, body)) if pool is not None else None
    return chosen.headers if chosen is not None and chosen.account is None else None


def pool_for(request: web.Request, provider: ResolvedProvider) -> CredentialPool | None:
    """The pool of ``provider`` as the request's configuration has it."""
    pools = request.app.get(CREDENTIAL_POOLS)
    generation = generation_of(request).number
    return pools.pool_for(provider, generation) if pools is not None else None


def setup(app: web.Application) -> None:
    pools = app[CREDENTIAL_POOLS] = CredentialPools()

    def states(provider: ResolvedProvider, generation: int) -> Sequence[Mapping[str, Any]]:
        pool = pools.pool_for(provider, generation)
        return pool.describe() if pool is not None else ()

    app[CREDENTIAL_STATES] = states


def credential_fields(app: web.Application, provider: ResolvedProvider) -> dict[str, Any]:
    """``{"credentials": [...]}`` for a provider's /healthz entry when it has several."""
    pools = app.get(CREDENTIAL_POOLS)
    live = app.get(LIVE)
    generation = live.current.number if live is not None else 0
    pool = pools.pool_for(provider, generation) if pools is not None else None
    return {} if pool is None else {"rotation": pool.rotation, "credentials": pool.describe()}
