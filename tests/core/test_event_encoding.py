"""Every typed event encodes to exactly what the generic JSON encoder writes for its payload,
framed as ``event: <payload type>\\ndata: <json>\\n\\n``; string deltas get there by a faster path.

The fast path exists for speed only (docs/performance.md), so the invariant is byte identity with
``json.JSONEncoder(separators=(",", ":"))``, for every string and index, and a fallback to that
encoder for every value the fast path does not recognise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from anthroxy.errors import UpstreamError
from anthroxy.events import (
    DELTA_FIELDS,
    BlockDelta,
    BlockStart,
    BlockStop,
    Error,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    Raw,
    encode_all,
)
from anthroxy.sse import SSEDecoder

GENERIC = json.JSONEncoder(separators=(",", ":"))
TEXTS = st.text(alphabet=st.characters(codec=None, exclude_categories=[]))
INDICES = st.integers(min_value=-(2**70), max_value=2**70)


def generic(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {GENERIC.encode(payload)}\n\n".encode()


def decode(data: bytes) -> list[Any]:
    decoder = SSEDecoder()
    return [(e.event, json.loads(e.data)) for e in decoder.feed(data) + decoder.close()]


def test_a_text_delta_is_written_by_hand_as_expected() -> None:
    event = BlockDelta(3, "text_delta", 'say "hi"\n\u00e9')
    assert event.encode() == (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":3,'
        b'"delta":{"type":"text_delta","text":"say \\"hi\\"\\n\\u00e9"}}\n\n'
    )
    assert decode(event.encode()) == [("content_block_delta", event.payload())]


@given(kind=st.sampled_from(sorted(DELTA_FIELDS)), index=INDICES, text=TEXTS)
@example(kind="text_delta", index=0, text="\ud800")  # a lone surrogate from an upstream escape
@example(kind="thinking_delta", index=1, text="\x00\x1f\u2028\U0001f600\\/")
@example(kind="input_json_delta", index=2, text='{"a": [1, "b"]}')
@example(kind="signature_delta", index=3, text="anthroxy1.e30")
def test_string_deltas_are_byte_identical_to_the_generic_encoder(
    kind: Any, index: int, text: str
) -> None:
    event = BlockDelta(index, kind, text)
    assert event.encode() == generic(event.payload())


class Text(str):
    pass


@pytest.mark.parametrize(
    "event",
    [
        # a bool index is written as true by json; the fast path must not write 1 (or True)
        BlockDelta(True, "text_delta", "a"),
        # values of other types than the declared ones
        BlockDelta(0, "text_delta", None),  # type: ignore[arg-type]
        BlockDelta(0, "text_delta", 5),  # type: ignore[arg-type]
        BlockDelta(0, "text_delta", Text("a")),
        BlockDelta(0.0, "text_delta", "a"),  # type: ignore[arg-type]
    ],
)
def test_other_values_take_the_generic_path(event: BlockDelta) -> None:
    assert event.encode() == generic(event.payload())


def test_the_bool_index_really_differs_from_an_int_index() -> None:
    # Guards the test above: were true and 1 written alike, it could not catch the mistake.
    assert b'"index":true' in BlockDelta(True, "text_delta", "a").encode()
    assert b'"index":1,' in BlockDelta(1, "text_delta", "a").encode()


def test_string_deltas_really_skip_the_generic_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise the identity tests above would pass with the fast path never taken.
    class Refuse:
        def encode(self, payload: object) -> str:
            raise AssertionError("generic encoder used")

    monkeypatch.setattr("anthroxy.events._ENCODER", Refuse())
    assert BlockDelta(0, "thinking_delta", "x").encode().endswith(b'"thinking":"x"}}\n\n')
    with pytest.raises(AssertionError):
        BlockStop(0).encode()


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [],
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 0},
}


@st.composite
def any_event(draw: st.DrawFn) -> Any:
    index = draw(INDICES)
    text = draw(TEXTS)
    usage = {"input_tokens": draw(st.integers(0, 10**9)), "output_tokens": draw(st.integers(0))}
    return draw(
        st.sampled_from(
            [
                MessageStart({**MESSAGE, "model": text}),
                BlockStart(index, {"type": "text", "text": ""}),
                BlockStart(index, {"type": "tool_use", "id": "t", "name": text, "input": {}}),
                BlockDelta(index, draw(st.sampled_from(sorted(DELTA_FIELDS))), text),  # type: ignore[arg-type]
                BlockStop(index),
                MessageDelta("end_turn", None, usage),
                MessageDelta("stop_sequence", text, usage),
                MessageStop(),
                Ping(),
                Error(UpstreamError(text or "x", status=529, error_type="overloaded_error")),
            ]
        )
    )


@given(any_event())
def test_every_event_is_its_payload_framed_by_its_type(event: Any) -> None:
    payload = event.payload()
    assert payload["type"] == event.type
    assert event.encode() == generic(payload)
    assert decode(event.encode()) == [(event.type, payload)]


def test_a_lone_surrogate_survives_either_path() -> None:
    for event in (
        BlockDelta(0, "text_delta", "\ud800"),
        BlockStart(0, {"type": "x", "t": "\ud800"}),
    ):
        assert decode(event.encode())[0][1] == event.payload()


def test_payloads_are_new_dicts_each_time() -> None:
    event = BlockDelta(0, "text_delta", "a")
    first = event.payload()
    first["delta"]["text"] = "changed"
    assert event.payload()["delta"]["text"] == "a"


def test_raw_bytes_go_out_as_they_came_in_order() -> None:
    events = [Raw(b"event: ping\r\ndata: {}\r\n\r\n"), MessageStop(), Raw(b"x", is_error=True)]
    assert encode_all(events) == (
        b'event: ping\r\ndata: {}\r\n\r\nevent: message_stop\ndata: {"type":"message_stop"}\n\nx'
    )
