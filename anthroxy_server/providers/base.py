"""The one interface the relay calls for a provider: how a request reaches it.

A provider that needs no more than a base URL and a key uses ``KeyAccess``. One that needs more
(the ChatGPT subscription today; Copilot, Gemini, Vertex and Bedrock are shaped alike) gives its
own ``Access``, made per request by ``access_for``, and may keep state across that request's
steps (a 401 recovery, say). What an access decides:

* ``outgoing(plan)``: credentials, extra headers, the endpoint (URL) and any reshaping of the
  body the provider's backend needs, from the dialect's plan;
* ``reauthenticate(refused_body)``: after a 401, the headers to try once more with, or None to
  give the refusal to the client;
* ``error(status, body, headers)``: the provider's error answer in Anthropic's terms;
* ``streams_only``: the backend answers only with streams; a client that asked for JSON gets the
  stream folded into one message (the dialect's ``Plan.fold``).

An access that holds several credentials is also ``Rotating``: after a 401, 402, 403 or 429 the
relay asks it for the headers of another credential and sends the request again at once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from anthroxy.errors import AnthroxyError, UpstreamError
from anthroxy.upstream_errors import error_from_upstream

from ..config.schema import ResolvedProvider
from ..gateway.dialects import Plan
from ..gateway.upstream import credential_headers, join_url
from .cooldown import cooldown_seconds

if TYPE_CHECKING:
    from .credentials import Credential, CredentialPool

_COMPACT = (",", ":")


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """One upstream HTTP request, ready to send."""

    url: str
    data: bytes
    headers: Mapping[str, str]


class Access(Protocol):
    @property
    def streams_only(self) -> bool: ...

    async def outgoing(self, plan: Plan) -> Outgoing: ...

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None: ...

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError: ...


@runtime_checkable
class Rotating(Protocol):
    def rotate(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> Mapping[str, str] | None:
        """After the upstream's error answer: the whole headers to send again with (another
        credential), or None to give the answer to the client."""
        ...


# Upstream statuses that may concern one credential rather than the provider.
ROTATE_STATUSES = frozenset({401, 402, 403, 429})


def body_bytes(body: Mapping[str, object] | bytes) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, separators=_COMPACT).encode()


class KeyAccess:
    """A provider reached with its base URL and (optionally) one API key, or several keys in a
    ``CredentialPool`` (``credentials.py``)."""

    streams_only = False

    def __init__(
        self,
        provider: ResolvedProvider,
        pool: CredentialPool | None = None,
        session: str | None = None,
    ) -> None:
        self._provider = provider
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
            raise self._none_usable(self._pool)
        return self._lease

    def _none_usable(self, pool: CredentialPool) -> AnthroxyError:
        pid = self._provider.id
        wait = pool.wait()
        if wait is None:
            return UpstreamError(
                f"provider '{pid}': every key was refused ({pool.refusals()}); fix them and "
                "run `anthroxy reload`",
                status=401,
                error_type="authentication_error",
            )
        refused = pool.refusals()
        aside = f" (set aside: {refused})" if refused else ""
        return UpstreamError(
            f"provider '{pid}': every key is rate-limited{aside}; the first is usable again in "
            f"{wait:g} s",
            status=429,
            error_type="rate_limit_error",
            retry_after=wait,
        )

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
        return {**self._plan_headers, **credential_headers(self._provider, following.headers)}

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None:
        return None  # a refused key stays refused

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        err = error_from_upstream(status, body, provider=self._provider.id, headers=headers)
        wait = self._pool.wait() if self._pool is not None else None
        if err.status == 429 and wait is not None:
            err.retry_after = wait  # every key rests: the first free one is the answer
        return err
