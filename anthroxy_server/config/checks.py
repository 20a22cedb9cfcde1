"""Value checks for the routing-robustness sections of the configuration.

``[routing.retry]``, ``[routing.circuit_breaker]`` and ``[models."<name>"]`` are checked here, while
the file is validated, so that ``config check`` and start-up report them like every other problem
(one line each, exit status 2) instead of failing later inside the app; and ``problems_beyond``,
which lets one run report the problems behind a key that stopped structuring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from anthroxy.routing import capabilities

from .schema import ConfigError

if TYPE_CHECKING:
    from .schema import Config, ModelConfig, RetryConfig

MODEL_FIELDS = ("context_window", "max_output_tokens", "tools", "images", "thinking", "tool_choice")


def model_fields(model: ModelConfig) -> dict[str, object]:
    """A ``[models."<name>"]`` table as the plain mapping ``capabilities.parse_overrides`` takes."""
    return {name: getattr(model, name) for name in MODEL_FIELDS}


def robustness_problems(config: Config) -> list[str]:
    problems = _retry_problems(config.routing.retry)
    breaker = config.routing.circuit_breaker
    if breaker.failures < 1:
        problems.append(f"routing.circuit_breaker.failures: must be >= 1, got {breaker.failures}")
    if not breaker.cooldown >= 0:
        problems.append(f"routing.circuit_breaker.cooldown: must be >= 0, got {breaker.cooldown}")
    raw = {name: model_fields(model) for name, model in config.models.items()}
    try:
        capabilities.parse_overrides(raw)
    except ValueError as exc:
        problems.append(str(exc))
    return problems


def _retry_problems(retry: RetryConfig) -> list[str]:
    problems = []
    if retry.attempts_per_target < 1:
        problems.append(
            f"routing.retry.attempts_per_target: must be >= 1, got {retry.attempts_per_target}"
        )
    for name in ("max_retry_after", "backoff"):
        value = getattr(retry, name)
        if not value >= 0:
            problems.append(f"routing.retry.{name}: must be >= 0 seconds, got {value}")
    return problems


# ---------------------------------------------------------------------------------------------
# Every problem at once: a key of the wrong type or name stops structuring, which would hide
# every problem the later checks find (an unknown ``tiers.sonet`` behind a ``server.hots``).
# The keys structuring named are left out and the rest is checked again.

_PASSES = 3  # leaving keys out cannot reveal new type errors more than once or twice


def problems_beyond(
    data: Mapping[str, Any], problems: Sequence[str], load: Callable[[dict[str, Any]], object]
) -> list[str]:
    """The problems ``load`` (structuring and validation) raises for ``data`` once the keys
    ``problems`` name are left out, minus those already known."""
    known, found = set(problems), []
    pruned = _without(data, problems)
    for _ in range(_PASSES):
        more = [p for p in _raised(load, pruned) if p not in known]
        found += more
        known.update(more)
        smaller = _without(pruned, more)
        if smaller == pruned:
            break
        pruned = smaller
    return found


def _raised(load: Callable[[dict[str, Any]], object], data: dict[str, Any]) -> list[str]:
    try:
        load(data)
    except ConfigError as exc:
        return exc.problems
    return []


def _without(data: Mapping[str, Any], problems: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` without each key a problem line names (``a.b.c: ...``)."""
    copy: dict[str, Any] = copy_table(data)
    for line in problems:
        where = line.split(": ", 1)[0]
        _drop(copy, where.split(".") if where != "(top level)" else [])
    return copy


def _drop(table: dict[str, Any], parts: list[str]) -> None:
    # The deepest key of the path that exists goes (an array element takes its array along).
    node, parent, key = table, None, None
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            break
        parent, key, node = node, part, node[part]
    if parent is not None and key is not None:
        del parent[key]


def copy_table(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: copy_table(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_table(v) for v in value]
    return value
