"""Reversible tool-name shortening.

OpenAI-style upstreams accept function names matching ``^[a-zA-Z0-9_-]{1,64}$``; Claude Code's
MCP tools (``mcp__<server>__<tool>``) can be longer, and Gemini also wants a leading letter or
underscore. Names that fit go unchanged. Others become a deterministic short form (a readable
prefix plus a hash of the original), and the per-request ``ToolNames`` table maps the upstream's
reply back to the exact original name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def upstream_name(name: str, max_length: int = 64, must_start_alpha: bool = False) -> str:
    """The name sent upstream for a tool called ``name`` (pure: the same on every turn)."""
    fits = len(name) <= max_length and not _INVALID_CHARS.search(name)
    starts_ok = not must_start_alpha or (name[:1].isalpha() or name[:1] == "_")
    if name and fits and starts_ok:
        return name
    # surrogatepass: JSON allows lone surrogates ("\ud800"), which strict UTF-8 cannot encode.
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    prefix = _INVALID_CHARS.sub("_", name)
    if must_start_alpha and not (prefix[:1].isalpha() or prefix[:1] == "_"):
        prefix = "_" + prefix
    return f"{prefix[: max_length - 9]}_{digest}"


class ToolNames:
    """The name mapping of one request: original → upstream, and back for the reply."""

    def __init__(
        self, names: Iterable[str], max_length: int = 64, must_start_alpha: bool = False
    ) -> None:
        self._max_length = max_length
        self._must_start_alpha = must_start_alpha
        self._to_client: dict[str, str] = {}
        for name in names:
            self.to_upstream(name)

    def to_upstream(self, name: str) -> str:
        short = upstream_name(name, self._max_length, self._must_start_alpha)
        self._to_client.setdefault(short, name)
        return short

    def to_client(self, upstream: str) -> str:
        """The original name; a name the request never declared comes back unchanged."""
        return self._to_client.get(upstream, upstream)
