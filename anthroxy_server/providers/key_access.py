"""``KeyAccess``: a provider reached with its base URL and an API key, or several keys from a
``CredentialPool`` (``credentials.py``) that it rotates through after a 401, 402, 403 or 429."""

from __future__ import annotations

from collections.abc import Mapping

from anthroxy.errors import AnthroxyError, UpstreamError
from anthroxy.upstream_errors import error_from_upstream

from ..config.schema import ResolvedProvider
from ..gateway.call import Call
from ..gateway.dialects import Plan
from ..gateway.state import AccessInfo
from ..gateway.upstream import credential_headers, join_url
from .base import ROTATE_STATUSES, Access, Outgoing, body_bytes
from .cooldown import cooldown_seconds
from .credentials import Credential, CredentialPool, pool_for, session_of


class KeyAccess:
    """A provider reached with its base URL and (optionally) one API key, or several keys in a
    ``CredentialPool`` (``credentials.py``)."""

    streams_only = False

    def __init__(
        self,
        provider: ResolvedProvider,
        pool: CredentialPool | None = None,
        session: str | None = None,
        access: AccessInfo | None = None,
    ) -> None:
        self._provider = provider
        self._access = access  # told the label of each key used (the usage ledger's column)
        self._pool = pool
        self._session = session
        self._lease: Credential | None = None  # the pool's credential this request uses
        self._tried: frozenset[str] = frozenset()
        self._plan_headers: Mapping[str, str] = {}

    async def outgoing(self, plan: Plan) -> Outgoing:
        self._plan_headers = plan.headers
        auth = self._credential().headers if self._pool is not None else None
        headers = {**plan.headers, **credential_headers(self._provider, auth)}
        url = join_url(self._provider.base_url, plan.path)
        return Outgoing(url, body_bytes(plan.body), headers)

    def _credential(self) -> Credential:
        """The request's credential, chosen once (a body sent again keeps it)."""
        assert self._pool is not None
        if self._lease is None:
            self._lease = self._pool.pick(self._session)
        if self._lease is None:
            raise none_usable(self._provider.id, self._pool, "key")
        if self._access is not None:
            self._access.credential = self._lease.label
        return self._lease

    def rotate(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> Mapping[str, str] | None:
        pool, lease = self._pool, self._lease
        if pool is None or lease is None or status not in ROTATE_STATUSES:
            return None
        err = error_from_upstream(status, body, provider=self._provider.id, headers=headers)
        if err.status == 429:  # also a quota error sent with another status
            pool.cool(lease, cooldown_seconds(err.retry_after, headers, now=pool.wall()))
        elif status != 429:
            pool.refuse(lease, status)
        self._tried |= {lease.id}
        following = pool.pick(self._session, exclude=self._tried)
        if following is None:
            return None
        self._lease = following
        if self._access is not None:
            self._access.credential = following.label
        return {**self._plan_headers, **credential_headers(self._provider, following.headers)}

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None:
        return None  # a refused key stays refused

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        err = error_from_upstream(status, body, provider=self._provider.id, headers=headers)
        wait = self._pool.wait() if self._pool is not None else None
        if err.status == 429 and wait is not None:
            err.retry_after = wait  # every key rests: the first free one is the answer
        return err


def none_usable(pid: str, pool: CredentialPool, what: str) -> AnthroxyError:
    """The answer when every credential (``what``: key, account) is refused or resting."""
    wait = pool.wait()
    if wait is None:
        fix = (
            "fix them" if what == "key" else f"log in again (`anthroxy login {pid} --account NAME`)"
        )
        return UpstreamError(
            f"provider '{pid}': every {what} was refused ({pool.refusals()}); {fix} and "
            "run `anthroxy reload`",
            status=401,
            error_type="authentication_error",
        )
    refused = pool.refusals()
    aside = f" (set aside: {refused})" if refused else ""
    return UpstreamError(
        f"provider '{pid}': every {what} is rate-limited{aside}; the first is usable again in "
        f"{wait:g} s",
        status=429,
        error_type="rate_limit_error",
        retry_after=wait,
    )


def key_access(call: Call) -> Access:
    """A keyed provider's access: with the provider's pool when it has several keys."""
    pool = pool_for(call.request, call.provider)
    if pool is None:
        return KeyAccess(call.provider)
    return KeyAccess(
        call.provider, pool, session_of(call.request.headers, call.body), access=call.access
    )
