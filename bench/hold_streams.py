"""Many slow streams held open at once through one gateway, then all closed by their clients:
how long until every upstream connection is closed.

The fake upstream (tests/server/fault_upstream.py, model ``slow``) sends the first events of a
stream and then a ping every 0.2 s for as long as its client stays. The load generator opens
``--streams`` streamed requests through the gateway (half Anthropic pass-through, half Chat
Completions), waits until every one has its ``message_start``, counts the connections the fake
holds, closes every client response, and measures the time until the fake holds none.

Usage: ``PYTHONPATH=. python bench/hold_streams.py [--streams 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from typing import Any

import aiohttp
from soak import Gateway, snapshot  # bench/soak.py, next to this file

from tests.server.fault_upstream import FaultUpstream


async def open_stream(session: aiohttp.ClientSession, url: str, model: str) -> Any:
    body = {"model": model, "max_tokens": 8, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    resp = await session.post(url + "/v1/messages", json=body)
    assert resp.status == 200, resp.status
    while b"message_start" not in await resp.content.readuntil(b"\n\n"):
        pass  # the gateway's pings, sent while the upstream was slow to start
    return resp


async def until_closed(fake: FaultUpstream, limit: float) -> float:
    start = time.monotonic()
    while (fake.open_connections or fake.active) and time.monotonic() - start < limit:
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def hold(streams: int, limit: float) -> int:
    fake = FaultUpstream()
    gateway = Gateway(await fake.start())
    try:
        async with aiohttp.ClientSession() as stats:
            await gateway.wait_up(stats)
            before = await snapshot(stats, gateway.url, gateway.proc.pid)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                start = time.monotonic()
                models = ["a/slow", "c/slow"] * (streams // 2) + ["a/slow"] * (streams % 2)
                opening = (open_stream(session, gateway.url, model) for model in models)
                opened = await asyncio.gather(*opening)
                ready = time.monotonic() - start
                await asyncio.sleep(1.0)  # a few pings go through every stream
                held = fake.open_connections, fake.active
                peak = await snapshot(stats, gateway.url, gateway.proc.pid)
                for resp in opened:
                    resp.close()
                waited = await until_closed(fake, max(limit, 10.0))
                left = fake.open_connections
            await asyncio.sleep(1.0)
            after = await snapshot(stats, gateway.url, gateway.proc.pid)
        print(f"{streams} streams open with their message_start after {ready:.2f} s")
        print(f"upstream connections held at the fake: {held[0]} ({held[1]} requests active)")
        print(f"all {streams} closed by the clients: upstream connections closed after "
              f"{waited:.3f} s (limit {limit:g} s); left open: {left}")  # fmt: skip
        print(f"{'gateway process':<18} {'idle':>9} {'holding':>9} {'after':>9}")
        for key in before:
            print(f"  {key:<16} {before[key]:>9} {peak[key]:>9} {after[key]:>9}")
        print(f"tracebacks in the gateway log: {gateway.tracebacks()}")
        return 0 if waited < limit and not left and not gateway.tracebacks() else 1
    finally:
        gateway.stop()
        await fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--limit", type=float, default=2.0, help="seconds allowed to close all")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 2 sockets per stream here
    return asyncio.run(hold(args.streams, args.limit))


if __name__ == "__main__":
    sys.exit(main())
