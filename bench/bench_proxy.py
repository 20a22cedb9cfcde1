"""Added latency and throughput of the whole gateway against a local fake Anthropic upstream.

Three processes: the fake upstream, the gateway (anthropic dialect, pass-through), and this load
generator. Every measurement is taken twice in the same run, straight to the upstream and through
the gateway, so the difference is what anthroxy adds. Usage: ``python bench/bench_proxy.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time

import aiohttp
from aiohttp import web

CHUNKS = 200
REQUESTS = 400
CONCURRENCY = 64
THROUGHPUT_SECONDS = 5.0
BODY = {"model": "bench", "max_tokens": 64, "messages": [{"role": "user", "content": "hi " * 200}]}
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


def stream_bytes() -> bytes:
    start = {"type": "message_start", "message": {**MESSAGE, "content": [], "stop_reason": None}}
    parts = [f"event: message_start\ndata: {json.dumps(start)}\n\n"]
    parts.append(
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n'
    )
    delta = (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"token "}}\n\n'
    )
    parts += [delta] * CHUNKS
    parts.append('event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n')
    parts.append(
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        '"stop_sequence":null},"usage":{"output_tokens":200}}\n\n'
        'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    return "".join(parts).encode()


def run_upstream(port: int) -> None:
    events = stream_bytes().split(b"\n\n")[:-1]

    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.json_response(MESSAGE)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in events:  # one write per event, like a real token stream
            await response.write(event + b"\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def run_proxy(port: int, upstream: str) -> None:
    import logging

    from anthroxy_server.app import create_app
    from anthroxy_server.config import settings_from_config, structure_config

    logging.getLogger("anthroxy").setLevel(logging.WARNING)
    raw = {
        "providers": {
            "up": {"api": "anthropic", "base_url": upstream, "api_key": "bench-key-123456"}
        },
        "tiers": {"default": "up/up-model"},
    }
    settings = settings_from_config(structure_config(raw), {})
    web.run_app(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        handler_cancellation=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(200):
        try:
            async with session.get(url) as response:
                await response.read()
                return
        except aiohttp.ClientError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def one(session: aiohttp.ClientSession, url: str, stream: bool) -> float:
    started = time.perf_counter()
    async with session.post(url, json={**BODY, "stream": stream}) as response:
        await response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000.0


async def latencies(session: aiohttp.ClientSession, url: str, stream: bool) -> list[float]:
    for _ in range(20):  # warm-up: connections, caches
        await one(session, url, stream)
    return [await one(session, url, stream) for _ in range(REQUESTS)]


async def throughput(session: aiohttp.ClientSession, url: str) -> float:
    done = 0
    deadline = time.perf_counter() + THROUGHPUT_SECONDS

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one(session, url, True)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def measure(upstream: str, proxy: str) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_up(session, proxy + "/healthz")
        await wait_up(session, upstream + "/")
        print(f"{'case':<28}{'direct p50':>12}{'proxy p50':>12}{'added':>9}{'p99 added':>11}")
        for name, stream in (("non-stream", False), (f"stream ({CHUNKS} chunks)", True)):
            direct = await latencies(session, upstream + "/v1/messages", stream)
            via = await latencies(session, proxy + "/v1/messages", stream)
            d50, p50 = statistics.median(direct), statistics.median(via)
            added99 = pct(via, 99) - pct(direct, 99)
            print(f"{name:<28}{d50:>10.3f}ms{p50:>10.3f}ms{p50 - d50:>7.3f}ms{added99:>9.3f}ms")
        direct_rate = await throughput(session, upstream + "/v1/messages")
        proxy_rate = await throughput(session, proxy + "/v1/messages")
        print(
            f"streams/s at {CONCURRENCY} clients: direct {direct_rate:.0f}, "
            f"through anthroxy {proxy_rate:.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["bench", "upstream", "proxy"], default="bench")
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream")
    args = parser.parse_args()
    if args.role == "upstream":
        run_upstream(args.port)
        return 0
    if args.role == "proxy":
        run_proxy(args.port, args.upstream)
        return 0
    up_port, proxy_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    proxy = f"http://127.0.0.1:{proxy_port}"
    me = [sys.executable, __file__]
    children = [
        subprocess.Popen([*me, "--role", "upstream", "--port", str(up_port)]),
        subprocess.Popen(
            [*me, "--role", "proxy", "--port", str(proxy_port), "--upstream", upstream]
        ),
    ]
    try:
        asyncio.run(measure(upstream, proxy))
    finally:
        for child in children:
            child.terminate()
            child.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
