"""The hop header: a request that has gone round through anthroxy is refused, not relayed again.

Every request anthroxy sends upstream carries ``x-anthroxy-hops: <n>``, one more than the
request it relays carried (none: 0). A request arriving with more than ``ALLOWED_HOPS`` has
passed through anthroxy that many times already: some provider's base URL leads back to
anthroxy (itself, or another anthroxy that leads back to this one), which the start-up check
(``config/loops.py``) cannot see when the URL names this machine by another name. One hop is
allowed, so an anthroxy deliberately chained behind another still works.

The refusal is a 403 ``permission_error`` with ``x-should-retry: false``: Claude Code treats a
403 as final at once (docs/protocol/claude-code.md §5), where a 5xx or 508 would be retried for
minutes, and the 403 keeps its status and type through every anthroxy of the loop on its way back
(``anthroxy.upstream_errors`` maps an upstream 403 to 403, not to be retried).

The header is a private ``x-`` extension header (RFC 6648 discourages new ``X-`` names for
standards, not for private use); providers ignore headers they do not know.
"""

from __future__ import annotations

from collections.abc import Mapping

from anthroxy.errors import AnthroxyError

HOP_HEADER = "x-anthroxy-hops"
ALLOWED_HOPS = 1  # one anthroxy in front of another on purpose


def hops_of(headers: Mapping[str, str]) -> int:
    """How many anthroxy hops the request made; a value that is not a count still marks one."""
    value = headers.get(HOP_HEADER)
    if value is None:
        return 0
    try:
        return max(int(value.strip()), 1)
    except ValueError:
        return 1


def next_hop(headers: Mapping[str, str]) -> dict[str, str]:
    """The hop header for a request relayed upstream on behalf of one with ``headers``."""
    return {HOP_HEADER: str(hops_of(headers) + 1)}


# The cause and the fix, for every message about a loop.
_CAUSE = (
    "The usual cause is ANTHROPIC_BASE_URL, which means two things: Claude Code sends its "
    "requests there (to anthroxy), and anthroxy takes it as the Anthropic upstream's URL. Unset "
    "it in the environment anthroxy runs in (keep it only for Claude Code), or set "
    'providers.anthropic.base_url explicitly (e.g. "https://api.anthropic.com").'
)


def refuse_loop(headers: Mapping[str, str]) -> None:
    """Raise the loop error for a request that has come round more than ``ALLOWED_HOPS``."""
    hops = hops_of(headers)
    if hops <= ALLOWED_HOPS:
        return
    raise AnthroxyError(
        f"anthroxy loop: this request has already passed through anthroxy {hops} times "
        f"({HOP_HEADER}: {hops}); a provider's base URL leads back to anthroxy. {_CAUSE}",
        status=403,
        error_type="permission_error",
        should_retry=False,
    )


def auth_hint(headers: Mapping[str, str]) -> str:
    """What to add to a refused ``auth_token`` when another anthroxy sent the request: it sends
    its provider's key, so a loop into a server with a token ends in that refusal."""
    hops = hops_of(headers)
    if not hops:
        return ""
    return (
        f". This request came through anthroxy ({HOP_HEADER}: {hops}); if that anthroxy is this "
        f"one, a provider's base URL leads back here in a loop. {_CAUSE}"
    )
