"""Loading the configuration: strict cattrs structuring into the schema (``schema.py``),
validation that collects every problem, and resolution into ready-to-call providers.

``load_settings`` is the one entry point the CLI and the app use: it finds the files
(``files.find_config_files``), layers user < project < managed file < ``$ANTHROXY_AUTH_TOKEN`` <
CLI overrides, structures the result into
``Config`` (unknown keys and wrong types are errors naming their key path), and resolves each
provider against the built-in catalogue and the environment (``settings_from_config``). Any
problem anywhere ends in one ``ConfigError`` listing all of them, one line each.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from anthroxy.routing import catalog
from anthroxy.routing.table import RoutingTable

from .checks import problems_beyond, robustness_problems
from .env_overlay import apply_env_overlay
from .environment import gather_environment
from .files import (
    AUTH_TOKEN_ENV,
    CLI_SOURCE,
    CONVERTER,
    MANAGED_PATH,
    METRICS_TOKEN_ENV,
    find_config_files,
    merge_into,
    overrides_as_table,
    problem_lines,
    read_toml,
    show_value,
    unknown_key,
)
from .loops import self_address_problems
from .provider_resolution import discover_providers, resolve_provider
from .schema import (
    LOG_LEVELS,
    TIER_NAMES,
    TIER_PREFERENCE,
    BreakerConfig,
    Config,
    ConfigError,
    ModelConfig,
    ProviderConfig,
    ResolvedProvider,
    RetryConfig,
    RoutingConfig,
    ScenarioConfig,
    ServerConfig,
    Settings,
)

__all__ = [
    "BreakerConfig",
    "Config",
    "ConfigError",
    "ModelConfig",
    "ProviderConfig",
    "ResolvedProvider",
    "RetryConfig",
    "RoutingConfig",
    "ScenarioConfig",
    "ServerConfig",
    "Settings",
    "find_config_files",
    "load_settings",
    "settings_from_config",
]

# ---------------------------------------------------------------------------------------------
# Structuring: plain TOML data → Config (strict converter and error lines in config_files).


def structure_config(data: Mapping[str, Any]) -> Config:
    """Plain TOML data → ``Config``; every type problem in one ``ConfigError``."""
    try:
        return CONVERTER.structure(dict(data), Config)
    except Exception as exc:  # cattrs raises groups and plain errors alike
        raise ConfigError(problem_lines(exc)) from None


# ---------------------------------------------------------------------------------------------
# Validation and resolution: Config + catalogue + environment → Settings.

_LAST = ("anthropic",)


def settings_from_config(
    config: Config,
    env: Mapping[str, str],
    *,
    sources: list[str] | None = None,
    origins: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve a structured ``Config`` against the catalogue and ``env``; raises ConfigError.

    With no ``[providers]`` at all, every catalogue provider whose key is in ``env`` is offered,
    plus the keyless local ones (Ollama). With no ``[tiers]``, all tiers go to the first usable
    provider's default model (see ``default_tiers``).
    """
    problems = _server_problems(config.server)
    discovered = not config.providers
    if discovered:
        config = attrs.evolve(config, providers=discover_providers(env))
    providers: dict[str, ResolvedProvider] = {}
    for pid, pcfg in config.providers.items():
        resolved = resolve_provider(pid, pcfg, env, problems)
        if resolved is not None:
            providers[pid] = resolved
    tiers = dict(config.tiers) or default_tiers(providers, discovered=discovered)
    routing = _routing(config, providers, tiers, problems, _stock_claude(config, providers))
    problems += robustness_problems(config)
    problems += _price_problems(config)
    problems += self_address_problems(config, providers, env, origins or {})
    if problems:
        raise ConfigError(problems)
    if routing is None:  # unreachable: _routing returns None only after adding a problem
        raise ConfigError(["routing: the routing table could not be built"])
    if tiers != config.tiers:
        config = attrs.evolve(config, tiers=tiers)
    return Settings(config, providers, routing, list(sources or []), dict(origins or {}))


def _server_problems(server: ServerConfig) -> list[str]:
    problems = []
    if not 1 <= server.port <= 65535:
        problems.append(f"server.port: must be between 1 and 65535, got {server.port}")
    if not server.ping_interval > 0:
        problems.append(f"server.ping_interval: must be > 0 seconds, got {server.ping_interval}")
    if server.max_body_bytes <= 0:
        problems.append(f"server.max_body_bytes: must be > 0, got {server.max_body_bytes}")
    if server.max_reply_bytes <= 0:
        problems.append(f"server.max_reply_bytes: must be > 0, got {server.max_reply_bytes}")
    levels = {"log_level": server.log_level}
    if server.log_file_level:  # "": no log file
        levels["log_file_level"] = server.log_file_level
    for name, level in levels.items():
        if level.lower() not in LOG_LEVELS:
            problems.append(
                f"server.{name}: expected one of {', '.join(LOG_LEVELS)}, got {show_value(level)}"
            )
    if not server.host:
        problems.append("server.host: must not be empty")
    if not 1 <= server.workers <= 64:
        problems.append(f"server.workers: must be from 1 to 64, got {server.workers}")
    if server.usage_retention_days < 1:
        problems.append(
            f"server.usage_retention_days: must be at least 1, got {server.usage_retention_days}"
        )
    return problems


def _price_problems(config: Config) -> list[str]:
    return [
        f'prices."{model}".{kind}: must be >= 0 USD per million tokens, got {value}'
        for model, price in config.prices.items()
        for kind, value in attrs.asdict(price).items()
        if value is not None and not value >= 0
    ]


def default_tiers(providers: Mapping[str, ResolvedProvider], *, discovered: bool) -> dict[str, str]:
    """Every tier → the first usable provider's default model; ``{}`` when there is none.

    Configured providers are tried in file order; discovered ones in ``TIER_PREFERENCE`` order,
    and keyless local servers are skipped (nobody knows which models are pulled there).
    """
    if discovered:
        ranked = [*TIER_PREFERENCE, *(p for p in providers if p not in _LAST), *_LAST]
        order = sorted(providers, key=ranked.index)
    else:
        order = list(providers)
    for pid in order:
        provider = providers[pid]
        if discovered and provider.api_key is None:
            continue
        preset = catalog.CATALOG.get(pid)
        model = (preset.default_model if preset else None) or next(iter(provider.models), None)
        if model:
            return dict.fromkeys(TIER_NAMES, f"{pid}/{model}")
    return {}


def _stock_claude(config: Config, providers: Mapping[str, ResolvedProvider]) -> str | None:
    """``"anthropic"`` when Claude's own model names should reach Anthropic as named: its key
    is there and no tier is the user's (files, environment, command line). As soon as the user
    sets a tier, the tiers redirect those names, as Claude Code users expect."""
    anthropic = providers.get("anthropic")
    if config.tiers or anthropic is None or anthropic.api != "anthropic":
        return None
    return "anthropic" if anthropic.api_key is not None else None


def _routing(
    config: Config,
    providers: Mapping[str, ResolvedProvider],
    tiers: Mapping[str, str],
    problems: list[str],
    stock_claude: str | None = None,
) -> RoutingTable | None:
    # Every configured id counts, even one with its own problem (a missing key, say): otherwise
    # each target naming it would be reported as unknown on top of the real problem.
    listed = {pid: _models(pid, cfg, providers) for pid, cfg in config.providers.items()}
    for tier in tiers:
        if tier not in TIER_NAMES:
            problems.append(unknown_key(("tiers",), tier, list(TIER_NAMES)))
    for section, table in (("tiers", tiers), ("aliases", config.aliases)):
        for name, target in table.items():
            if section == "tiers" and name not in TIER_NAMES:
                continue
            one = {name: target}
            try:
                RoutingTable(
                    providers=listed,
                    tiers=one if section == "tiers" else {},
                    aliases=one if section == "aliases" else {},
                )
            except ValueError as exc:
                problems.append(f"{_key_path(section, name)}: {_strip_where(str(exc))}")
    scenarios = _scenario_targets(config.routing.scenarios)
    _target_problems(RoutingTable(providers=listed, tiers={}, aliases={}), config, problems)
    if problems:
        return None
    try:
        return RoutingTable(
            providers=listed,
            tiers=tiers,
            aliases=config.aliases,
            fallbacks=config.routing.fallbacks,
            scenarios=scenarios,
            long_context_threshold=config.routing.scenarios.long_context_threshold,
            stock_claude=stock_claude,
        )
    except ValueError as exc:  # what one-by-one checks cannot see: two spellings of one key
        problems.append(f"routing: {exc}")
        return None


def _scenario_targets(scenarios: ScenarioConfig) -> dict[str, str]:
    """The scenarios that are set, as RoutingTable wants them (name -> target)."""
    fields = attrs.asdict(scenarios)
    return {k: v for k, v in fields.items() if k != "long_context_threshold" and v is not None}


def _target_problems(probe: RoutingTable, config: Config, problems: list[str]) -> None:
    """Every bad ``[routing.scenarios]`` / ``[routing.fallbacks]`` target, each on its key path."""
    for name, target in _scenario_targets(config.routing.scenarios).items():
        try:
            probe.parse_target(target)
        except ValueError as exc:
            problems.append(f"routing.scenarios.{name}: {exc}")
    threshold = config.routing.scenarios.long_context_threshold
    if threshold <= 0:
        problems.append(
            f"routing.scenarios.long_context_threshold: must be > 0 tokens, got {threshold}"
        )
    for key, targets in config.routing.fallbacks.items():
        where = _key_path("routing.fallbacks", key)
        for i, target in enumerate((key, *targets)):
            try:
                probe.parse_target(target)
            except ValueError as exc:
                problems.append(f"{where}{'' if i == 0 else f'[{i - 1}]'}: {exc}")


def _models(
    pid: str, cfg: ProviderConfig, providers: Mapping[str, ResolvedProvider]
) -> tuple[str, ...]:
    if pid in providers:
        return providers[pid].models
    preset = catalog.CATALOG.get(pid)
    return tuple(cfg.models) or (preset.models if preset else ())


def _key_path(section: str, name: str) -> str:
    # TOML needs quotes around keys holding dots or other non-bare characters.
    bare = re.fullmatch(r"[A-Za-z0-9_-]+", name)
    return f"{section}.{name}" if bare else f"{section}.{json.dumps(name)}"


def _strip_where(message: str) -> str:
    """RoutingTable prefixes its messages with ``[tiers] opus: ``; our line already says where."""
    return re.sub(r"^\[(tiers|aliases)\] [^:]*: ", "", message)


# ---------------------------------------------------------------------------------------------
# Loading: discovery + layering + structuring + resolution.


def load_settings(
    *,
    cli_path: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
    managed_path: Path = MANAGED_PATH,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Find, layer, validate and resolve the configuration; raises ConfigError listing every
    problem. ``env``/``cwd``/``home`` default to the real process's (the CLI's case)."""
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    home = Path.home() if home is None else home
    files = find_config_files(
        cli_path=cli_path, env=env, cwd=cwd, home=home, managed_path=managed_path
    )
    # ./.env, the .env beside the user's file and ADVANCED_ENV fill in what is not exported;
    # each value keeps its source (environment.py), and the env files count as files read.
    explicit = files[0] if files and (cli_path or env.get("ANTHROXY_CONFIG")) else None
    environment = gather_environment(env, cwd=cwd, home=home, config_path=explicit)
    env = environment.values
    problems: list[str] = list(environment.problems)
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for path in files:
        data = read_toml(path, problems)
        if data is not None:
            merge_into(merged, data, str(path), origins)
    files = [*files, *environment.files]
    # Variables of the proxies anthroxy replaces (BIG_MODEL_*, MODEL_MAP, ...) overlay the files;
    # the command line still wins. Origins are labelled "env:<VARIABLE>".
    apply_env_overlay(merged, env, origins, problems)
    if env.get(AUTH_TOKEN_ENV, "").strip():  # keeps the token out of a file others may read
        token = {"server": {"auth_token": env[AUTH_TOKEN_ENV].strip()}}
        merge_into(merged, token, f"env:{AUTH_TOKEN_ENV}", origins)
    if env.get(METRICS_TOKEN_ENV, "").strip():
        token = {"server": {"metrics_token": env[METRICS_TOKEN_ENV].strip()}}
        merge_into(merged, token, f"env:{METRICS_TOKEN_ENV}", origins)
    if overrides:
        merge_into(merged, overrides_as_table(overrides), CLI_SOURCE, origins)
    if problems:
        raise ConfigError(problems)
    try:
        config = structure_config(merged)
    except ConfigError as exc:  # report what the later checks find in the rest, too
        more = problems_beyond(
            merged, exc.problems, lambda data: settings_from_config(structure_config(data), env)
        )
        raise ConfigError([*exc.problems, *more]) from None
    return settings_from_config(config, env, sources=[str(p) for p in files], origins=origins)
