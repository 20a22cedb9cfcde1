"""The configuration a running app serves with, replaced whole by a reload.

A ``Generation`` holds everything derived from one loaded configuration: the settings (routing
table, providers), the secrets to redact, one ClientSession per provider, the model-limit
overrides and the configuration's fingerprint. ``Live.current`` is the generation new requests
get. The request middleware takes it once, at the request's start (``acquire``), and every later
read for that request goes through that snapshot (``settings_of(request)``,
``generation_of(request)``), so a reload, which is the single assignment in ``Live.swap``, never
changes a request already under way: a stream finishes on the routing, keys and sessions it
started with.

A generation that is no longer current is retired; its sessions that the new generation does
not reuse are closed once its last request ends (``release``), or at the app's cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from anthroxy.routing import capabilities

if TYPE_CHECKING:
    from ..config.schema import Settings

GENERATION_KEY = "anthroxy.generation"  # request key: the generation the request started on


class Generation:
    """One loaded configuration and what the app derived from it."""

    __slots__ = (
        "fingerprint",
        "loaded_at",
        "model_limits",
        "number",
        "secrets",
        "sections",
        "sessions",
        "settings",
        "users",
    )

    def __init__(
        self,
        settings: Settings,
        *,
        secrets: tuple[str, ...],
        sessions: Mapping[str, aiohttp.ClientSession],
        model_limits: capabilities.Overrides,
        sections: Mapping[str, str],
        fingerprint: str,
        number: int,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.sessions = dict(sessions)
        self.model_limits = model_limits
        self.sections = dict(sections)
        self.fingerprint = fingerprint
        self.number = number
        self.loaded_at = time.time()
        self.users = 0  # requests under way that started on this generation


@dataclass
class ReloadStatus:
    """What ``/healthz`` says about reloads: how many were asked for, and the last refusal."""

    attempts: int = 0
    refused_at: float | None = None
    problems: list[str] = field(default_factory=list)  # the last refusal's, as `config check`
    restart_needed: list[str] = field(default_factory=list)  # keys a reload cannot apply


class Live:
    """The app's current generation, and the retired ones still serving requests."""

    def __init__(self, first: Generation) -> None:
        self.current = first
        self.retired: list[Generation] = []
        self.reloads = ReloadStatus()
        self.lock = asyncio.Lock()  # one reload at a time
        self._closing: set[asyncio.Task[None]] = set()

    def acquire(self) -> Generation:
        generation = self.current
        generation.users += 1
        return generation

    def release(self, generation: Generation) -> None:
        generation.users -= 1
        if generation is not self.current and generation.users == 0:
            self._retire_idle()

    def swap(self, new: Generation) -> Generation:
        """Make ``new`` current; the previous generation keeps its running requests."""
        old, self.current = self.current, new  # the reload itself: one reference assignment
        self.retired.append(old)
        self._retire_idle()
        return old

    def _retire_idle(self) -> None:
        idle = [g for g in self.retired if g.users == 0]
        if not idle:
            return
        self.retired = [g for g in self.retired if g.users > 0]
        keep = self._sessions_in_use()
        doomed = {id(s): s for g in idle for s in g.sessions.values() if id(s) not in keep}
        if doomed:
            task = asyncio.get_running_loop().create_task(_close(list(doomed.values())))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _sessions_in_use(self) -> set[int]:
        live = [self.current, *self.retired]
        return {id(s) for g in live for s in g.sessions.values()}

    def all_sessions(self) -> list[aiohttp.ClientSession]:
        found = {id(s): s for g in (self.current, *self.retired) for s in g.sessions.values()}
        return list(found.values())

    async def close(self) -> None:
        """The app's cleanup: every session still open, and the closings under way."""
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await _close(self.all_sessions())


async def _close(sessions: list[aiohttp.ClientSession]) -> None:
    for session in sessions:
        with contextlib.suppress(Exception):
            await session.close()


LIVE: web.AppKey[Live] = web.AppKey("live")


def generation_of(request: web.Request) -> Generation:
    """The generation this request started on (the current one outside the middleware)."""
    found = request.get(GENERATION_KEY)
    if isinstance(found, Generation):
        return found
    return request.app[LIVE].current


def settings_of(request: web.Request) -> Settings:
    return generation_of(request).settings
