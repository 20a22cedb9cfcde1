"""What the app last learnt of each subscription account's quota, in memory
(``subscription_status.py`` reads it for the dashboard).

* The ChatGPT access hands every backend answer's headers to ``record_codex`` (success or
  refusal alike): the rate-limit windows the headers carry are kept per account, at no extra
  request.
* The Copilot quota read (``subscription_status.py``) puts GitHub's answer here, and keeps the
  time of its last attempt so that GitHub is asked at most once per ``REFRESH_EVERY`` per
  account; its tasks are cancelled when the app stops.

Only numbers, times and plan names are kept: never a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from aiohttp import web

from .quota_readings import codex_plan, codex_quota

REFRESH_EVERY = 300.0  # seconds between two reads of one account's quota from GitHub

# (provider id, account name or None for the one login)
Key = tuple[str, str | None]


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    quota: list[dict[str, Any]]
    seen_at: float
    plan: str | None


class QuotaStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # tests replace it to move time on
        self._readings: dict[Key, Reading] = {}
        self._last: dict[str, str | None] = {}
        self._attempted: dict[Key, float] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}

    def put(self, key: Key, quota: list[dict[str, Any]], plan: str | None) -> None:
        self._readings[key] = Reading(quota, self.clock(), plan)

    def reading(self, key: Key) -> Reading | None:
        return self._readings.get(key)

    def answered(self, provider: str, account: str | None) -> None:
        """``account`` served ``provider``'s latest request: the dashboard shows it first."""
        self._last[provider] = account

    def last_account(self, provider: str) -> str | None:
        return self._last.get(provider)

    def due(self, key: Key) -> bool:
        """True (and the attempt counted from now) when ``key`` was not asked for within
        ``REFRESH_EVERY`` and no read of it is under way."""
        if self.pending(key) is not None:
            return False
        now = self.clock()
        if now - self._attempted.get(key, float("-inf")) < REFRESH_EVERY:
            return False
        self._attempted[key] = now
        return True

    def pending(self, key: Key) -> asyncio.Task[None] | None:
        """The read of ``key`` under way, if any."""
        task = self._tasks.get(key)
        return task if task is not None and not task.done() else None

    def start(self, key: Key, work: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work())
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def _forget(self, key: Key, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def settled(self) -> None:
        """Wait for the reads under way (tests; the app's cleanup cancels them instead)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


QUOTAS: web.AppKey[QuotaStore] = web.AppKey("subscription_quotas")


def setup(app: web.Application) -> None:
    store = app[QUOTAS] = QuotaStore()

    async def close(_: web.Application) -> None:
        await store.close()

    app.on_cleanup.append(close)


def record_codex(
    app: web.Application,
    provider: str,
    account: str | None,
    status: int,
    headers: Mapping[str, str],
) -> None:
    """Keep what a ChatGPT backend answer's headers say of ``account``'s usage windows (a 429's
    too: it says which window ran out)."""
    store = app.get(QUOTAS)
    if store is None:
        return
    if status == 200:
        store.answered(provider, account)
    quota = codex_quota(headers, store.clock())
    if quota:
        store.put((provider, account), quota, codex_plan(headers))
