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


def test_last_error_is_kept_cut_to_one_line_and_aged() -> None:
    breakers, clock = make(failures=2, cooldown=10.0)
    breakers.failure("p", 502, "cannot reach\nprovider " + "x" * 300)
    clock.now += 4
    last = breakers.describe("p")["last_error"]
    assert last["status"] == 502 and last["age_s"] == 4.0
    assert "\n" not in last["reason"] and len(last["reason"]) == 160
    assert last["reason"].startswith("cannot reach provider xx") and last["reason"].endswith("…")
    assert not breakers.any_open(["p", "q"])  # one failure of two: still closed
    breakers.note("q", 401, "key refused")  # a verdict-free note opens nothing
    assert breakers.state("q") is BreakerState.CLOSED and breakers.describe("q")["failures"] == 0
    breakers.failure("p", 503, "down")
    assert breakers.any_open(["p"]) and breakers.retry_in("p") == 10.0
    assert not breakers.any_open(["q"])  # only the providers asked about
    assert breakers.describe("p")["last_error"]["reason"] == "down"
    clock.now += 10.5
    assert breakers.any_open(["p"])  # half-open: waiting for its trial, not yet healthy
    breakers.success("p")
    assert not breakers.any_open(["p"]) and breakers.retry_in("p") == 0.0
