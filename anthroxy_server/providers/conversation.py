"""Which conversation a request belongs to, from what Claude Code sends: the ChatGPT backend's
prompt-cache key and the credential pool's stickiness both key on it."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

SESSION_HEADER = "x-claude-code-session-id"
AGENT_HEADER = "x-claude-code-agent-id"  # sent by sub-agents only (docs/protocol/claude-code.md §3)
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_LEGACY_SESSION = re.compile(r"_session_([0-9a-fA-F-]{36})$")


def conversation_key(headers: Mapping[str, str], body: Mapping[str, Any]) -> str:
    """A stable id for the conversation, used as ``prompt_cache_key`` and ``session_id``.

    Claude Code's session header, else the session in ``metadata.user_id`` (a JSON string with
    ``session_id`` in new versions, ``..._session_<uuid>`` in old ones), else a UUID derived from
    the first user message, which stays the same as a conversation grows. A sub-agent's requests
    (``x-claude-code-agent-id``) get a key of their own within the session: its conversation has
    another prefix, and sharing one cache key would make the two evict each other.
    """
    header = headers.get(SESSION_HEADER, "").strip()
    if _SESSION_ID.match(header):
        agent = headers.get(AGENT_HEADER, "").strip()
        if agent and _SESSION_ID.match(agent) and len(header) + len(agent) < 128:
            return f"{header}-{agent}"
        return header
    session = _metadata_session(body.get("metadata"))
    if session is not None:
        return session
    messages = body.get("messages")
    first = (
        next((m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"), None)
        if isinstance(messages, list)
        else None
    )
    seed = json.dumps([body.get("system"), first], sort_keys=True, default=str).encode()
    return str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4))


def _metadata_session(metadata: Any) -> str | None:
    user_id = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    if not isinstance(user_id, str):
        return None
    try:
        parsed = json.loads(user_id)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        session = parsed.get("session_id")
        return session if isinstance(session, str) and _SESSION_ID.match(session) else None
    legacy = _LEGACY_SESSION.search(user_id)
    return legacy.group(1) if legacy else None
