"""PassthroughStream's usage capture (anthroxy.passthrough), for the access log.

Invariants: however the upstream splits its bytes, the captured usage is the same; the bytes
forwarded are unchanged by the capture; a malformed or odd event never raises and only leaves the
count unknown; text that merely mentions message_delta is not mistaken for one.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anthroxy.errors import UpstreamProtocolError
from anthroxy.events import Usage, encode_all
from anthroxy.passthrough import PassthroughStream


def event(name: str, payload: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


START = event(
    "message_start",
    {"type": "message_start", "message": {"model": "up", "usage": {"input_tokens": 11}}},
)
# A text delta whose text names the event: its quotes are escaped inside the JSON string.
TRICKY_TEXT = event(
    "content_block_delta",
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {
            "type": "text_delta",
            "text": '{"type":"message_delta","usage":{"output_tokens":99}}',
        },
    },
)
DELTA = event(
    "message_delta",
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}},
)
STOP = event("message_stop", {"type": "message_stop"})
BODY = START + TRICKY_TEXT + DELTA + STOP


def run(parts: list[bytes], model: str | None = "client-name") -> tuple[PassthroughStream, bytes]:
    stream = PassthroughStream(model, provider="up")
    out = b"".join(encode_all(stream.feed(part)) for part in parts)
    return stream, out + encode_all(stream.close())


def test_whole_body() -> None:
    stream, _ = run([BODY])
    assert stream.usage == Usage(11, 42)


@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=8))
def test_any_split_gives_the_same_usage_and_bytes(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(BODY)]
    parts = [BODY[a:b] for a, b in itertools.pairwise(points)]
    stream, out = run(parts)
    assert stream.usage == Usage(11, 42)
    assert out == run([BODY])[1]


def test_without_model_rewrite_the_bytes_pass_unchanged() -> None:
    # No message_start rewrite: input stays unknown, output still comes from message_delta.
    stream, out = run([BODY], model=None)
    assert out == BODY
    assert stream.usage == Usage(None, 42)


def test_delta_input_beats_message_start() -> None:
    final = event("message_delta", {"type": "message_delta", "usage": {"input_tokens": 5}})
    stream, _ = run([START, final, STOP])
    assert stream.usage == Usage(5, None)


def test_later_delta_wins() -> None:
    later = event("message_delta", {"type": "message_delta", "usage": {"output_tokens": 50}})
    stream, _ = run([START, DELTA, later, STOP])
    assert stream.usage.output_tokens == 50


def test_malformed_deltas_leave_counts_unknown() -> None:
    bad = [
        event("message_delta", {"type": "message_delta", "usage": "lots"}),
        event("message_delta", {"type": "message_delta", "usage": {"output_tokens": "7"}}),
        event("message_delta", {"type": "message_delta", "usage": {"output_tokens": True}}),
    ]
    for item in bad:
        # Fed after the start (no message_stop follows, so close() would add the cut stream's
        # error); the start without a model to rewrite leaves input unknown too.
        stream = PassthroughStream(None, provider="up")
        assert encode_all(stream.feed(START + item)) == START + item
        assert stream.usage == Usage(None, None)


@pytest.mark.parametrize(
    "item",
    [
        b'event: message_delta\ndata: {"type":"message_delta", oops\n\n',
        event("message_delta", ["message_delta"]),
        b'event: message_delta\ndata: {"type":"message_delta","x":"\xff"}\n\n',
        b"event: content_block_delta\ndata: {not json at all\n\n",
    ],
)
def test_an_event_that_is_not_a_json_object_is_refused(item: bytes) -> None:
    # Relayed as it came it would break the client's stream parser outside the error path.
    stream = PassthroughStream(None, provider="up")
    stream.feed(START)
    with pytest.raises(UpstreamProtocolError, match=r"up: stream event (is not JSON|has no type)"):
        stream.feed(item)
    # The same event among well-formed ones of one read (the read's single decode) too.
    among = PassthroughStream(None, provider="up")
    among.feed(START)
    good = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    with pytest.raises(UpstreamProtocolError, match=r"up: stream event (is not JSON|has no type)"):
        among.feed(good + item + good)


def test_two_values_in_one_data_line_are_not_one_event() -> None:
    # One read decoded at once: a data line holding two objects must not pass as two events.
    stream = PassthroughStream(None, provider="up")
    stream.feed(START)
    two = b'{"type":"content_block_stop","index":0},{"type":"content_block_stop","index":1}'
    read = b"event: content_block_stop\ndata: " + two + b"\n\n"
    with pytest.raises(UpstreamProtocolError, match=r"up: stream event is not JSON"):
        stream.feed(read + b'event: ping\ndata: {"type":"ping"}\n\n')


def test_two_broken_events_cannot_pass_as_one_made_up_for_by_a_third() -> None:
    # Joined into one JSON array, ``{"a":[1`` + ``2]}`` read as one object and the third
    # event's two objects made the count right again; each payload must end on its own line.
    stream = PassthroughStream(None, provider="up")
    stream.feed(START)
    read = (
        b'event: content_block_stop\ndata: {"type":"content_block_stop","x":[1\n\n'
        b"event: content_block_delta\ndata: 2]}\n\n"
        b'event: ping\ndata: {"type":"content_block_delta"},{"type":"ping"}\n\n'
    )
    with pytest.raises(UpstreamProtocolError, match=r"up: stream event is not JSON"):
        stream.feed(read)


@pytest.mark.parametrize(
    ("item", "sent"),
    [
        (b'vent: message_start\ndata: {"type":"message_start","message":{}}\n\n',
         b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'),
        (b'event: ping\nid: 7\ndata: {"type": "ping"}\n\n',
         b'event: ping\ndata: {"type":"ping"}\n\n'),
        (b": keep-alive\n\n", b""),
    ],
)  # fmt: skip
def test_events_are_sent_in_the_form_clients_dispatch(item: bytes, sent: bytes) -> None:
    # SDKs dispatch on the event name: one taken from the data's type, other fields dropped.
    stream = PassthroughStream(None, provider="up")
    assert encode_all(stream.feed(item)) == sent


def test_a_stream_must_begin_with_message_start() -> None:
    stream = PassthroughStream(None, provider="up")
    block = event("content_block_start", {"type": "content_block_start", "index": 0})
    with pytest.raises(UpstreamProtocolError, match="began with 'content_block_start'"):
        stream.feed(event("ping", {"type": "ping"}) + block)


def test_zero_output_is_a_count() -> None:
    zero = event("message_delta", {"type": "message_delta", "usage": {"output_tokens": 0}})
    stream, _ = run([START, zero, STOP])
    assert stream.usage.output_tokens == 0
