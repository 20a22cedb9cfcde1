"""How long a rate-limited credential rests: the provider's own word, read from its answer.

In order: ``retry-after`` (seconds; also ``retry-after-ms`` and a reset time in the error body,
which ``upstream_errors`` already read into the error's ``retry_after``), else the reset times of
the rate-limit headers:

* OpenAI and the providers that copy it: ``x-ratelimit-reset-requests`` and
  ``x-ratelimit-reset-tokens``, durations such as ``1s``, ``6m0s`` or ``20ms``, next to
  ``x-ratelimit-remaining-requests``/``-tokens``
  (https://platform.openai.com/docs/guides/rate-limits);
* Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset``, RFC 3339
  times, next to the matching ``-remaining`` (https://docs.anthropic.com/en/api/rate-limits).

A limit whose ``remaining`` is 0 is the one that was hit, so only those resets count when one is
marked; otherwise the latest reset does (resting too long costs less than a second 429). With no
word at all the credential rests ``DEFAULT_COOLDOWN``. Pure: the caller passes the wall clock.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping

DEFAULT_COOLDOWN = 60.0  # seconds, when the provider says nothing
MIN_COOLDOWN = 1.0  # a "retry-after: 0" still rests the credential for this request's retries
MAX_COOLDOWN = 24 * 3600.0  # a daily quota at most; a reload clears it anyway

# (reset header, remaining header) of each limit family.
_FAMILIES = (
    ("x-ratelimit-reset-requests", "x-ratelimit-remaining-requests"),
    ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens"),
    *(
        (f"anthropic-ratelimit-{kind}-reset", f"anthropic-ratelimit-{kind}-remaining")
        for kind in ("requests", "tokens", "input-tokens", "output-tokens")
    ),
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def cooldown_seconds(retry_after: float | None, headers: Mapping[str, str], *, now: float) -> float:
    """Seconds the credential that got this answer rests (``now``: Unix time)."""
    if retry_after is None:
        retry_after = reset_seconds(headers, now=now)
    if retry_after is None:
        retry_after = DEFAULT_COOLDOWN
    return min(max(retry_after, MIN_COOLDOWN), MAX_COOLDOWN)


def reset_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds until the limit that was hit resets, from the rate-limit headers; None: none."""
    lowered = {name.lower(): value for name, value in headers.items()}
    hit: list[float] = []
    other: list[float] = []
    for reset_name, remaining_name in _FAMILIES:
        value = lowered.get(reset_name)
        seconds = _seconds(value.strip(), now) if value is not None else None
        if seconds is None:
            continue
        exhausted = lowered.get(remaining_name, "").strip() == "0"
        (hit if exhausted else other).append(seconds)
    found = hit or other
    return max(found) if found else None


def _seconds(value: str, now: float) -> float | None:
    """A duration (``6m0s``), plain seconds, or an RFC 3339 time -> seconds from ``now``."""
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        return sum(float(n) * _UNIT[u] for n, u in parts)
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(when.timestamp() - now, 0.0)
