"""encode_event's fast path for string deltas writes exactly what the generic JSON encoder writes.

The fast path exists for speed only (docs/performance.md), so the invariant is byte identity with
``json.JSONEncoder(separators=(",", ":"))``, for every string and index, and a fallback to that
encoder for every shape the fast path does not recognise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from anthroxy.sse import encode_event

GENERIC = json.JSONEncoder(separators=(",", ":"))
KEYS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


def generic(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {GENERIC.encode(payload)}\n\n".encode()


def delta_event(kind: str, index: int, value: Any) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": kind, KEYS[kind]: value},
    }


def test_a_text_delta_is_written_by_hand_as_expected() -> None:
    event = delta_event("text_delta", 3, 'say "hi"\n\u00e9')
    assert encode_event(event) == (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":3,'
        b'"delta":{"type":"text_delta","text":"say \\"hi\\"\\n\\u00e9"}}\n\n'
    )


@given(
    kind=st.sampled_from(sorted(KEYS)),
    index=st.integers(min_value=-(2**70), max_value=2**70),
    text=st.text(alphabet=st.characters(codec=None, exclude_categories=[])),
)
@example(kind="text_delta", index=0, text="\ud800")  # a lone surrogate from an upstream escape
@example(kind="thinking_delta", index=1, text="\x00\x1f\u2028\U0001f600\\/")
@example(kind="input_json_delta", index=2, text='{"a": [1, "b"]}')
def test_string_deltas_are_byte_identical_to_the_generic_encoder(
    kind: str, index: int, text: str
) -> None:
    event = delta_event(kind, index, text)
    assert encode_event(event) == generic(event)


class Text(str):
    pass


@pytest.mark.parametrize(
    "event",
    [
        # a bool index is written as true by json; the fast path must not write 1
        {
            "type": "content_block_delta",
            "index": True,
            "delta": {"type": "text_delta", "text": "a"},
        },
        # keys in another order: json keeps insertion order
        {"index": 0, "type": "content_block_delta", "delta": {"type": "text_delta", "text": "a"}},
        {"type": "content_block_delta", "index": 0, "delta": {"text": "a", "type": "text_delta"}},
        # an extra key at either level
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "a"},
            "x": 1,
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "a", "x": 1},
        },
        # a delta type whose field is not a plain string
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": None}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "s"},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": ["x"], "text": "a"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": Text("a")},
        },
        {"type": "content_block_delta", "index": 0.0, "delta": {"type": "text_delta", "text": "a"}},
    ],
)
def test_other_shapes_take_the_generic_path(event: dict[str, Any]) -> None:
    assert encode_event(event) == generic(event)


def test_the_bool_index_really_differs_from_an_int_index() -> None:
    # Guards the test above: were true and 1 written alike, it could not catch the mistake.
    as_bool = delta_event("text_delta", 0, "a") | {"index": True}
    assert b'"index":true' in encode_event(as_bool)
    assert b'"index":1,' in encode_event(delta_event("text_delta", 1, "a"))


def test_string_deltas_really_skip_the_generic_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise the identity tests above would pass with the fast path never taken.
    class Refuse:
        def encode(self, payload: object) -> str:
            raise AssertionError("generic encoder used")

    monkeypatch.setattr("anthroxy.sse._ENCODER", Refuse())
    assert encode_event(delta_event("thinking_delta", 0, "x")).endswith(b'"thinking":"x"}}\n\n')
    with pytest.raises(AssertionError):
        encode_event({"type": "message_stop"})
