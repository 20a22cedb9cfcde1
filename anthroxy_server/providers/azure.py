"""Azure OpenAI / AI Foundry's OpenAI v1 API: the key in ``api-key``, or a Microsoft Entra ID token.

The v1 endpoint (``https://<resource>.openai.azure.com/openai/v1`` or
``https://<resource>.services.ai.azure.com/openai/v1``) speaks OpenAI's Chat Completions and
Responses APIs with the deployment's name as ``model`` and no ``api-version``. It takes a key in
the ``api-key`` header, or an Entra ID access token for the scope ``SCOPE`` as a bearer
(https://learn.microsoft.com/azure/foundry/openai/api-version-lifecycle).

``auth = "azure"`` (the catalogue's): the key when one is configured, else a token;
``auth = "entra"``: always a token. Tokens come from azure-identity's ``DefaultAzureCredential``
(service principal in the environment, workload identity, managed identity, the Azure CLI's
login, ...), an optional extra: without it the server still starts, and a provider that needs a
token is refused with the command that installs it. ``EntraTokens`` (one per app) fetches
tokens in a worker thread (the credential may run ``az`` or wait for the metadata endpoint), one
fetch at a time, and keeps a token until ``REFRESH_MARGIN`` before it expires.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from anthroxy.errors import AnthroxyError, AuthenticationFailed, TargetUnavailable
from anthroxy.upstream_errors import error_from_upstream

from ..gateway.call import Call
from ..gateway.dialects import Plan
from ..gateway.upstream import join_url
from .base import Outgoing, body_bytes

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider

SCOPE = "https://cognitiveservices.azure.com/.default"
INSTALL_HINT = 'pip install "anthroxy[azure]"'
REFRESH_MARGIN = 300.0  # seconds before expiry a cached token is replaced
ROLE_HINT = (
    "the identity needs the 'Cognitive Services OpenAI User' role on the resource "
    "(or set AZURE_API_KEY to use the resource's key)"
)
_SIGN_IN_HINT = (
    "sign in with `az login`, set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, "
    "or run where a managed identity is assigned"
)
_MESSAGE_CAP = 600
# Azure's 429 text when no retry header came: "... Please retry after 37 seconds."
_RETRY_AFTER_TEXT = re.compile(r"retry after (\d+(?:\.\d+)?) seconds?", re.I)
_RESET_HEADERS = ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


class AccessToken(Protocol):
    """What azure-identity's ``get_token`` returns (``azure.core.credentials.AccessToken``)."""

    @property
    def token(self) -> str: ...

    @property
    def expires_on(self) -> int: ...


class TokenCredential(Protocol):
    def get_token(self, *scopes: str) -> AccessToken: ...


CredentialFactory = Callable[[], TokenCredential]


class MissingExtra(Exception):
    """azure-identity is not installed."""


def identity_installed() -> bool:
    try:
        return importlib.util.find_spec("azure.identity") is not None
    except (ImportError, ValueError):  # no ``azure`` package at all, or a broken one
        return False


def default_credential() -> TokenCredential:
    """azure-identity's chain; imported here so the server runs without the extra."""
    try:
        # By name: typing must not depend on whether the extra is installed.
        identity = importlib.import_module("azure.identity")
    except ImportError as exc:
        raise MissingExtra(str(exc)) from exc
    credential: TokenCredential = identity.DefaultAzureCredential()
    return credential


def missing_extra_error(provider: str, *, keyless: bool) -> TargetUnavailable:
    """``keyless``: auth "azure" without a key, which a key would also cure."""
    # A fallback chain skips this target; the next one may serve.
    instead = " (or give the provider its key, e.g. AZURE_API_KEY)" if keyless else ""
    return TargetUnavailable(
        f"provider '{provider}' authenticates with a Microsoft Entra ID token, but "
        f"azure-identity is not installed: run {INSTALL_HINT}{instead}",
        status=500,
        error_type="api_error",
        should_retry=False,
    )


class EntraTokens:
    """One credential and its current token, for the app's life (every Entra provider shares
    them: the chain reads the same environment, and the scope is the same)."""

    def __init__(
        self,
        factory: CredentialFactory | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._factory = factory  # None: azure-identity's DefaultAzureCredential
        self._clock = clock
        self._credential: TokenCredential | None = None
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()
        self._installed: bool | None = None  # looked up once: an install needs a restart anyway

    @property
    def installed(self) -> bool:
        if self._installed is None:
            self._installed = self._factory is not None or identity_installed()
        return self._installed

    def _fresh(self) -> str | None:
        if self._token is not None and self._clock() < self._expires_on - REFRESH_MARGIN:
            return self._token
        return None

    async def token(self, provider: str, *, refused: str | None = None) -> str:
        """A token valid for at least ``REFRESH_MARGIN``; ``refused``: a token the endpoint
        answered 401 to, fetched again whatever its expiry says."""
        if refused is not None and refused == self._token:
            self._token = None
        found = self._fresh()
        if found is not None:
            return found
        async with self._lock:  # single flight: the others wait and reuse its token
            found = self._fresh()
            if found is not None:
                return found
            token, expires_on = await asyncio.to_thread(self._fetch, provider)
            self._token, self._expires_on = token, float(expires_on)
            return token

    def _fetch(self, provider: str) -> tuple[str, int]:
        """In a worker thread: make the credential once, then ask it for a token."""
        try:
            if self._credential is None:
                self._credential = (self._factory or default_credential)()
            got = self._credential.get_token(SCOPE)
        except MissingExtra:
            raise missing_extra_error(provider, keyless=False) from None
        except Exception as exc:  # azure-identity's ClientAuthenticationError and kin
            # The first line says what failed; azure-identity logs each credential's reason.
            said = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:_MESSAGE_CAP]
            raise AuthenticationFailed(
                f"provider '{provider}': no Microsoft Entra ID token ({said}); {_SIGN_IN_HINT}",
                should_retry=False,
            ) from None
        return got.token, got.expires_on


ENTRA_TOKENS: web.AppKey[EntraTokens] = web.AppKey("entra_tokens", EntraTokens)


def setup(app: web.Application) -> None:
    app[ENTRA_TOKENS] = EntraTokens()


def uses_entra(provider: ResolvedProvider) -> bool:
    return provider.auth == "entra" or (provider.auth == "azure" and not provider.api_key)


def check_target(app: web.Application, provider: ResolvedProvider) -> None:
    """Refuse, before anything is sent, an Entra provider when azure-identity is missing."""
    if uses_entra(provider) and not app[ENTRA_TOKENS].installed:
        raise missing_extra_error(provider.id, keyless=provider.auth == "azure")


def entra_problem(provider: ResolvedProvider) -> str | None:
    """What ``anthroxy config check`` reports: an Entra provider without azure-identity."""
    if uses_entra(provider) and not identity_installed():
        return missing_extra_error(provider.id, keyless=provider.auth == "azure").message
    return None


def health_fields(app: web.Application, provider: ResolvedProvider) -> dict[str, object]:
    if not uses_entra(provider):
        return {}
    if not app[ENTRA_TOKENS].installed:
        return {"entra_id": f"azure-identity missing: {INSTALL_HINT}"}
    return {"entra_id": "azure-identity"}


class AzureAccess:
    """The key in ``api-key``, or an Entra ID bearer refreshed once after a 401."""

    streams_only = False

    def __init__(self, call: Call) -> None:
        self._provider = call.provider
        self._deployment = call.route.model
        self._entra = uses_entra(call.provider)
        self._tokens = call.request.app[ENTRA_TOKENS]
        self._sent: str | None = None  # the token of the last attempt
        self._renewed = False  # one fresh token per request after a 401, not a loop
        self._headers: dict[str, str] = {}

    async def outgoing(self, plan: Plan) -> Outgoing:
        self._headers = {**plan.headers, **self._provider.headers}
        url = join_url(self._provider.base_url, plan.path)
        return Outgoing(url, body_bytes(plan.body), await self._credentials())

    async def _credentials(self, refused: str | None = None) -> dict[str, str]:
        # Credentials last: a configured extra header cannot replace them.
        headers = dict(self._headers)
        if not self._entra:
            if self._provider.api_key:
                headers["api-key"] = self._provider.api_key
            return headers
        self._sent = await self._tokens.token(self._provider.id, refused=refused)
        headers["authorization"] = f"Bearer {self._sent}"
        return headers

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None:
        if not self._entra or self._renewed or self._sent is None:
            return None  # a refused key stays refused; so does a token fetched just now
        self._renewed = True
        return await self._credentials(refused=self._sent)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        where = {"provider": self._provider.id, "deployment": self._deployment}
        return azure_error(status, body, headers, entra=self._entra, **where)


def access(call: Call) -> AzureAccess:
    return AzureAccess(call)


# ---------------------------------------------------------------------------------------------
# Azure's error answers in Anthropic's terms: the common mapping, plus what only Azure says.


def azure_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str,
    deployment: str,
    entra: bool,
) -> AnthroxyError:
    err = error_from_upstream(status, body, provider=provider, headers=headers)
    if err.retry_after is None and status == 429:
        err.retry_after = wait_hint(headers, body)
    code = _error_code(body)
    if status == 404 and code == "deploymentnotfound":
        err.message = (
            f"{err.message} (provider '{provider}' has no deployment named '{deployment}': on "
            "Azure the model is the name of one of the resource's deployments)"
        )
    elif status in (401, 403) and entra:
        said = err.message.replace("refused the API key", "refused the Microsoft Entra ID token")
        err.message = f"{said}; {ROLE_HINT}"
    return err


def wait_hint(headers: Mapping[str, str], body: bytes) -> float | None:
    """Seconds to wait from a 429 without ``retry-after``: Azure's reset headers (whole seconds;
    0 or -1 mean unknown), else the "retry after N seconds" of its message."""
    lowered = {k.lower(): v for k, v in headers.items()}
    waits = []
    for name in _RESET_HEADERS:
        try:
            seconds = float(lowered.get(name, ""))
        except ValueError:
            continue
        if seconds > 0:
            waits.append(seconds)
    if waits:
        return max(waits)
    found = _RETRY_AFTER_TEXT.search(body.decode("utf-8", errors="replace"))
    return float(found.group(1)) if found else None


def _error_code(body: bytes) -> str | None:
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code.lower() if isinstance(code, str) else None
