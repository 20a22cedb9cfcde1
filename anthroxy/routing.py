"""Which provider and upstream model serve a requested model name.

CONTRACT (stub written by the lead; the routing helper fills in the bodies, keeping the names).

Resolution order (issue 3): exact alias → ``provider/model`` (split at the first ``/``, so
OpenRouter ids keep theirs) or ``model@provider`` → a tier word (opus, sonnet, haiku) inside the
requested name → a configured provider whose ``models`` lists the name → the ``default`` tier →
``UnknownModel`` (404) naming the model and the configured choices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Route:
    requested_model: str  # what the client asked for; the reply reports it
    provider: str  # provider id
    model: str  # the upstream's model name
    rule: str  # which rule matched: "alias", "target", "tier:sonnet", "provider-models", "default"


class RoutingTable:
    """Pure routing table; built once from config, shared read-only by all requests."""

    def __init__(
        self,
        *,
        providers: Mapping[str, Sequence[str]],  # provider id -> model names it lists
        tiers: Mapping[str, str],  # "opus"/"sonnet"/"haiku"/"default" -> target string
        aliases: Mapping[str, str],  # exact request name -> target string
    ) -> None:
        raise NotImplementedError

    def resolve(self, model: str) -> Route:
        raise NotImplementedError

    def model_names(self) -> list[str]:
        """Every name a client may send (aliases, tiers' words, provider/model targets)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The table as JSON-ready data for /healthz (no secrets live here)."""
        raise NotImplementedError
