"""Value checks for the routing-robustness sections of the configuration.

``[routing.retry]``, ``[routing.circuit_breaker]`` and ``[models."<name>"]`` are checked here, while
the file is validated, so that ``config check`` and start-up report them like every other problem
(one line each, exit status 2) instead of failing later inside the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anthroxy.routing import capabilities

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
