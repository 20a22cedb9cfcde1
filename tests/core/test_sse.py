"""SSEDecoder follows the WHATWG event-stream rules.

Any split of the bytes gives the same events.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anthroxy.errors import UpstreamProtocolError
from anthroxy.sse import SSEDecoder, SSEEvent
from tests.core.chat_cases import RECORDED

RECORDED_STREAMS = sorted(RECORDED.rglob("*.sse"))


def decode(data: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(data) + decoder.close()


def decode_split(data: bytes, cuts: list[int]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    start = 0
    for cut in sorted(cuts):
        events += decoder.feed(data[start:cut])
        start = cut
    return events + decoder.feed(data[start:]) + decoder.close()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"data: a\n\n", [SSEEvent("message", "a")]),
        (b"data: a\r\n\r\n", [SSEEvent("message", "a")]),
        (b"data: a\r\rdata: b\r\r", [SSEEvent("message", "a"), SSEEvent("message", "b")]),
        (b"event: ping\ndata: {}\n\n", [SSEEvent("ping", "{}")]),
        (b"data:no-space\n\n", [SSEEvent("message", "no-space")]),
        (b"data:  two spaces\n\n", [SSEEvent("message", " two spaces")]),
        (b"data: a\ndata: b\n\n", [SSEEvent("message", "a\nb")]),
        (b": comment\n\ndata: x\n\n", [SSEEvent("message", "x")]),
        (b"event: lonely\n\ndata: x\n\n", [SSEEvent("message", "x")]),  # no data: not sent
        (b"data\n\n", [SSEEvent("message", "")]),  # a field with no colon has an empty value
        (b"data:\n\n", [SSEEvent("message", "")]),
        (b"id: 7\nretry: 10\ndata: x\n\n", [SSEEvent("message", "x")]),
        (b"\xef\xbb\xbfdata: bom\n\n", [SSEEvent("message", "bom")]),
        (b"data: caf\xc3\xa9\n\n", [SSEEvent("message", "café")]),
        (b"data: a: b\n\n", [SSEEvent("message", "a: b")]),
        (b"data: [DONE]", [SSEEvent("message", "[DONE]")]),  # close() flushes a cut last event
        (b"data: x\n", [SSEEvent("message", "x")]),
        (b"", []),
    ],
)
def test_decoding(data: bytes, expected: list[SSEEvent]) -> None:
    assert decode(data) == expected


def test_cr_at_the_end_of_one_feed_and_lf_at_the_start_of_the_next_is_one_line_break() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\r") + decoder.feed(b"\n\r") + decoder.feed(b"\ndata: b\n\n")
    assert events == [SSEEvent("message", "a"), SSEEvent("message", "b")]


def test_bom_split_across_feeds_is_stripped_only_at_the_start() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"\xef") + decoder.feed(b"\xbb") + decoder.feed(b"\xbfdata: x\n\n")
    events += decoder.feed(b"\xef\xbb\xbfdata: y\n\n")  # not at the start: part of the field name
    assert events == [SSEEvent("message", "x")]


def test_event_type_resets_after_dispatch() -> None:
    assert decode(b"event: a\ndata: 1\n\ndata: 2\n\n") == [
        SSEEvent("a", "1"),
        SSEEvent("message", "2"),
    ]


def test_events_come_out_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [SSEEvent("message", "a")]


@pytest.mark.parametrize("path", RECORDED_STREAMS, ids=lambda p: p.name)
@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=30))
def test_any_split_of_recorded_streams_gives_the_same_events(path, cuts) -> None:  # type: ignore[no-untyped-def]
    data = path.read_bytes()
    assert decode(data)  # the fixture really contains events
    cuts = [c % (len(data) + 1) for c in cuts]
    assert decode_split(data, cuts) == decode(data)


_TEXT = st.text(alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=12)
_LINE = st.one_of(
    st.builds(lambda v: f"data: {v}", _TEXT),
    st.builds(lambda v: f"data:{v}", _TEXT),
    st.builds(lambda v: f"event: {v}", _TEXT),
    st.builds(lambda v: f": {v}", _TEXT),
    st.just(""),
    st.just("id: 1"),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=20),
    breaks=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=20, max_size=20),
    bom=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=15),
)
def test_any_split_of_generated_streams_gives_the_same_events(lines, breaks, bom, cuts) -> None:  # type: ignore[no-untyped-def]
    text = "".join(line + brk for line, brk in zip(lines, breaks, strict=False))
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    cuts = [c % (len(data) + 1) for c in cuts]
    assert decode_split(data, cuts) == decode(data)
    # Line-break style does not matter either (a CR directly followed by LF is one break).
    lf_only = text.replace("\r\n", "\n").replace("\r", "\n")
    assert decode(data) == decode((b"\xef\xbb\xbf" if bom else b"") + lf_only.encode())


def test_a_line_that_never_ends_is_refused_not_buffered_forever() -> None:
    decoder = SSEDecoder(max_event_bytes=64)
    decoder.feed(b"data: " + b"x" * 50)
    with pytest.raises(UpstreamProtocolError, match="larger than 64 bytes"):
        decoder.feed(b"y" * 50)


def test_an_event_of_many_data_lines_is_bounded_too() -> None:
    decoder = SSEDecoder(max_event_bytes=64)
    with pytest.raises(UpstreamProtocolError):
        decoder.feed(b"data: 0123456789\n" * 10)


def test_events_under_the_limit_pass_and_the_count_restarts_per_event() -> None:
    decoder = SSEDecoder(max_event_bytes=64)
    events = decoder.feed(b"data: 0123456789012345678901234567890123456789\n\n" * 5)
    assert len(events) == 5
