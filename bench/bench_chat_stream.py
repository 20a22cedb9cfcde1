"""Throughput of the Chat Completions → Anthropic stream translator alone, on one core.

Per upstream chunk, through ``sse_stream`` (the byte-level stream the server drives): SSE
decoding, ``[DONE]`` and JSON checks, ``ChatStream.feed`` and ``encode()`` of every event
(close() included). Each stream is fed as one read, and the full-envelope stream also one event
per read (the worst case: a quiet gateway reads each event as it comes; under load a read holds
several). Reports the best of N runs. ``--fast`` adds the JSON decoder the server hands the
stream when the ``fast`` extra (orjson) is installed. ``--events`` measures the older loop
instead (an ``SSEDecoder`` event at a time, ``json.loads``, ``ChatStream.feed``), the mode of
the numbers before issue 12. Run: ``python bench/bench_chat_stream.py [--fast | --events]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_servers import chat_events  # noqa: E402  (this directory is on sys.path)

from anthroxy.chat.stream import ChatStream, sse_stream  # noqa: E402
from anthroxy.context import ReplyContext  # noqa: E402
from anthroxy.events import encode_all  # noqa: E402
from anthroxy.profile import Target  # noqa: E402
from anthroxy.sse import SSEDecoder  # noqa: E402
from anthroxy.toolnames import ToolNames  # noqa: E402

# The decoder the server hands the stream with the fast extra installed; imported only for
# --fast, so that the bench also runs against an older tree (PYTHONPATH=...) without it.
FAST: dict[str, object] = {}
if "--fast" in sys.argv:
    from anthroxy_server import speedups

    FAST["loads"] = speedups.json_loads()
RECORDED = ROOT / "tests" / "fixtures" / "recorded"
CTX = ReplyContext("claude-x", Target("bench", "m"), ToolNames(["get_capital"]))


def text_stream(n: int = 200) -> bytes:
    head = '{"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m",'
    first = '"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'
    lines = [f"data: {head}{first}\n\n"]
    for i in range(n - 2):
        delta = f'"choices":[{{"index":0,"delta":{{"content":" word{i}"}}}}],"usage":null}}'
        lines.append(f"data: {head}{delta}\n\n")
    usage = f'"usage":{{"prompt_tokens":5,"completion_tokens":{n}}}'
    last = f'"choices":[{{"index":0,"delta":{{}},"finish_reason":"stop"}}],{usage}}}'
    lines.append(f"data: {head}{last}\n\n")
    lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def translate_chunks(body: bytes) -> int:
    decoder = SSEDecoder()
    stream = ChatStream(CTX, message_id="msg_bench")
    out = 0
    chunks = 0
    for event in decoder.feed(body) + decoder.close():
        if event.data == "[DONE]":
            break
        chunks += 1
        for ev in stream.feed(json.loads(event.data)):
            out += len(ev.encode())
    for ev in stream.close():
        out += len(ev.encode())
    return chunks


def translate_bytes(body: bytes) -> int:
    stream = sse_stream(CTX, message_id="msg_bench", **FAST)
    encode_all(stream.feed(body) + stream.close())
    return body.count(b"data: {")


def translate_reads(reads: list[bytes]) -> int:
    stream = sse_stream(CTX, message_id="msg_bench", **FAST)
    events = []
    for read in reads:
        events += stream.feed(read)
    encode_all(events + stream.close())
    return sum(read.count(b"data: {") for read in reads)


def bench(name: str, body: bytes | list[bytes], runs: int = 30) -> None:
    if isinstance(body, list):
        translate: Any = translate_reads
    else:
        translate = translate_chunks if "--events" in sys.argv else translate_bytes
    chunks = translate(body)
    reps = max(1, 20_000 // chunks)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(reps):
            translate(body)
        best = min(best, (time.perf_counter() - start) / reps)
    per_chunk = best / chunks
    rate = 1 / per_chunk
    print(f"{name:<34} {chunks:>4} chunks {rate:>10,.0f} chunks/s {per_chunk * 1e6:6.2f} µs/chunk")


if __name__ == "__main__":
    bench("(a) 200-chunk text stream", text_stream())
    # The stream bench_proxy.py's fake upstream sends: OpenAI's full chunk envelope
    # (service_tier, system_fingerprint, logprobs, obfuscation), as in the recorded fixtures.
    bench("(a') same, OpenAI's full envelope", b"".join(chat_events()))
    if "--events" not in sys.argv:
        bench("(a'') same, one event per read", list(chat_events()))
    bench(
        "(b) openai tool call (recorded)",
        (RECORDED / "openai-chat/stream_tool_call_with_usage.sse").read_bytes(),
    )
    bench(
        "(c) deepseek reasoning (recorded)",
        (RECORDED / "deepseek/stream_reasoning_content.sse").read_bytes(),
    )
