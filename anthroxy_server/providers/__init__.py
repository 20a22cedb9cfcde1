"""Providers that need more than a base URL and a key: credentials, headers, endpoints, error
mapping. ``access_for(call)`` gives the relay the request's ``Access`` (``base.py``); ``setup``
prepares what the providers keep for the app's life (the Codex credentials, the Gemini tier
check). ``LISTERS`` reads a provider's live model list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import aiohttp
from aiohttp import web

from anthroxy.routing.live_models import LiveModel

from ..config.schema import ResolvedProvider
from ..gateway.call import Call
from . import bedrock, chatgpt, gemini
from .base import Access, KeyAccess, Outgoing, key_access, with_decoded_stream

__all__ = [
    "LISTERS",
    "Access",
    "KeyAccess",
    "Lister",
    "Outgoing",
    "access_for",
    "check_target",
    "health_fields",
    "setup",
    "with_decoded_stream",
]

Lister = Callable[[ResolvedProvider, aiohttp.ClientSession], Awaitable[list[LiveModel]]]

# provider.auth -> how its requests are made; anything else is a keyed provider.
ACCESS: Mapping[str, Callable[[Call], Access]] = {
    "codex": chatgpt.access,
    "bedrock": bedrock.access,
}
# provider id -> how its live model list is read.
LISTERS: Mapping[str, Lister] = {gemini.PROVIDER_ID: gemini.list_models}


def access_for(call: Call) -> Access:
    return ACCESS.get(call.provider.auth, key_access)(call)


def setup(app: web.Application) -> None:
    chatgpt.setup(app)
    gemini.setup(app)
    bedrock.setup(app)


def check_target(app: web.Application, provider: ResolvedProvider, model: str) -> None:
    """Raise ``TargetUnavailable`` for a model this provider's credentials cannot use (what the
    Gemini tier probe found), before anything is sent."""
    gemini.check_target(app, provider, model)


def health_fields(app: web.Application, provider: ResolvedProvider) -> dict[str, object]:
    """What ``/healthz`` shows of a provider's own checks (never a secret)."""
    return gemini.health_fields(app, provider)
