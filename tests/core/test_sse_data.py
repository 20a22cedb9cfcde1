"""``SSEDecoder.feed_data``: the data of each event, as bytes, with a one-go split for reads
made of whole one-line ``data:`` events. Whatever the bytes and however they are cut, it gives
exactly the data ``feed`` gives (the line-by-line reference).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anthroxy.errors import UpstreamProtocolError
from anthroxy.sse import SSEDecoder
from tests.core.chat_cases import RECORDED

RECORDED_STREAMS = sorted(RECORDED.rglob("*.sse"))


def reference(data: bytes) -> list[str]:
    """The events' data by the line-by-line rules, the whole body in one feed."""
    decoder = SSEDecoder()
    return [event.data for event in decoder.feed(data) + decoder.close()]


def by_data(data: bytes, cuts: list[int]) -> list[str]:
    decoder = SSEDecoder()
    out: list[bytes] = []
    start = 0
    for cut in sorted(cuts):
        out += decoder.feed_data(data[start:cut])
        start = cut
    out += decoder.feed_data(data[start:]) + decoder.close_data()
    return [raw.decode("utf-8", "replace") for raw in out]


# What OpenAI-style upstreams send (one-line ``data:`` events), mixed with everything that must
# leave the one-go split: comments, event names, CR line ends, multi-line data, no space after
# the colon, empty data, blank lines in excess, invalid UTF-8, a BOM.
_PAYLOAD = st.one_of(
    st.text(alphabet='{}":ab é\u2028', max_size=12).map(str.encode),
    st.just(b"[DONE]"),
    st.just(b"\xff\xfe{"),
    st.just(b""),
)
_EVENT = st.one_of(
    _PAYLOAD.map(lambda p: b"data: " + p + b"\n\n"),
    _PAYLOAD.map(lambda p: b"data: " + p + b"\n\n"),
    _PAYLOAD.map(lambda p: b"data:" + p + b"\n\n"),
    _PAYLOAD.map(lambda p: b"data: " + p + b"\r\n\r\n"),
    _PAYLOAD.map(lambda p: b"data: " + p + b"\ndata: " + p + b"\n\n"),
    _PAYLOAD.map(lambda p: b"event: x\ndata: " + p + b"\n\n"),
    st.sampled_from([b": keep-alive\n\n", b"\n", b"id: 1\n", b"data: a\r", b"\xef\xbb\xbf"]),
)


@settings(max_examples=400, deadline=None)
@given(
    events=st.lists(_EVENT, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_stream_cut_anywhere_gives_the_data_of_the_line_by_line_rules(events, cuts) -> None:  # type: ignore[no-untyped-def]
    data = b"".join(events)
    assert by_data(data, [c % (len(data) + 1) for c in cuts]) == reference(data)


@settings(max_examples=50, deadline=None)
@pytest.mark.parametrize("path", RECORDED_STREAMS, ids=lambda p: f"{p.parent.name}/{p.name}")
@given(cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=10))
def test_recorded_streams_cut_anywhere_give_the_same_data(path, cuts) -> None:  # type: ignore[no-untyped-def]
    data = path.read_bytes()
    assert by_data(data, [c % (len(data) + 1) for c in cuts]) == reference(data)


def test_an_event_split_across_two_reads_at_every_byte_gives_the_same_data() -> None:
    data = b'data: {"a":1}\n\ndata: {"b":"\xc3\xa9 x"}\n\ndata: [DONE]\n\n'
    for cut in range(len(data) + 1):
        assert by_data(data, [cut]) == ['{"a":1}', '{"b":"é x"}', "[DONE]"], cut


def test_a_read_of_many_whole_events_is_split_in_one_go(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[bytes] = []
    real = SSEDecoder._process

    def counting(self: SSEDecoder, batch: list[bytes]) -> list[tuple[str, bytes]]:
        lines.extend(batch)
        return real(self, batch)

    monkeypatch.setattr(SSEDecoder, "_process", counting)
    decoder = SSEDecoder()
    body = b"".join(b'data: {"n":%d}\n\n' % n for n in range(100))
    assert decoder.feed_data(body + b'data: {"n":1') == [b'{"n":%d}' % n for n in range(100)]
    assert lines == []  # none of the 100 went line by line; the open tail is only buffered
    assert decoder.feed_data(b"00}\n\n") == [b'{"n":100}']


def test_an_event_over_the_size_limit_is_refused_in_one_go_too() -> None:
    decoder = SSEDecoder(max_event_bytes=10)
    assert decoder.feed_data(b"data: 12345\n\n") == [b"12345"]
    with pytest.raises(UpstreamProtocolError, match="larger than 10 bytes"):
        decoder.feed_data(b"data: 1234567890abc\n\n")
