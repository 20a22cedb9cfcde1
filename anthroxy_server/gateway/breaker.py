"""Circuit breakers: one per provider, so a provider that keeps failing is skipped for a while.

States (the classic breaker, one small state machine per provider):

* ``closed``: requests go through; consecutive failures are counted, a success resets the count.
* ``open``: after ``failures`` consecutive failures the provider is skipped for ``cooldown``
  seconds (the fallback chain moves on without calling it).
* ``half-open``: once the cooldown is over, ONE trial request may go through; its success closes
  the breaker, its failure opens it again for a new cooldown. While the trial is in flight other
  requests skip the provider.

What counts as a failure is the fallback loop's decision (``fallback.is_fallback_error``:
unreachable, timeout, 429, 5xx). An answer that is the request's own fault (a 400) shows the
provider is up, so it counts as a success. ``failures <= 0`` disables the breaker.

Each breaker also keeps the provider's last error (status and a short reason, which the caller
gives already redacted), for ``/healthz``, ``anthroxy status`` and the "nothing can serve"
answer: a person asking why a provider is skipped wants the reason, not only the state.

The clock is injectable (``time.monotonic`` by default) so tests step time by hand. The state is
per app, touched only from the event loop's thread, so no lock is needed.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


REASON_LENGTH = 160  # a reason longer than this is cut: a status line, not the whole body


@dataclass(frozen=True, slots=True)
class LastError:
    status: int
    reason: str
    at: float  # clock reading


@dataclass(slots=True)
class _Breaker:
    failures: int = 0  # consecutive failures
    opened_at: float | None = None  # clock reading when the breaker opened; None when closed
    trial: bool = False  # a half-open trial request is in flight
    last_error: LastError | None = None


def short_reason(text: str) -> str:
    """``text`` on one line, cut to ``REASON_LENGTH`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= REASON_LENGTH else line[: REASON_LENGTH - 1] + "…"


class CircuitBreakers:
    """The breakers of every provider of one app."""

    def __init__(
        self, *, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self._breakers: dict[str, _Breaker] = {}

    def _get(self, provider: str) -> _Breaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = self._breakers[provider] = _Breaker()
        return breaker

    def state(self, provider: str) -> BreakerState:
        breaker = self._breakers.get(provider)
        if breaker is None or breaker.opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - breaker.opened_at < self.cooldown:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def available(self, provider: str) -> bool:
        """Whether a request may be sent now (closed, or half-open with no trial in flight)."""
        state = self.state(provider)
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and not self._get(provider).trial

    def begin(self, provider: str) -> None:
        """A request to ``provider`` starts; in half-open it becomes the trial."""
        if self.state(provider) is BreakerState.HALF_OPEN:
            self._get(provider).trial = True

    def success(self, provider: str) -> None:
        breaker = self._breakers.get(provider)
        if breaker is not None:
            breaker.failures = 0
            breaker.opened_at = None
            breaker.trial = False

    def failure(self, provider: str, status: int = 0, reason: str = "") -> None:
        """A failure another provider may not share; ``status``/``reason`` become its last
        error (``reason`` must hold no secret)."""
        if status:
            self.note(provider, status, reason)
        if self.threshold <= 0:
            return
        breaker = self._get(provider)
        breaker.failures += 1
        was_trial, breaker.trial = breaker.trial, False
        if was_trial or breaker.failures >= self.threshold:
            breaker.opened_at = self._clock()

    def note(self, provider: str, status: int, reason: str) -> None:
        """Remember ``provider``'s latest error without judging it (e.g. its key refused)."""
        self._get(provider).last_error = LastError(status, short_reason(reason), self._clock())

    def last_error(self, provider: str) -> LastError | None:
        breaker = self._breakers.get(provider)
        return None if breaker is None else breaker.last_error

    def retry_in(self, provider: str) -> float:
        """Seconds until an open breaker lets a trial through; 0 when not open."""
        breaker = self._breakers.get(provider)
        if self.state(provider) is not BreakerState.OPEN or breaker is None:
            return 0.0
        assert breaker.opened_at is not None  # OPEN means it opened
        return max(0.0, breaker.opened_at + self.cooldown - self._clock())

    def any_open(self, providers: Iterable[str]) -> bool:
        """Whether the breaker of one of ``providers`` is open or awaits its half-open trial."""
        return any(self.state(p) is not BreakerState.CLOSED for p in providers)

    def abandon(self, provider: str) -> None:
        """The request ended without a verdict (client gone): free the half-open trial."""
        breaker = self._breakers.get(provider)
        if breaker is not None:
            breaker.trial = False

    def describe(self, provider: str) -> dict[str, Any]:
        """JSON-ready state for /healthz."""
        breaker = self._breakers.get(provider)
        described: dict[str, Any] = {
            "state": self.state(provider).value,
            "failures": breaker.failures if breaker is not None else 0,
            "retry_in_s": round(self.retry_in(provider), 3),
        }
        last = None if breaker is None else breaker.last_error
        if last is not None:
            described["last_error"] = {
                "status": last.status,
                "reason": last.reason,
                "age_s": round(max(0.0, self._clock() - last.at), 3),
            }
        return described


BREAKERS: web.AppKey[CircuitBreakers] = web.AppKey("breakers")  # the app's, one per provider
