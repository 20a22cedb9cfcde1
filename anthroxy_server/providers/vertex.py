"""Google Vertex AI (``auth = "google"``): Claude through ``rawPredict`` and Gemini and the open
models through the OpenAI-compatible endpoint (docs/providers/vertex.md).

What differs from the plain dialects, all decided here:

* URL: ``{base}/projects/{project}/locations/{location}/...``. The catalogue's base is the
  ``global`` location's host; another location gets its regional host
  (``{location}-aiplatform.googleapis.com``). A configured ``base_url`` (a VPC / Private Service
  Connect endpoint, a test server) is used as it is.
* Claude (``api = "anthropic"``): the model goes into the URL
  (``publishers/anthropic/models/{model}:rawPredict``, ``:streamRawPredict`` for a stream) and out
  of the body, which carries ``anthropic_version: "vertex-2023-10-16"`` instead of the header.
  The answer is Anthropic's own JSON or SSE, read by the pass-through unchanged.
* Gemini and open models (``api = "chat"``): ``endpoints/openapi/chat/completions``; a model
  without a publisher (``gemini-2.5-pro``) gets Google's (``google/gemini-2.5-pro``).
* Credentials: a bearer token from ``vertex_auth`` (google-auth, optional). A 401 refreshes the
  token once and tries again.
* Errors: Google's ``{"error":{"code","message","status"}}`` mapped like any provider's, with
  what to do: a 403 names the model access to enable, a 404 the location without the model, a
  429 carries the ``retryDelay`` Google gives as ``retry-after``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from anthroxy.errors import AnthroxyError
from anthroxy.routing.catalog import VERTEX_URL
from anthroxy.upstream_errors import error_from_upstream

from ..config.schema import ResolvedProvider
from ..gateway.call import Call
from ..gateway.dialects import Plan
from ..gateway.state import SETTINGS
from .base import Outgoing, body_bytes
from .vertex_auth import INSTALL_HINT, GoogleToken, google_auth_installed

log = logging.getLogger("anthroxy.vertex")

AUTH = "google"
ANTHROPIC_VERSION = "vertex-2023-10-16"
# provider id -> its token source (providers naming the same credentials share one).
GOOGLE_TOKENS: web.AppKey[dict[str, GoogleToken]] = web.AppKey("google_tokens")
# Headers of the Anthropic dialect that Vertex takes in the body or not at all.
_DROPPED = frozenset({"anthropic-version", "x-api-key"})
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")
ACCESS_HINT = (
    "enable the model in Vertex AI Model Garden for this project, and check that the Vertex AI "
    "API is enabled and the credentials have the role roles/aiplatform.user"
)


def make_tokens(
    providers: Mapping[str, ResolvedProvider], kept: Mapping[str, GoogleToken] | None = None
) -> dict[str, GoogleToken]:
    """One GoogleToken per credentials file (None: ADC) for the ``auth = "google"`` providers;
    a token in ``kept`` for the same file stays, with its cached token."""
    shared = {t.credentials_file: t for t in (kept or {}).values()}
    tokens = {}
    for provider in providers.values():
        if provider.auth != AUTH:
            continue
        if provider.credentials_file not in shared:
            shared[provider.credentials_file] = GoogleToken(
                provider.credentials_file, provider=provider.id
            )
        tokens[provider.id] = shared[provider.credentials_file]
    return tokens


def setup(app: web.Application) -> None:
    tokens = make_tokens(app[SETTINGS].providers)
    app[GOOGLE_TOKENS] = tokens
    if tokens and not google_auth_installed():
        names = ", ".join(sorted(tokens))
        log.warning("providers %s need the google-auth package: %s", names, INSTALL_HINT)


def reload(app: web.Application, providers: Mapping[str, ResolvedProvider]) -> None:
    """After a configuration reload: tokens for the new providers, cached ones kept."""
    tokens = app.get(GOOGLE_TOKENS)
    if tokens is not None:
        fresh = make_tokens(providers, tokens)
        tokens.clear()  # the same dict object: the app is frozen, its contents are not
        tokens.update(fresh)


def base_url(provider: ResolvedProvider) -> str:
    location = provider.location or "global"
    if provider.base_url == VERTEX_URL and location != "global":
        return f"https://{location}-aiplatform.googleapis.com/v1"
    return provider.base_url


def claude_request(body: bytes | Mapping[str, Any]) -> tuple[str, bool, bytes]:
    """(model, stream, Vertex body) for an Anthropic Messages body."""
    data = dict(json.loads(body) if isinstance(body, bytes) else body)
    model = str(data.pop("model", ""))
    data["anthropic_version"] = ANTHROPIC_VERSION
    return model, data.get("stream") is True, body_bytes(data)


def chat_request(body: bytes | Mapping[str, Any]) -> tuple[str, bytes]:
    data = dict(json.loads(body) if isinstance(body, bytes) else body)
    model = str(data.get("model", ""))
    if model and "/" not in model:
        data["model"] = model = f"google/{model}"
    return model, body_bytes(data)


class VertexAccess:
    """One request to Vertex AI: URL, token, body, 401 recovery, errors."""

    streams_only = False

    def __init__(self, call: Call) -> None:
        self._provider = call.provider
        self._client_headers = call.request.headers
        self._model = call.route.model
        found = call.request.app.get(GOOGLE_TOKENS, {}).get(call.provider.id)
        self._tokens = found or GoogleToken(
            call.provider.credentials_file, provider=call.provider.id
        )
        self._token = ""
        self._dialect: Mapping[str, str] = {}
        self._retried = False

    async def outgoing(self, plan: Plan) -> Outgoing:
        self._token = await self._tokens.token()
        project = self._provider.project or await self._tokens.project()
        if not project:
            raise AnthroxyError(
                f"provider '{self._provider.id}': no Google Cloud project: set project in "
                f"[providers.{self._provider.id}] or VERTEX_PROJECT_ID",
                should_retry=False,
            )
        where = f"{base_url(self._provider)}/projects/{project}/locations/{self._location}"
        if self._provider.api == "anthropic":
            model, stream, data = claude_request(plan.body)
            self._model = model or self._model
            verb = "streamRawPredict" if stream else "rawPredict"
            url = f"{where}/publishers/anthropic/models/{self._model}:{verb}"
        else:
            self._model, data = chat_request(plan.body)
            url = f"{where}/endpoints/openapi{plan.path}"
        self._dialect = {k: v for k, v in plan.headers.items() if k.lower() not in _DROPPED}
        return Outgoing(url, data, self._headers())

    @property
    def _location(self) -> str:
        return self._provider.location or "global"

    def _headers(self) -> dict[str, str]:
        headers = {**self._dialect, **self._provider.headers}
        headers["authorization"] = f"Bearer {self._token}"  # last: extra headers cannot replace it
        return headers

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None:
        if self._retried:
            return None
        self._retried = True
        self._token = await self._tokens.token(force=True, refused=self._token)
        return self._headers()  # the whole set: the relay sends these instead of the first

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        err = error_from_upstream(status, body, provider=self._provider.id, headers=headers)
        if err.status == 429 and err.retry_after is None:
            err.retry_after = retry_delay(body)
        elif err.status == 403:
            err.message = (
                f"{err.message} (Vertex AI refused {self._model} in location {self._location}: "
                f"{ACCESS_HINT})"
            )
        elif err.status == 404:
            err.message = (
                f"{err.message} (Vertex AI has no {self._model} in location {self._location}: "
                'pick a location that offers it, or location = "global", in '
                f"[providers.{self._provider.id}])"
            )
        else:
            return err
        err.args = (err.full_message,)
        return err


def retry_delay(body: bytes) -> float | None:
    """The ``retryDelay`` of a ``google.rpc.RetryInfo`` detail (``"30s"``), in seconds."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else ():
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        match = _DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


def access(call: Call) -> VertexAccess:
    return VertexAccess(call)


def health_fields(app: web.Application, provider: ResolvedProvider) -> dict[str, object]:
    """What ``/healthz`` shows of a Vertex provider (never a token)."""
    if provider.auth != AUTH:
        return {}
    tokens = app.get(GOOGLE_TOKENS, {}).get(provider.id)
    return {
        "endpoint": base_url(provider),
        "project": provider.project or "(from the credentials)",
        "location": provider.location or "global",
        "credentials": provider.credentials_file or "application default credentials",
        "google_auth_installed": google_auth_installed(),
        "token_refreshes": tokens.refreshes if tokens else 0,
    }
