"""Typed keys for what the app and each request carry, and the per-request access record."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from anthroxy.routing.table import Route

    from ..config.schema import ResolvedProvider, Settings

# The settings and sessions the app STARTED with; after a reload, a request reads its own
# snapshot instead (live.py: settings_of(request), generation_of(request).sessions).
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
SESSIONS: web.AppKey[dict[str, aiohttp.ClientSession]] = web.AppKey("sessions")
SECRETS: web.AppKey[tuple[str, ...]] = web.AppKey("secrets")  # values redacted from output
STARTED: web.AppKey[float] = web.AppKey("started")  # wall-clock start, for uptime
# anthroxy's cache directory (config/paths.py), set by serve.py; an app without it (the gateway
# tests) makes no background requests at start.
CACHE_DIR: web.AppKey[Path] = web.AppKey("cache_dir")
# (provider, configuration generation) -> each of its credentials' state, as /healthz shows them;
# set by the credential pools (providers/credentials.py) so the metrics read them from here.
CredentialStates = Callable[["ResolvedProvider", int], Sequence[Mapping[str, Any]]]
CREDENTIAL_STATES: web.AppKey[CredentialStates] = web.AppKey("credential_states")
REQUEST_ID_KEY = "anthroxy.request_id"
ACCESS_KEY = "anthroxy.access"


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """An attempt a fallback or a retry moved on from, for the dashboard's details and health.
    ``message`` is cleaned of the request's secrets before it is kept (logs.redact), so nothing
    that reads it can show a key an upstream echoed."""

    target: str  # provider/model
    status: int
    error_type: str  # Anthropic's: "overloaded_error"
    message: str


@dataclass(slots=True)
class AccessInfo:
    """What the access line reports; filled in by the handlers as they learn it."""

    model: str | None = None
    route: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stream: bool = False
    # "529 overloaded_error": the failure a stream carried to the client after its 200 went out.
    stream_error: str | None = None
    # "provider/model:status" of each failed attempt before the one that answered.
    tried: list[str] = field(default_factory=list)
    # The same attempts with their error type and (redacted) message, one for each of ``tried``.
    failed: list[FailedAttempt] = field(default_factory=list)
    # For the usage ledger: prompt-cache counts, the label of the key that answered (never the
    # key), and when the first content reached the client (time.perf_counter()).
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    credential: str | None = None
    first_output: float | None = None
    # For the metrics (metrics.py): perf_counter readings, the latest target, stream state.
    started: float = 0.0
    first_token: float | None = None
    routed: Route | None = None
    client_label: str | None = None  # the client's model as the metrics name it
    stream_open: bool = False
    # For the dashboard (anthroxy_server/dashboard/): the routing rule that picked the first
    # target ("tier:sonnet"), and the error as the client got it: the JSON body, or the SSE
    # error event's bytes for a stream that failed after its 200.
    rule: str | None = None
    error: dict[str, Any] | bytes | None = None


def access_of(request: web.Request) -> AccessInfo:
    access: AccessInfo = request[ACCESS_KEY]
    return access


def request_id_of(request: web.Request) -> str:
    return str(request[REQUEST_ID_KEY])
