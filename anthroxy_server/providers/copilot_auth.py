"""GitHub Copilot credentials: the GitHub login ``anthroxy login copilot`` stored, and the
short-lived Copilot token it is exchanged for.

* The exchange is ``GET <copilot_token_url>`` with ``Authorization: token <GitHub token>``; its
  answer carries ``token``, ``expires_at`` (Unix seconds), ``refresh_in`` (seconds), ``sku``
  (the plan) and ``endpoints.api`` (the API base this account must use).
* A token is renewed a minute before ``refresh_in`` runs out, under one lock: concurrent
  requests around the deadline wait for the one exchange in flight and share its token.
* An exchange the host refuses (401/403/404: a token without Copilot access through this door,
  or a host without the internal endpoint) falls back to the GitHub token itself as the bearer,
  at the configured ``base_url``; a later 401 there means the login is bad.
* ``headers`` are the editor and integration headers Copilot requires of every call.

docs/providers/copilot.md lists the sources.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from anthroxy import __version__
from anthroxy.errors import AnthroxyError, AuthenticationFailed

from ..config.schema import CopilotSettings, ResolvedProvider
from ..gateway.logs import remember_secrets
from . import credential_files

# The public client id of GitHub's Copilot editor app (the one the VS Code and Neovim Copilot
# plugins log in with); a device login needs no secret.
CLIENT_ID = "Iv1.b507a08c87ecfe98"
SCOPE = "read:user"
REFRESH_MARGIN = 60.0  # seconds before refresh_in runs out that the token is renewed
REFUSED = (401, 403, 404)  # exchange answers that mean "use the GitHub token directly"
MODELS_RETRY = 600.0  # seconds before an unknown model makes the model list be read again
# Copilot refuses calls without an editor's identity (docs/providers/copilot.md, "Headers").
EDITOR_HEADERS = {
    "editor-version": "vscode/1.104.0",
    "editor-plugin-version": "copilot-chat/0.31.0",
    "copilot-integration-id": "vscode-chat",
    "user-agent": f"GitHubCopilotChat/0.31.0 anthroxy/{__version__}",
    "openai-intent": "conversation-panel",
    "x-github-api-version": "2025-05-01",
}


TOKEN_TIMEOUT = 20.0  # seconds for a token exchange or the model list
# What a free plan's exchange answer says of its quota (kept for the dashboard).
EXCHANGE_QUOTA_FIELDS = ("limited_user_quotas", "monthly_quotas", "limited_user_reset_date")


def login_hint(provider_id: str) -> str:
    return f"run `anthroxy login {provider_id}`"


@dataclasses.dataclass(frozen=True, slots=True)
class CopilotToken:
    """A bearer for Copilot's API and where to use it."""

    value: str = dataclasses.field(repr=False)
    api_base: str
    refresh_at: float  # when to exchange again (inf: the GitHub token used directly)
    expires_at: float | None
    plan: str | None  # the exchange's ``sku``
    exchanged: bool  # False: the exchange was refused and the GitHub token is the bearer

    def __post_init__(self) -> None:
        remember_secrets(self.value)


def settings_of(provider: ResolvedProvider) -> CopilotSettings:
    if provider.copilot is None:
        raise AnthroxyError(f'provider {provider.id!r} is not an auth = "copilot" provider')
    return provider.copilot


def read_login(provider: ResolvedProvider) -> dict[str, Any]:
    """The stored login; not logged in is the client's 401 with the command to run."""
    found = credential_files.load(Path(settings_of(provider).credentials_file))
    if found is None or not isinstance(found.get("github_token"), str):
        raise AuthenticationFailed(
            f"not logged in to GitHub Copilot; {login_hint(provider.id)}",
            should_retry=False,
        )
    return found


def token_from_exchange(
    payload: Any, provider: ResolvedProvider, now: float, plan: str | None = None
) -> CopilotToken:
    """The exchange's answer as a token, renewed REFRESH_MARGIN before ``refresh_in`` ends (or
    before ``expires_at`` when that comes first)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("token"), str):
        raise AnthroxyError(
            f"provider {provider.id!r}: the Copilot token exchange answered without a token",
            status=502,
        )
    expires = payload.get("expires_at")
    expires_at = float(expires) if isinstance(expires, int | float) else None
    refresh_in = payload.get("refresh_in")
    refresh_at = now + (float(refresh_in) if isinstance(refresh_in, int | float) else 1500.0)
    if expires_at is not None:
        refresh_at = min(refresh_at, expires_at)
    endpoints = payload.get("endpoints")
    api = endpoints.get("api") if isinstance(endpoints, Mapping) else None
    pinned = settings_of(provider).pinned_api or not isinstance(api, str)
    sku = payload.get("sku")
    return CopilotToken(
        value=payload["token"],
        api_base=provider.base_url if pinned else str(api).rstrip("/"),
        refresh_at=refresh_at - REFRESH_MARGIN,
        expires_at=expires_at,
        plan=sku if isinstance(sku, str) else plan,
        exchanged=True,
    )


class CopilotAuth:
    """One provider's Copilot token, shared by all its requests."""

    def __init__(
        self, provider: ResolvedProvider, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.provider = provider
        self.clock = clock
        self._lock = asyncio.Lock()
        self._token: CopilotToken | None = None
        self.exchanges = 0  # exchanges made (tests and status read it)
        self._endpoints: dict[str, tuple[str, ...]] | None = None
        self._endpoints_at = float("-inf")
        self._models_lock = asyncio.Lock()
        # The last exchange's free-plan quota fields and when it came (dashboard).
        self.exchange_quota: dict[str, Any] = {}
        self.exchange_at: float | None = None

    @property
    def token(self) -> CopilotToken | None:
        """The token in use, if one was made (its expiry is shown; never its value)."""
        return self._token

    async def current(self, session: aiohttp.ClientSession) -> CopilotToken:
        token = self._token
        if token is not None and self.clock() < token.refresh_at:
            return token
        async with self._lock:
            token = self._token  # another request may have renewed it while this one waited
            if token is None or self.clock() >= token.refresh_at:
                token = self._token = await self._exchange(session)
            return token

    async def renew(self, session: aiohttp.ClientSession, rejected: CopilotToken) -> CopilotToken:
        """A token after ``rejected`` was refused (401): one new exchange for all requests."""
        async with self._lock:
            if self._token is None or self._token.value == rejected.value:
                self._token = await self._exchange(session)
            return self._token

    async def _exchange(self, session: aiohttp.ClientSession) -> CopilotToken:
        login = read_login(self.provider)  # read each time: `anthroxy login` may have renewed it
        github = login["github_token"]
        remember_secrets(github)
        url = settings_of(self.provider).copilot_token_url
        headers = {**EDITOR_HEADERS, "accept": "application/json"}
        headers["authorization"] = f"token {github}"
        self.exchanges += 1
        status, payload = await get_json(session, url, headers, provider=self.provider.id)
        plan = login.get("plan") if isinstance(login.get("plan"), str) else None
        if status in REFUSED:
            # Some tokens are accepted by the API directly; a 401 there ends in the login hint.
            return CopilotToken(github, self.provider.base_url, float("inf"), None, plan, False)
        if status != 200:
            raise AnthroxyError(
                f"provider {self.provider.id!r}: the Copilot token exchange answered HTTP {status}",
                status=502 if status < 500 else 503,
                error_type="api_error",
            )
        if isinstance(payload, Mapping):
            self.exchange_quota = {k: payload[k] for k in EXCHANGE_QUOTA_FIELDS if k in payload}
            self.exchange_at = self.clock()
        return token_from_exchange(payload, self.provider, self.clock(), plan)

    async def endpoints(self, session: aiohttp.ClientSession, model: str) -> tuple[str, ...]:
        """The endpoints Copilot's /models lists for ``model`` (empty when it is not listed or
        the list cannot be read: the caller then goes by the model's name)."""
        known = self._endpoints
        stale = self.clock() - self._endpoints_at >= MODELS_RETRY
        if known is None or (model not in known and stale):
            async with self._models_lock:
                if self._endpoints is known:  # nobody else read the list meanwhile
                    self._endpoints_at = self.clock()
                    self._endpoints = await self._read_endpoints(session, known or {})
        return (self._endpoints or {}).get(model, ())

    async def _read_endpoints(
        self, session: aiohttp.ClientSession, old: dict[str, tuple[str, ...]]
    ) -> dict[str, tuple[str, ...]]:
        try:
            entries = await self.models(session)
        except AnthroxyError:
            return old  # a failed listing keeps what was known
        return {entry["id"]: endpoints_of(entry) for entry in entries}

    async def models(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        """Copilot's /models entries (``data``), each with an ``id``."""
        token = await self.current(session)
        headers = {**EDITOR_HEADERS, **self.provider.headers}
        headers["authorization"] = f"Bearer {token.value}"
        url = token.api_base + "/models"
        status, payload = await get_json(session, url, headers, provider=self.provider.id)
        data = payload.get("data") if isinstance(payload, Mapping) else None
        if status != 200 or not isinstance(data, list):
            raise AnthroxyError(
                f"provider {self.provider.id!r}: {url} answered HTTP {status}", status=502
            )
        return [e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)]


def endpoints_of(entry: Mapping[str, Any]) -> tuple[str, ...]:
    found = entry.get("supported_endpoints")
    return tuple(e for e in found if isinstance(e, str)) if isinstance(found, list) else ()


async def get_json(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str], *, provider: str
) -> tuple[int, Any]:
    """(status, parsed JSON or None) of a GET; a network failure is the client's 502."""
    try:
        # Its own short timeout, not the provider's read timeout (minutes): a hung token
        # exchange would hold every request of the provider.
        timeout = aiohttp.ClientTimeout(total=TOKEN_TIMEOUT)
        async with session.get(url, headers=dict(headers), timeout=timeout) as response:
            raw = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise AnthroxyError(
            f"provider {provider!r}: cannot reach {url}: {exc or type(exc).__name__}", status=502
        ) from None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None
