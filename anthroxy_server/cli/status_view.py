"""What ``anthroxy status`` prints about a running proxy's health, from its ``/healthz`` body.

The overall health line, then one block per provider: its dialect, URL and key source, its
circuit breaker (closed, or open until when) and its last error. A person asking "why does Claude
Code fail?" should read the reason here, not only in the log. A body of another shape (an older
or newer anthroxy) still prints, one ``key=value`` line per provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def render(healthz: Mapping[str, Any]) -> str:
    """The ``health:`` line and the ``providers:`` block, each line ending in a newline."""
    health = str(healthz.get("status", "ok"))
    note = " (a provider's circuit breaker is open: see below)" if health == "degraded" else ""
    lines = [f"health:   {health}{note}"]
    providers = healthz.get("providers")
    if isinstance(providers, Mapping) and providers:
        lines.append("providers:")
        for pid, info in providers.items():
            lines.extend(f"  {line}" for line in provider_lines(str(pid), info))
    elif isinstance(providers, list) and providers:
        lines.append("providers:")
        lines.extend(f"  {_brief(item)}" for item in providers)
    return "".join(f"{line}\n" for line in lines)


def provider_lines(pid: str, info: object) -> list[str]:
    if not isinstance(info, Mapping):
        return [f"{pid}: {info}"]
    breaker = info.get("breaker")
    if not isinstance(breaker, Mapping):
        return [f"{pid}: {_brief(info)}"]
    head = [f"{pid}:"]
    head += [str(info[key]) for key in ("api", "base_url") if info.get(key)]
    if info.get("key_source"):
        head.append(f"key from {info['key_source']}")
    lines = [" ".join(head), f"  breaker: {breaker_text(breaker)}"]
    if info.get("tier_check"):  # Gemini: what the key's tier allows (providers/gemini_tiers.py)
        lines.append(f"  tier check: {info['tier_check']}")
    if info.get("entra_id"):  # Azure without a key: where tokens come from (providers/azure.py)
        lines.append(f"  entra id: {info['entra_id']}")
    last = breaker.get("last_error")
    if isinstance(last, Mapping):
        lines.append(f"  last error: {last_error_text(last)}")
    return lines


def breaker_text(breaker: Mapping[str, Any]) -> str:
    """``closed``, ``open until 2026-12-04 21:05:12Z (27 s more, after 3 failures)`` or
    ``half-open``."""
    state = str(breaker.get("state", "?"))
    if state == "open":
        until = breaker.get("open_until")
        wait = f"{_seconds(breaker.get('retry_in_s'))} more, "
        when = f" until {str(until).replace('T', ' ')}" if until else ""
        failures = breaker.get("failures", "?")
        plural = "" if failures == 1 else "s"
        return f"open{when} ({wait}after {failures} failure{plural})"
    if state == "half-open":
        return "half-open (the next request is a trial)"
    return state


def last_error_text(last: Mapping[str, Any]) -> str:
    ago = last.get("age_s")
    when = f" ({_seconds(ago)} ago)" if isinstance(ago, int | float) else ""
    return f"{last.get('status', '?')} {last.get('reason', '')}{when}"


def _seconds(value: object) -> str:
    if not isinstance(value, int | float):
        return "?"
    total = round(value)
    if total < 120:
        return f"{total} s"
    if total < 7200:
        return f"{total // 60} min"
    return f"{total // 3600} h"


def _brief(info: object) -> str:
    if isinstance(info, Mapping):
        return ", ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, dict | list))
    return str(info)
