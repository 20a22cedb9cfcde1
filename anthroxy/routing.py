"""Which provider and upstream model serve a requested model name.

Resolution order (issue 3), first match wins:

1. exact alias: ``aliases[name]``;
2. a target: ``provider/model`` (split at the FIRST ``/``, and only when the part before it is
   a configured provider id, so ``openrouter/deepseek/deepseek-v4-pro`` goes to OpenRouter as
   ``deepseek/deepseek-v4-pro``) or ``model@provider`` (split at the LAST ``@``, again only for a
   configured provider id, so Vertex-style ``claude-sonnet-4@20250514`` is not a target);
3. a tier word (``opus``, ``sonnet``, ``haiku``) inside the name, case-insensitive, when that tier
   is configured (``claude-sonnet-4-5-20250929`` -> the sonnet tier);
4. a configured provider whose ``models`` list contains the name (first provider in config order);
5. the ``default`` tier;
6. ``UnknownModel`` (404 ``not_found_error``) naming the model, the configured choices and how to
   add one.

Alias and tier VALUES are target strings parsed like rule 2; a bare model name is accepted as a
value when some configured provider lists it. They are validated once, at construction: a value
naming an unknown provider raises ``ValueError`` (the server reports it as a config error).

``resolve`` runs on every request: it is a few dict lookups, two ``str`` splits and at most three
substring tests. The table is immutable after construction and shared by all requests.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import UnknownModel

TIER_WORDS: tuple[str, ...] = ("opus", "sonnet", "haiku")
TIER_KEYS: frozenset[str] = frozenset((*TIER_WORDS, "default"))
# How many configured names an UnknownModel message lists before "... and N more".
_MAX_LISTED_CHOICES = 12


@dataclass(frozen=True, slots=True)
class Route:
    requested_model: str  # what the client asked for; the reply reports it
    provider: str  # provider id
    model: str  # the upstream's model name
    rule: str  # which rule matched: "alias", "target", "tier:sonnet", "provider-models", "default"


def split_target(name: str, provider_ids: Collection[str]) -> tuple[str, str] | None:
    """``(provider, model)`` if ``name`` is ``provider/model`` or ``model@provider`` for a
    provider id in ``provider_ids``; ``None`` otherwise (including an empty model part)."""
    # ``@provider`` first: a trailing known provider id is the more specific statement, so
    # ``deepseek/deepseek-v4-pro@openrouter`` goes to OpenRouter, not to DeepSeek.
    model, at, provider = name.rpartition("@")
    if at and provider in provider_ids and model:
        return provider, model
    provider, slash, model = name.partition("/")
    if slash and provider in provider_ids and model:
        return provider, model
    return None


class RoutingTable:
    """Pure routing table; built once from config, shared read-only by all requests."""

    def __init__(
        self,
        *,
        providers: Mapping[str, Sequence[str]],  # provider id -> model names it lists
        tiers: Mapping[str, str],  # "opus"/"sonnet"/"haiku"/"default" -> target string
        aliases: Mapping[str, str],  # exact request name -> target string
    ) -> None:
        # Copies, so a caller changing its config mapping later cannot change the table.
        self._providers: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {pid: tuple(models) for pid, models in providers.items()}
        )
        self._provider_ids = frozenset(self._providers)
        # model name -> first provider (config order) that lists it.
        listed: dict[str, str] = {}
        for pid, models in self._providers.items():
            for name in models:
                listed.setdefault(name, pid)
        self._listed: Mapping[str, str] = MappingProxyType(listed)

        unknown_tiers = sorted(set(tiers) - TIER_KEYS)
        if unknown_tiers:
            raise ValueError(
                f"unknown tier name(s) {', '.join(map(repr, unknown_tiers))} under [tiers]; "
                f"allowed: opus, sonnet, haiku, default"
            )
        self._tiers: Mapping[str, tuple[str, str]] = MappingProxyType(
            {t: self._parse_value(v, f"[tiers] {t}") for t, v in tiers.items()}
        )
        self._tier_scan: tuple[tuple[str, str, str], ...] = tuple(
            (word, *self._tiers[word]) for word in TIER_WORDS if word in self._tiers
        )
        self._default = self._tiers.get("default")
        self._aliases: Mapping[str, tuple[str, str]] = MappingProxyType(
            {a: self._parse_value(v, f"[aliases] {a!r}") for a, v in aliases.items()}
        )

    def _parse_value(self, value: str, where: str) -> tuple[str, str]:
        """A configured target string -> (provider, model), or a ValueError naming ``where``."""
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}: target must be a non-empty string like 'provider/model'")
        parsed = split_target(value, self._provider_ids)
        if parsed is not None:
            return parsed
        if value in self._listed:
            return self._listed[value], value
        known = ", ".join(sorted(self._provider_ids)) or "(none configured)"
        head = value.partition("/")[0] if "/" in value else value.rpartition("@")[2]
        if ("/" in value or "@" in value) and head:
            raise ValueError(
                f"{where}: target {value!r} names provider {head!r}, which is not configured; "
                f"configured providers: {known}"
            )
        raise ValueError(
            f"{where}: target {value!r} is not 'provider/model' or 'model@provider' and no "
            f"configured provider lists it; configured providers: {known}"
        )

    def resolve(self, model: str) -> Route:
        """The route for a requested model name, or ``UnknownModel`` (404)."""
        alias = self._aliases.get(model)
        if alias is not None:
            return Route(model, alias[0], alias[1], "alias")
        target = split_target(model, self._provider_ids)
        if target is not None:
            return Route(model, target[0], target[1], "target")
        if self._tier_scan:
            lowered = model.lower()
            for word, provider, upstream in self._tier_scan:
                if word in lowered:
                    return Route(model, provider, upstream, f"tier:{word}")
        provider_id = self._listed.get(model)
        if provider_id is not None:
            return Route(model, provider_id, model, "provider-models")
        if self._default is not None:
            return Route(model, self._default[0], self._default[1], "default")
        raise UnknownModel(self._unknown_message(model))

    def _unknown_message(self, model: str) -> str:
        names = self.model_names()
        if not names:
            choices = "no models are configured"
        elif len(names) > _MAX_LISTED_CHOICES:
            shown = ", ".join(names[:_MAX_LISTED_CHOICES])
            choices = (
                f"configured choices: {shown}, ... and {len(names) - _MAX_LISTED_CHOICES} more"
            )
        else:
            choices = f"configured choices: {', '.join(names)}"
        return (
            f"model {model!r} is not routed to any provider ({choices}); add it under [aliases] "
            f'or set [tiers] default = "provider/model" in the config'
        )

    def model_names(self) -> list[str]:
        """Every name a client may send (aliases, tiers' words, provider/model targets)."""
        names: dict[str, None] = dict.fromkeys(self._aliases)
        names.update(dict.fromkeys(word for word in TIER_WORDS if word in self._tiers))
        for pid, models in self._providers.items():
            names.update(dict.fromkeys(f"{pid}/{m}" for m in models))
        return list(names)

    def describe(self) -> dict[str, Any]:
        """The table as JSON-ready data for /healthz (no secrets live here)."""
        return {
            "providers": {pid: list(models) for pid, models in self._providers.items()},
            "tiers": {t: f"{p}/{m}" for t, (p, m) in self._tiers.items()},
            "aliases": {a: f"{p}/{m}" for a, (p, m) in self._aliases.items()},
            "order": ["alias", "target", "tier", "provider-models", "default"],
        }
