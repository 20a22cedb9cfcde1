"""Fallback chains: try a request's targets in turn until one answers.

``ChainRun.run(chain, prepare)`` walks ``[route, *fallbacks]`` (``RoutingTable.chain``):

* ``prepare(route)`` makes the request fit the target (``capabilities.fit_request``) and returns
  the coroutine function that relays it. A target the request cannot fit is refused at once when
  it is the chain's first (the user's own choice: its 400, e.g. ``prompt is too long``, is the
  answer) and skipped when it is a fallback.
* A failure that reached the client as nothing but pings (the relay RAISED instead of
  answering) and that another provider may not share (``is_fallback_error``: unreachable,
  timeout, 408, 429, 5xx, a stream that failed before its first event) moves on; the next target
  answers on the same client stream. Once the first event went out the relay answers with the
  failure inside the stream (an SSE ``error`` event) and reports it (``Relayed.failure``): that
  attempt is logged and counted by the breaker as the failure it is, but not retried, because
  the client already holds part of one answer. Any other error (400,
  401, 403, 404, 413 ...) is the answer as it is.
* ``retry.attempts_per_target`` > 1 retries the same target first: after the upstream's
  ``retry-after`` when it gives one no longer than ``retry.max_retry_after`` (a longer one moves
  on at once: retrying earlier than asked only earns another 429), else after a jittered
  exponential backoff ``backoff * 2**(n-1) * U[0.5, 1)``. Moving to the next target needs no wait.
* Circuit breakers (``breaker.py``) skip providers that keep failing, unless that would skip the
  whole chain: then the whole chain is tried anyway (an attempt beats an instant error).
* When every target is down for a reason a retry seconds later will not cure (breaker open,
  connection refused or name not resolved), the client gets ``outage.nobody_serves``: a final
  503 naming each target and its reason, so Claude Code stops and shows it instead of retrying
  silently for minutes.
* Otherwise, when every target fails, the client gets the LAST error (its status, type and
  ``retry-after``: the most recent word on whether waiting helps), its message followed by every
  attempt's outcome, so the user sees the whole story in one line.

Every attempt is logged (provider, model, outcome, latency; the request id comes from the log
context), and ``x-anthroxy-route: provider/model`` names the target that answered, on success
and on the final error (added to whatever response goes out, by an ``on_response_prepare`` hook).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from anthroxy.errors import (
    AnthroxyError,
    TargetUnavailable,
    UpstreamError,
    UpstreamProtocolError,
)
from anthroxy.routing.table import Route

from ..config.schema import RetryConfig
from . import metrics
from .breaker import BREAKERS, CircuitBreakers
from .call import Relayed
from .live import generation_of
from .logs import LOGGER_NAME, redact
from .outage import Down, breaker_reason, nobody_serves, unreachable
from .state import SETTINGS, FailedAttempt, access_of, request_id_of

log = logging.getLogger(LOGGER_NAME)

ROUTE_KEY = "anthroxy.route"  # request key: "provider/model" of the latest attempt
ROUTE_HEADER = "x-anthroxy-route"

# Client-facing statuses (after upstream_errors' mapping) another provider may not share:
# 408/504 timeouts, 429 rate limits, every 5xx (502 also covers unreachable and garbled replies,
# 529 an overloaded upstream).
FALLBACK_STATUSES = frozenset({408, 429})
# Characters of a failed attempt's message the dashboard keeps: an upstream may send pages of
# text, and the dashboard keeps hundreds of requests.
MESSAGE_KEPT = 2000

Send = Callable[[], Awaitable[Relayed]]
Prepare = Callable[[Route], Send]


def setup(app: web.Application, *, clock: Callable[[], float] = time.monotonic) -> None:
    """Breakers from the app's settings; the route header hook. (The model-limit overrides
    belong to each configuration generation: ``live.py``.)

    The values were checked when the configuration was loaded (``config_checks``).
    """
    config = app[SETTINGS].config
    breaker = config.routing.circuit_breaker
    app[BREAKERS] = CircuitBreakers(
        failures=breaker.failures, cooldown=breaker.cooldown, clock=clock
    )
    app.on_response_prepare.append(_add_route_header)


async def _add_route_header(request: web.Request, response: web.StreamResponse) -> None:
    route = request.get(ROUTE_KEY)
    if isinstance(route, str):
        response.headers[ROUTE_HEADER] = route


def is_fallback_error(err: AnthroxyError) -> bool:
    """Whether another attempt (same target later, or the next one) may succeed."""
    if err.should_retry is False:
        return False
    if not isinstance(err, UpstreamError | UpstreamProtocolError):
        return False  # anthroxy's own verdict on the request: the same for every target
    return err.status in FALLBACK_STATUSES or err.status >= 500


def retry_delay(
    err: AnthroxyError, attempt: int, retry: RetryConfig, rng: Callable[[], float]
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` on the same target; None: move on."""
    if err.retry_after is not None:
        return err.retry_after if err.retry_after <= retry.max_retry_after else None
    return float(retry.backoff * 2 ** (attempt - 1) * (0.5 + rng() / 2))


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str  # provider/model
    status: int | None  # None: success
    error_type: str

    def describe(self) -> str:
        return f"{self.target}: {self.status} {self.error_type}"


def describe(err: AnthroxyError) -> str:
    """An attempt's outcome as logs show it: ``529 overloaded_error``."""
    return f"{err.status} {err.error_type}"


def target_of(route: Route) -> str:
    return f"{route.provider}/{route.model}"


@dataclass(slots=True)
class ChainRun:
    """One request's walk along its chain."""

    request: web.Request
    breakers: CircuitBreakers
    retry: RetryConfig
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: Callable[[], float] = random.random

    async def run(self, chain: Sequence[Route], prepare: Prepare) -> web.StreamResponse:
        usable = [r for r in chain if self.breakers.available(r.provider)]
        forced = not usable
        if forced:
            log.warning("every target's circuit breaker is open; trying them all anyway")
            usable = list(chain)
        failures: list[Outcome] = []
        down: list[Down] = []  # targets that cannot serve right now, and why
        transient = False  # some target failed in a way the next try may not repeat
        last: AnthroxyError | None = None
        for route in chain:
            if route not in usable or not (forced or self.breakers.available(route.provider)):
                # Open breaker (or another request took the half-open trial meanwhile).
                reason = breaker_reason(self.breakers, route.provider)
                down.append(Down(target_of(route), reason))
                continue
            self._announce(route)
            try:
                send = prepare(route)
            except AnthroxyError as unfit:
                if route is chain[0] and not isinstance(unfit, TargetUnavailable):
                    raise  # the chosen target's own limits refuse the request
                log.info("fallback %s skipped: %s", target_of(route), unfit.full_message)
                last = last or unfit
                continue
            response, failed = await self._attempts(route, send, failures)
            if response is not None:
                return response
            assert failed is not None
            last = failed
            # A rate limit says when to come back (retry-after), so it stays retryable even when
            # the breaker had been open: the client waits that long and tries again.
            if unreachable(failed) or (forced and failed.status != 429):
                reason = self._redacted(failed.message)
                down.append(Down(target_of(route), reason + (" (breaker open)" if forced else "")))
            else:
                transient = True
        if down and not transient:
            providers = [route.provider for route in chain]
            raise nobody_serves(chain[0].requested_model, down, self.breakers, providers)
        assert last is not None  # a chain has at least one route; each ends in a response or error
        raise final_error(last, failures)

    def _redacted(self, text: str) -> str:
        return redact(text, generation_of(self.request).secrets)

    def _announce(self, route: Route) -> None:
        self.request[ROUTE_KEY] = target_of(route)
        access_of(self.request).route = target_of(route)
        metrics.attempt(self.request, route)

    async def _attempts(
        self, route: Route, send: Send, failures: list[Outcome]
    ) -> tuple[web.StreamResponse | None, AnthroxyError | None]:
        """Up to ``attempts_per_target`` tries of one target: (response, None) or (None, error)."""
        provider = route.provider
        err: AnthroxyError | None = None
        for attempt in range(1, self.retry.attempts_per_target + 1):
            if err is not None:
                delay = retry_delay(err, attempt - 1, self.retry, self.rng)
                if delay is None:
                    break
                await self.sleep(delay)
            self.breakers.begin(provider)
            started = time.perf_counter()
            try:
                relayed = await send()
            except AnthroxyError as exc:
                failed = exc
            except BaseException:
                self.breakers.abandon(provider)  # client gone or cancelled: no verdict
                raise
            else:
                if relayed.failure is not None:
                    access_of(self.request).stream_error = describe(relayed.failure)
                    metrics.attempt(self.request, route, relayed.failure)
                self._judge(route, attempt, started, relayed.failure)
                return relayed.response, None
            err = failed
            metrics.attempt(self.request, route, err)
            target = target_of(route)
            failures.append(Outcome(target, err.status, err.error_type))
            reason = self._redacted(err.message)  # the message kept, as error_response cleans it
            access = access_of(self.request)
            access.tried.append(f"{target}:{err.status}")
            access.failed.append(
                FailedAttempt(target, err.status, err.error_type, reason[:MESSAGE_KEPT])
            )
            self._judge(route, attempt, started, err, reason)
            if not is_fallback_error(err):
                raise final_error(err, failures) from err
        return None, err

    def _judge(
        self,
        route: Route,
        attempt: int,
        started: float,
        err: AnthroxyError | None,
        reason: str | None = None,
    ) -> None:
        """Log the attempt and tell its provider's breaker: a success, or a failure that another
        provider may not share (the request itself at fault counts as an answer). ``reason``:
        the error's message already redacted, when the caller has it."""
        if err is None:
            self.breakers.success(route.provider)
            self._log(route, attempt, "ok", started)
            return
        outcome = describe(err)
        if reason is None:
            reason = self._redacted(err.message)
        if is_fallback_error(err):
            self.breakers.failure(route.provider, err.status, reason)
        else:
            self.breakers.success(route.provider)
            if isinstance(err, UpstreamError) and err.status in (401, 403):
                self.breakers.note(route.provider, err.status, reason)  # its key was refused
        self._log(route, attempt, outcome, started)

    def _log(self, route: Route, attempt: int, outcome: str, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000.0
        request_id = request_id_of(self.request)
        fields = {
            "provider": route.provider,
            "model": route.model,
            "rule": route.rule,
            "attempt": attempt,
            "outcome": outcome,
            "latency_ms": round(ms, 2),
        }
        log.log(
            logging.INFO if outcome == "ok" else logging.WARNING,
            "attempt %d %s (%s): %s in %.1f ms",
            attempt,
            target_of(route),
            route.rule,
            outcome,
            ms,
            extra={"fields": fields, "request_id": request_id},
        )


def final_error(last: AnthroxyError, failures: Sequence[Outcome]) -> AnthroxyError:
    """``last`` as sent to the client; after several attempts its message lists them all."""
    if len(failures) < 2:
        return last
    tried = "; ".join(outcome.describe() for outcome in failures)
    return type(last)(
        f"{last.message} (anthroxy tried {len(failures)} attempts: {tried})",
        path=last.path,
        status=last.status,
        error_type=last.error_type,
        retry_after=last.retry_after,
        should_retry=last.should_retry,
    )
