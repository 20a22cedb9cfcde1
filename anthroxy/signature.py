"""anthroxy's own thinking-block signatures.

An Anthropic client must echo every ``thinking`` block with a ``signature``. For reasoning that
came from a non-Anthropic upstream there is no real signature, and inventing one would be a lie
that a real Anthropic upstream later rejects (400 ``Invalid signature``). So anthroxy signs such
blocks with its own marked value: ``anthroxy1.`` followed by base64url (no padding) of a compact
JSON object holding whatever the upstream needs back on the next turn and where the block came
from. The request side decodes it, replays the payload to the upstream that produced it (or where
the profile asks), and never forwards an anthroxy signature to an upstream as if it were the
provider's own.

Payload keys (all optional; an empty payload ``{}`` is valid and means "nothing to replay"):
  ``p``   provider id and ``m`` upstream model that produced the block (Chat Completions blocks;
          both or neither). Without them the origin is unknown: signatures minted before origins
          were recorded, and Responses ones.
  ``f``   the Chat field the reasoning arrived in: ``reasoning_content``, ``reasoning`` or
          ``reasoning_details``; absent when the block holds no reasoning (a Gemini thought
          signature alone). The text itself is not stored: it is the block's ``thinking``, except
  ``t``   for a client that asked for ``display: "omitted"``: the block's text went out empty,
          and the reasoning rides here so the upstream still gets it back.
  ``rd``  OpenRouter ``reasoning_details`` items (list of objects), replayed verbatim.
  ``ts``  Gemini thought signatures: ``{tool_use_id: thought_signature}``.
  ``enc`` Responses API ``encrypted_content`` of a reasoning item; ``rid`` its ``rs_…`` id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

PREFIX = "anthroxy1."
# The thinking text, for a client that asked not to see it (``display: "omitted"``): the block
# goes out empty, and the upstream still gets its reasoning back on the next turn.
HIDDEN_TEXT = "t"
# The Chat Completions fields reasoning arrives in, and goes back in (``f``).
REASONING_FIELDS = frozenset({"reasoning_content", "reasoning", "reasoning_details"})


def encode(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def is_anthroxy(signature: object) -> bool:
    return isinstance(signature, str) and signature.startswith(PREFIX)


def decode(signature: object) -> dict[str, Any] | None:
    """The payload of an anthroxy signature; None for anything else (a real or foreign one).

    A marked but corrupted value also gives None: a client that mangled it loses only the replay.
    """
    if not is_anthroxy(signature):
        return None
    assert isinstance(signature, str)
    body = signature[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # junk a client may send back
        return None
    return payload if isinstance(payload, dict) else None


def with_origin(
    payload: Mapping[str, Any], provider: str, model: str, field: str | None
) -> dict[str, Any]:
    """``payload`` plus the origin keys: who produced the block, and in which field."""
    out = {**payload, "p": provider, "m": model}
    if field is not None:
        out["f"] = field
    return out


def origin(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(provider id, model) that produced a block; None when unknown (or malformed)."""
    provider, model = payload.get("p"), payload.get("m")
    if isinstance(provider, str) and isinstance(model, str):
        return provider, model
    return None


def reasoning_field(payload: Mapping[str, Any]) -> str | None:
    """The Chat field the block's reasoning arrived in (``f``), if it is one anthroxy knows."""
    field = payload.get("f")
    return field if isinstance(field, str) and field in REASONING_FIELDS else None
