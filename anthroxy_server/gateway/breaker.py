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

The clock is injectable (``time.monotonic`` by default) so tests step time by hand. The state is
per app, touched only from the event loop's thread, so no lock is needed.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(slots=True)
class _Breaker:
    failures: int = 0  # consecutive failures
    opened_at: float | None = None  # clock reading when the breaker opened; None when closed
    trial: bool = False  # a half-open trial request is in flight


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

    def failure(self, provider: str) -> None:
        if self.threshold <= 0:
            return
        breaker = self._get(provider)
        breaker.failures += 1
        was_trial, breaker.trial = breaker.trial, False
        if was_trial or breaker.failures >= self.threshold:
            breaker.opened_at = self._clock()

    def abandon(self, provider: str) -> None:
        """The request ended without a verdict (client gone): free the half-open trial."""
        breaker = self._breakers.get(provider)
        if breaker is not None:
            breaker.trial = False

    def describe(self, provider: str) -> dict[str, Any]:
        """JSON-ready state for /healthz."""
        state = self.state(provider)
        breaker = self._breakers.get(provider)
        retry_in = 0.0
        if state is BreakerState.OPEN and breaker is not None and breaker.opened_at is not None:
            retry_in = max(0.0, breaker.opened_at + self.cooldown - self._clock())
        return {
            "state": state.value,
            "failures": breaker.failures if breaker is not None else 0,
            "retry_in_s": round(retry_in, 3),
        }
