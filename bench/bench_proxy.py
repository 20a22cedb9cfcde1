"""Added latency and throughput of the whole gateway against a local fake upstream.

Three processes: a fake upstream speaking both the Anthropic Messages API and OpenAI Chat
Completions, the gateway (provider ``up``: Anthropic pass-through; provider ``oa``: Chat
Completions, translated), and this load generator. Every measurement is taken twice in the same
run, straight to the fake upstream and through the gateway, so the difference is what anthroxy
adds. The direct and proxied requests of a latency series alternate one by one, so a burst of
noise from elsewhere on the machine lands on both sides alike.

Usage: ``python bench/bench_proxy.py [--dialect anthropic|chat|both] [--runs N]``.
``--gc-freeze`` calls ``gc.freeze()`` in the gateway after start-up; ``--profile FILE`` writes a
cProfile of the gateway process (read it with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

CHUNKS = 200
REQUESTS = 400
WARM_UP = 20
CONCURRENCY = 64
THROUGHPUT_SECONDS = 3.0
PROMPT = "hi " * 200
ANTHROPIC_BODY = {
    "model": "bench",  # the default tier: provider "up"
    "max_tokens": 64,
    "messages": [{"role": "user", "content": PROMPT}],
}
# What the gateway sends upstream for ANTHROPIC_BODY routed to "oa", near enough: the direct
# baseline of the chat dialect posts this.
CHAT_BODY = {
    "model": "gpt-4o-mini",
    "max_completion_tokens": 64,
    "messages": [{"role": "user", "content": PROMPT}],
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "up-model",
    "content": [{"type": "text", "text": "hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 1},
}
# The envelope of every chunk OpenAI's API sends (tests/fixtures/recorded/openai-chat/).
CHAT_ID = {
    "id": "chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc",
    "object": "chat.completion.chunk",
    "created": 1782955818,
    "model": "gpt-4o-mini-2024-07-18",
    "service_tier": "default",
    "system_fingerprint": "fp_d0469e1700",
}
COMPLETION = {
    **CHAT_ID,
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
}


def anthropic_events() -> list[bytes]:
    """A 200-delta Messages stream, one SSE event per element."""
    start = {"type": "message_start", "message": {**MESSAGE, "content": [], "stop_reason": None}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    payloads: list[dict[str, Any]] = [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    payloads += [{**delta, "delta": {"type": "text_delta", "text": "token "}}] * CHUNKS
    payloads += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": CHUNKS},
        },
        {"type": "message_stop"},
    ]
    return [
        f"event: {p['type']}\ndata: {json.dumps(p, separators=(',', ':'))}\n\n".encode()
        for p in payloads
    ]


def chat_events() -> list[bytes]:
    """A Chat Completions stream as OpenAI sends it with ``include_usage``: a role chunk, 200
    content chunks, a finish chunk, a usage chunk with no choices, then ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**CHAT_ID, "choices": [choice], "usage": None, "obfuscation": "auU6fTns"}

    payloads = [chunk({"role": "assistant", "content": "", "refusal": None})]
    payloads += [chunk({"content": f" word{i}"}) for i in range(CHUNKS)]
    payloads.append(chunk({}, "stop"))
    usage = {"prompt_tokens": 10, "completion_tokens": CHUNKS, "total_tokens": 10 + CHUNKS}
    payloads.append({**CHAT_ID, "choices": [], "usage": usage, "obfuscation": "x"})
    lines = [f"data: {json.dumps(p, separators=(',', ':'))}\n\n".encode() for p in payloads]
    return [*lines, b"data: [DONE]\n\n"]


def run_upstream(port: int) -> None:
    def endpoint(whole: dict[str, Any], events: list[bytes]) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.json()
            if not body.get("stream"):
                return web.json_response(whole)
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            for event in events:  # one write per event, like a real token stream
                await response.write(event)
            return response

        return handle

    app = web.Application()
    app.router.add_post("/v1/messages", endpoint(MESSAGE, anthropic_events()))
    app.router.add_post("/v1/chat/completions", endpoint(COMPLETION, chat_events()))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def run_proxy(port: int, upstream: str, gc_freeze: bool, profile: str | None) -> None:
    import gc
    import logging

    from anthroxy_server.config import settings_from_config, structure_config
    from anthroxy_server.gateway.app import create_app

    logging.getLogger("anthroxy").setLevel(logging.WARNING)
    key = "bench-key-123456"
    raw = {
        "providers": {
            "up": {"api": "anthropic", "base_url": upstream, "api_key": key},
            "oa": {"api": "chat", "base_url": upstream + "/v1", "api_key": key},
        },
        "tiers": {"default": "up/up-model"},
    }
    app = create_app(settings_from_config(structure_config(raw), {}))
    if gc_freeze:
        # What serve.py could do: the objects alive after start-up (modules, the catalogue,
        # the app) move out of the generations the collector keeps rescanning.
        gc.collect()
        gc.freeze()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    web.run_app(
        app, host="127.0.0.1", port=port, access_log=None, print=None, handler_cancellation=True
    )
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)


SERVE_CONFIG = """[server]
port = {port}
workers = {workers}
log_level = "warning"
[providers.up]
api = "anthropic"
base_url = "{upstream}"
api_key = "bench-key-123456"
[providers.oa]
api = "chat"
base_url = "{upstream}/v1"
api_key = "bench-key-123456"
[tiers]
default = "up/up-model"
"""


def serve_command(port: int, upstream: str, workers: int) -> list[str]:
    """The real server (ledger and metrics included) with its state in a temporary home."""
    import tempfile

    home = tempfile.mkdtemp(prefix="bench-home-")
    os.environ["HOME"] = home  # inherited by the server; its ledger lands there
    config = os.path.join(home, "bench.toml")
    with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as out:
        out.write(SERVE_CONFIG.format(port=port, upstream=upstream, workers=workers))
    return [sys.executable, "-m", "anthroxy_server", "serve", "--config", config]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Case:
    """One dialect: where the load goes directly and through the gateway, with which body."""

    dialect: str
    direct_url: str
    direct_body: dict[str, Any]
    proxy_url: str
    proxy_body: dict[str, Any]


@dataclass
class Result:
    # per stream mode ("non-stream", "stream"): (direct, proxy) latencies in ms
    latencies: dict[str, tuple[list[float], list[float]]]
    direct_rate: float
    proxy_rate: float
    proxy_cpu: float  # gateway CPU time per stream in the throughput phase, ms
    request_cpu: dict[str, float]  # per mode: gateway CPU per request, one client at a time, ms


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), or NaN elsewhere.

    Unlike latency, CPU time barely moves when other work shares the machine, so it is the
    steadiest measure of what one stream costs the gateway.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            workers = [int(child) for child in children.read().split()]
    except OSError:
        return float("nan")
    # With --workers, the supervisor's children (the workers) do the work.
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in workers)


Request = Callable[[], Awaitable[float]]


async def wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(200):
        try:
            async with session.get(url) as response:
                await response.read()
                return
        except aiohttp.ClientError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def requester(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Request:
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json", "x-api-key": "bench"}

    async def one() -> float:
        started = time.perf_counter()
        async with session.post(url, data=data, headers=headers) as response:
            await response.read()  # a stream is read to its end
            if response.status != 200:
                raise RuntimeError(f"{url}: status {response.status}")
        return (time.perf_counter() - started) * 1000.0

    return one


async def paired(direct: Request, proxy: Request) -> tuple[list[float], list[float]]:
    for _ in range(WARM_UP):  # connections, caches
        await direct()
        await proxy()
    d: list[float] = []
    p: list[float] = []
    for _ in range(REQUESTS):
        d.append(await direct())
        p.append(await proxy())
    return d, p


async def throughput(one: Request) -> tuple[float, int]:
    """(streams per second, streams done)."""
    done = 0
    deadline = time.perf_counter() + THROUGHPUT_SECONDS

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started), done


async def run_case(session: aiohttp.ClientSession, case: Case, proxy_pid: int) -> Result:
    latencies = {}
    request_cpu = {}
    for mode, stream in (("non-stream", False), ("stream", True)):
        direct = requester(session, case.direct_url, {**case.direct_body, "stream": stream})
        proxy = requester(session, case.proxy_url, {**case.proxy_body, "stream": stream})
        cpu = cpu_seconds(proxy_pid)
        latencies[mode] = await paired(direct, proxy)
        request_cpu[mode] = (cpu_seconds(proxy_pid) - cpu) * 1000.0 / (WARM_UP + REQUESTS)
    direct = requester(session, case.direct_url, {**case.direct_body, "stream": True})
    proxy = requester(session, case.proxy_url, {**case.proxy_body, "stream": True})
    direct_rate, _ = await throughput(direct)
    cpu = cpu_seconds(proxy_pid)
    proxy_rate, done = await throughput(proxy)
    cpu = cpu_seconds(proxy_pid) - cpu
    return Result(latencies, direct_rate, proxy_rate, cpu * 1000.0 / done, request_cpu)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def summary(result: Result, mode: str) -> tuple[float, float, float, float, float, float]:
    """(direct p50, proxy p50, added p50, direct p99, proxy p99, added p99) in ms.

    Added p50 is the difference of the medians. Added p99 is the 99th percentile of the
    per-pair differences (each proxied request minus the direct one sent just before it): the
    difference of two p99s mixes two unrelated tails and can even come out negative.
    """
    d, p = result.latencies[mode]
    d50, p50 = statistics.median(d), statistics.median(p)
    added99 = pct([b - a for a, b in zip(d, p, strict=True)], 99)
    return d50, p50, p50 - d50, pct(d, 99), pct(p, 99), added99


def report(dialect: str, results: list[Result]) -> None:
    """Each metric's best run: the smallest added latency, the highest rates."""
    print(f"\n== {dialect}: best of {len(results)} run(s)")
    print(f"{'case':<22}{'direct p50':>11}{'proxy p50':>11}{'added':>8}"
          f"{'direct p99':>12}{'proxy p99':>11}{'added':>8}")  # fmt: skip
    for mode, label in (("non-stream", "non-stream"), ("stream", f"stream ({CHUNKS} chunks)")):
        rows = [summary(r, mode) for r in results]
        d50, p50, added50, _, _, _ = min(rows, key=lambda row: row[2])
        _, _, _, d99, p99, added99 = min(rows, key=lambda row: row[5])
        print(f"{label:<22}{d50:>9.2f}ms{p50:>9.2f}ms{added50:>6.2f}ms"
              f"{d99:>10.2f}ms{p99:>9.2f}ms{added99:>6.2f}ms")  # fmt: skip
    direct = max(r.direct_rate for r in results)
    proxy = max(r.proxy_rate for r in results)
    cpu = min(r.proxy_cpu for r in results)
    print(f"streams/s at {CONCURRENCY} clients: direct {direct:.0f}, through anthroxy {proxy:.0f}")
    one = min(r.request_cpu["non-stream"] for r in results)
    alone = min(r.request_cpu["stream"] for r in results)
    print(f"gateway CPU: non-stream request {one:.2f} ms, stream {alone:.2f} ms one at a time, "
          f"{cpu:.2f} ms at {CONCURRENCY} clients")  # fmt: skip


def per_run(dialect: str, run: int, result: Result) -> None:
    cells = []
    for mode in ("non-stream", "stream"):
        _, _, added50, _, _, added99 = summary(result, mode)
        cells.append(f"{mode} +{added50:.2f}/+{added99:.2f} ms")
    rates = f"{result.direct_rate:.0f} vs {result.proxy_rate:.0f} streams/s"
    rates += f", gateway CPU {result.proxy_cpu:.2f} ms/stream"
    print(f"  {dialect} run {run}: " + ", ".join(cells) + f" (p50/p99 added), {rates}")


async def measure(
    upstream: str, proxy: str, proxy_pid: int, dialects: list[str], runs: int
) -> None:
    cases = {
        "anthropic": Case(
            "anthropic",
            upstream + "/v1/messages",
            ANTHROPIC_BODY,
            proxy + "/v1/messages",
            ANTHROPIC_BODY,
        ),
        "chat": Case(
            "chat",
            upstream + "/v1/chat/completions",
            CHAT_BODY,
            proxy + "/v1/messages",
            {**ANTHROPIC_BODY, "model": "oa/gpt-4o-mini"},
        ),
    }
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_up(session, proxy + "/healthz")
        await wait_up(session, upstream + "/")
        results: dict[str, list[Result]] = {d: [] for d in dialects}
        for run in range(1, runs + 1):
            for dialect in dialects:
                result = await run_case(session, cases[dialect], proxy_pid)
                results[dialect].append(result)
                per_run(dialect, run, result)
        for dialect in dialects:
            report(dialect, results[dialect])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["anthropic", "chat", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gc-freeze", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the gateway to this file")
    parser.add_argument("--role", choices=["bench", "upstream", "proxy"], default="bench")
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream")
    parser.add_argument(
        "--workers", type=int, help="run the gateway as `anthroxy serve --workers N` instead"
    )
    args = parser.parse_args()
    if args.role == "upstream":
        run_upstream(args.port)
        return 0
    if args.role == "proxy":
        run_proxy(args.port, args.upstream, args.gc_freeze, args.profile)
        return 0
    up_port, proxy_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    proxy = f"http://127.0.0.1:{proxy_port}"
    me = [sys.executable, __file__]
    proxy_args = ["--role", "proxy", "--port", str(proxy_port), "--upstream", upstream]
    if args.gc_freeze:
        proxy_args.append("--gc-freeze")
    if args.profile:
        proxy_args += ["--profile", args.profile]
    gateway = [*me, *proxy_args]
    if args.workers:
        gateway = serve_command(proxy_port, upstream, args.workers)
    children = [
        subprocess.Popen([*me, "--role", "upstream", "--port", str(up_port)]),
        subprocess.Popen(gateway),
    ]
    dialects = ["anthropic", "chat"] if args.dialect == "both" else [args.dialect]
    started = time.perf_counter()
    try:
        asyncio.run(measure(upstream, proxy, children[1].pid, dialects, args.runs))
    finally:
        for child in children:
            child.terminate()
            child.wait(10)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
