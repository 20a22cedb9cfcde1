"""The answer when no target of a chain can serve right now.

Claude Code retries a 5xx or 429 by itself, silently, for minutes
(docs/protocol/claude-code.md §5). That is right after a transient failure (a timeout, a 5xx, a
cut connection: the next try may well succeed), so such an error goes out as the upstream gave
it. It is wrong when every target is down for a reason seconds will not cure: its circuit breaker
is open (it kept failing), or its address refuses the connection, does not resolve or fails TLS.
Then the retries only hide the reason, which is in the log alone. For that case the answer is a
503 ``api_error`` with ``x-should-retry: false`` and a message naming each target and why it
cannot serve: both tested Claude Code releases stop at once and print
``API Error: 503 <message>`` (docs/troubleshooting.md has the table of statuses tried; 529 or an
``overloaded_error`` would be replaced by Claude Code's own "Repeated 529 Overloaded errors").
``retry-after`` tells an SDK client when the first breaker lets a trial through.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from anthroxy.errors import AnthroxyError

from .breaker import CircuitBreakers

STATUS = 503


@dataclass(frozen=True, slots=True)
class Down:
    """One target that cannot serve, and why (no secrets: reasons are redacted messages)."""

    target: str  # provider/model
    reason: str


def unreachable(err: AnthroxyError) -> bool:
    """The connection was never made: refused, name not resolved, TLS refused.

    ``streaming`` raises the provider's connection error from aiohttp's own exception; a connect
    timeout or a connection lost mid-answer is not one of these (it may pass).
    """
    return isinstance(err.__cause__, aiohttp.ClientConnectorError)


def breaker_reason(breakers: CircuitBreakers, provider: str) -> str:
    """Why an open breaker skips ``provider``: how long still, and its last error."""
    wait = breakers.retry_in(provider)
    reason = f"circuit breaker open (skipped for {math.ceil(wait)} s more)"
    last = breakers.last_error(provider)
    if last is not None:
        reason += f", last error {last.status}: {last.reason}"
    return reason


def nobody_serves(
    model: str, down: Sequence[Down], breakers: CircuitBreakers, providers: Sequence[str]
) -> AnthroxyError:
    """The final 503 for ``model`` whose every target is ``down``."""
    listed = "; ".join(f"{d.target}: {d.reason}" for d in down)
    waits = [w for w in (breakers.retry_in(p) for p in providers) if w > 0]
    return AnthroxyError(
        f"anthroxy: no provider can serve {model} right now. {listed}. "
        "`anthroxy status` shows each provider's state; the log has every attempt.",
        status=STATUS,
        error_type="api_error",
        retry_after=float(math.ceil(min(waits))) if waits else None,
        should_retry=False,
    )
