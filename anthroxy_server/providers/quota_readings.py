"""What a subscription's own answers say about its quota, as the dashboard's ``quota`` entries
(``subscription_status.py``). Pure functions: the caller passes the time.

An entry is ``{"name", "used_percent", "remaining", "entitlement", "resets_at"}`` (numbers or
None; ``resets_at`` in Unix seconds), plus ``window_minutes`` for a ChatGPT window and
``unlimited`` for a Copilot quota. docs/providers/chatgpt.md and docs/providers/copilot.md,
"Quota and expiry on the dashboard", give the sources of every field read here.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping
from typing import Any

# The ChatGPT (Codex) backend's two usage windows: the short one (hours) and the long one (week).
CODEX_WINDOWS = ("primary", "secondary")
CODEX_PLAN_HEADER = "x-codex-plan-type"
# Copilot's quotas, most telling first; any other name GitHub adds follows in its own order.
COPILOT_QUOTAS = ("premium_interactions", "chat", "completions")


def number(value: Any) -> float | None:
    """A finite number from JSON or a header value; None for anything else (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def moment(value: Any) -> float | None:
    """Unix seconds from Unix seconds, an ISO 8601 time or a bare date (read as UTC)."""
    if not isinstance(value, str):
        return number(value)
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return number(text)
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def entry(
    name: str,
    used_percent: float | None,
    *,
    remaining: float | None = None,
    entitlement: float | None = None,
    resets_at: float | None = None,
) -> dict[str, Any]:
    used = None if used_percent is None else round(min(100.0, max(0.0, used_percent)), 2)
    return {
        "name": name,
        "used_percent": used,
        "remaining": remaining,
        "entitlement": entitlement,
        "resets_at": resets_at,
    }


# ---------------------------------------------------------------------------------------------
# ChatGPT: the rate-limit headers of every backend answer.


def codex_quota(headers: Mapping[str, str], now: float) -> list[dict[str, Any]]:
    """The windows ``x-codex-<window>-*`` headers describe; [] when the answer has none."""
    lower = {name.lower(): value for name, value in headers.items()}
    found = []
    for window in CODEX_WINDOWS:
        prefix = f"x-codex-{window}-"
        used = number(lower.get(prefix + "used-percent"))
        if used is None:
            continue
        resets_at = number(lower.get(prefix + "reset-at"))
        if resets_at is None:  # the relative form, counted from when the answer came
            after = number(lower.get(prefix + "reset-after-seconds"))
            resets_at = None if after is None else now + after
        item = entry(window, used, resets_at=resets_at)
        minutes = number(lower.get(prefix + "window-minutes"))
        item["window_minutes"] = None if minutes is None else int(minutes)
        found.append(item)
    return found


def codex_plan(headers: Mapping[str, str]) -> str | None:
    lower = {name.lower(): value for name, value in headers.items()}
    plan = lower.get(CODEX_PLAN_HEADER, "").strip()
    return plan or None


# ---------------------------------------------------------------------------------------------
# Copilot: GitHub's /copilot_internal/user, and the token exchange of a free plan.


def copilot_quota(payload: Any) -> list[dict[str, Any]]:
    """The quotas of a ``/copilot_internal/user`` answer: ``quota_snapshots`` (paid plans, and
    every plan since GitHub unified them), else the free plan's ``limited_user_quotas``."""
    if not isinstance(payload, Mapping):
        return []
    snapshots = payload.get("quota_snapshots")
    if isinstance(snapshots, Mapping) and snapshots:
        resets_at = moment(payload.get("quota_reset_date_utc")) or moment(
            payload.get("quota_reset_date")
        )
        return [
            snapshot_entry(name, snapshots[name], resets_at)
            for name in _ordered(snapshots)
            if isinstance(snapshots[name], Mapping)
        ]
    return limited_quota(payload)


def snapshot_entry(
    name: str, snapshot: Mapping[str, Any], resets_at: float | None
) -> dict[str, Any]:
    if snapshot.get("unlimited") is True:
        item = entry(name, None, resets_at=resets_at)
        item["unlimited"] = True
        return item
    percent_remaining = number(snapshot.get("percent_remaining"))
    remaining = number(snapshot.get("remaining"))
    if remaining is None:
        remaining = number(snapshot.get("quota_remaining"))
    item = entry(
        name,
        None if percent_remaining is None else 100.0 - percent_remaining,
        remaining=remaining,
        entitlement=number(snapshot.get("entitlement")),
        resets_at=resets_at,
    )
    item["unlimited"] = False
    return item


def limited_quota(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A free plan's quotas: ``limited_user_quotas`` holds what is left, ``monthly_quotas`` (when
    given) the month's allowance, ``limited_user_reset_date`` when it starts again."""
    left = payload.get("limited_user_quotas")
    if not isinstance(left, Mapping):
        return []
    monthly = payload.get("monthly_quotas")
    allowance = monthly if isinstance(monthly, Mapping) else {}
    resets_at = moment(payload.get("limited_user_reset_date"))
    found = []
    for name in _ordered(left):
        remaining = number(left[name])
        if remaining is None:
            continue
        total = number(allowance.get(name))
        used = 100.0 * (1.0 - remaining / total) if total else None
        item = entry(name, used, remaining=remaining, entitlement=total, resets_at=resets_at)
        item["unlimited"] = False
        found.append(item)
    return found


def copilot_plan(payload: Any) -> str | None:
    if not isinstance(payload, Mapping):
        return None
    for key in ("copilot_plan", "access_type_sku"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _ordered(names: Iterable[str]) -> list[str]:
    listed = [n for n in names if isinstance(n, str)]
    return [n for n in COPILOT_QUOTAS if n in listed] + [
        n for n in listed if n not in COPILOT_QUOTAS
    ]
