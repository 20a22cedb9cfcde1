"""Providers that need more than a base URL and a key: credentials, headers, endpoints, error
mapping. ``access_for(call)`` gives the relay the request's ``Access`` (``base.py``); ``setup``
prepares what the providers keep for the app's life (the Codex credentials)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from ..gateway.call import Call
from . import chatgpt, credentials
from .base import Access, KeyAccess, Outgoing, Rotating
from .credentials import key_access

__all__ = ["Access", "KeyAccess", "Outgoing", "Rotating", "access_for", "setup"]

# provider.auth -> how its requests are made; anything else is a keyed provider.
ACCESS: Mapping[str, Callable[[Call], Access]] = {"codex": chatgpt.access}


def access_for(call: Call) -> Access:
    return ACCESS.get(call.provider.auth, key_access)(call)


def setup(app: web.Application) -> None:
    chatgpt.setup(app)
    credentials.setup(app)
