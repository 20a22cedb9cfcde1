"""The live model lists in memory, their refreshes, and what an ``@auto`` target means now.

``LiveLists`` keeps one list per provider and credential (the cache file's key). Nothing on the
request path waits for the network: ``resolve`` picks from the list it has (``pick_auto``),
and when that list is missing or older than 24 hours it starts a background refresh and uses
the stale list meanwhile. With no list at all, an ``@auto`` target uses the provider's
catalogue default model (or its first configured model), said once in the log.

A refresh has ``timeout`` seconds (5 by default). A failed one keeps the list there was and is
logged once per distinct failure; the next try comes no sooner than ``RETRY_AFTER`` seconds,
so a provider that is down is not asked again by every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from anthroxy.errors import UnknownModel
from anthroxy.routing.auto import auto_hint, is_auto, pick_auto
from anthroxy.routing.catalog import CATALOG
from anthroxy.routing.live_models import LiveModel
from anthroxy.routing.table import Route

from ..config.schema import ResolvedProvider
from ..gateway.logs import LOGGER_NAME
from ..providers import LISTERS, ListingError, lister_for
from . import cache
from .cache import TTL, CachedList

log = logging.getLogger(LOGGER_NAME)

REFRESH_TIMEOUT = 5.0
RETRY_AFTER = 60.0
# Auth kinds the generic listers can use; a provider with another kind needs its own lister.
_GENERIC_AUTH = ("bearer", "x-api-key", "none")


@dataclass(frozen=True, slots=True)
class Resolution:
    model: str
    source: str  # "live list" or "default (no live list yet)"


def listable(provider: ResolvedProvider) -> bool:
    return provider.id in LISTERS or provider.auth in _GENERIC_AUTH


class LiveLists:
    def __init__(
        self,
        cache_dir: Path | None,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = REFRESH_TIMEOUT,
        trust_env: bool = False,  # server.trust_env: list through HTTPS_PROXY like requests do
    ) -> None:
        self._trust_env = trust_env
        self.cache_dir = cache_dir  # None: memory only (tests, or no home directory)
        self._clock = clock
        self._timeout = timeout
        self._lists: dict[str, CachedList] = {}
        self._read_from_disk: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._errors: dict[str, str] = {}
        self._failed_at: dict[str, float] = {}
        self._said: set[str] = set()  # log lines said once
        self._picks: dict[tuple[str, str], tuple[CachedList, str | None]] = {}
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def key(provider: ResolvedProvider) -> str:
        return f"{provider.id}-{cache.credential_digest(provider)}"

    def cached(self, provider: ResolvedProvider) -> CachedList | None:
        """The list in memory, else the one on disk (read once per key)."""
        key = self.key(provider)
        if key not in self._lists and key not in self._read_from_disk:
            self._read_from_disk.add(key)
            found = cache.read(self.cache_dir, provider) if self.cache_dir else None
            if found is not None:
                self._lists[key] = found
        return self._lists.get(key)

    def stale(self, provider: ResolvedProvider) -> bool:
        found = self.cached(provider)
        return found is None or found.age(self._clock()) > TTL

    # -- refreshing ---------------------------------------------------------------------------

    async def refresh(self, provider: ResolvedProvider) -> CachedList:
        """Fetch the list now (``timeout`` seconds), keep and cache it; ``ListingError`` when
        that fails (the old list stays)."""
        key = self.key(provider)
        try:
            async with asyncio.timeout(self._timeout):
                models = await lister_for(provider.id)(provider, self._client())
        except TimeoutError:
            self._failed(key, f"{provider.id}: the model list took over {self._timeout:g} s")
            raise ListingError(self._errors[key]) from None
        except ListingError as exc:
            self._failed(key, str(exc))
            raise
        except Exception as exc:  # a provider's own lister may raise its own error types
            self._failed(key, f"{provider.id}: {exc or type(exc).__name__}")
            raise ListingError(self._errors[key]) from exc
        if not models:  # an empty answer would turn every @auto into the default model
            self._failed(key, f"{provider.id}: the model list came back empty")
            raise ListingError(self._errors[key])
        fresh = CachedList(tuple(models), self._clock())
        self._lists[key] = fresh
        self._errors.pop(key, None)
        self._failed_at.pop(key, None)
        self._said = {said for said in self._said if not said.startswith(f"fail:{key}:")}
        if self.cache_dir is not None:
            try:
                cache.write(self.cache_dir, provider, fresh)
            except OSError as exc:
                self._say(f"write:{key}", f"cannot write the model list cache: {exc}")
        return fresh

    def refresh_soon(self, provider: ResolvedProvider) -> None:
        """A background refresh, unless one runs or the last failure is too recent."""
        key = self.key(provider)
        running = self._tasks.get(key)
        if running is not None and not running.done():
            return
        failed = self._failed_at.get(key)
        if failed is not None and self._clock() - failed < RETRY_AFTER:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a command outside the server's loop: it refreshes explicitly
        self._tasks[key] = loop.create_task(self._quiet_refresh(provider))

    async def _quiet_refresh(self, provider: ResolvedProvider) -> None:
        with contextlib.suppress(ListingError):  # logged by _failed; the old list stays
            await self.refresh(provider)

    def _failed(self, key: str, message: str) -> None:
        self._errors[key] = message
        self._failed_at[key] = self._clock()
        kept = " (keeping the list there was)" if key in self._lists else ""
        self._say(f"fail:{key}:{message}", f"model list refresh failed: {message}{kept}")

    def _say(self, once: str, message: str) -> None:
        if once not in self._said:
            self._said.add(once)
            log.warning("%s", message)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trust_env=self._trust_env)
        return self._session

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # -- resolution ---------------------------------------------------------------------------

    def pick(self, provider: ResolvedProvider, model: str) -> str | None:
        """What the cached list (fresh or not) gives ``@auto[:hint]``; no refresh, no log.
        Remembered per list: ranking a few hundred ids costs milliseconds, a lookup does not."""
        found = self.cached(provider)
        if found is None:
            return None
        memo_key = (self.key(provider), model)
        memo = self._picks.get(memo_key)
        if memo is not None and memo[0] is found:
            return memo[1]
        picked = pick_auto(found.models, auto_hint(model))
        self._picks[memo_key] = (found, None if picked is None else picked.id)
        return self._picks[memo_key][1]

    def explain(self, provider: ResolvedProvider, model: str) -> Resolution:
        """What ``provider/<model>`` means now, for a ``model`` that is ``@auto[:hint]``."""
        found = self.cached(provider)
        if found is None or found.age(self._clock()) > TTL:
            self.refresh_soon(provider)
        picked = self.pick(provider, model)
        if picked is not None:
            return Resolution(picked, "live list")
        known = _known_pick(provider.models, auto_hint(model))
        if known is not None:  # no live list (yet): the best of the models it is known for
            return Resolution(known, "known models (no live list yet)")
        default = _default_model(provider)
        if default is None:
            raise UnknownModel(
                f"'{provider.id}/{model}' has no live model list to pick from yet and the "
                f"provider has no default model; run `anthroxy refresh {provider.id}` or list "
                f"models under [providers.{provider.id}]"
            )
        why = "no live list yet" if found is None else "nothing in its live list matches"
        self._say(
            f"default:{provider.id}/{model}",
            f"{provider.id}/{model}: {why}; using {default} meanwhile",
        )
        return Resolution(default, f"default ({why})")

    def resolve(self, route: Route, provider: ResolvedProvider) -> Route:
        if not is_auto(route.model):
            return route
        return dataclasses.replace(route, model=self.explain(provider, route.model).model)

    def describe(self, provider: ResolvedProvider) -> dict[str, Any]:
        found = self.cached(provider)
        key = self.key(provider)
        running = self._tasks.get(key)
        now = self._clock()
        return {
            "models": None if found is None else len(found.models),
            "age_s": None if found is None else round(found.age(now)),
            "fresh": found is not None and found.age(now) <= TTL,
            "refreshing": running is not None and not running.done(),
            "error": self._errors.get(key),
        }


@functools.lru_cache(maxsize=256)
def _known_pick(models: tuple[str, ...], hint: str | None) -> str | None:
    """``pick_auto`` over a provider's configured (else catalogue) models."""
    picked = pick_auto([LiveModel(name) for name in models], hint)
    return None if picked is None else picked.id


def _default_model(provider: ResolvedProvider) -> str | None:
    preset = CATALOG.get(provider.id)
    if preset is not None and preset.default_model:
        return preset.default_model
    return provider.models[0] if provider.models else None
