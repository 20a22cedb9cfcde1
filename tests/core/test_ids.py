"""Tool call ids sent upstream (anthroxy.ids.upstream_tool_id).

Invariants: an id the upstream accepts goes unchanged; any other becomes one it accepts, the same
on every call (so a ``tool_calls`` entry and its ``tool`` message still pair up across turns);
distinct ids stay distinct.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anthroxy.ids import upstream_tool_id
from anthroxy.routing import catalog

ALNUM9 = re.compile(r"^[a-zA-Z0-9]{9}$")


# Expected values worked out outside Python: the first 16 hex digits of `sha256sum`, reduced
# modulo 62**9 and printed in base 62 by `bc`, digits mapped to 0-9, A-Z, a-z.
@pytest.mark.parametrize(
    ("client_id", "expected"),
    [
        ("toolu_01A09q90qw90lq917835lq9", "Ep3mUizBt"),  # 5163f0072184f895 -> 14 51 3 48 ...
        ("call_abc", "ZrnGZYlCZ"),  # ed01972d3c168ca7 -> 35 53 49 16 35 34 47 12 35
    ],
)
def test_alnum9_known_values(client_id: str, expected: str) -> None:
    assert upstream_tool_id(client_id, 40, "alnum9") == expected


@pytest.mark.parametrize("client_id", ["D681PevKs", "abcdefghi", "123456789"])
def test_alnum9_keeps_an_id_the_upstream_minted(client_id: str) -> None:
    # Mistral's own ids reach the client unchanged (ToolIdMinter keeps valid ids), so they must
    # go back unchanged too.
    assert upstream_tool_id(client_id, 40, "alnum9") == client_id


@pytest.mark.parametrize("client_id", ["abcdefgh", "abcdefghij", "abcd_fghi", "abcd-fghi", ""])
def test_alnum9_replaces_every_other_shape(client_id: str) -> None:
    out = upstream_tool_id(client_id, 40, "alnum9")
    assert ALNUM9.match(out)
    assert out != client_id


@given(st.text(max_size=80))
def test_alnum9_is_always_valid_and_stable(client_id: str) -> None:
    out = upstream_tool_id(client_id, 40, "alnum9")
    assert ALNUM9.match(out)
    assert upstream_tool_id(client_id, 40, "alnum9") == out


def test_alnum9_keeps_distinct_ids_distinct() -> None:
    ids = [f"toolu_{n:024d}" for n in range(2000)]
    assert len({upstream_tool_id(i, 40, "alnum9") for i in ids}) == len(ids)


def test_alnum9_ignores_the_length_cap() -> None:
    # The style fixes the length at 9 whatever the cap says.
    assert upstream_tool_id("call_abc", 64, "alnum9") == "ZrnGZYlCZ"


def test_any_style_is_the_default_and_cuts_long_ids() -> None:
    assert upstream_tool_id("toolu_short", 40) == "toolu_short"
    long_id = "toolu_" + "x" * 50
    out = upstream_tool_id(long_id, 40)
    assert len(out) == 40
    # 31 characters kept, then "_" and an 8-hex-digit hash.
    assert out.startswith("toolu_" + "x" * 25 + "_")
    assert re.fullmatch(r"[0-9a-f]{8}", out[32:])
    assert upstream_tool_id(long_id, 40, "any") == out


def test_the_mistral_preset_uses_alnum9_ids() -> None:
    assert catalog.CATALOG["mistral"].profile.tool_call_id_style == "alnum9"
    assert catalog.CATALOG["openai"].profile.tool_call_id_style == "any"
