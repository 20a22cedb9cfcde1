"""Tool call ids across the Anthropic ⇄ OpenAI boundary.

Anthropic requires ``tool_use.id`` to match ``^[a-zA-Z0-9_-]+$``; upstreams mint ids such as
``functions.Bash:0`` (Kimi), ``""`` (Gemini) or ids longer than OpenAI's 40-character cap on
history. Both directions are pure functions of their input (plus the message id for minting), so
an id maps the same way on every turn without anthroxy keeping any state.
"""

from __future__ import annotations

import hashlib
import re

from .profile import ToolCallIdStyle

_VALID_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
# Anthropic's own ids are ~30 characters; keep ours well under every known cap.
_MAX_CLIENT_ID = 64
# Mistral's tool call ids: exactly 9 characters of [a-zA-Z0-9] (profile.ToolCallIdStyle).
_ALNUM9 = re.compile(r"^[a-zA-Z0-9]{9}$")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


class ToolIdMinter:
    """Assigns each upstream tool call of one response a valid, unique Anthropic id."""

    def __init__(self, message_id: str) -> None:
        self._message_id = message_id
        self._taken: set[str] = set()

    def assign(self, upstream_id: str | None, position: int) -> str:
        """The client-facing id for the ``position``-th tool call (0-based) of this response."""
        candidate = self._clean(upstream_id) if upstream_id else ""
        if not candidate or candidate in self._taken:
            candidate = f"toolu_{_digest(f'{self._message_id}:{position}:{upstream_id}', 24)}"
        self._taken.add(candidate)
        return candidate

    @staticmethod
    def _clean(upstream_id: str) -> str:
        if _VALID_ID.match(upstream_id) and len(upstream_id) <= _MAX_CLIENT_ID:
            return upstream_id
        cleaned = _INVALID_CHARS.sub("_", upstream_id)[: _MAX_CLIENT_ID - 9]
        return f"{cleaned}_{_digest(upstream_id, 8)}"


def upstream_tool_id(client_id: str, max_length: int, style: ToolCallIdStyle = "any") -> str:
    """The id sent upstream for a ``tool_use``/``tool_result`` pair in history.

    Ids within the cap go unchanged; longer ones are cut and suffixed with a hash, the same way
    on the assistant's ``tool_calls`` and on the ``tool`` message, so the pair still matches.
    With ``style="alnum9"`` every id becomes 9 characters of [a-zA-Z0-9]: one the upstream
    minted itself (already of that shape) stays as it is, any other is replaced by a hash of it.
    """
    if style == "alnum9":
        return client_id if _ALNUM9.match(client_id) else _alnum9(client_id)
    if len(client_id) <= max_length:
        return client_id
    return f"{client_id[: max_length - 9]}_{_digest(client_id, 8)}"


def _alnum9(client_id: str) -> str:
    """The first 8 bytes of the id's SHA-256 as 9 base-62 digits, most significant first.

    62**9 (about 1.4e16) distinct ids: two tool calls of one conversation colliding is
    negligible, and the mapping needs no state to give the same id on every turn.
    """
    number = (
        int.from_bytes(
            hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).digest()[:8], "big"
        )
        % 62**9
    )
    digits = []
    for _ in range(9):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))
