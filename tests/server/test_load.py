"""Small, fast versions of bench/soak.py and bench/hold_streams.py: a mix over every fault of
the fake upstream leaves no request hanging, no malformed answer, no task or upstream connection
behind; streams closed by their clients close their upstream connections within 2 s."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

import aiohttp
import pytest

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from .conftest import free_port
from .fault_upstream import FAULTS, FaultUpstream, gateway_config
from .load_client import run_mix


@pytest.fixture
async def fake() -> Any:
    upstream = FaultUpstream()
    url = await upstream.start()
    yield upstream, url
    await upstream.stop()


async def _gateway(aiohttp_server: Any, url: str) -> str:
    raw = gateway_config(url, f"http://127.0.0.1:{free_port()}")
    server = await aiohttp_server(create_app(settings_from_config(structure_config(raw), {})))
    return str(server.make_url("")).rstrip("/")


async def _settle(fake: FaultUpstream, seconds: float, *, idle_too: bool = False) -> float:
    """Seconds until the fake answers no request (and, ``idle_too``, holds no connection at
    all), or ``seconds`` if it still does."""
    start = time.monotonic()
    while (fake.active or (idle_too and fake.open_connections)) and (
        time.monotonic() - start < seconds
    ):
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_a_mix_of_every_fault_ends_well_and_leaves_nothing_behind(
    aiohttp_server: Any, fake: Any, caplog: Any
) -> None:
    upstream, url = fake
    gateway = await _gateway(aiohttp_server, url)
    await run_mix(gateway, 40, seed=1)  # warm-up: imports, pools, caches
    await _settle(upstream, 3)
    gc.collect()
    tasks_before = len(asyncio.all_tasks())
    with caplog.at_level(logging.ERROR):
        out = await run_mix(gateway, 300, concurrency=24, timeout=10, seed=2)
    assert out.invalid == [] and out.hung == 0
    assert out.total == 300
    assert set(FAULTS) <= set(upstream.served)
    assert {200, 502, 504} <= set(out.statuses)
    ours = [r for r in caplog.records if r.name.startswith(("anthroxy", "aiohttp"))]
    assert not [r for r in ours if r.exc_info or "Unhandled" in r.getMessage()]
    assert await _settle(upstream, 3) < 3, f"{upstream.active} upstream requests left open"
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) <= tasks_before


async def test_streams_closed_by_clients_close_their_upstream_connections(
    aiohttp_server: Any, fake: Any
) -> None:
    upstream, url = fake
    gateway = await _gateway(aiohttp_server, url)
    body = {"model": "a/slow", "max_tokens": 8, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        responses = await asyncio.gather(
            *(session.post(gateway + "/v1/messages", json=body) for _ in range(50))
        )
        for resp in responses:
            assert resp.status == 200
            assert b"message_start" in await resp.content.readuntil(b"\n\n")
        assert upstream.open_connections == 50
        for resp in responses:
            resp.close()
        # The relay closes (not releases) an upstream connection whose client left.
        waited = await _settle(upstream, 2.0, idle_too=True)
        assert waited < 2.0, f"{upstream.open_connections} still open"


async def test_a_client_gone_while_its_stream_is_written_leaves_no_traceback(
    aiohttp_server: Any, fake: Any, caplog: Any, monkeypatch: Any
) -> None:
    # The soak's rare race: the write fails before aiohttp cancels the handler.
    from anthroxy_server.gateway import streaming

    written = streaming.Downstream._write

    async def write_then_reset(self: Any, data: bytes) -> None:
        await written(self, data)
        raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")

    monkeypatch.setattr(streaming.Downstream, "_write", write_then_reset)
    upstream, url = fake
    gateway = await _gateway(aiohttp_server, url)
    body = {"model": "a/slow", "max_tokens": 8, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        async with aiohttp.ClientSession() as session:
            resp = await session.post(gateway + "/v1/messages", json=body)
            assert resp.status == 200
            with contextlib.suppress(aiohttp.ClientPayloadError):
                await resp.read()
        assert await _settle(upstream, 2.0) < 2.0
    ours = [r for r in caplog.records if r.name.startswith(("anthroxy", "aiohttp"))]
    assert not [r for r in ours if r.exc_info], [r.getMessage() for r in ours]
    assert "the client closed the connection" in caplog.text
