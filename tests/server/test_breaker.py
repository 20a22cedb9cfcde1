"""Invariant: a provider's breaker opens after N consecutive failures, lets exactly one trial
through once the cooldown is over, and closes on success; the clock is the test's."""

from __future__ import annotations

from anthroxy_server.gateway.breaker import BreakerState, CircuitBreakers


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def make(failures: int = 3, cooldown: float = 10.0) -> tuple[CircuitBreakers, Clock]:
    clock = Clock()
    return CircuitBreakers(failures=failures, cooldown=cooldown, clock=clock), clock


def test_opens_after_consecutive_failures_only() -> None:
    breakers, _ = make(failures=3)
    breakers.failure("p")
    breakers.failure("p")
    breakers.success("p")  # resets the run of failures
    breakers.failure("p")
    breakers.failure("p")
    assert breakers.state("p") is BreakerState.CLOSED and breakers.available("p")
    breakers.failure("p")
    assert breakers.state("p") is BreakerState.OPEN and not breakers.available("p")
    assert breakers.state("other") is BreakerState.CLOSED  # per provider


def test_cooldown_then_single_trial() -> None:
    breakers, clock = make(failures=1, cooldown=10.0)
    breakers.failure("p")
    clock.now += 9.5
    assert breakers.describe("p") == {"state": "open", "failures": 1, "retry_in_s": 0.5}
    clock.now += 0.5
    assert breakers.state("p") is BreakerState.HALF_OPEN and breakers.available("p")
    breakers.begin("p")
    assert not breakers.available("p")  # the trial is in flight: others skip
    breakers.success("p")
    assert breakers.describe("p") == {"state": "closed", "failures": 0, "retry_in_s": 0.0}


def test_failed_trial_reopens_for_a_full_cooldown() -> None:
    breakers, clock = make(failures=5, cooldown=10.0)
    for _ in range(5):
        breakers.failure("p")
    clock.now += 10
    breakers.begin("p")
    breakers.failure("p")  # one failure in half-open is enough, whatever the threshold
    assert breakers.describe("p") == {"state": "open", "failures": 6, "retry_in_s": 10.0}


def test_abandoned_trial_frees_the_slot() -> None:
    breakers, clock = make(failures=1, cooldown=1.0)
    breakers.failure("p")
    clock.now += 1
    breakers.begin("p")
    breakers.abandon("p")  # the client went away: no verdict on the provider
    assert breakers.state("p") is BreakerState.HALF_OPEN and breakers.available("p")


def test_begin_in_closed_state_marks_nothing() -> None:
    breakers, _ = make(failures=2)
    breakers.begin("p")
    breakers.failure("p")
    assert breakers.state("p") is BreakerState.CLOSED  # 1 < 2: no trial was in flight


def test_zero_failures_disables_the_breaker() -> None:
    breakers, _ = make(failures=0)
    for _ in range(100):
        breakers.failure("p")
    assert breakers.available("p") and breakers.describe("p")["failures"] == 0
