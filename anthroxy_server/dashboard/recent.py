"""What the dashboard remembers of recent traffic, in memory: the last ``KEPT`` recorded
requests, each provider's samples of the last hour, and the live listeners.

``record`` runs in the request middleware's ``finally`` for every request, so it only appends
references (a few microseconds, bench/bench_dashboard.py measures it): the summary JSON, the
masked bodies and the percentiles are made when someone asks for them. A listener is a bounded
queue; one that falls behind loses events instead of slowing the request path.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..gateway import bodylog
from ..gateway.live import generation_of

if TYPE_CHECKING:
    from ..gateway.live import Generation
    from ..gateway.state import AccessInfo

MESSAGES = "/v1/messages"
RECORDED = frozenset({MESSAGES, "/v1/messages/count_tokens"})
KEPT = 500  # requests kept for /ui/api/requests
# Requests whose bodies stay readable (body logging on): Claude Code's are 50-300 KB each, so
# 500 of them could hold a hundred megabytes; older requests keep their summary only.
BODIES_KEPT = 50
MAX_LISTENERS = 20
QUEUE_EVENTS = 200  # events a listener may fall behind by before it loses some
HOUR = 3600.0
SAMPLES = 20_000  # per provider: an hour of a busy gateway (older ones age out anyway)


@dataclass(slots=True)
class Entry:
    """One finished request: references to what the gateway already holds."""

    request_id: str
    time: float  # Unix seconds at its end
    method: str
    path: str
    status: int
    started: float  # perf_counter readings
    ended: float
    access: AccessInfo
    generation: Generation  # the configuration it ran on (prices, key labels, secrets)
    bodies: dict[str, Any] | None  # body-log records by direction, when body logging is on
    made: dict[str, Any] | None = None  # the summary, once made (summary.py)
    encoded: bytes | None = None  # the summary as JSON, once made


@dataclass(slots=True)
class Past:
    """A request of an earlier run of the proxy, as the ledger kept it."""

    request_id: str
    summary: dict[str, Any]
    encoded: bytes  # the summary as JSON, as /ui/api/requests sends it


@dataclass(slots=True)
class Sample:
    time: float
    total_ms: float
    ttft_ms: float | None
    failed: bool


@dataclass
class Recent:
    entries: deque[Entry] = field(default_factory=lambda: deque(maxlen=KEPT))
    by_id: dict[str, Entry] = field(default_factory=dict)
    samples: dict[str, deque[Sample]] = field(default_factory=dict)
    listeners: set[asyncio.Queue[Entry | None]] = field(default_factory=set)
    with_bodies: deque[Entry] = field(default_factory=deque)
    dropped: int = 0  # events a slow listener lost
    # Requests of an earlier run, from the ledger (history.py), oldest first: older than every
    # entry, so they are the first to go as live ones come, and together they stay within KEPT.
    past: deque[Past] = field(default_factory=deque)
    past_by_id: dict[str, Past] = field(default_factory=dict)

    def add_past(self, pasts: Iterable[Past]) -> None:
        for past in pasts:
            self.past.append(past)
            self.past_by_id[past.request_id] = past
        while self.past and len(self.past) + len(self.entries) > KEPT:
            self.past_by_id.pop(self.past.popleft().request_id, None)

    def add(self, entry: Entry) -> None:
        entries = self.entries
        if self.past and len(self.past) + len(entries) >= KEPT:
            self.past_by_id.pop(self.past.popleft().request_id, None)
        if len(entries) == KEPT:
            self.by_id.pop(entries[0].request_id, None)
        entries.append(entry)
        self.by_id[entry.request_id] = entry
        if entry.bodies is not None:
            self.with_bodies.append(entry)
            if len(self.with_bodies) > BODIES_KEPT:
                self.with_bodies.popleft().bodies = None  # let the old bodies go
        access = entry.access
        if access.route and entry.path == MESSAGES:  # a token count is no answer's latency
            provider = access.route.partition("/")[0]
            kept = self.samples.get(provider)
            if kept is None:
                kept = self.samples[provider] = deque(maxlen=SAMPLES)
            first = access.first_output
            ttft = None if first is None else (first - entry.started) * 1000.0
            failed = entry.status >= 400 or access.stream_error is not None
            kept.append(Sample(entry.time, (entry.ended - entry.started) * 1000.0, ttft, failed))
        for listener in self.listeners:
            try:
                listener.put_nowait(entry)
            except asyncio.QueueFull:
                self.dropped += 1

    def last_hour(self, provider: str, now: float) -> list[Sample]:
        kept = self.samples.get(provider)
        if not kept:
            return []
        while kept and kept[0].time < now - HOUR:
            kept.popleft()
        return list(kept)

    def listen(self) -> asyncio.Queue[Entry | None] | None:
        """A new listener's queue; None when ``MAX_LISTENERS`` are listening already."""
        if len(self.listeners) >= MAX_LISTENERS:
            return None
        queue: asyncio.Queue[Entry | None] = asyncio.Queue(QUEUE_EVENTS)
        self.listeners.add(queue)
        return queue

    def close_listeners(self) -> None:
        """The server stops: every live stream ends (None is their signal)."""
        for listener in self.listeners:
            while listener.full():
                listener.get_nowait()
            listener.put_nowait(None)


RECENT: web.AppKey[Recent] = web.AppKey("dashboard_recent")


def record(
    request: web.Request, access: AccessInfo, status: int, started: float, request_id: str
) -> None:
    """Keep a finished ``POST /v1/messages`` (or ``count_tokens``) for the dashboard."""
    if request.method != "POST" or request.path not in RECORDED:
        return
    recent = request.app.get(RECENT)
    if recent is None:
        return
    recent.add(
        Entry(
            request_id, time.time(), request.method, request.path, status, started,
            time.perf_counter(), access, generation_of(request), bodylog.kept_bodies(request),
        )
    )  # fmt: skip
