"""The Codex CLI's ChatGPT login: read ``$CODEX_HOME/auth.json``, refresh it, write it back.

Where the login is looked for: the Codex CLI's file (``codex_home``, else ``$CODEX_HOME``, else
``~/.codex``) when it exists, else anthroxy's own (``anthroxy login chatgpt`` writes it in the
credentials directory, same format), checked again on every read so a login made while the
proxy runs is found. Both are refreshed alike.

File shape (openai/codex ``codex-rs/core/src/auth/storage.rs``)::

    {"OPENAI_API_KEY": null,
     "tokens": {"id_token": "<jwt>", "access_token": "<jwt>", "refresh_token": "...",
                "account_id": "..."},
     "last_refresh": "2025-08-06T20:41:36.232376Z"}

Refresh (``codex-rs/core/src/auth.rs``): POST JSON ``{client_id, grant_type: "refresh_token",
refresh_token, scope: "openid profile email"}`` to the token endpoint; the answer carries a new
``access_token`` and usually new ``id_token`` and ``refresh_token``. Refresh tokens are
single-use: the new one MUST reach the file, or the person's Codex CLI is logged out. Hence:

* one refresh at a time per file: an ``asyncio.Lock`` inside this process and an ``fcntl`` lock
  on the Codex home directory across processes (other anthroxy instances; the Codex CLI itself
  takes no lock, so the file is also re-read right before refreshing — if someone else refreshed
  meanwhile, their token is used and ours is never spent);
* the write re-reads the file and changes only the token fields and ``last_refresh``, keeping
  every other field, and replaces the file atomically (temp file in the same directory, fsync,
  ``os.replace``) with mode 0600.

A 401 from the token endpoint is permanent (Codex's rule): ``refresh_token_expired``,
``_reused`` or ``_invalidated`` (or any other 401) means the person must run ``codex login``.

Token values never appear in an error message, a log line or a ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from anthroxy.errors import AnthroxyError, AuthenticationFailed, UpstreamError
from anthroxy.upstream_errors import connection_error

from ..atomic import write_atomic
from ..gateway.logs import LOGGER_NAME, remember_secrets

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider

log = logging.getLogger(LOGGER_NAME)

# OpenAI's OAuth token endpoint and the Codex CLI's public client id (codex-rs/core/src/auth.rs).
TOKEN_URL = "https://auth.openai.com/oauth/token"
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
REFRESH_SCOPE = "openid profile email"
# The JWT claim namespace holding ``chatgpt_account_id`` (OpenAI's ID and access tokens).
AUTH_CLAIM = "https://api.openai.com/auth"
# Refresh this long before ``exp``, so a token does not expire between check and use.
EXPIRY_MARGIN = 60.0
# How long to wait for another process's refresh before giving up.
LOCK_TIMEOUT = 30.0
LOCK_POLL = 0.05
# Token endpoint error codes after which only a new login helps (codex-rs/core/src/auth.rs).
PERMANENT_REASONS: Mapping[str, str] = {
    "refresh_token_expired": "the refresh token has expired",
    "refresh_token_reused": "the refresh token was already used",
    "refresh_token_invalidated": "the refresh token was revoked",
}
TOKEN_TIMEOUT = 20.0  # seconds for a token refresh, whatever the provider's timeouts
LOGIN_HINT = "run `codex login` (Sign in with ChatGPT) and try again"


@dataclass(frozen=True, slots=True)
class CodexTokens:
    """The token pair in use; secrets hidden from ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    account_id: str | None
    expires_at: float | None  # the access token's ``exp`` (seconds since the epoch), if known

    def __post_init__(self) -> None:
        remember_secrets(self.access_token, self.refresh_token)


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified.

    No signature check, on purpose: anthroxy is not the party the token is for. It only forwards
    the token to OpenAI, which verifies it, and reads ``exp`` to refresh in time and the account
    id to address the request. A forged or garbled claim costs at most a refresh or a 401, which
    the recovery path handles. Anything that is not a JWT yields ``{}``.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _expiry(claims: Mapping[str, Any]) -> float | None:
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _account_from_claims(*claim_sets: Mapping[str, Any]) -> str | None:
    for claims in claim_sets:
        auth = claims.get(AUTH_CLAIM)
        if isinstance(auth, Mapping) and isinstance(auth.get("chatgpt_account_id"), str):
            return str(auth["chatgpt_account_id"])
    return None


class CodexCredentials:
    """One login: cached tokens, refreshed under a lock. One instance per pair of files."""

    def __init__(
        self,
        home: str,
        *,
        provider: str,
        token_url: str | None = None,
        clock: Callable[[], float] = time.time,
        login_file: str | None = None,
    ) -> None:
        self.home = Path(home)
        self.codex_path = self.home / "auth.json"
        self.own_path = Path(login_file) if login_file else None
        self.provider = provider
        self.token_url = token_url or TOKEN_URL
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: CodexTokens | None = None

    # -- reading ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The Codex CLI's file when it exists, else anthroxy's own when that exists."""
        own = self.own_path
        if own is not None and not self.codex_path.exists() and own.exists():
            return own
        return self.codex_path

    @property
    def hint(self) -> str:
        """What the person runs to log in again: the command that made the file in use."""
        if self.path == self.own_path:
            return f"run `anthroxy login {self.provider}` and try again"
        return LOGIN_HINT

    def _missing(self) -> AuthenticationFailed:
        where = f"at {self.codex_path}" + (f" or {self.own_path}" if self.own_path else "")
        return AuthenticationFailed(
            f"provider '{self.provider}': no ChatGPT login found {where}. Run `anthroxy login "
            f"{self.provider}` (or `codex login`, Sign in with ChatGPT). If Codex keeps its "
            'login in the system keyring, set cli_auth_credentials_store = "file" in its '
            "config.toml and log in again, or point codex_home / $CODEX_HOME at the right "
            "directory.",
            should_retry=False,
        )

    def _read_file(self) -> dict[str, Any]:
        path = self.path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise self._missing() from None
        except OSError as exc:
            raise AuthenticationFailed(
                f"provider '{self.provider}': cannot read {path}: {exc.strerror}",
                should_retry=False,
            ) from None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise AuthenticationFailed(
                f"provider '{self.provider}': {path} is not a JSON object; {self.hint}",
                should_retry=False,
            )
        return data

    def load(self) -> CodexTokens:
        """Read the file now; raises AuthenticationFailed with what to do when unusable."""
        data = self._read_file()
        tokens = data.get("tokens")
        access = tokens.get("access_token") if isinstance(tokens, Mapping) else None
        refresh = tokens.get("refresh_token") if isinstance(tokens, Mapping) else None
        if not isinstance(access, str) or not access or not isinstance(refresh, str):
            api_key = "an API key" if data.get("OPENAI_API_KEY") else "no ChatGPT tokens"
            raise AuthenticationFailed(
                f"provider '{self.provider}': {self.path} holds {api_key}, not a ChatGPT "
                f"login; {self.hint} (or use the openai provider for API keys)",
                should_retry=False,
            )
        assert isinstance(tokens, Mapping)
        claims = jwt_claims(access)
        account = tokens.get("account_id")
        if not isinstance(account, str) or not account:
            id_token = tokens.get("id_token")
            id_claims = jwt_claims(id_token) if isinstance(id_token, str) else {}
            account = _account_from_claims(claims, id_claims)
        return CodexTokens(access, refresh, account, _expiry(claims))

    @property
    def cached_expiry(self) -> float | None:
        """When the access token in use expires, if one is in use and says so."""
        return self._cached.expires_at if self._cached is not None else None

    def _fresh(self, tokens: CodexTokens) -> bool:
        return tokens.expires_at is None or tokens.expires_at - EXPIRY_MARGIN > self._clock()

    # -- the entry points ------------------------------------------------------------------

    async def current(self, session: aiohttp.ClientSession) -> CodexTokens:
        """A token believed valid: the cached one, else the file's, else a refreshed one."""
        tokens = self._cached
        if tokens is not None and self._fresh(tokens):
            return tokens
        async with self._locked():
            cached = self._cached
            if cached is not None and self._fresh(cached):
                return cached  # refreshed by another request while this one waited
            tokens = self.load()
            if not self._fresh(tokens):
                tokens = await self._refresh(session, tokens)
            self._cached = tokens
            return tokens

    def reload(self) -> CodexTokens:
        """Re-read the file (after a 401: the Codex CLI may have refreshed meanwhile)."""
        self._cached = self.load()
        return self._cached

    async def refresh(self, session: aiohttp.ClientSession, rejected: CodexTokens) -> CodexTokens:
        """Refresh after ``rejected`` was refused, unless someone already replaced it."""
        async with self._locked():
            tokens = self.load()
            if tokens.access_token == rejected.access_token or not self._fresh(tokens):
                tokens = await self._refresh(session, tokens)
            self._cached = tokens
            return tokens

    # -- locking ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        async with self._lock:
            fd = self._open_lock_target()
            try:
                await self._flock(fd)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _open_lock_target(self) -> int:
        # The directory, not auth.json: the file is replaced on every write, so a lock on it
        # would guard an inode nobody opens any more; locking the directory creates no file.
        home = self.path.parent
        try:
            return os.open(home, os.O_RDONLY)
        except OSError as exc:
            if self.own_path is not None and not home.exists():
                raise self._missing() from None
            raise AuthenticationFailed(
                f"provider '{self.provider}': cannot open the login's directory {home} "
                f"({exc.strerror}); {self.hint}",
                should_retry=False,
            ) from None

    async def _flock(self, fd: int) -> None:
        # Non-blocking attempts with a sleep in between: a blocking flock would stall the
        # event loop (every other request) while another process refreshes.
        waited = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if waited >= LOCK_TIMEOUT:
                raise UpstreamError(
                    f"provider '{self.provider}': another process has held the lock on "
                    f"{self.path.parent} for {LOCK_TIMEOUT:g} s while refreshing the ChatGPT login",
                    status=503,
                    error_type="api_error",
                )
            await asyncio.sleep(LOCK_POLL)
            waited += LOCK_POLL

    # -- refreshing ------------------------------------------------------------------------

    async def _refresh(self, session: aiohttp.ClientSession, tokens: CodexTokens) -> CodexTokens:
        """POST the refresh token; write the new pair; the caller holds the lock."""
        answer = await self._post_refresh(session, tokens.refresh_token)
        new = {
            key: answer[key]
            for key in ("id_token", "access_token", "refresh_token")
            if isinstance(answer.get(key), str) and answer[key]
        }
        if "access_token" not in new:
            raise UpstreamError(
                f"provider '{self.provider}': the token endpoint's answer has no access_token",
                status=502,
                error_type="api_error",
            )
        try:
            self._write_tokens(new)
        except (OSError, AnthroxyError) as exc:
            # The new refresh token now exists only in memory. Keep serving with it and say
            # loudly that the Codex CLI will need a new login (its copy has been spent).
            log.error(
                "provider '%s': could not write the refreshed ChatGPT login to %s (%s); "
                "once this process ends, %s",
                self.provider,
                self.path,
                getattr(exc, "strerror", None) or type(exc).__name__,
                self.hint.removesuffix(" and try again"),
            )
        claims = jwt_claims(new["access_token"])
        return CodexTokens(
            new["access_token"],
            new.get("refresh_token", tokens.refresh_token),
            _account_from_claims(claims) or tokens.account_id,
            _expiry(claims),
        )

    async def _post_refresh(
        self, session: aiohttp.ClientSession, refresh_token: str
    ) -> Mapping[str, Any]:
        body = {
            "client_id": CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": REFRESH_SCOPE,
        }
        try:
            # Its own short timeout: a hung token endpoint must not hold requests for the
            # provider's read timeout (minutes).
            timeout = aiohttp.ClientTimeout(total=TOKEN_TIMEOUT)
            async with session.post(self.token_url, json=body, timeout=timeout) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise connection_error(
                self.provider, self.token_url, str(exc) or type(exc).__name__
            ) from exc
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if status == 200 and isinstance(payload, dict):
            return payload
        raise self._refresh_error(status, payload)

    def _refresh_error(self, status: int, payload: Any) -> AnthroxyError:
        code = _error_code(payload)
        if status == 401 or code in PERMANENT_REASONS:
            reason = PERMANENT_REASONS.get(code or "", "the login was refused")
            return AuthenticationFailed(
                f"provider '{self.provider}': cannot refresh the ChatGPT login from "
                f"{self.path}: {reason} ({code or f'HTTP {status}'}); {self.hint}",
                should_retry=False,
            )
        return UpstreamError(
            f"provider '{self.provider}': the token endpoint answered HTTP {status}"
            + (f" ({code})" if code else "")
            + " while refreshing the ChatGPT login",
            status=502,
            error_type="api_error",
        )

    def _write_tokens(self, new: Mapping[str, str]) -> None:
        # Re-read: keep whatever else the file holds now (fields this code does not know).
        data = self._read_file()
        tokens = data.get("tokens")
        data["tokens"] = {**(tokens if isinstance(tokens, Mapping) else {}), **new}
        now = datetime.datetime.fromtimestamp(self._clock(), tz=datetime.UTC)
        data["last_refresh"] = now.isoformat().replace("+00:00", "Z")
        write_atomic(self.path, json.dumps(data, indent=2).encode())


def credentials_of(provider: ResolvedProvider) -> CodexCredentials:
    """A new ``CodexCredentials`` for an ``auth = "codex"`` provider (outside the app: the CLI,
    the live list)."""
    if provider.codex_home is None:
        raise AnthroxyError(f'provider {provider.id!r} is not an auth = "codex" provider')
    own = provider.codex_login.login_file if provider.codex_login else None
    return CodexCredentials(
        provider.codex_home, provider=provider.id, token_url=provider.token_url, login_file=own
    )


def _error_code(payload: Any) -> str | None:
    """The token endpoint's error code: ``error.code``, ``error`` (a string) or ``code``."""
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("code"), str):
        return str(error["code"]).lower()
    if isinstance(error, str):
        return error.lower()
    code = payload.get("code")
    return code.lower() if isinstance(code, str) else None
