"""One relayed request, as the relay, the dialects and the providers see it (``Call``), and what
an attempt gave the client (``Relayed``)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from anthroxy.cleaning import NO_RULES, Cleaner
from anthroxy.errors import AnthroxyError
from anthroxy.messages.request import MessagesRequest
from anthroxy.profile import Target
from anthroxy.routing import capabilities
from anthroxy.routing.table import Route

from .live import generation_of, settings_of
from .state import AccessInfo
from .streaming import Downstream

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider


@dataclasses.dataclass(slots=True)
class Call:
    """Everything one relayed request needs."""

    request: web.Request
    raw: bytes
    body: Mapping[str, Any]
    route: Route
    provider: ResolvedProvider
    access: AccessInfo
    request_id: str
    # The target's limits as the handler fitted the request to them (config overrides applied).
    limits: capabilities.ModelLimits | None = None
    # The handler's exact input estimate when it had to compute one; else None.
    input_estimate: int | None = None
    # The request parsed once and fitted to this target (chat and responses dialects); None
    # for an Anthropic upstream, which is sent ``raw``.
    parsed: MessagesRequest | None = None
    # The client's SSE response for a streamed request: one per request, shared by every
    # attempt of the fallback chain (pings may open it before any target answers).
    downstream: Downstream | None = None
    # What changes in the upstream body for this provider: its configured cleaner plus the
    # fields it refused so far (gateway/learned.py).
    cleaner: Cleaner = NO_RULES
    # The dialect this call speaks: the provider's ``api``, unless the provider chooses one per
    # model (``providers.dialect_for``; Copilot).
    api: str = ""

    @property
    def dialect(self) -> str:
        return self.api or self.provider.api

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def session(self) -> aiohttp.ClientSession:
        return generation_of(self.request).sessions[self.provider.id]

    @property
    def ping_interval(self) -> float:
        return settings_of(self.request).config.server.ping_interval

    @property
    def reply_model(self) -> str:
        """The model name replies report: the client's (default), else the upstream's under
        the name ``routing.response_names`` gives it, if any."""
        routing = settings_of(self.request).config.routing
        if routing.rewrite_response_model:
            return self.route.requested_model
        return routing.response_names.get(self.route.model, self.route.model)

    @property
    def input_tokens(self) -> int:
        """The input tokens ``message_start`` shows before the upstream reports its own count.

        Only a preview: the final ``message_delta`` carries the upstream's real usage. The exact
        local estimate costs ~1 ms on a large Claude Code body, so it is used only when the
        handler already paid for it; otherwise about four bytes of request JSON per token.
        """
        if self.input_estimate is not None:
            return self.input_estimate
        return len(self.raw) // 4

    @property
    def target(self) -> Target:
        limits = self.limits or capabilities.lookup(self.route.model)
        return Target(
            provider=self.provider.id,
            model=self.route.model,
            profile=self.provider.profile,
            max_output_tokens=limits.max_output_tokens,
            context_window=limits.context_window,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Relayed:
    """What one attempt gave the client: the response, and the error it carried if the
    failure reached the client inside an already open stream (an SSE ``error`` event)."""

    response: web.StreamResponse
    failure: AnthroxyError | None = None


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)
