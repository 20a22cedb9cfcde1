"""``/ui/api/overview``, ``/ui/api/health``, ``/ui/api/requests`` and ``/ui/api/requests/{id}``:
answered from memory (the app's state and ``recent.py``)."""

from __future__ import annotations

import asyncio
import os
import time
from itertools import chain, islice
from statistics import quantiles
from typing import Any

from aiohttp import web

from anthroxy import __version__
from anthroxy.errors import AnthroxyError

from ..gateway.breaker import BREAKERS
from ..gateway.handlers import breaker_view
from ..gateway.live import LIVE
from ..gateway.state import STARTED
from ..gateway.supervise import group_info
from ..ledger.hook import LEDGER
from ..providers.credentials import credential_fields
from ..providers.subscription_status import subscription_of
from .history import details_of
from .query import int_query
from .recent import KEPT, RECENT, Entry, Sample
from .summary import details, error_of, summary_json

# The credential states of providers/credentials.py, in the dashboard's words.
_STATES = {"active": "ready", "cooling": "resting", "refused": "refused"}


async def overview(request: web.Request) -> web.Response:
    app = request.app
    current = app[LIVE].current
    settings = current.settings
    server = settings.config.server
    group = group_info(os.environ)
    return web.json_response(
        {
            "version": __version__,
            "status": "degraded" if app[BREAKERS].any_open(settings.providers) else "ok",
            "uptime_s": round(time.time() - app[STARTED], 3),
            "pid": group[0] if group else os.getpid(),
            "fingerprint": current.fingerprint,
            "config_sources": list(settings.sources),
            "ledger": LEDGER in app,
            "body_log": server.logs_bodies,
            "auth_required": bool(server.auth_token),
            "now": round(time.time(), 3),
            "workers": group[1] if group else None,
        }
    )


async def health(request: web.Request) -> web.Response:
    app = request.app
    settings = app[LIVE].current.settings
    recent = app[RECENT]
    now = time.time()
    errors = _last_errors(recent.entries)
    # Subscription reads may wait on the provider once: all of them at the same time.
    subscriptions = await asyncio.gather(
        *(subscription_of(app, provider) for provider in settings.providers.values())
    )
    providers = []
    for (pid, provider), subscription in zip(
        settings.providers.items(), subscriptions, strict=True
    ):
        samples = recent.last_hour(pid, now)
        providers.append(
            {
                "id": pid,
                "name": provider.name,
                "api": provider.api,
                "base_url": provider.base_url,
                "breaker": breaker_view(app[BREAKERS], pid),
                "last_error": errors.get(pid),
                "latency_ms": latency(samples),
                "requests_1h": len(samples),
                "errors_1h": sum(1 for s in samples if s.failed),
                "credentials": _credentials(app, provider),
                "subscription": subscription,
            }
        )
    return web.json_response({"providers": providers})


def latency(samples: list[Sample]) -> dict[str, Any]:
    """Count, p50 and p95 of total time and time to first token (nulls without samples)."""
    totals = [s.total_ms for s in samples]
    firsts = [s.ttft_ms for s in samples if s.ttft_ms is not None]
    p50, p95 = _percentiles(totals)
    t50, t95 = _percentiles(firsts)
    return {"count": len(totals), "p50": p50, "p95": p95, "ttft_p50": t50, "ttft_p95": t95}


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return round(values[0], 1), round(values[0], 1)
    cuts = quantiles(values, n=100, method="inclusive")
    return round(cuts[49], 1), round(cuts[94], 1)


def _last_errors(entries: Any) -> dict[str, dict[str, Any]]:
    """Provider -> the newest failure it gave: a final error, a stream's error, or an attempt
    a fallback moved on from."""
    found: dict[str, dict[str, Any]] = {}
    for entry in reversed(entries):
        for provider, error in reversed(_errors_of(entry)):  # its newest failure first
            found.setdefault(provider, error)
    return found


def _errors_of(entry: Entry) -> list[tuple[str, dict[str, Any]]]:
    """(provider, error) for each failure of ``entry``: its attempts a fallback moved on from,
    then the error the client got, which names the provider that gave it."""
    access = entry.access
    out = []
    for failed in access.failed:  # messages redacted when kept (gateway/fallback.py)
        target = failed.target
        # The same target again: a retry answered, or gave the final error (below).
        went_on = f"went on to {access.route}" if access.route != target else "was retried there"
        message = f"{target} failed: {failed.message}; the request {went_on}"
        error = _error(entry, failed.status, failed.error_type, message)
        out.append((target.partition("/")[0], error))
    if (entry.status >= 400 or access.stream_error is not None) and access.route:
        provider = access.route.partition("/")[0]
        shown = error_of(entry) or {"status": entry.status, "body": None}
        body = shown["body"]
        inner = body.get("error") if isinstance(body, dict) else None
        inner = inner if isinstance(inner, dict) else {}
        message = inner.get("message") or access.stream_error or f"status {shown['status']}"
        final = _error(entry, shown["status"], inner.get("type"), str(message))
        out = [(p, e) for p, e in out if p != provider] + [(provider, final)]
    return out


def _error(entry: Entry, status: int, kind: str | None, message: str) -> dict[str, Any]:
    return {
        "time": round(entry.time, 3),
        "status": status,
        "type": kind,
        "message": message,
        "request_id": entry.request_id,
    }


def _credentials(app: web.Application, provider: Any) -> list[dict[str, Any]]:
    pool = credential_fields(app, provider).get("credentials")
    if pool is None:
        return [{"label": key.label, "state": "ready"} for key in provider.keys]
    shown = []
    for item in pool:
        entry: dict[str, Any] = {
            "label": item["label"],
            "state": _STATES.get(item["state"], item["state"]),
        }
        if "until" in item:
            entry["rest_until"] = item["until"]
        shown.append(entry)
    return shown


async def requests(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 100, 1, KEPT)
    recent = request.app[RECENT]
    live = [summary_json(e) for e in list(recent.entries)[-limit:]]
    # Then the requests of the proxy's earlier run (history.py), older than every live one.
    past = [p.encoded for p in islice(reversed(recent.past), max(0, limit - len(live)))]
    listed = b",".join(chain(reversed(live), past))
    return web.Response(body=b'{"requests":[' + listed + b"]}", content_type="application/json")


async def request_details(request: web.Request) -> web.Response:
    wanted = request.match_info["id"]
    recent = request.app[RECENT]
    entry = recent.by_id.get(wanted)
    past = None if entry is not None else recent.past_by_id.get(wanted)
    if past is not None:
        server = request.app[LIVE].current.settings.config.server
        return web.json_response(details_of(past, server.logs_bodies))
    if entry is None:
        raise AnthroxyError(
            f"no request {wanted[:80]!r} is kept: the dashboard keeps the last {KEPT} requests "
            "(see `anthroxy usage` for older ones)",
            status=404,
            error_type="not_found_error",
            should_retry=False,
        )
    return web.json_response(details(entry))
