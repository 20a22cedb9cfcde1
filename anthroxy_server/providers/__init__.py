"""Providers that need more than a base URL and a key: credentials, headers, endpoints, error
mapping. ``access_for(call)`` gives the relay the request's ``Access`` (``base.py``); ``setup``
prepares what the providers keep for the app's life (the Codex credentials). ``lister_for``
gives the function that reads a provider's live model list (``listing.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from ..gateway.call import Call
from . import chatgpt
from .base import Access, KeyAccess, Outgoing, key_access
from .listing import Lister, ListingError, list_generic

__all__ = [
    "Access", "KeyAccess", "Lister", "ListingError", "Outgoing", "access_for", "lister_for",
    "setup",
]  # fmt: skip

# provider.auth -> how its requests are made; anything else is a keyed provider.
ACCESS: Mapping[str, Callable[[Call], Access]] = {"codex": chatgpt.access}


# provider id -> how its live model list is read; any other provider: list_generic (its
# dialect's models endpoint).
LISTERS: Mapping[str, Lister] = {}


def lister_for(provider_id: str) -> Lister:
    return LISTERS.get(provider_id, list_generic)


def access_for(call: Call) -> Access:
    return ACCESS.get(call.provider.auth, key_access)(call)


def setup(app: web.Application) -> None:
    chatgpt.setup(app)
