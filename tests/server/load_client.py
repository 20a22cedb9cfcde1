"""The client side of the load tests (test_load.py, bench/soak.py, bench/hold_streams.py): a
mix of requests over every fault of ``fault_upstream``, each checked and each bounded in time.

A request is correct when it ends within ``timeout`` and its answer is what a client can rely
on: a 200 message, a 200 stream that passes the strict stream validator, or an error with an
Anthropic-shaped JSON body. Client aborts (a stream closed after its first bytes) are part of
the mix.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.anthropic_stream_validator import validate_sse

from .fault_upstream import FAULTS

SCHEMA = {"type": "object", "properties": {"p": {"type": "integer"}}}
TOOLS = [{"name": "Read", "description": "read a file", "input_schema": SCHEMA}]


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    hung: int = 0
    aborted: int = 0
    invalid: list[str] = field(default_factory=list)

    def merged(self, other: Outcome) -> Outcome:
        return Outcome(
            self.statuses + other.statuses,
            self.faults + other.faults,
            self.hung + other.hung,
            self.aborted + other.aborted,
            self.invalid + other.invalid,
        )

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + self.hung + self.aborted


def request_plan(rng: random.Random) -> tuple[dict[str, Any], bool]:
    """One request body of the mix, and whether the client aborts it after the first bytes."""
    provider = rng.choice(("a", "a", "c", "c", "dead") if rng.random() < 0.05 else ("a", "c"))
    fault = rng.choice(FAULTS)
    stream = rng.random() < 0.6
    abort = stream and (fault == "slow" or rng.random() < 0.05)
    body: dict[str, Any] = {
        "model": f"{provider}/{fault}",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi " * rng.randint(1, 50)}],
        "stream": stream,
    }
    if rng.random() < 0.4:
        body["tools"] = TOOLS
    return body, abort


def pings_then_error(raw: bytes) -> bool:
    """The gateway's form of a failure before the upstream's first event, when pings had already
    opened the stream (docs/protocol/claude-code.md §6): ``ping`` events, then one Anthropic
    ``error`` event, and nothing else."""
    blocks = [block for block in raw.decode().split("\n\n") if block]
    names = []
    for block in blocks:
        lines = block.split("\n")
        if len(lines) != 2 or not lines[0].startswith("event: "):
            return False
        name = lines[0][7:]
        payload = json.loads(lines[1].removeprefix("data: "))
        if payload.get("type") != name:
            return False
        names.append(name)
    error = json.loads(blocks[-1].split("\n")[1][6:]) if blocks else {}
    shaped = isinstance(error.get("error"), dict) and isinstance(error["error"].get("message"), str)
    return bool(names) and set(names[:-1]) <= {"ping"} and names[-1] == "error" and shaped


def check(status: int, raw: bytes, stream: bool) -> str | None:
    """What is wrong with this answer, or None."""
    if status == 200 and stream:
        try:
            validate_sse(raw)
        except (AssertionError, ValueError) as exc:
            if pings_then_error(raw):
                return None
            return f"invalid stream: {exc}: {raw[:300]!r}"
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return f"{status} not JSON: {raw[:200]!r}"
    if status == 200:
        return None if body.get("type") == "message" else f"200 not a message: {raw[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    shaped = body.get("type") == "error" and isinstance(error, dict)
    if not shaped or not isinstance(error.get("message"), str) or "Traceback" in raw.decode():
        return f"{status} not Anthropic-shaped: {raw[:200]!r}"
    return None


async def one(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], abort: bool, out: Outcome
) -> None:
    out.faults[body["model"]] += 1
    async with session.post(url + "/v1/messages", json=body) as resp:
        if abort:
            await resp.content.readany()
            resp.close()
            out.aborted += 1
            return
        raw = await resp.read()
    out.statuses[resp.status] += 1
    problem = check(resp.status, raw, body["stream"])
    if problem is not None and len(out.invalid) < 20:
        out.invalid.append(f"{body['model']} stream={body['stream']}: {problem}")


async def run_mix(
    url: str, count: int, *, concurrency: int = 32, timeout: float = 20.0, seed: int = 0
) -> Outcome:
    """``count`` requests of the mix against the gateway at ``url``, ``concurrency`` at a time."""
    rng = random.Random(seed)
    plans = [request_plan(rng) for _ in range(count)]
    out = Outcome()
    queue = iter(plans)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for body, abort in queue:
                try:
                    await asyncio.wait_for(one(session, url, body, abort, out), timeout)
                except TimeoutError:
                    out.hung += 1
                    out.invalid.append(f"{body['model']} stream={body['stream']}: hung")
                except aiohttp.ClientError as exc:  # the gateway dropped the client's connection
                    out.invalid.append(f"{body['model']} stream={body['stream']}: {exc!r}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out
