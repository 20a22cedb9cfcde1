"""Providers that need more than a base URL and a key: credentials, headers, endpoints, error
mapping. ``access_for(call)`` gives the relay the request's ``Access`` (``base.py``); ``setup``
prepares what the providers keep for the app's life (the Codex credentials, the Gemini tier
check, the Entra ID tokens). ``lister_for`` gives the function that reads a provider's live
model list (``listing.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from ..config.schema import ResolvedProvider
from ..gateway.call import Call
from . import (
    azure,
    bedrock,
    chatgpt,
    chatgpt_accounts,
    copilot,
    copilot_accounts,
    credentials,
    gemini,
    quota_store,
    vertex,
)
from .base import Access, Outgoing, Reissuing, Rotating, with_decoded_stream
from .key_access import KeyAccess, key_access
from .listing import Lister, ListingError, list_generic

__all__ = [
    "LISTERS",
    "Access",
    "KeyAccess",
    "Lister",
    "ListingError",
    "Outgoing",
    "Reissuing",
    "Rotating",
    "access_for",
    "check_target",
    "dialect_for",
    "health_fields",
    "lister_for",
    "setup",
    "with_decoded_stream",
]

# provider.auth -> how its requests are made; anything else is a keyed provider.
ACCESS: Mapping[str, Callable[[Call], Access]] = {
    "codex": chatgpt_accounts.access,
    "copilot": copilot_accounts.access,
    "azure": azure.access,
    "entra": azure.access,
    vertex.AUTH: vertex.access,
    "bedrock": bedrock.access,
}
# provider.auth -> the dialect of one request, for providers that choose it per model;
# anything else speaks its ``api``.
DIALECT: Mapping[str, Callable[[Call], Awaitable[str]]] = {"copilot": copilot.dialect}
# provider id -> how its live model list is read; any other provider: list_generic (its
# dialect's models endpoint).
LISTERS: Mapping[str, Lister] = {
    gemini.PROVIDER_ID: gemini.list_models,
    "copilot": copilot.list_models,
    "chatgpt": chatgpt.list_models,
}


def lister_for(provider_id: str) -> Lister:
    return LISTERS.get(provider_id, list_generic)


def access_for(call: Call) -> Access:
    return ACCESS.get(call.provider.auth, key_access)(call)


async def dialect_for(call: Call) -> str:
    """The dialect this call speaks, kept on the call for every later plan of it."""
    choose = DIALECT.get(call.provider.auth)
    call.api = await choose(call) if choose is not None else call.provider.api
    return call.api


def setup(app: web.Application) -> None:
    chatgpt.setup(app)
    gemini.setup(app)
    copilot.setup(app)
    credentials.setup(app)
    azure.setup(app)
    vertex.setup(app)
    bedrock.setup(app)
    quota_store.setup(app)


def check_target(app: web.Application, provider: ResolvedProvider, model: str) -> None:
    """Raise ``TargetUnavailable`` for a model this provider's credentials cannot use (what the
    Gemini tier probe found; an Entra ID provider without azure-identity), before anything is
    sent."""
    gemini.check_target(app, provider, model)
    azure.check_target(app, provider)


def health_fields(app: web.Application, provider: ResolvedProvider) -> dict[str, object]:
    """What ``/healthz`` shows of a provider's own checks (never a secret)."""
    fields = gemini.health_fields(app, provider) | azure.health_fields(app, provider)
    return fields | vertex.health_fields(app, provider)
