"""Which provider and upstream model serve a requested model name (and which targets follow
it when the first one fails).

Resolution order (docs/configuration.md, "Routing order"), first match wins:

1. exact alias: ``aliases[name]``;
2. a target: ``provider/model`` (split at the FIRST ``/``, and only when the part before it is
   a configured provider id, so ``openrouter/deepseek/deepseek-v4-pro`` goes to OpenRouter as
   ``deepseek/deepseek-v4-pro``) or ``model@provider`` (split at the LAST ``@``, again only for a
   configured provider id, so Vertex-style ``claude-sonnet-4@20250514`` is not a target);
3. a ``claude-<model>`` name whose ``<model>`` a configured provider lists, or is a catalogue
   well-known model of a configured provider (``claude-deepseek-v4-pro`` -> deepseek): like
   rules 1 and 2 it names one model, so it is the user's explicit choice;
4. scenarios, only when ``resolve`` is given the request body, in ``SCENARIO_ORDER``:
   long_context > image > web_search > think > background (see ``anthroxy.scenarios``);
   then, when the table has a ``stock_claude`` provider, a stock Claude model name
   (``claude-sonnet-4-6``, ``claude-opus-4-1-20250805``, ``claude-3-5-haiku-latest``) goes
   there unchanged (rule ``anthropic``). The caller passes it only while no tier is the
   user's own (claude-model-proxy sends these names to Anthropic; once a user sets tiers,
   redirecting them is what the tiers are for);
5. a tier word (``opus``, ``sonnet``, ``haiku``) inside the name, case-insensitive, when that tier
   is configured (``claude-sonnet-4-5-20250929`` -> the sonnet tier);
6. a configured provider whose ``models`` list contains the name (first provider in config order);
7. the ``default`` tier, except for ``provider/model`` naming a catalogue provider that is not
   configured: that is a 404 naming the provider (the user chose it; another model would be a
   silent substitute);
8. ``UnknownModel`` (404 ``not_found_error``) naming the model, the configured choices and how to
   add one.

Alias, tier, scenario and fallback VALUES (and fallback keys) are target strings parsed like
rule 2; a bare model name is accepted when some configured provider lists it. They are validated
once, at construction: a value naming an unknown provider raises ``ValueError`` (the server
reports it as a config error).

``chain(route)`` is the route followed by the fallbacks configured for its ``provider/model``
(not transitive: a fallback's own fallbacks are not appended, so the list a user reads in the
config is exactly the list tried).

``resolve`` runs on every request: without a body it is a few dict lookups, two ``str`` splits
and at most three substring tests; with one, each configured scenario adds one pass over the
part of the body it looks at. The table is immutable after construction and shared by all
requests.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import UnknownModel
from ..messages.tokens import estimate_input_tokens
from .catalog import CATALOG
from .scenarios import CHECKS, SCENARIO_ORDER

TIER_WORDS: tuple[str, ...] = ("opus", "sonnet", "haiku")
TIER_KEYS: frozenset[str] = frozenset((*TIER_WORDS, "default"))
CLAUDE_PREFIX = "claude-"
DEFAULT_LONG_CONTEXT_THRESHOLD = 60000
RULE_ORDER: tuple[str, ...] = (
    "alias", "target", "claude-name", "scenario", "anthropic", "tier", "provider-models",
    "default",
)  # fmt: skip
# Anthropic's own model ids, current (claude-sonnet-4-6) and older (claude-3-5-haiku), with an
# optional snapshot date or -latest; "claude-sonnet" alone is a tier word, not a model.
STOCK_CLAUDE = re.compile(
    r"^claude-(?:(?:opus|sonnet|haiku)-\d+(?:-\d+)?|\d+(?:-\d+)?-(?:opus|sonnet|haiku))"
    r"(?:-\d{8}|-latest)?$"
)
# How many configured names an UnknownModel message lists before "... and N more".
_MAX_LISTED_CHOICES = 12
_EMPTY: Mapping[str, Any] = MappingProxyType({})

ProviderModel = tuple[str, str]  # (provider id, upstream model)


@dataclass(frozen=True, slots=True)
class Route:
    requested_model: str  # what the client asked for; the reply reports it
    provider: str  # provider id
    model: str  # the upstream's model name
    # Which rule matched: "alias", "target", "claude-name", "scenario:think", "anthropic",
    # "tier:sonnet",
    # "provider-models", "default", or "fallback:2" for the second fallback of a chain.
    rule: str


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
        fallbacks: Mapping[str, Sequence[str]] = _EMPTY,  # target -> targets tried next
        scenarios: Mapping[str, str] = _EMPTY,  # scenario name -> target string
        long_context_threshold: int = DEFAULT_LONG_CONTEXT_THRESHOLD,
        stock_claude: str | None = None,  # provider serving claude-sonnet-4-6 & co. as named
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
        self._claude_names = self._build_claude_names()

        unknown_tiers = sorted(set(tiers) - TIER_KEYS)
        if unknown_tiers:
            raise ValueError(
                f"unknown tier name(s) {', '.join(map(repr, unknown_tiers))} under [tiers]; "
                f"allowed: opus, sonnet, haiku, default"
            )
        self._tiers: Mapping[str, ProviderModel] = MappingProxyType(
            {t: self._parse_value(v, f"[tiers] {t}") for t, v in tiers.items()}
        )
        self._tier_scan: tuple[tuple[str, str, str], ...] = tuple(
            (word, *self._tiers[word]) for word in TIER_WORDS if word in self._tiers
        )
        self._default = self._tiers.get("default")
        self._aliases: Mapping[str, ProviderModel] = MappingProxyType(
            {a: self._parse_value(v, f"[aliases] {a!r}") for a, v in aliases.items()}
        )
        self._scenarios = self._build_scenarios(scenarios)
        if isinstance(long_context_threshold, bool) or not isinstance(long_context_threshold, int):
            raise ValueError("[routing.scenarios] long_context_threshold: must be an integer")
        if long_context_threshold <= 0:
            raise ValueError(
                "[routing.scenarios] long_context_threshold: must be > 0 tokens, "
                f"got {long_context_threshold}"
            )
        self._threshold = long_context_threshold
        self._fallbacks = self._build_fallbacks(fallbacks)
        if stock_claude is not None and stock_claude not in self._provider_ids:
            raise ValueError(f"stock Claude names: provider {stock_claude!r} is not configured")
        self._stock_claude = stock_claude

    @property
    def long_context_threshold(self) -> int | None:
        """The input size above which ``long_context`` applies; None when it is not configured
        (then no caller needs an input estimate to route)."""
        if any(name == "long_context" for name, _, _ in self._scenarios):
            return self._threshold
        return None

    # -- construction -----------------------------------------------------------------------

    def parse_target(self, value: str) -> ProviderModel:
        """A configured target string -> (provider, model), or a ``ValueError`` saying why not
        (without saying where: the caller knows which key held it)."""
        if not isinstance(value, str) or not value:
            raise ValueError("target must be a non-empty string like 'provider/model'")
        parsed = split_target(value, self._provider_ids)
        if parsed is not None:
            return parsed
        if value in self._listed:
            return self._listed[value], value
        known = ", ".join(sorted(self._provider_ids)) or "(none configured)"
        head = value.partition("/")[0] if "/" in value else value.rpartition("@")[2]
        if ("/" in value or "@" in value) and head:
            raise ValueError(
                f"target {value!r} names provider {head!r}, which is not configured; "
                f"configured providers: {known}"
            )
        raise ValueError(
            f"target {value!r} is not 'provider/model' or 'model@provider' and no "
            f"configured provider lists it; configured providers: {known}"
        )

    def _parse_value(self, value: str, where: str) -> ProviderModel:
        try:
            return self.parse_target(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    def _build_claude_names(self) -> Mapping[str, ProviderModel]:
        """``claude-<model>`` -> (provider, model) for every model a configured provider lists,
        then every catalogue well-known model of a configured provider; config order wins.

        Models already named ``claude...`` get no second prefix (``claude-claude-...`` helps
        nobody), and only listed names qualify, so ``claude-sonnet-4-5`` stays a tier name.
        """
        names: dict[str, ProviderModel] = {}
        for pid, models in self._providers.items():
            for model in models:
                if not model.startswith("claude"):
                    names.setdefault(CLAUDE_PREFIX + model, (pid, model))
        for pid in self._providers:
            preset = CATALOG.get(pid)
            for model in preset.models if preset else ():
                if not model.startswith("claude"):
                    names.setdefault(CLAUDE_PREFIX + model, (pid, model))
        return MappingProxyType(names)

    def _build_scenarios(self, scenarios: Mapping[str, str]) -> tuple[tuple[str, str, str], ...]:
        unknown = sorted(set(scenarios) - set(SCENARIO_ORDER))
        if unknown:
            raise ValueError(
                f"unknown scenario(s) {', '.join(map(repr, unknown))} under [routing.scenarios]; "
                f"allowed: {', '.join(SCENARIO_ORDER)}"
            )
        # Kept in precedence order, so resolve just walks it.
        return tuple(
            (name, *self._parse_value(scenarios[name], f"[routing.scenarios] {name}"))
            for name in SCENARIO_ORDER
            if name in scenarios
        )

    def _build_fallbacks(
        self, fallbacks: Mapping[str, Sequence[str]]
    ) -> Mapping[ProviderModel, tuple[ProviderModel, ...]]:
        out: dict[ProviderModel, tuple[ProviderModel, ...]] = {}
        spelled: dict[ProviderModel, str] = {}
        for key, values in fallbacks.items():
            where = f"[routing.fallbacks] {key!r}"
            first = self._parse_value(key, where)
            if first in spelled:
                raise ValueError(
                    f"{where}: names the same target as {spelled[first]!r}; "
                    "give each target's fallbacks once"
                )
            spelled[first] = key
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise ValueError(f"{where}: expected a list of targets, got {values!r}")
            # No duplicates and never the key itself: trying a target twice in one request only
            # repeats the failure (retries of one target are the retry policy's business).
            chain: dict[ProviderModel, None] = {}
            for i, value in enumerate(values):
                parsed = self._parse_value(value, f"{where}[{i}]")
                if parsed != first:
                    chain[parsed] = None
            out[first] = tuple(chain)
        return MappingProxyType(out)

    # -- per request ------------------------------------------------------------------------

    def resolve(
        self,
        model: str,
        request: Mapping[str, Any] | None = None,
        *,
        input_tokens: int | None = None,
    ) -> Route:
        """The route for a requested model name, or ``UnknownModel`` (404).

        With ``request`` (the Messages body, never modified) the configured scenarios apply;
        ``input_tokens`` is the caller's estimate of the prompt size for ``long_context``
        (estimated here from ``request`` when not given and that scenario is configured).
        """
        alias = self._aliases.get(model)
        if alias is not None:
            return Route(model, alias[0], alias[1], "alias")
        target = split_target(model, self._provider_ids)
        if target is not None:
            return Route(model, target[0], target[1], "target")
        named = self._claude_names.get(model)
        if named is not None:
            return Route(model, named[0], named[1], "claude-name")
        if request is not None and self._scenarios:
            chosen = self._scenario(model, request, input_tokens)
            if chosen is not None:
                return chosen
        if self._stock_claude is not None and STOCK_CLAUDE.match(model):
            return Route(model, self._stock_claude, model, "anthropic")
        if self._tier_scan:
            lowered = model.lower()
            for word, provider, upstream in self._tier_scan:
                if word in lowered:
                    return Route(model, provider, upstream, f"tier:{word}")
        provider_id = self._listed.get(model)
        if provider_id is not None:
            return Route(model, provider_id, model, "provider-models")
        self._refuse_unconfigured_target(model)
        if self._default is not None:
            return Route(model, self._default[0], self._default[1], "default")
        raise UnknownModel(self._unknown_message(model))

    def _scenario(
        self, model: str, request: Mapping[str, Any], input_tokens: int | None
    ) -> Route | None:
        for name, provider, upstream in self._scenarios:
            if name == "long_context":
                if input_tokens is None:
                    input_tokens = estimate_input_tokens(request)
                matched = input_tokens > self._threshold
            else:
                matched = CHECKS[name](model, request)
            if matched:
                return Route(model, provider, upstream, f"scenario:{name}")
        return None

    def chain(self, route: Route) -> list[Route]:
        """``[route, *fallbacks]`` for the route's provider/model, in config order, without
        duplicates; each fallback keeps the requested name and has rule ``fallback:<n>``."""
        extra = self._fallbacks.get((route.provider, route.model), ())
        return [
            route,
            *(
                Route(route.requested_model, provider, model, f"fallback:{n}")
                for n, (provider, model) in enumerate(extra, 1)
            ),
        ]

    def _refuse_unconfigured_target(self, model: str) -> None:
        """``provider/model`` naming a catalogue provider that is not configured is the user's
        explicit choice of a provider anthroxy cannot reach: a 404 saying so, not the default
        tier's model in its place. Runs after every other rule, so a tier word
        (``anthropic/claude-haiku-4-5``) or a configured provider's list still routes."""
        provider, slash, rest = model.partition("/")
        if not slash or not rest or provider not in CATALOG:
            return
        configured = ", ".join(sorted(self._provider_ids)) or "none"
        raise UnknownModel(
            f"model {model!r} names provider '{provider}', which is not configured "
            f"(configured: {configured}); add [providers.{provider}] to the config or export "
            "its API key, or list the model under a configured provider's models"
        )

    # -- reporting --------------------------------------------------------------------------

    def _unknown_message(self, model: str) -> str:
        names = self.model_names()
        if not names:
            # A fresh install: say how to get a first provider, not only where routes go.
            return (
                f"model {model!r} is not routed to any provider: none is set up yet. Export a "
                "provider's key (e.g. DEEPSEEK_API_KEY or OPENROUTER_API_KEY) and restart, or run "
                "`anthroxy config init`"
            )
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
        """Every name a client may send: aliases, tiers' words, provider/model targets, then
        ``claude-<model>`` names, then the stock Claude names rule ``anthropic`` serves."""
        names: dict[str, None] = dict.fromkeys(self._aliases)
        names.update(dict.fromkeys(word for word in TIER_WORDS if word in self._tiers))
        for pid, models in self._providers.items():
            names.update(dict.fromkeys(f"{pid}/{m}" for m in models))
        names.update(dict.fromkeys(self._claude_names))
        if self._stock_claude is not None:  # rule "anthropic": its models by their own names
            stock = self._providers[self._stock_claude]
            names.update(dict.fromkeys(m for m in stock if STOCK_CLAUDE.match(m)))
        return list(names)

    def targets(self) -> list[ProviderModel]:
        """Every configured target (tiers, aliases, scenarios, fallbacks), once each."""
        found: dict[ProviderModel, None] = dict.fromkeys(self._tiers.values())
        found.update(dict.fromkeys(self._aliases.values()))
        found.update(dict.fromkeys((p, m) for _, p, m in self._scenarios))
        for first, rest in self._fallbacks.items():
            found.update(dict.fromkeys((first, *rest)))
        return list(found)

    def describe(self) -> dict[str, Any]:
        """The table as JSON-ready data for /healthz (no secrets live here)."""
        return {
            "providers": {pid: list(models) for pid, models in self._providers.items()},
            "tiers": {t: f"{p}/{m}" for t, (p, m) in self._tiers.items()},
            "aliases": {a: f"{p}/{m}" for a, (p, m) in self._aliases.items()},
            "scenarios": {name: f"{p}/{m}" for name, p, m in self._scenarios},
            "long_context_threshold": self._threshold,
            # Where stock Claude names go as named (rule "anthropic"); null: to the tiers.
            "stock_claude": self._stock_claude,
            "fallbacks": {
                f"{p}/{m}": [f"{fp}/{fm}" for fp, fm in chain]
                for (p, m), chain in self._fallbacks.items()
            },
            "order": list(RULE_ORDER),
        }
