"""Soak: many mixed requests through ONE gateway process, and what the process holds before and
after.

Two processes: this one (the fake upstream of tests/server/fault_upstream.py, which can make
every fault, and the load generator of tests/server/load_client.py) and the gateway. The mix
covers streamed and non-streamed requests, tools, both dialects (Anthropic pass-through and Chat
Completions), every fault of the fake (HTTP errors, bodies that are not JSON or cut, corrupt or
cut streams, in-stream errors, stalls before and during a stream, connection resets, replies over
``max_reply_bytes``), a provider whose port is closed, and clients that leave mid-stream.

After a warm-up the gateway's open files (``/proc/<pid>/fd``), asyncio tasks and RSS are read,
then again after the run. Every request must end within ``--timeout`` and be a correct answer
(a valid Anthropic stream, a message, or an Anthropic-shaped error); the gateway's log must hold
no traceback.

Usage: ``PYTHONPATH=. python bench/soak.py [--requests 10000] [--concurrency 32]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.fault_upstream import FaultUpstream, gateway_config  # noqa: E402
from tests.server.load_client import Outcome, run_mix  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _stats(request: web.Request) -> web.Response:
    """What the gateway process holds now (a route the bench adds, not part of anthroxy)."""
    gc.collect()
    return web.json_response({"tasks": len(asyncio.all_tasks())})


def run_gateway(port: int, upstream: str, dead: str) -> None:
    from anthroxy_server.config import settings_from_config, structure_config
    from anthroxy_server.gateway import serve
    from anthroxy_server.gateway.app import create_app

    app = create_app(settings_from_config(structure_config(gateway_config(upstream, dead)), {}))
    app.router.add_get("/_bench/stats", _stats)
    # The listen backlog `anthroxy serve` uses (serve.LISTEN_BACKLOG), as the real server.
    web.run_app(
        app, host="127.0.0.1", port=port, print=None, handler_cancellation=True,
        backlog=serve.LISTEN_BACKLOG,
    )  # fmt: skip


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def snapshot(session: aiohttp.ClientSession, url: str, pid: int) -> dict[str, int]:
    async with session.get(url + "/_bench/stats") as resp:
        tasks = int((await resp.json())["tasks"])
    return {"files": len(os.listdir(f"/proc/{pid}/fd")), "tasks": tasks, "rss_kib": rss_kib(pid)}


async def settle(fake: FaultUpstream, seconds: float = 10.0) -> None:
    """Until the fake answers nothing (stalled handlers finish), and a little more."""
    deadline = time.monotonic() + seconds
    while fake.active and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)


class Gateway:
    """The gateway subprocess, its log in a temporary file."""

    def __init__(self, upstream: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="anthroxy-bench-", suffix=".log")  # noqa: SIM115
        dead = f"http://127.0.0.1:{free_port()}"
        me = [sys.executable, __file__, "--role", "gateway", "--port", str(self.port)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [*me, "--upstream", upstream, "--dead", dead],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip

    async def wait_up(self, session: aiohttp.ClientSession) -> None:
        for _ in range(300):
            try:
                async with session.get(self.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise SystemExit("the gateway did not start")

    def tracebacks(self) -> int:
        text = Path(self.log.name).read_text(errors="replace")
        return text.count("Traceback") + text.count("Unhandled exception")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def show(label: str, before: dict[str, int], after: dict[str, int], half: dict[str, int]) -> None:
    print(f"{label:<22} {'before':>10} {'halfway':>10} {'after':>10} {'change':>8}")
    for key in before:
        change = after[key] - before[key]
        print(f"  {key:<20} {before[key]:>10} {half[key]:>10} {after[key]:>10} {change:>+8}")


async def soak(requests: int, concurrency: int, timeout: float, warm_up: int) -> int:
    fake = FaultUpstream()
    gateway = Gateway(await fake.start())
    try:
        async with aiohttp.ClientSession() as session:
            await gateway.wait_up(session)
            await run_mix(gateway.url, warm_up, concurrency=concurrency, seed=1)
            await settle(fake)
            before = await snapshot(session, gateway.url, gateway.proc.pid)
            elapsed = 0.0
            halfway: dict[str, int] = {}
            out = Outcome()
            for part in (1, 2):  # two halves: growth that stops is warm-up, not a leak
                start = time.monotonic()
                share = requests // 2 if part == 1 else requests - requests // 2
                part_out = await run_mix(
                    gateway.url, share, concurrency=concurrency, timeout=timeout, seed=1 + part
                )
                elapsed += time.monotonic() - start
                out = out.merged(part_out)
                await settle(fake)
                after = await snapshot(session, gateway.url, gateway.proc.pid)
                halfway = halfway or after
        print(f"{out.total} requests ({requests} asked) in {elapsed:.1f} s "
              f"({out.total / elapsed:.0f}/s), concurrency {concurrency}")  # fmt: skip
        print(f"statuses: {json.dumps(dict(sorted(out.statuses.items())))}")
        print(f"client aborts: {out.aborted}   hung: {out.hung}   "
              f"wrong answers: {len(out.invalid)}   tracebacks in the gateway log: "
              f"{gateway.tracebacks()}")  # fmt: skip
        print(f"faults served by the fake: {len(fake.served)} kinds")
        show("gateway process", before, after, halfway)
        for line in out.invalid[:10]:
            print("  WRONG:", line[:300])
        if gateway.tracebacks():
            text = Path(gateway.log.name).read_text(errors="replace")
            at = text.find("Traceback")
            print(text[max(0, at - 300) : at + 3000])
        return 1 if out.invalid or out.hung or gateway.tracebacks() else 0
    finally:
        gateway.stop()
        await fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--warm-up", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, in seconds")
    parser.add_argument("--role", choices=["load", "gateway"], default="load")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream", default="")
    parser.add_argument("--dead", default="")
    args = parser.parse_args()
    if args.role == "gateway":
        run_gateway(args.port, args.upstream, args.dead)
        return 0
    return asyncio.run(soak(args.requests, args.concurrency, args.timeout, args.warm_up))


if __name__ == "__main__":
    sys.exit(main())
