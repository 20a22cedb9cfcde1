"""List prices per model and the estimated cost of one request.

Prices are USD per million tokens, as the providers publish them: input, output, cache read
(a prompt-cache hit) and cache write (the 5-minute write where a provider tells writes apart).
Each entry names the date it was read and the provider's own page it was read from
(docs/prices.md); only prices found on such a page are here. A model missing from the table has
no price: its cost is unknown, never zero. The configuration can add or replace entries
(``[prices."model-id"]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

ANTHROPIC_PAGE = "https://platform.claude.com/docs/en/about-claude/pricing"
DEEPSEEK_PAGE = "https://api-docs.deepseek.com/quick_start/pricing-details-usd"
_ANTHROPIC_DATE = "2026-12-04"
_DEEPSEEK_DATE = "2026-12-04"


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens; ``None`` for a kind the source does not price."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    date: str = ""  # when the price was read ("config": the user's own)
    source: str = ""  # the provider's page (or "config")


def _anthropic(inp: float, out: float, read: float, write: float) -> Price:
    return Price(inp, out, read, write, _ANTHROPIC_DATE, ANTHROPIC_PAGE)


def _deepseek(inp: float, out: float, read: float) -> Price:
    # DeepSeek's cache is automatic: a miss is the input price, writes cost nothing extra.
    return Price(inp, out, read, inp, _DEEPSEEK_DATE, DEEPSEEK_PAGE)


PRICES: Mapping[str, Price] = MappingProxyType(
    {
        "claude-opus-4-6": _anthropic(5.0, 25.0, 0.50, 6.25),
        "claude-opus-4-5": _anthropic(5.0, 25.0, 0.50, 6.25),
        "claude-opus-4-1": _anthropic(15.0, 75.0, 1.50, 18.75),
        "claude-opus-4": _anthropic(15.0, 75.0, 1.50, 18.75),
        "claude-sonnet-4-6": _anthropic(3.0, 15.0, 0.30, 3.75),
        "claude-sonnet-4-5": _anthropic(3.0, 15.0, 0.30, 3.75),
        "claude-sonnet-4": _anthropic(3.0, 15.0, 0.30, 3.75),
        "claude-haiku-4-5": _anthropic(1.0, 5.0, 0.10, 1.25),
        "claude-haiku-3-5": _anthropic(0.80, 4.0, 0.08, 1.0),
        "deepseek-chat": _deepseek(0.27, 1.10, 0.07),
        "deepseek-reasoner": _deepseek(0.55, 2.19, 0.14),
    }
)

# "claude-sonnet-4-5-20250929" and "claude-3-5-haiku@20241022" name the same price as the bare id.
_DATED = re.compile(r"[-@](\d{8}|latest|v\d+(:\d+)?)$")


def model_key(model: str) -> str:
    """The table's spelling of ``model``: no vendor prefix ("anthropic/", "us.anthropic."), no
    date suffix, dots in Claude version numbers as dashes ("claude-sonnet-4.5" on OpenRouter)."""
    key = model.strip().lower().rpartition("/")[2]
    if "claude" in key:
        key = key[key.index("claude") :].replace(".", "-")
    return _DATED.sub("", key)


def price_for(
    model: str | None, overrides: Mapping[str, Price] = MappingProxyType({})
) -> Price | None:
    """The price of ``model``: the configuration's entry (by exact id, then by table key), else
    the table's; None when neither knows it."""
    if not model:
        return None
    found = overrides.get(model)
    if found is not None:
        return found
    key = model_key(model)
    return overrides.get(key) or PRICES.get(key)


def cost(
    price: Price | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> float | None:
    """Estimated USD for one request; None (unknown) without a price or without token counts.
    A cache kind the source does not price is counted at the input price: that is what the
    provider bills when it does not discount it."""
    if price is None or (input_tokens is None and output_tokens is None):
        return None
    read_rate = price.input if price.cache_read is None else price.cache_read
    write_rate = price.input if price.cache_write is None else price.cache_write
    total = (
        (input_tokens or 0) * price.input
        + (output_tokens or 0) * price.output
        + (cache_read or 0) * read_rate
        + (cache_write or 0) * write_rate
    )
    return total / 1_000_000
