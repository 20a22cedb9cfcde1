"""What anthroxy changes in a request for a provider that would refuse it as the client sent it.

Anthropic-compatible endpoints are not Anthropic: each documents (or shows in its errors) fields
and values it refuses that Claude Code sends. This package holds:

* ``rules``: a provider's ``Cleaner`` as data (fields to drop, values to set, system entries to
  fold, blocks to turn into text) and ``apply``;
* ``presets``: the cleaners of the catalogue's providers, each rule with its public source;
* ``signatures``: which thinking blocks a provider can verify, and the marks that say who made
  a signature;
* ``paths``: field paths (``tools.*.defer_loading``), lookup and removal;
* ``refusals``: the field an upstream's 400 names, so the server can leave it out and retry.
"""

from __future__ import annotations

from .paths import Each, FieldPath, RawPath, format_path, locate, parse_path
from .refusals import refused_fields
from .rules import (
    ANTHROPIC,
    NO_RULES,
    BlocksToText,
    Cleaner,
    Drop,
    FoldSystemMessages,
    HashUnless,
    Rule,
    Set,
    When,
    apply,
)
from .signatures import settle_thinking

__all__ = [
    "ANTHROPIC",
    "NO_RULES",
    "BlocksToText",
    "Cleaner",
    "Drop",
    "Each",
    "FieldPath",
    "FoldSystemMessages",
    "HashUnless",
    "RawPath",
    "Rule",
    "Set",
    "When",
    "apply",
    "format_path",
    "locate",
    "parse_path",
    "refused_fields",
    "settle_thinking",
]
