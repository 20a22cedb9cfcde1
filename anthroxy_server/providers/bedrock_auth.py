"""Credentials for AWS Bedrock: a Bedrock API key, else SigV4 with the AWS credential chain.

* A Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK``, or the provider's ``api_key_env`` /
  ``api_key``) goes out as ``Authorization: Bearer``; nothing else is needed.
* Otherwise every request is signed with AWS Signature Version 4 for the service ``bedrock``,
  with the credentials botocore's chain finds: the environment (``AWS_ACCESS_KEY_ID``, ...),
  the shared files and their profiles (``aws_profile``, else ``AWS_PROFILE``), SSO, assumed
  roles, container and instance roles. botocore is optional (``pip install "anthroxy[bedrock]"``):
  without it the server runs, and only such a request fails, with an error naming the extra.

Finding the credentials reads files and may call STS, SSO or the instance metadata service, and
refreshing them may too: both run in a worker thread, never on the event loop. One
``AwsSigner`` per (profile, region), kept for the app's life (``SIGNERS``), so the chain is
resolved once and temporary credentials are refreshed by botocore before they expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from anthroxy.errors import AnthroxyError, AuthenticationFailed

INSTALL_HINT = 'pip install "anthroxy[bedrock]"'
SERVICE = "bedrock"  # the SigV4 signing name of bedrock-runtime


class AwsSigner:
    """SigV4 signatures with the credentials of one AWS profile (None: the default chain)."""

    def __init__(self, profile: str | None, region: str) -> None:
        self.profile = profile
        self.region = region
        self._credentials: Any = None  # botocore's (possibly refreshable) Credentials
        self._lock = asyncio.Lock()

    async def sign(
        self, url: str, data: bytes, headers: Mapping[str, str], *, provider: str
    ) -> dict[str, str]:
        """``headers`` plus ``Authorization``, ``X-Amz-Date`` (and the session token, if any)
        for ``POST url`` with body ``data``."""
        frozen = await self._frozen(provider)
        from botocore.auth import SigV4Auth  # botocore is there: _frozen checked it
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=url, data=data, headers=dict(headers))
        SigV4Auth(frozen, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())

    async def _frozen(self, provider: str) -> Any:
        async with self._lock:  # one chain lookup, however many requests wait for it
            if self._credentials is None:
                self._credentials = await asyncio.to_thread(self.load, provider)
        credentials = self._credentials
        if getattr(credentials, "refresh_needed", None) and credentials.refresh_needed():
            # Temporary credentials near their expiry: botocore refreshes them (a network call).
            return await asyncio.to_thread(_freeze, credentials, provider, self.profile)
        return _freeze(credentials, provider, self.profile)

    def load(self, provider: str) -> Any:
        """The chain's credentials (blocking: files, STS, SSO, instance metadata)."""
        try:
            import botocore.session
            from botocore.exceptions import BotoCoreError
        except ImportError:
            raise AnthroxyError(
                f"provider '{provider}' has no Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) and "
                f"signing with AWS credentials needs botocore, which is not installed: "
                f"{INSTALL_HINT}",
                status=500,
                error_type="api_error",
                should_retry=False,
            ) from None
        try:
            credentials = botocore.session.Session(profile=self.profile).get_credentials()
        except BotoCoreError as exc:
            raise _chain_error(provider, self.profile, str(exc)) from exc
        if credentials is None:
            raise _chain_error(provider, self.profile, "no AWS credentials found")
        return credentials


# (aws_profile, region) -> its signer; see ``signer_for``.
SIGNERS: web.AppKey[dict[tuple[str | None, str], AwsSigner]] = web.AppKey("bedrock_signers")


def setup(app: web.Application) -> None:
    app[SIGNERS] = {}


def signer_for(app: web.Application, profile: str | None, region: str) -> AwsSigner:
    signers = app.get(SIGNERS)
    if signers is None:  # an app built without ``setup`` (some tests): one signer per request
        return AwsSigner(profile, region)
    key = (profile, region)
    if key not in signers:
        signers[key] = AwsSigner(profile, region)
    return signers[key]


def chain_problem(provider: str, profile: str | None) -> str | None:
    """What stops the AWS chain from signing for ``provider`` now (``config check``), or None.
    Blocking: for the command line, never the server's event loop."""
    try:
        _freeze(AwsSigner(profile, "us-east-1").load(provider), provider, profile)
    except AnthroxyError as exc:
        return exc.message
    return None


def _freeze(credentials: Any, provider: str, profile: str | None) -> Any:
    from botocore.exceptions import BotoCoreError

    try:
        return credentials.get_frozen_credentials()
    except BotoCoreError as exc:
        raise _chain_error(provider, profile, str(exc)) from exc


def _chain_error(provider: str, profile: str | None, reason: str) -> AnthroxyError:
    which = f"AWS profile '{profile}'" if profile else "the AWS credential chain"
    return AuthenticationFailed(
        f"provider '{provider}': {which}: {reason}. Set AWS_BEARER_TOKEN_BEDROCK (a Bedrock "
        "API key), or sign in with the AWS CLI (aws configure, aws sso login), or set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        should_retry=False,
    )
