"""Prometheus metrics: ``GET /metrics`` and the one-line hooks that feed it.

Each app has its own ``CollectorRegistry`` (not prometheus-client's global one), so several apps
in one process (the tests) never share or clash over series.

Counters and histograms are updated where the data is known: the access line (requests, latency,
tokens), the fallback loop (upstream errors, fallbacks taken), the client stream (time to first
token, active streams). Breaker states and credential cooldowns are read when Prometheus scrapes
(``_StateCollector``), so the request path pays nothing for them.

Labels stay bounded whatever clients send: ``provider`` is a configured provider id; ``model`` is
the routed upstream model when the configuration names it (or the provider's catalogue entry
lists it), else ``other``; ``client_model`` is the name the client sent when it is one the
configuration routes by name (tier, alias, ``provider/model`` target), the tier word for a name
the tier rule matched (Claude Code's dated names), else ``other``; error kinds are Anthropic's
error types. ``MAX_LABEL_VALUES`` caps each label besides, as a last guard.
No label holds a secret: credentials appear by their label (``env:KEY_A``), never their value.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from anthroxy.errors import AnthroxyError, AuthenticationFailed
from anthroxy.routing.table import Route

from .breaker import BREAKERS, BreakerState
from .live import LIVE, settings_of
from .outage import unreachable
from .state import CREDENTIAL_STATES, AccessInfo, access_of

if TYPE_CHECKING:
    from ..config.schema import Settings

OTHER = "other"
NONE = "none"
MAX_LABEL_VALUES = 200  # distinct values one label may take; later ones count as "other"
# Seconds: a cached reply in 50 ms up to a long thinking turn of two minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
# The error types Anthropic's API documents (its timeout_error shown as "timeout"), and
# "unreachable" for a provider anthroxy could not connect to.
ERROR_KINDS = frozenset({
    "invalid_request_error", "authentication_error", "billing_error", "permission_error",
    "not_found_error", "request_too_large", "rate_limit_error", "api_error", "overloaded_error",
    "unreachable", "timeout",
})  # fmt: skip
MAX_ROUTES = 4096  # routes whose labels are remembered (a client may send endless names)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
_STATES = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}


@dataclass(slots=True)
class _Series:
    """The metric children of one (provider, model, client_model)."""

    route: tuple[str, str, str]
    requests: Counter
    latency: Histogram
    first_token: Histogram
    tokens: tuple[Counter, ...]  # in TOKEN_KINDS order
    statuses: dict[int, Counter] = field(default_factory=dict)

    def status(self, status: int) -> Counter:
        found = self.statuses.get(status)
        if found is None:
            found = self.statuses[status] = self.requests.labels(*self.route, str(status))
        return found


class GatewayMetrics:
    """The metrics of one app."""

    def __init__(self, app: web.Application) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        registry = self.registry
        route = ["provider", "model", "client_model"]
        self.requests = Counter(
            "anthroxy_requests", "Messages requests by answering provider, model and HTTP status.",
            [*route, "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "anthroxy_request_duration_seconds", "Time from request to the end of the answer.",
            route, buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.first_token = Histogram(
            "anthroxy_time_to_first_token_seconds",
            "Streams: time from request to the first event that is not a ping.",
            route, buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.tokens = Counter(
            "anthroxy_tokens", "Tokens the upstreams reported, by kind "
            "(input, output, cache_read, cache_write).",
            [*route, "kind"], registry=registry,
        )  # fmt: skip
        self.errors = Counter(
            "anthroxy_upstream_errors", "Failed upstream attempts by provider and error kind.",
            ["provider", "kind"], registry=registry,
        )  # fmt: skip
        self.fallbacks = Counter(
            "anthroxy_fallbacks", "Moves along a fallback chain, from one provider to the next.",
            ["from_provider", "to_provider"], registry=registry,
        )  # fmt: skip
        self.streams = Gauge(
            "anthroxy_active_streams", "Client streams open now.", registry=registry,
            multiprocess_mode="livesum",  # workers: the sum over the running ones
        )  # fmt: skip
        registry.register(_StateCollector(app))
        self.exposed = _worker_registry(app) or registry
        self._seen: dict[str, set[str]] = {}
        self._children: dict[tuple[str, str, str], _Series] = {}
        self._routes: dict[Route, tuple[str, str, str]] = {}
        self._named: tuple[object, frozenset[str], frozenset[str]] | None = None

    # -- label bounds ---------------------------------------------------------------------------

    def _bounded(self, label: str, value: str) -> str:
        seen = self._seen.setdefault(label, set())
        if value in seen:
            return value
        if len(seen) >= MAX_LABEL_VALUES:
            return OTHER
        seen.add(value)
        return value

    def _names(self, settings: Settings) -> tuple[frozenset[str], frozenset[str]]:
        """(names clients may send by configuration, upstream models the configuration names),
        computed once per routing table."""
        table = settings.routing
        if self._named is None or self._named[0] is not table:
            clients = frozenset(table.model_names())
            upstream = {model for _, model in table.targets()}
            for provider in settings.providers.values():
                upstream.update(provider.models)
            self._named = (table, clients, frozenset(upstream))
            self._routes.clear()
        return self._named[1], self._named[2]

    def labels(self, settings: Settings, route: Route) -> tuple[str, str, str]:
        """(provider, model, client_model) of a routed request, each bounded."""
        clients, upstream = self._names(settings)  # clears _routes when the table changed
        found = self._routes.get(route)
        if found is not None:
            return found
        if len(self._routes) >= MAX_ROUTES:
            self._routes.clear()
        # "anthropic"/"target" rules pass a client-chosen name upstream: only known ones count.
        passes_name = route.rule in ("anthropic", "target")
        model = route.model if not passes_name or route.model in upstream else OTHER
        client = route.requested_model if route.requested_model in clients else OTHER
        if client == OTHER and route.rule.startswith("tier:"):
            client = route.rule[5:]  # Claude Code's dated names by their configured tier word
        provider = route.provider if route.provider in settings.providers else OTHER
        found = self._routes[route] = (
            self._bounded("provider", provider),
            self._bounded("model", model),
            self._bounded("client_model", client),
        )
        return found

    # -- hooks ----------------------------------------------------------------------------------

    def observe(
        self, request: web.Request, access: AccessInfo, status: int, seconds: float
    ) -> None:
        """A finished request (the access line's data)."""
        if access.stream_open:
            self.streams.dec()
        if request.path != "/v1/messages":
            return  # count_tokens, model lists, /healthz: not model traffic
        if access.routed is None:
            # Refused before routing (token, body): no upstream, no latency of one.
            self.requests.labels(NONE, NONE, NONE, str(status)).inc()
            return
        provider, model, client = self.labels(settings_of(request), access.routed)
        # The client's name as the chain's first route saw it (a fallback's rule is "fallback:N").
        series = self._series((provider, model, access.client_label or client))
        series.status(status).inc()
        series.latency.observe(seconds)
        if access.first_token is not None:
            series.first_token.observe(access.first_token - access.started)
        counts = (
            access.input_tokens, access.output_tokens,
            access.cache_read_tokens, access.cache_write_tokens,
        )  # fmt: skip
        for counter, count in zip(series.tokens, counts, strict=True):
            if count is not None and count > 0:  # a negative count would raise in .inc()
                counter.inc(count)

    def _series(self, route: tuple[str, str, str]) -> _Series:
        """The children of one label set, made once: ``.labels()`` costs a lock and a lookup."""
        found = self._children.get(route)
        if found is None:
            tokens = tuple(self.tokens.labels(*route, kind) for kind in TOKEN_KINDS)
            found = self._children[route] = _Series(
                route, self.requests, self.latency.labels(*route),
                self.first_token.labels(*route), tokens,
            )  # fmt: skip
        return found

    def attempt(self, request: web.Request, route: Route, err: AnthroxyError | None) -> None:
        """An attempt at ``route`` starts (err None) or failed with ``err``."""
        access = access_of(request)
        if err is not None:
            provider = self.labels(settings_of(request), route)[0]
            self.errors.labels(provider, error_kind(err)).inc()
            return
        if access.routed is not None and access.routed.provider != route.provider:
            settings = settings_of(request)
            before = self.labels(settings, access.routed)[0]
            self.fallbacks.labels(before, self.labels(settings, route)[0]).inc()
        elif access.routed is None:
            access.client_label = self.labels(settings_of(request), route)[2]
        access.routed = route


def error_kind(err: AnthroxyError) -> str:
    if unreachable(err):
        return "unreachable"
    if err.error_type == "timeout_error":
        return "timeout"
    return err.error_type if err.error_type in ERROR_KINDS else OTHER


class _StateCollector(Collector):
    """Breaker states and credential cooldowns, read at scrape time."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:

        breakers = self.app.get(BREAKERS)
        live = self.app.get(LIVE)
        if breakers is None or live is None:
            return
        settings = live.current.settings
        state = GaugeMetricFamily(
            "anthroxy_breaker_state",
            "Circuit breaker per provider: 0 closed, 1 half-open, 2 open.",
            labels=["provider"],
        )
        failures = GaugeMetricFamily(
            "anthroxy_breaker_failures",
            "Consecutive failures counted by each provider's breaker.",
            labels=["provider"],
        )
        for provider in settings.providers:
            described = breakers.describe(provider)
            state.add_metric([provider], _STATES[breakers.state(provider)])
            failures.add_metric([provider], described["failures"])
        yield state
        yield failures
        yield _cooldowns(self.app, settings, live.current.number)


def _cooldowns(app: web.Application, settings: Settings, generation: int) -> Metric:
    cooling = GaugeMetricFamily(
        "anthroxy_credential_cooldown_seconds",
        "Seconds until a provider's credential is used again (0: usable; -1: refused).",
        labels=["provider", "credential"],
    )
    states = app.get(CREDENTIAL_STATES)
    for provider in settings.providers.values():
        for entry in states(provider, generation) if states is not None else ():
            wait = -1.0 if entry["state"] == "refused" else entry.get("retry_in_s", 0.0)
            cooling.add_metric([provider.id, entry["label"]], wait)
    return cooling


def _worker_registry(app: web.Application) -> CollectorRegistry | None:
    """In a worker of ``--workers N``: what ``/metrics`` shows, the counters, histograms and
    stream gauge of every worker (prometheus-client's multi-process files), with the breakers
    and cooldowns of the worker that answers (each worker keeps its own)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return None
    from prometheus_client import multiprocess

    registry = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    registry.register(_StateCollector(app))
    return registry


METRICS: web.AppKey[GatewayMetrics] = web.AppKey("metrics")


def setup(app: web.Application) -> None:
    app[METRICS] = GatewayMetrics(app)
    app.router.add_get("/metrics", scrape)


# The hooks: one call each where the data is; an app without metrics (some unit tests) skips them.


def observe(request: web.Request, access: AccessInfo, status: int, seconds: float) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.observe(request, access, status, seconds)


def attempt(request: web.Request, route: Route, err: AnthroxyError | None = None) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.attempt(request, route, err)


def stream_opened(request: web.Request) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.streams.inc()
        access_of(request).stream_open = True


def first_event(request: web.Request) -> None:
    """The client's stream sent its first event that is not a ping: the time to first token."""
    access = access_of(request)
    if access.first_token is None:
        access.first_token = time.perf_counter()


async def scrape(request: web.Request) -> web.Response:
    _check_token(request)
    body = generate_latest(request.app[METRICS].exposed)
    return web.Response(body=body, headers={"content-type": CONTENT_TYPE_LATEST})


def _check_token(request: web.Request) -> None:
    """``metrics_token`` or ``auth_token`` as ``Authorization: Bearer`` (or ``x-api-key``);
    neither configured: open, like the rest of a loopback proxy without a token."""
    server = settings_of(request).config.server
    accepted = [token.encode() for token in (server.metrics_token, server.auth_token) if token]
    if not accepted:
        return
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    given = given or request.headers.get("x-api-key", "")
    sent = given.encode("utf-8", "surrogateescape")
    if not any(hmac.compare_digest(sent, token) for token in accepted):
        raise AuthenticationFailed(
            "anthroxy: /metrics needs server.metrics_token (or server.auth_token) as "
            "Authorization: Bearer; give it to the scraper (authorization.credentials in "
            "Prometheus)",
            should_retry=False,
        )
