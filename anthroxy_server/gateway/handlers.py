"""The HTTP endpoints: thin functions that read the request, call the core or the relay, answer.

Endpoints: ``/v1/messages`` and ``/v1/messages/count_tokens`` (also with ``?beta=true``: routing
is on the path), ``/v1/models`` (Anthropic's list shape, paginated, with each model's limits),
``/healthz`` (with each provider's circuit breaker), and ``HEAD|GET /`` (Claude Code sends a HEAD
on start-up; docs/protocol/claude-code.md §2).

``/v1/messages`` resolves the route (scenarios see the body and the input estimate), then walks
the route's fallback chain (``fallback.py``); each target gets the request fitted to its model's
limits (``capabilities.plan_fit``) before the relay sends it. An Anthropic upstream gets the
client's body; the translating dialects get it parsed (``messages.request.parse_request``) once
per request, however many of the chain's targets need it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from anthroxy import __version__, passthrough
from anthroxy.errors import AnthroxyError, InvalidRequest, RequestTooLarge, UnknownModel
from anthroxy.messages import tokens
from anthroxy.messages.request import MessagesRequest, model_of, parse_request, stream_of
from anthroxy.routing import capabilities
from anthroxy.routing.table import Route

from ..config.paths import APP
from ..live_lists import app as live_lists
from ..providers import check_target
from ..providers import health_fields as provider_health
from ..providers.credentials import credential_fields, request_auth
from . import bodylog, fallback, guard, learned, models_endpoint
from .breaker import BREAKERS, CircuitBreakers
from .call import Call
from .fallback import ChainRun, Send, describe
from .identity import healthz_fields
from .learned import LEARNED
from .live import generation_of, settings_of
from .logs import LOGGER_NAME
from .loop import next_hop, refuse_loop
from .relay import relay_messages
from .state import STARTED, access_of, request_id_of
from .streaming import Downstream, end_failed_stream
from .upstream import anthropic_headers, credential_headers, join_url

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider, Settings

log = logging.getLogger(LOGGER_NAME)

TOKEN_CACHE_SIZE = 512
# Claude Code fires dozens of count_tokens calls at once; an upstream that is slow to count
# must not hold them up for long: the local estimate is the fallback.
COUNT_TOKENS_TIMEOUT = 5.0


class TokenCache:
    """A small LRU: hash of the raw count_tokens body -> input tokens."""

    def __init__(self, size: int = TOKEN_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[bytes, int] = OrderedDict()

    @staticmethod
    def key(raw: bytes) -> bytes:
        return hashlib.blake2b(raw, digest_size=16).digest()

    def get(self, key: bytes) -> int | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: bytes, value: int) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


TOKEN_CACHE: web.AppKey[TokenCache] = web.AppKey("token_cache")


def setup(app: web.Application) -> None:
    app[TOKEN_CACHE] = TokenCache()
    fallback.setup(app)
    learned.setup(app)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    app.router.add_get("/v1/models", models_endpoint.list_models)
    app.router.add_get("/v1/models/{model_id:.+}", models_endpoint.get_model)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", root)  # add_get also answers HEAD


async def read_body(request: web.Request) -> tuple[bytes, dict[str, Any]]:
    """The raw body and its JSON object, or an Anthropic-shaped 400/413 naming the problem."""
    limit = settings_of(request).config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(_too_large(f"of {request.content_length} bytes ", limit))
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise RequestTooLarge(_too_large("", limit)) from exc
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}", path="$") from exc
    except RecursionError as exc:
        # A few hundred KB of "[[[[" passes the size limit but not Python's recursion limit.
        raise InvalidRequest("request body is nested too deeply", path="$") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object", path="$")
    # Routing needs these two before (and the Anthropic passthrough without) the full parse.
    model_of(body)
    stream_of(body)
    guard.check_routed_strings(body)
    return raw, body


def _too_large(size: str, limit: int) -> str:
    # The setting's name is the fix: the person reading this is the one who can raise it.
    return (
        f"request body {size}exceeds server.max_body_bytes ({limit} bytes); "
        "raise it in the [server] table of the anthroxy configuration"
    )


def _refuse_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (RFC 8259), though Python's parser
    takes them; no upstream accepts them, so they are refused here, before routing."""
    raise ValueError(f"{name} is not a valid JSON number")


def _route(settings: Settings, model: str) -> tuple[Route, ResolvedProvider]:
    route = settings.routing.resolve(model)
    return route, _provider(settings, route)


def _provider(settings: Settings, route: Route) -> ResolvedProvider:
    provider = settings.providers.get(route.provider)
    if provider is None:
        raise UnknownModel(
            f"model {route.requested_model!r} routes to provider '{route.provider}', which is "
            "not configured (no key found or not listed under [providers])"
        )
    return provider


async def messages(request: web.Request) -> web.StreamResponse:
    refuse_loop(request.headers)
    raw, body = await read_body(request)
    access = access_of(request)
    access.model = body["model"]
    access.stream = body.get("stream") is True
    settings = settings_of(request)
    learned_fields = request.app[LEARNED]
    input_tokens = _InputTokens(raw, body)
    request_value = _Parsed(body)
    # long_context routing and the window checks below share one estimate, computed at most
    # once and only where the cheap bound cannot decide.
    threshold = settings.routing.long_context_threshold
    estimate = None if threshold is None else input_tokens.within(threshold)
    route = settings.routing.resolve(body["model"], body, input_tokens=estimate)
    access.rule = route.rule
    bodylog.log_request(request, body, route)
    overrides = generation_of(request).model_limits
    downstream = _downstream(request, settings) if access.stream else None

    def prepare(target: Route) -> Send:
        provider = _provider(settings, target)
        check_target(request.app, provider, target.model)  # a model the key cannot use
        limits = capabilities.lookup(target.model, overrides)
        known = input_tokens.within(limits.context_window)
        fit = capabilities.plan_fit(body, limits, model=target.model, input_tokens=known)
        fitted: Mapping[str, Any] = body
        data = raw
        parsed = None
        if provider.api == "anthropic":
            fitted = fit.to_body(body)
            if fitted is not body:
                # The model goes in now, so the passthrough forwards these bytes as they are
                # instead of serialising the body a second time.
                fitted = {**fitted, "model": target.model}
                data = json.dumps(fitted, separators=(",", ":")).encode()
        else:
            parsed = fit.to_request(request_value.get())
        call = Call(
            request, data, fitted, target, provider, access, request_id_of(request),
            limits=limits, input_estimate=input_tokens.exact, parsed=parsed,
            downstream=downstream,
            cleaner=learned_fields.cleaner(provider),
        )  # fmt: skip
        return lambda: relay_messages(call)

    run = ChainRun(request, request.app[BREAKERS], settings.config.routing.retry)
    chain = live_lists.resolve_routes(request, settings.routing.chain(route))
    return await _run_chain(request, run, chain, prepare, downstream)


async def _run_chain(
    request: web.Request,
    run: ChainRun,
    chain: list[Route],
    prepare: Callable[[Route], Send],
    downstream: Downstream | None,
) -> web.StreamResponse:
    """The chain's answer; once a stream's 200 went out, a failure becomes its error event."""
    try:
        return await run.run(chain, prepare)
    except ConnectionResetError:
        if downstream is None or downstream.response is None:
            raise
        # The client left while its stream was written: nobody to tell; the relay already
        # closed the upstream connection. aiohttp ends the response without a traceback.
        access_of(request).stream_error = "the client closed the connection"
        return downstream.response
    except Exception as exc:
        if downstream is None or not downstream.prepared:
            bodylog.log_error(request, exc)
            raise
        # Pings already sent the 200: the failure can only be the stream's error event.
        err = exc if isinstance(exc, AnthroxyError) else _internal_error(exc)
        access_of(request).stream_error = describe(err)
        return await end_failed_stream(downstream, err)
    finally:
        if downstream is not None and downstream.events:
            bodylog.log_stream(request, downstream.events)


def _internal_error(exc: Exception) -> AnthroxyError:
    log.exception("unexpected error after the client's stream opened", exc_info=exc)
    return AnthroxyError("anthroxy failed while relaying this request; its log has the details")


def _downstream(request: web.Request, settings: Settings) -> Downstream:
    """The client's SSE response, shared by every attempt of the request's fallback chain."""
    headers = {"request-id": request_id_of(request)}
    return Downstream(request, headers, record=bodylog.wants_response(request))


class _InputTokens:
    """The input estimate, computed only when a cheap upper bound cannot prove the fit.

    ``tokens.estimate_input_tokens`` counts at most one token per 2 bytes of a body's JSON (its
    densest ratios: 3 characters per token for JSON, 1 per CJK character of 3 UTF-8 bytes), plus
    at most 2000 per image or document block (a PDF page, the image cap 1600) and a few hundred
    for framing and the tools prompt. A 300 KB Claude Code body costs ~1.4 ms to estimate and
    ~0.05 ms to bound, and most requests are far below their model's window.
    """

    __slots__ = ("_body", "_bound", "_estimate")

    def __init__(self, raw: bytes, body: Mapping[str, Any]) -> None:
        self._body = body
        media = raw.count(b'"image"') + raw.count(b'"document"')
        self._bound = len(raw) // 2 + 2000 * media + 400
        self._estimate: int | None = None

    @property
    def bound(self) -> int:
        return self._bound

    @property
    def exact(self) -> int | None:
        """The full estimate if some target's window needed it, else None."""
        return self._estimate

    def within(self, limit: int) -> int:
        """A number to compare with ``limit``: the bound when it already fits, else the estimate.

        Comparing either with ``limit`` gives the same verdict, because the estimate never
        exceeds the bound.
        """
        if self._bound <= limit:
            return self._bound
        if self._estimate is None:
            self._estimate = tokens.estimate_input_tokens(self._body)
        return self._estimate


class _Parsed:
    """The body parsed into a MessagesRequest once, when a translating dialect first needs it.

    An Anthropic upstream gets the client's body as it is and judges it itself (it may know
    block types anthroxy does not yet), so a request that only goes there is never parsed. A
    refusal is kept too: every later target gets the same error without a second parse.
    """

    __slots__ = ("_body", "_error", "_value")

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._body = body
        self._value: MessagesRequest | None = None
        self._error: InvalidRequest | None = None

    def get(self) -> MessagesRequest:
        if self._value is None:
            if self._error is not None:
                raise self._error
            try:
                self._value = parse_request(self._body)
            except InvalidRequest as err:
                self._error = err
                raise
        return self._value


async def count_tokens(request: web.Request) -> web.Response:
    refuse_loop(request.headers)
    raw, body = await read_body(request)
    access = access_of(request)
    access.model = body["model"]
    cache = request.app[TOKEN_CACHE]
    key = TokenCache.key(raw)
    counted = cache.get(key)
    if counted is None:
        route, provider = _route(settings_of(request), body["model"])
        route = request.app[live_lists.LIVE_LISTS].resolve(route, provider)
        access.route = f"{route.provider}/{route.model}"
        access.rule = route.rule
        # Only a keyed Anthropic endpoint has Anthropic's count_tokens; a platform with its own
        # access (Bedrock) is estimated locally rather than sent its credentials for a 404.
        if provider.api == "anthropic" and provider.auth in ("bearer", "x-api-key", "none"):
            counted = await _upstream_count(request, raw, body, route, provider)
        if counted is None:
            counted = tokens.estimate_input_tokens(body)
        cache.put(key, counted)
    access.input_tokens = counted
    return web.json_response({"input_tokens": counted})


async def _upstream_count(
    request: web.Request,
    raw: bytes,
    body: Mapping[str, Any],
    route: Route,
    provider: ResolvedProvider,
) -> int | None:
    """The upstream's own count when it answers 200 with a number; None means estimate."""
    session = generation_of(request).sessions[provider.id]
    url = join_url(provider.base_url, "/v1/messages/count_tokens")
    cleaner = request.app[LEARNED].cleaner(provider)
    data = passthrough.request_bytes(raw, body, route.model, cleaner)
    headers = (
        anthropic_headers(request.headers, provider)
        | credential_headers(provider, request_auth(request, provider, body))  # several keys
        | next_hop(request.headers)
    )
    try:
        async with session.post(
            url,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=COUNT_TOKENS_TIMEOUT),
        ) as response:
            if response.status != 200:
                return None
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
        return None
    counted = answer.get("input_tokens") if isinstance(answer, dict) else None
    if isinstance(counted, int) and not isinstance(counted, bool) and counted >= 0:
        return counted
    return None


async def healthz(request: web.Request) -> web.Response:
    settings = settings_of(request)
    breakers = request.app[BREAKERS]
    # "degraded": some provider is skipped (breaker open) or awaits its trial request.
    status = "degraded" if breakers.any_open(settings.providers) else "ok"
    token = settings.config.server.auth_token
    if token and not guard.token_presented(request.headers, token):  # details need the token
        return web.json_response({"status": status, "version": __version__, "service": APP})
    providers = {
        pid: {
            "name": p.name,
            "api": p.api,
            "base_url": p.base_url,
            "has_key": bool(p.api_key),
            "key_source": p.key_source,
            "models": list(p.models),
            "breaker": breaker_view(breakers, pid),
            **provider_health(request.app, p),  # the Gemini tier check
            **credential_fields(request.app, p),  # several keys: each one's state, no secret
        }
        for pid, p in settings.providers.items()
    }
    return web.json_response(
        {
            "status": status,
            "version": __version__,
            "uptime_s": round(time.time() - request.app[STARTED], 3),
            "providers": providers,
            "routing": settings.routing.describe(),
            "config_sources": list(settings.sources),
            "live_models": live_lists.describe(request.app, settings),
            **healthz_fields(request.app),  # service, pid, config fingerprint, managed_by, log
        }
    )


def breaker_view(breakers: CircuitBreakers, provider: str) -> dict[str, Any]:
    """The breaker's state, plus ``open_until`` (UTC) while it is open: the breaker counts on a
    monotonic clock, a person reads the wall clock."""
    view = breakers.describe(provider)
    if view["state"] == "open":
        until = datetime.fromtimestamp(time.time() + view["retry_in_s"], tz=UTC)
        view["open_until"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    return view


async def root(request: web.Request) -> web.Response:
    return web.Response(text=f"anthroxy {__version__}\n")
