"""The application factory and the one place that turns failures into Anthropic error replies.

``create_app(settings)`` is the only way to build the gateway (``serve`` and the tests use it).
Its middleware takes the request's configuration snapshot (``live.py``: a reload never changes
a request under way), gives every request an id (``request-id`` header, every log line), refuses
what a web page could have sent (``guard.py``: Host, Origin, Content-Type), checks the
proxy's own ``auth_token``, renders any AnthroxyError / aiohttp HTTP error / unexpected exception
as ``{"type":"error","error":{...}}`` with ``retry-after`` / ``x-should-retry`` headers, and writes
one access line per request. After a stream has started errors travel as SSE ``error`` events
instead (``streaming.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from anthroxy.errors import AnthroxyError, AuthenticationFailed, InvalidRequest, RequestTooLarge

from .. import dashboard, providers
from ..ledger import hook as ledger
from ..live_lists import app as live_lists
from . import guard, handlers, metrics
from .live import GENERATION_KEY, LIVE, generation_of, settings_of
from .logs import ACCESS_LOGGER, LOGGER_NAME, REQUEST_ID, new_request_id, redact, settings_secrets
from .loop import auth_hint
from .reload import PEPPER, live_context
from .state import ACCESS_KEY, REQUEST_ID_KEY, SECRETS, SETTINGS, STARTED, AccessInfo

if TYPE_CHECKING:
    from ..config.schema import Settings

log = logging.getLogger(LOGGER_NAME)
access_log = logging.getLogger(ACCESS_LOGGER)


def create_app(
    settings: Settings,
    *,
    pepper: bytes = b"",
    cache_dir: Path | None = None,
    state_dir: Path | None = None,
) -> web.Application:
    """The gateway for ``settings``; ``pepper`` keys the fingerprint's secret digests
    (``config/fingerprint.py``; serve.py passes the user's); ``cache_dir`` keeps the live
    model lists (None: in memory only); ``state_dir`` holds the usage ledger (None: none)."""
    server = settings.config.server
    app = web.Application(
        middlewares=[gateway_middleware],
        client_max_size=server.max_body_bytes,
    )
    # The settings the app started with; a request reads its own snapshot (settings_of).
    app[SETTINGS] = settings
    app[STARTED] = time.time()
    app[SECRETS] = settings_secrets(settings)
    app[PEPPER] = pepper
    # The first configuration generation and its sessions, made on startup, closed on cleanup.
    app.cleanup_ctx.append(live_context)
    providers.setup(app)
    live_lists.setup(app, cache_dir)
    handlers.setup(app)
    if state_dir is not None:
        ledger.setup(app, state_dir, server.usage_retention_days)
    metrics.setup(app)
    dashboard.setup(app)
    return app


@web.middleware
async def gateway_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = new_request_id()
    token = REQUEST_ID.set(request_id)
    request[REQUEST_ID_KEY] = request_id
    started = time.perf_counter()
    access = AccessInfo(started=started)
    request[ACCESS_KEY] = access
    live = request.app[LIVE]
    generation = live.acquire()
    request[GENERATION_KEY] = generation
    response: web.StreamResponse | None = None
    try:
        guard.check_request(request, settings_of(request).config.server)
        _check_auth(request)
        response = await handler(_sized(request))
    except AnthroxyError as err:
        response = error_response(err, request)
    except web.HTTPException as exc:
        response = error_response(_from_http_exception(exc, request), request)
    except (asyncio.CancelledError, ConnectionResetError):
        raise  # the client went away: nobody to answer
    except Exception:
        log.exception("unexpected error", extra={"request_id": request_id})
        response = error_response(
            AnthroxyError(f"internal error in anthroxy (request id {request_id})"), request
        )
    else:
        if not response.prepared:
            response.headers["request-id"] = request_id
    finally:
        elapsed = (time.perf_counter() - started) * 1000.0
        # 499: the client went away before an answer (nginx's convention).
        status = 499 if response is None else response.status
        _log_access(request, access, status, elapsed, request_id)
        ledger.record(request, access, status, started, request_id)
        metrics.observe(request, access, status, elapsed / 1000.0)
        dashboard.record(request, access, status, started, request_id)
        REQUEST_ID.reset(token)
        live.release(generation)
    return response


def _sized(request: web.Request) -> web.Request:
    """The request with its generation's body limit (the app's is the one it started with)."""
    limit = settings_of(request).config.server.max_body_bytes
    if limit == request.app[SETTINGS].config.server.max_body_bytes:
        return request
    return request.clone(client_max_size=limit)


def error_response(err: AnthroxyError, request: web.Request) -> web.Response:
    """The single place an AnthroxyError becomes an HTTP reply."""
    secrets = generation_of(request).secrets
    body = err.to_body()
    body["error"]["message"] = redact(body["error"]["message"], secrets)
    request_id = request.get(REQUEST_ID_KEY)
    if request_id:
        body["request_id"] = request_id
    access = request.get(ACCESS_KEY)
    if isinstance(access, AccessInfo):
        access.error = body  # the dashboard's details show it as the client got it
    response = web.Response(
        status=err.status, body=json.dumps(body).encode(), content_type="application/json"
    )
    if request_id:
        response.headers["request-id"] = request_id
    if err.retry_after is not None:
        response.headers["retry-after"] = f"{err.retry_after:g}"
    if err.should_retry is not None:
        response.headers["x-should-retry"] = "true" if err.should_retry else "false"
    level = logging.WARNING if err.status < 500 else logging.ERROR
    log.log(level, "%s %s: %s", err.status, err.error_type, redact(err.full_message, secrets))
    return response


def _check_auth(request: web.Request) -> None:
    token = settings_of(request).config.server.auth_token
    if not token or not request.path.startswith("/v1/"):
        return
    # Claude Code sends ANTHROPIC_API_KEY as x-api-key and ANTHROPIC_AUTH_TOKEN as a bearer, both
    # when both are set: a right token in either passes, so a real Anthropic key left in
    # ANTHROPIC_API_KEY does not hide the proxy token.
    if not guard.token_presented(request.headers, token):
        sent = list(guard.presented_credentials(request.headers))
        raise _wrong_token(sent, auth_hint(request.headers))


def _wrong_token(sent: list[str], hint: str) -> AuthenticationFailed:
    """Claude Code prints this message as it is after "Failed to authenticate. API Error: 401"
    (docs/troubleshooting.md); ``x-should-retry: false`` makes that happen at once, since a wrong
    proxy token never becomes right by retrying."""
    sent_as = " and ".join(sent)
    problem = f"wrong proxy token (sent as {sent_as})" if sent else "no proxy token was sent"
    return AuthenticationFailed(
        f"anthroxy: {problem}. This proxy requires its server.auth_token: set "
        "ANTHROPIC_AUTH_TOKEN to that value (Claude Code sends it as Authorization: Bearer; "
        "`anthroxy run` sets it for you)." + (" " + hint.removeprefix(". ") if hint else ""),
        should_retry=False,
    )


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> AnthroxyError:
    if exc.status == 413:
        return RequestTooLarge(
            "request body is larger than server.max_body_bytes; raise it in the [server] table "
            "of the anthroxy configuration"
        )
    if exc.status == 404:
        return AnthroxyError(
            f"no such endpoint: {request.method} {request.path}",
            status=404,
            error_type="not_found_error",
            should_retry=False,
        )
    if exc.status == 405:
        return InvalidRequest(
            f"method {request.method} is not allowed on {request.path}", status=405
        )
    return InvalidRequest(exc.reason or "bad request", status=exc.status)


def _log_access(
    request: web.Request, access: AccessInfo, status: int, elapsed_ms: float, request_id: str
) -> None:
    fields = {
        "method": request.method,
        "path": request.path,
        "model": access.model,
        "route": access.route,
        "status": status,
        "latency_ms": round(elapsed_ms, 2),
        "input_tokens": access.input_tokens,
        "output_tokens": access.output_tokens,
        "stream": access.stream,
        "stream_error": access.stream_error,
        "tried": access.tried,
    }
    # A failed stream still has status 200 (the client got it as an SSE error event).
    failed = "" if access.stream_error is None else f" error={access.stream_error}"
    answered = status < 400 and access.stream_error is None
    if len(access.tried) > 1 or (access.tried and answered):
        # The attempts that failed before the answer (a lone failure is the answer itself).
        failed += f" tried={','.join(access.tried)}"
    access_log.info(
        "%s %s model=%s route=%s status=%d ms=%.1f in=%s out=%s%s",
        request.method,
        request.path,
        access.model or "-",
        access.route or "-",
        status,
        elapsed_ms,
        "-" if access.input_tokens is None else access.input_tokens,
        "-" if access.output_tokens is None else access.output_tokens,
        failed,
        extra={"request_id": request_id, "fields": fields},
    )
