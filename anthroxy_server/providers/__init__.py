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
from . import chatgpt, gemini
from .base import Access, KeyAccess, Outgoing, key_access

__all__ = [
    "LISTERS",
    "Access",
    "KeyAccess",
    "Lister",
    "Outgoing",
    "access_for",
    "health_fields",
    "setup",
]

Lister = Callable[[ResolvedProvider, aiohttp.ClientSession], Awaitable[list[LiveModel]]]

# provider.auth -> how its requests are made; anything else is a keyed provider.
ACCESS: Mapping[str, Callable[[Call], Access]] = {"codex": chatgpt.access}
# provider id -> its access, for keyed providers that need more than the key (checked first).
ACCESS_BY_ID: Mapping[str, Callable[[Call], Access]] = {gemini.PROVIDER_ID: gemini.access}
# provider id -> how its live model list is read.
LISTERS: Mapping[str, Lister] = {gemini.PROVIDER_ID: gemini.list_models}


def access_for(call: Call) -> Access:
    made = ACCESS_BY_ID.get(call.provider.id) if call.provider.auth != "codex" else None
    return (made or ACCESS.get(call.provider.auth, key_access))(call)


def setup(app: web.Application) -> None:
    chatgpt.setup(app)
    gemini.setup(app)


def health_fields(app: web.Application, provider: ResolvedProvider) -> dict[str, object]:
    """What ``/healthz`` shows of a provider's own checks (never a secret)."""
    return gemini.health_fields(app, provider)
