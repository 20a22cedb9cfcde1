"""``anthroxy status``: the state of each key of a provider that has several, from /healthz
(``providers.credentials``; labels and counters only, the proxy never sends a key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def credential_section(healthz: Mapping[str, Any]) -> str:
    """``credentials:`` and one line per key of each provider with several; "" when none."""
    providers = healthz.get("providers")
    if not isinstance(providers, Mapping):
        return ""
    lines: list[str] = []
    for pid, info in providers.items():
        keys = info.get("credentials") if isinstance(info, Mapping) else None
        if not isinstance(keys, list) or not keys:
            continue
        lines.append(f"  {pid} ({info.get('rotation', 'round-robin')}):")
        width = max(len(str(k.get("label", ""))) for k in keys if isinstance(k, Mapping))
        lines += [f"    {describe_key(k, width)}" for k in keys if isinstance(k, Mapping)]
    return "credentials:\n" + "".join(f"{line}\n" for line in lines) if lines else ""


def describe_key(key: Mapping[str, Any], width: int = 0) -> str:
    """``env:KEY_A  cooling until 2026-12-04T21:40:05Z (12 s left), 5 requests, 1 rate-limited``
    (a key's state as /healthz gives it; a field missing shows as ``?``)."""
    state = key.get("state", "?")
    if state == "cooling":
        left = key.get("retry_in_s", 0)
        state = f"cooling until {key.get('until', '?')} ({left:.0f} s left)"
    elif state == "refused":
        state = f"refused (HTTP {key.get('refused_status', '?')}; `anthroxy reload` retries it)"
    count = key.get("requests", 0)
    parts = [str(state), f"{count} request{'' if count == 1 else 's'}"]
    if key.get("rate_limited"):
        parts.append(f"{key['rate_limited']} rate-limited")
    return f"{str(key.get('label', '?')).ljust(width)}  {', '.join(parts)}"
