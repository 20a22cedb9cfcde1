"""The ``fast`` extra (orjson, uvloop) changes how fast, never what: its JSON decoder agrees with
``json.loads`` or leaves the event to it, a translated stream is byte for byte the same with the
speed-ups forced off, and the upstream body is read in whole pieces (``read_piece``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp import StreamReader, web
from hypothesis import given, settings
from hypothesis import strategies as st

from anthroxy_server import speedups
from anthroxy_server.gateway.streaming import read_piece
from tests.server.conftest import FakeUpstream, message_body

# The extra is part of ``.[test]``; without orjson there is no decoder to compare.
needs_orjson = pytest.mark.skipif(speedups.orjson is None, reason="orjson is not installed")

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def decoded_or_refused(data: bytes) -> Any:
    loads = speedups.json_loads()
    assert loads is not None
    try:
        return loads(data)
    except ValueError:
        return json.loads(data)  # what the core does with a refused event


@needs_orjson
@settings(max_examples=500, deadline=None)
@given(value=JSON, ascii_only=st.booleans())
def test_the_decoder_agrees_with_json_loads_or_leaves_it_the_event(value, ascii_only) -> None:  # type: ignore[no-untyped-def]
    text = json.dumps(value, ensure_ascii=ascii_only)
    data = text.encode("utf-8", "surrogatepass")
    got = decoded_or_refused(data)
    expected = json.loads(text)
    assert got == expected
    # == says 1 == 1.0; the JSON of each must match too (an int that became a float does not)
    assert json.dumps(got) == json.dumps(expected)


@needs_orjson
@pytest.mark.parametrize(
    "data",
    [
        b'{"n":123456789012345678901}',  # past 64 bits: orjson would give a float
        b'{"x":NaN}',
        b'{"s":"\\ud800"}',  # a lone surrogate, which json.loads keeps
        b'{"s":"\xff"}',  # invalid UTF-8
        b'{"a":1} x',
        b'{"a":' + b"[" * 600 + b"]" * 600 + b"}",  # json.loads cannot go this deep
    ],
)
def test_what_orjson_would_read_differently_is_refused(data: bytes) -> None:
    loads = speedups.json_loads()
    assert loads is not None
    with pytest.raises(ValueError):
        loads(data)


@needs_orjson
def test_disable_forces_the_standard_library(monkeypatch: pytest.MonkeyPatch) -> None:
    assert speedups.json_loads() is not None
    assert "orjson" in speedups.active()
    monkeypatch.setattr(speedups, "_enabled", True)
    speedups.disable()
    assert speedups.json_loads() is None
    assert speedups.new_event_loop() is None
    assert speedups.active() == []


def test_uvloop_runs_the_loop_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = speedups.new_event_loop()
    assert isinstance(loop, uvloop.Loop)
    loop.close()


WORDS = [f"w{i} \u00e9\\n" for i in range(120)]


async def stream_chunks(request: web.Request) -> web.StreamResponse:
    """A Chat Completions stream written one event (one HTTP chunk) at a time."""
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": w}}], "usage": None} for w in WORDS]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    for chunk in chunks:
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


MESSAGE_ID = re.compile(rb"msg_[0-9A-Za-z]+")


async def translated(make_gateway: Any, upstream: FakeUpstream) -> bytes:
    upstream.handler = stream_chunks
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body("chatty", stream=True))
    assert response.status == 200
    return MESSAGE_ID.sub(b"msg_X", await response.read())


async def test_a_translated_stream_is_the_same_with_the_speedups_forced_off(
    make_gateway: Any, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = await translated(make_gateway, upstream)
    monkeypatch.setattr(speedups, "_enabled", False)
    assert await translated(make_gateway, upstream) == fast
    assert fast.count(b'"type":"text_delta"') == len(WORDS)
    assert "".join(WORDS).encode() in b"".join(
        json.loads(line[6:])["delta"]["text"].encode()
        for line in fast.split(b"\n")
        if line.startswith(b"data: ") and b"text_delta" in line
    )


async def test_a_piece_takes_every_buffered_chunk_at_once(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def many(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for n in range(200):
            await response.write(b"%03d," % n)
        return response

    app = web.Application()
    app.router.add_get("/", many)
    client = await aiohttp_client(app)
    response = await client.get("/")
    taken = 0
    one_chunk = StreamReader._read_nowait_chunk

    def counting(self: StreamReader, n: int) -> bytes:
        nonlocal taken
        taken += 1
        return one_chunk(self, n)

    monkeypatch.setattr(StreamReader, "_read_nowait_chunk", counting)
    pieces = []
    while piece := await read_piece(response.content):
        pieces.append(piece)
    assert b"".join(pieces) == b"".join(b"%03d," % n for n in range(200))
    # readany() takes each of the 200 HTTP chunks on its own; a piece takes them in two goes
    # (its first byte, then the rest joined)
    assert taken <= 2 * len(pieces) < 200
    assert response.content.at_eof()


class _PublicOnly:
    """A body reader with only aiohttp's public reading methods (no ``_buffer``)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def read(self, n: int) -> bytes:
        if not self.chunks:
            return b""
        head, self.chunks[0] = self.chunks[0][:n], self.chunks[0][n:]
        if not self.chunks[0]:
            self.chunks.pop(0)
        return head

    def read_nowait(self) -> bytes:
        rest, self.chunks = b"".join(self.chunks), []
        return rest


async def test_a_reader_without_the_buffer_deque_is_read_through_its_public_methods() -> None:
    reader: Any = _PublicOnly([b"data: a\n\n", b"data: b\n\n"])
    assert await read_piece(reader) == b"data: a\n\ndata: b\n\n"
    assert await read_piece(reader) == b""
