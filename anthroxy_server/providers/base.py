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
relay asks it for the headers of another credential and sends the request again at once. One
whose credentials are logins (a token to fetch, an API base per account) is ``Reissuing``
instead: it gives the whole request again, made for the next account.

An access may also be ``Observing``: it sees the status and headers of every answer (the
ChatGPT access keeps the usage windows they carry for the dashboard).

An access may also have ``decode_stream(stream)`` (``DecodesStream``): for a backend whose stream
comes in a framing of its own (Bedrock's binary event stream), the dialect's stream behind a
decoder of that framing, so the rest of the path sees what the dialect expects.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from anthroxy.errors import AnthroxyError
from anthroxy.streams import EventStream

from ..gateway.dialects import Plan

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


@runtime_checkable
class Reissuing(Protocol):
    async def reissue(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> Outgoing | None:
        """After the upstream's error answer (``ROTATE_STATUSES``): the request to send again
        (another account, or the same one re-authenticated), or None to give the answer to the
        client."""
        ...


# Upstream statuses that may concern one credential rather than the provider.
ROTATE_STATUSES = frozenset({401, 402, 403, 429})


@runtime_checkable
class Observing(Protocol):
    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Every upstream answer's status and headers, as they come (before its body is read):
        a subscription notes what they say of its quota (``quota_store.py``)."""
        ...


@runtime_checkable
class DecodesStream(Protocol):
    def decode_stream(self, stream: EventStream[bytes], /) -> EventStream[bytes]: ...


def with_decoded_stream(access: Access, plan: Plan) -> Plan:
    """``plan`` reading the stream through the access's own framing decoder, if it has one."""
    if isinstance(access, DecodesStream):
        return dataclasses.replace(plan, stream=access.decode_stream(plan.stream))
    return plan


def body_bytes(body: Mapping[str, object] | bytes) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, separators=_COMPACT).encode()
