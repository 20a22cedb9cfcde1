"""The gateway's side of the ledger: opened with the app, one row per ``POST /v1/messages``.

``record`` is called where the access line is written (``gateway/app.py``), from the same
``AccessInfo``, so the ledger and the log never disagree about a request.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from aiohttp import web

from anthroxy.routing import prices

from ..config.schema import Config, ResolvedProvider
from ..gateway.live import settings_of
from ..gateway.state import AccessInfo
from .store import LEDGER_NAME, Ledger, Row

LEDGER: web.AppKey[Ledger] = web.AppKey("ledger")
RECORDED_PATH = "/v1/messages"
# Logins billed as a subscription: their tokens are counted, a price per token means nothing.
SUBSCRIPTION_AUTH = frozenset({"codex", "copilot"})


def setup(app: web.Application, state_dir: Path, retention_days: int) -> None:
    """Open the ledger in ``state_dir`` when the app starts, write the rest when it stops."""

    async def ledger_context(app: web.Application) -> AsyncIterator[None]:
        ledger = Ledger(state_dir / LEDGER_NAME, retention_days)
        ledger.start()
        app[LEDGER] = ledger
        yield
        ledger.close()

    app.cleanup_ctx.append(ledger_context)


def record(
    request: web.Request, access: AccessInfo, status: int, started: float, request_id: str
) -> None:
    ledger = request.app.get(LEDGER)
    if ledger is None or request.path != RECORDED_PATH or request.method != "POST":
        return
    if access.model is None and access.route is None:
        return  # refused before it was read (a wrong token, a malformed body)
    settings = settings_of(request)
    ended = time.perf_counter()
    ledger.record(
        row_of(settings.config, settings.providers, access, status, started, ended, request_id)
    )


def row_of(
    config: Config,
    providers: Mapping[str, ResolvedProvider],
    access: AccessInfo,
    status: int,
    started: float,
    ended: float,
    request_id: str,
) -> Row:
    """The ledger row of one finished request (``started``/``ended``: perf_counter readings)."""
    provider, _, upstream_model = (access.route or "").partition("/")
    resolved = providers.get(provider)
    subscription = resolved is not None and resolved.auth in SUBSCRIPTION_AUTH
    estimate = None
    if subscription:
        pass
    elif status >= 400 and access.input_tokens is None and access.output_tokens is None:
        estimate = 0.0  # refused before any generation: nothing billed
    else:
        price = prices.price_for(upstream_model, _overrides(config))
        estimate = prices.cost(
            price, access.input_tokens, access.output_tokens,
            access.cache_read_tokens, access.cache_write_tokens,
        )  # fmt: skip
    failed_attempts = len(access.tried)
    ttft = None if access.first_output is None else (access.first_output - started) * 1000.0
    return Row(
        time=time.time(),
        request_id=request_id,
        client_model=access.model,
        provider=provider or None,
        upstream_model=upstream_model or None,
        credential=access.credential or _only_label(resolved),
        input_tokens=access.input_tokens,
        output_tokens=access.output_tokens,
        cache_read_tokens=access.cache_read_tokens,
        cache_write_tokens=access.cache_write_tokens,
        ttft_ms=None if ttft is None else round(ttft, 2),
        total_ms=round((ended - started) * 1000.0, 2),
        status=status,
        stream_error=access.stream_error,
        fallback_attempts=failed_attempts,
        cost_usd=estimate,
        subscription=subscription,
    )


def _only_label(provider: ResolvedProvider | None) -> str | None:
    """The label of a provider's one key (a pool labels each request's key itself); a login's
    name for a provider without keys."""
    if provider is None:
        return None
    if len(provider.keys) == 1:
        return provider.keys[0].label
    return provider.auth if provider.auth in SUBSCRIPTION_AUTH else None


_CACHE: dict[int, tuple[Mapping[str, object], Mapping[str, prices.Price]]] = {}


def _overrides(config: Config) -> Mapping[str, prices.Price]:
    """The configuration's ``[prices]`` as core prices (made once per configuration)."""
    cached = _CACHE.get(id(config.prices))
    if cached is not None and cached[0] is config.prices:
        return cached[1]
    made = {
        model: prices.Price(p.input, p.output, p.cache_read, p.cache_write, "config", "config")
        for model, p in config.prices.items()
    }
    _CACHE.clear()  # one configuration at a time (a reload replaces it)
    _CACHE[id(config.prices)] = (config.prices, made)
    return made
