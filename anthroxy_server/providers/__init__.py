"""Providers that need more than a base URL and a key: credentials, headers, endpoints, error
mapping. ``access_for(call)`` gives the relay the request's ``Access`` (``base.py``); ``setup``
prepares what the providers keep for the app's life (the Codex credentials)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import aiohttp
from aiohttp import web

from anthroxy.routing.live_models import LiveModel

from ..config.schema import ResolvedProvider
from ..gateway.call import Call
from . import chatgpt, copilot
from .base import Access, KeyAccess, Outgoing, key_access

__all__ = ["LISTERS", "Access", "KeyAccess", "Outgoing", "access_for", "dialect_for", "setup"]

# provider.auth -> how its requests are made; anything else is a keyed provider.
ACCESS: Mapping[str, Callable[[Call], Access]] = {
    "codex": chatgpt.access,
    "copilot": copilot.access,
}
# provider.auth -> the dialect of one request, for providers that choose it per model;
# anything else speaks its ``api``.
DIALECT: Mapping[str, Callable[[Call], Awaitable[str]]] = {"copilot": copilot.dialect}
# provider id -> its live model list.
LISTERS: Mapping[
    str, Callable[[ResolvedProvider, aiohttp.ClientSession], Awaitable[list[LiveModel]]]
] = {"copilot": copilot.list_models}


def access_for(call: Call) -> Access:
    return ACCESS.get(call.provider.auth, key_access)(call)


async def dialect_for(call: Call) -> str:
    """The dialect this call speaks, kept on the call for every later plan of it."""
    choose = DIALECT.get(call.provider.auth)
    call.api = await choose(call) if choose is not None else call.provider.api
    return call.api


def setup(app: web.Application) -> None:
    chatgpt.setup(app)
    copilot.setup(app)
