"""Added latency and throughput of the whole gateway against a local fake upstream.

The fake upstream speaks both the Anthropic Messages API and OpenAI Chat Completions; the gateway
has a provider ``up`` (Anthropic pass-through) and ``oa`` (Chat Completions, translated); this
process generates the load (``bench_servers.py`` holds the other processes). Every measurement is
taken in the same run straight to the fake upstream and through each proxy, so the difference is
what a proxy adds. The requests of a latency series go round the targets one by one (direct,
then each proxy), so a burst of noise from elsewhere on the machine lands on all of them alike.

The proxies, each a process of its own: ``anthroxy`` (with the ``fast`` extra's speed-ups when
they are installed), ``stdlib`` (the same code with them forced off; only when installed), the
``relay`` (a bare aiohttp proxy relaying bytes without parsing them: the floor), ``before``
(``--before TREE``: the same gateway from another source tree, e.g. ``git archive`` of an older
commit) and ``node`` (``--node-proxy PATH``: claude-code-router's ``dist/cli.js``, Chat dialect
only).

Usage: ``python bench/bench_proxy.py [--dialect anthropic|chat|both] [--runs N]``.
``--gc-freeze`` calls ``gc.freeze()`` in the gateway after start-up; ``--profile FILE`` writes a
cProfile of the gateway process (read it with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from bench_servers import (
    CHUNKS,
    node_proxy,
    run_proxy,
    run_relay,
    run_upstream,
    serve_command,
)

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
# baseline of the chat dialect (and the relay's load) posts this.
CHAT_BODY = {
    "model": "gpt-4o-mini",
    "max_completion_tokens": 64,
    "messages": [{"role": "user", "content": PROMPT}],
}
TRANSLATED_BODY = {**ANTHROPIC_BODY, "model": "oa/gpt-4o-mini"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Target:
    """Where one dialect's load goes: straight to the upstream or through one proxy."""

    name: str
    url: str
    body: dict[str, Any]
    pid: int | None  # the proxy's process, for its CPU time


@dataclass
class Result:
    # per target, per stream mode ("non-stream", "stream"): latencies in ms
    latencies: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    rate: dict[str, float] = field(default_factory=dict)  # streams/s at CONCURRENCY clients
    cpu: dict[str, float] = field(default_factory=dict)  # proxy CPU per stream at 64 clients, ms
    # per proxy, per mode: its CPU per request, one client at a time, ms
    request_cpu: dict[str, dict[str, float]] = field(default_factory=dict)


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


def cpu_of(targets: list[Target]) -> dict[str, float]:
    return {t.name: cpu_seconds(t.pid) for t in targets if t.pid is not None}


Request = Callable[[], Awaitable[float]]


async def wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(400):
        try:
            async with session.get(url) as response:
                await response.read()
                return
        except aiohttp.ClientError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def requester(session: aiohttp.ClientSession, target: Target, stream: bool) -> Request:
    data = json.dumps({**target.body, "stream": stream}).encode()
    headers = {"content-type": "application/json", "x-api-key": "bench"}

    async def one() -> float:
        started = time.perf_counter()
        async with session.post(target.url, data=data, headers=headers) as response:
            await response.read()  # a stream is read to its end
            if response.status != 200:
                raise RuntimeError(f"{target.url}: status {response.status}")
        return (time.perf_counter() - started) * 1000.0

    return one


async def series(requests: list[Request]) -> list[list[float]]:
    """Latencies of each requester, taking turns one request at a time."""
    for _ in range(WARM_UP):  # connections, caches
        for one in requests:
            await one()
    times: list[list[float]] = [[] for _ in requests]
    for _ in range(REQUESTS):
        for one, out in zip(requests, times, strict=True):
            out.append(await one())
    return times


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


async def run_case(session: aiohttp.ClientSession, targets: list[Target]) -> Result:
    """``targets[0]`` is the upstream itself; the others are proxies in front of it."""
    result = Result()
    proxies = targets[1:]
    for t in proxies:
        result.request_cpu[t.name] = {}
    for mode, stream in (("non-stream", False), ("stream", True)):
        before = cpu_of(proxies)
        times = await series([requester(session, t, stream) for t in targets])
        after = cpu_of(proxies)
        for t, values in zip(targets, times, strict=True):
            result.latencies.setdefault(t.name, {})[mode] = values
        for name, cpu in before.items():
            per_request = (after[name] - cpu) * 1000.0 / (WARM_UP + REQUESTS)
            result.request_cpu[name][mode] = per_request
    for t in targets:
        cpu = cpu_of([t])
        result.rate[t.name], done = await throughput(requester(session, t, True))
        if t.pid is not None:
            result.cpu[t.name] = (cpu_of([t])[t.name] - cpu[t.name]) * 1000.0 / done
    return result


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def added(result: Result, name: str, mode: str, direct: str) -> tuple[float, float]:
    """(added p50, added p99) in ms of proxy ``name`` over the direct requests.

    Added p50 is the difference of the medians. Added p99 is the 99th percentile of the
    per-pair differences (each proxied request minus the direct one sent just before it): the
    difference of two p99s mixes two unrelated tails and can even come out negative.
    """
    d = result.latencies[direct][mode]
    p = result.latencies[name][mode]
    added99 = pct([b - a for a, b in zip(d, p, strict=True)], 99)
    return statistics.median(p) - statistics.median(d), added99


def report(dialect: str, names: list[str], results: list[Result]) -> None:
    """Each metric's best run: the smallest added latency and CPU, the highest rate."""
    direct = names[0]
    print(f"\n== {dialect}: best of {len(results)} run(s); added latency p50 / p99 (ms)")
    print(f"{'target':<10}{'non-stream':>14}{f'stream ({CHUNKS})':>16}{'streams/s':>11}"
          f"{'CPU/stream':>12}{'alone':>8}{'non-stream':>12}")  # fmt: skip
    d50 = min(statistics.median(r.latencies[direct]["stream"]) for r in results)
    rate = max(r.rate[direct] for r in results)
    print(f"{direct:<10}{'':>14}{f'p50 {d50:.2f}':>16}{rate:>11.0f}")
    for name in names[1:]:
        cells = []
        for mode in ("non-stream", "stream"):
            best50 = min(added(r, name, mode, direct)[0] for r in results)
            best99 = min(added(r, name, mode, direct)[1] for r in results)
            cells.append(f"{best50:+.2f}/{best99:+.2f}")
        rate = max(r.rate[name] for r in results)
        cpu = min(r.cpu[name] for r in results)
        alone = min(r.request_cpu[name]["stream"] for r in results)
        single = min(r.request_cpu[name]["non-stream"] for r in results)
        print(f"{name:<10}{cells[0]:>14}{cells[1]:>16}{rate:>11.0f}{cpu:>10.2f}ms"
              f"{alone:>6.2f}ms{single:>10.2f}ms")  # fmt: skip


def per_run(dialect: str, run: int, names: list[str], result: Result) -> None:
    cells = [f"{names[0]} {result.rate[names[0]]:.0f}/s"]
    for name in names[1:]:
        a50 = added(result, name, "stream", names[0])[0]
        cells.append(f"{name} {result.rate[name]:.0f}/s +{a50:.2f}ms {result.cpu[name]:.2f}ms CPU")
    print(f"  {dialect} run {run}: " + ", ".join(cells))


def targets_for(dialect: str, proxies: dict[str, tuple[str, int]], upstream: str) -> list[Target]:
    """The upstream and every proxy that serves ``dialect``, with the body each is sent."""
    if dialect == "anthropic":
        out = [Target("direct", upstream + "/v1/messages", ANTHROPIC_BODY, None)]
    else:
        out = [Target("direct", upstream + "/v1/chat/completions", CHAT_BODY, None)]
    for name, (base, pid) in proxies.items():
        if name == "relay":  # relays what it is sent: the direct request, one hop longer
            out.append(Target(name, base + out[0].url.removeprefix(upstream), out[0].body, pid))
        elif dialect == "anthropic" and name != "node":
            out.append(Target(name, base + "/v1/messages", ANTHROPIC_BODY, pid))
        elif dialect == "chat":  # the Node proxy's default route is the Chat provider
            out.append(Target(name, base + "/v1/messages", TRANSLATED_BODY, pid))
    return out


async def measure(
    upstream: str, proxies: dict[str, tuple[str, int]], dialects: list[str], runs: int
) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_up(session, upstream + "/")
        for base, _ in proxies.values():
            await wait_up(session, base + "/healthz")
        results: dict[str, list[Result]] = {d: [] for d in dialects}
        for run in range(1, runs + 1):
            for dialect in dialects:
                targets = targets_for(dialect, proxies, upstream)
                result = await run_case(session, targets)
                results[dialect].append(result)
                per_run(dialect, run, [t.name for t in targets], result)
        for dialect in dialects:
            names = [t.name for t in targets_for(dialect, proxies, upstream)]
            report(dialect, names, results[dialect])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["anthropic", "chat", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gc-freeze", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the gateway to this file")
    parser.add_argument("--role", choices=["bench", "upstream", "proxy", "relay"], default="bench")
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream")
    parser.add_argument("--no-fast", action="store_true", help="(proxy role) stdlib paths only")
    parser.add_argument(
        "--workers", type=int, help="run the gateway as `anthroxy serve --workers N` instead"
    )
    parser.add_argument("--no-relay", action="store_true", help="leave out the bare relay")
    parser.add_argument("--before", metavar="TREE", help="also the gateway from this source tree")
    parser.add_argument("--node-proxy", metavar="CLI_JS", help="claude-code-router's dist/cli.js")
    return parser.parse_args()


def fast_installed() -> bool:
    return any(importlib.util.find_spec(name) for name in ("orjson", "uvloop"))


def main() -> int:
    args = parse_args()
    if args.role == "upstream":
        run_upstream(args.port)
        return 0
    if args.role == "relay":
        run_relay(args.port, args.upstream)
        return 0
    if args.role == "proxy":
        run_proxy(args.port, args.upstream, not args.no_fast, args.gc_freeze, args.profile)
        return 0
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    me = [sys.executable, __file__]
    gateway = ["--role", "proxy", "--upstream", upstream]
    gateway += ["--gc-freeze"] if args.gc_freeze else []
    profile = ["--profile", args.profile] if args.profile else []
    # name: (command, environment); each proxy listens on a port of its own (``--port N``)
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "anthroxy": ([*gateway, *profile], None)
    }
    if fast_installed() and not args.workers:
        commands["stdlib"] = ([*gateway, "--no-fast"], None)
    if args.before:
        env = {**os.environ, "PYTHONPATH": os.path.abspath(args.before)}
        commands["before"] = ([*gateway, "--no-fast"], env)
    if not args.no_relay:
        commands["relay"] = (["--role", "relay", "--upstream", upstream], None)
    children = [subprocess.Popen([*me, "--role", "upstream", "--port", str(up_port)])]
    proxies: dict[str, tuple[str, int]] = {}
    for name, (command, env) in commands.items():
        port = free_port()
        argv = [*me, *command, "--port", str(port)]
        if name == "anthroxy" and args.workers:
            argv = serve_command(port, upstream, args.workers)
        children.append(subprocess.Popen(argv, env=env))
        proxies[name] = (f"http://127.0.0.1:{port}", children[-1].pid)
    if args.node_proxy:
        port = free_port()
        argv, env = node_proxy(args.node_proxy, port, upstream)
        children.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL))
        proxies["node"] = (f"http://127.0.0.1:{port}", children[-1].pid)
    dialects = ["anthropic", "chat"] if args.dialect == "both" else [args.dialect]
    started = time.perf_counter()
    try:
        asyncio.run(measure(upstream, proxies, dialects, args.runs))
    finally:
        for child in children:
            child.terminate()
            child.wait(10)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
