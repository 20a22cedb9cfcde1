"""Google access tokens for Vertex AI through ``google-auth`` (an optional extra).

Credentials come from Application Default Credentials (``google.auth.default``: the
``GOOGLE_APPLICATION_CREDENTIALS`` file, gcloud's user credentials, workload identity, the
metadata server), or from the provider's ``credentials_file`` (a service-account key or any
other file ADC reads). google-auth is blocking: loading and refreshing run in a worker thread
(``asyncio.to_thread``), one at a time per credentials object (an ``asyncio.Lock``), so
concurrent requests wait for the one refresh instead of each starting their own.

The token is refreshed ``REFRESH_MARGIN`` seconds before it expires, so a long stream never
starts with a token about to lapse. HTTP for the token endpoints goes through ``UrllibRequest``
(the standard library): the extra needs nothing beyond ``google-auth`` itself.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from anthroxy.errors import AnthroxyError, AuthenticationFailed

from ..gateway.logs import remember_secrets

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
INSTALL_HINT = 'pip install "anthroxy[vertex]"'
REFRESH_MARGIN = 300.0  # seconds before expiry
_TIMEOUT = 30.0


def google_auth_installed() -> bool:
    try:  # an import, not a lookup: a broken or shadowed install counts as missing
        importlib.import_module("google.auth")
    except ImportError:
        return False
    return True


def missing_extra(provider: str) -> AnthroxyError:
    return AnthroxyError(
        f"provider '{provider}' (Vertex AI) needs the google-auth package: {INSTALL_HINT}",
        status=500,
        error_type="api_error",
        should_retry=False,
    )


class _Response:
    """What google-auth's transport interface expects back."""

    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data


class UrllibRequest:
    """google-auth's ``transport.Request`` over urllib (blocking; called in a worker thread)."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        transport_error = _google("google.auth.exceptions").TransportError
        request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or _TIMEOUT) as reply:
                return _Response(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as exc:  # an answer all the same: google-auth reads it
            return _Response(exc.code, dict(exc.headers), exc.read())
        except (OSError, ValueError) as exc:
            raise transport_error(f"{method} {url}: {exc}") from exc


def _google(module: str) -> Any:
    """A google-auth module, imported only when used (the package is an optional extra)."""
    return importlib.import_module(module)


def _load(credentials_file: str | None) -> tuple[Credentials, str | None]:
    """The credentials and the project they name (blocking: ADC may probe the metadata server)."""
    auth = _google("google.auth")
    if credentials_file is not None:
        # The user's own configuration names the file, as GOOGLE_APPLICATION_CREDENTIALS would
        # (which loads every type of file ADC knows): google-auth's warning about files from
        # untrusted sources does not apply.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = auth.load_credentials_from_file(credentials_file, scopes=list(SCOPES))
    else:
        loaded = auth.default(scopes=list(SCOPES), request=UrllibRequest())
    credentials, project = loaded
    return credentials, project


def _refresh(credentials: Any) -> None:
    credentials.refresh(UrllibRequest())


class GoogleToken:
    """One set of Google credentials, loaded on first use and kept fresh; shared by the
    providers that name the same credentials file (or none: ADC)."""

    def __init__(self, credentials_file: str | None, *, provider: str) -> None:
        self.credentials_file = credentials_file
        self.provider = provider
        self.refreshes = 0  # how many times a token was fetched (tests, /healthz)
        self._credentials: Credentials | None = None
        self._project: str | None = None
        self._lock = asyncio.Lock()

    async def project(self) -> str | None:
        """The project the credentials belong to (used when the config names none)."""
        await self.token()
        return self._project

    async def token(self, *, force: bool = False, refused: str | None = None) -> str:
        """A valid access token. ``force`` with the ``refused`` token: refresh unless another
        request already replaced that token."""
        async with self._lock:
            if self._credentials is None:
                self._credentials, self._project = await self._call(_load, self.credentials_file)
            credentials = self._credentials
            stale = force and credentials.token == refused
            if stale or not credentials.token or _expires_soon(credentials.expiry):
                await self._call(_refresh, credentials)
                self.refreshes += 1
            remember_secrets(credentials.token)  # an OAuth access token: redacted like keys
            return str(credentials.token)

    async def _call(self, fn: Any, arg: Any) -> Any:
        if not google_auth_installed():
            raise missing_extra(self.provider)
        from google.auth.exceptions import GoogleAuthError

        try:
            return await asyncio.to_thread(fn, arg)
        except (GoogleAuthError, OSError, ValueError) as exc:
            raise AuthenticationFailed(
                f"provider '{self.provider}': no usable Google credentials ({_first_line(exc)}); "
                f"{self._hint()}",
                should_retry=False,
            ) from None

    def _hint(self) -> str:
        if self.credentials_file is not None:
            return f"check the credentials file {self.credentials_file}"
        return (
            "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
            "(or the provider's credentials_file) to a service-account key file"
        )


def _expires_soon(expiry: datetime.datetime | None) -> bool:
    if expiry is None:
        return False  # a token without expiry (never from Google's endpoints) stays
    # google-auth keeps expiry as a naive UTC datetime (an aware one is compared as such).
    now = datetime.datetime.now(datetime.UTC)
    if expiry.tzinfo is None:
        now = now.replace(tzinfo=None)
    return (expiry - now).total_seconds() < REFRESH_MARGIN


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
