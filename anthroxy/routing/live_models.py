"""Models a provider lists at run time (its ``/models`` answer), in one shape for every provider.

The server fetches the lists (``anthroxy_server.providers``); the core only holds them and picks
from them, so this module stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LiveModel:
    """One model of a provider's live list."""

    id: str  # the id requests name: "gemini-2.5-pro", "gpt-5.4", "claude-sonnet-4.5"
    created: int | None = None  # Unix seconds, where the provider says when the model appeared
    priority: int | None = None  # the provider's own order where it gives one (lower comes first)
    # Copilot's ``supported_endpoints`` ("/v1/messages", "/responses", "/chat/completions").
    endpoints: tuple[str, ...] = ()
    display_name: str | None = None
