"""Throughput of the Chat Completions → Anthropic stream translator alone, on one core.

Per upstream chunk: SSE decode + json.loads + ChatStream.feed + encode() of every event
(close() included). Reports the best of N runs. With ``--bytes``, the same streams through
``sse_stream`` instead: the byte-level stream the server drives (its decoding, ``[DONE]`` and
JSON checks included); ``--fast`` adds the JSON decoder the server hands it when the ``fast``
extra (orjson) is installed. Run: ``python bench/bench_chat_stream.py [--bytes [--fast]]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

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


def bench(name: str, body: bytes, runs: int = 30) -> None:
    translate = translate_bytes if "--bytes" in sys.argv else translate_chunks
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
    bench(
        "(b) openai tool call (recorded)",
        (RECORDED / "openai-chat/stream_tool_call_with_usage.sse").read_bytes(),
    )
    bench(
        "(c) deepseek reasoning (recorded)",
        (RECORDED / "deepseek/stream_reasoning_content.sse").read_bytes(),
    )
