"""``/ui/api/routing`` and ``/ui/api/reload``: the routing in force with each value's source as
``anthroxy config show`` labels it, keys masked; a reload that picks up an edited file and one
that refuses a broken file; and no configured secret in any dashboard answer."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.config import load_settings
from anthroxy_server.dashboard.recent import RECENT
from anthroxy_server.gateway import reload
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.supervise import SUPERVISOR_ENV, WORKERS_ENV

from .conftest import FakeUpstream, message_body
from .dashboard_gateway import FILE_KEY, KEYS, TOKEN, answering, gateway

CONFIG = """
[server]
log_request_body = true
log_response_body = true

[providers.up]
api = "anthropic"
base_url = "{url}"
auth = "x-api-key"
api_key = "{key}"
models = ["claude-sonnet-4-5"]

[tiers]
sonnet = "up/claude-sonnet-4-5"

[aliases]
{alias} = "up/claude-sonnet-4-5"
"""


def write(path: Path, url: str, alias: str) -> None:
    path.write_text(CONFIG.format(url=url, key=FILE_KEY, alias=alias))
    path.chmod(0o600)


async def file_gateway(aiohttp_client: Any, url: str, tmp_path: Path) -> tuple[Any, Path]:
    path = tmp_path / "config.toml"
    write(path, url, "quick")

    def load() -> Any:
        return load_settings(cli_path=str(path), env={}, cwd=tmp_path, home=tmp_path)

    app = create_app(load())
    reload.enable(app, load, lambda settings, secrets: None)
    return await aiohttp_client(app), path


async def test_routing_shows_sources_and_masks_keys(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    client, path = await file_gateway(aiohttp_client, upstream.url, tmp_path)
    body = await (await client.get("/ui/api/routing")).json()
    assert body["sources"] == [str(path)]
    tiers = {t["name"]: t for t in body["tiers"]}
    assert tiers["sonnet"] == {"name": "sonnet", "target": "up/claude-sonnet-4-5",
                               "source": str(path)}  # fmt: skip
    assert body["aliases"] == [{"name": "quick", "target": "up/claude-sonnet-4-5",
                                "source": str(path)}]  # fmt: skip
    up = next(p for p in body["providers"] if p["id"] == "up")
    assert up["key"] == f"{FILE_KEY[:3]}…{FILE_KEY[-4:]}"
    assert up["key_source"] == str(path) and up["source"] == str(path)
    limits = {m["model"]: m for m in body["limits"]}
    assert limits["up/claude-sonnet-4-5"]["context_window"] == 200_000
    assert limits["up/claude-sonnet-4-5"]["source"] == "built-in table"
    assert FILE_KEY not in json.dumps(body)


async def test_configured_limits_show_their_value_and_source(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    body = await (await client.get("/ui/api/routing")).json()
    limits = {m["model"]: m for m in body["limits"]}
    assert limits["up/claude-sonnet-4-5"]["context_window"] == 150_000  # [models] override
    assert limits["up/claude-sonnet-4-5"]["source"] == "config"
    chain = {"target": "down/claude-sonnet-4-5", "chain": ["up/claude-sonnet-4-5"]}
    assert body["fallbacks"] == [{**chain, "source": "default"}]


async def test_reload_picks_up_an_edited_file_and_refuses_a_broken_one(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    client, path = await file_gateway(aiohttp_client, upstream.url, tmp_path)
    before = (await (await client.get("/ui/api/overview")).json())["fingerprint"]
    write(path, upstream.url, "speedy")
    answer = await client.post("/ui/api/reload", json={})
    assert answer.status == 200
    body = await answer.json()
    assert body["reloaded"] is True and body["fingerprint"] != before
    assert "aliases" in body["changed"]
    routing = await (await client.get("/ui/api/routing")).json()
    assert [a["name"] for a in routing["aliases"]] == ["speedy"]
    assert routing["reload"]["attempts"] == 1

    path.write_text('[providers.up]\napi = "no-such-api"\n')
    refused = await (await client.post("/ui/api/reload", json={})).json()
    assert refused["reloaded"] is False
    assert any("api" in problem for problem in refused["problems"])
    still = await (await client.get("/ui/api/routing")).json()
    assert [a["name"] for a in still["aliases"]] == ["speedy"]  # the old configuration serves
    assert still["reload"]["problems"] == refused["problems"]


async def test_under_workers_the_supervisor_gets_the_hangup(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path, monkeypatch: Any
) -> None:
    # This process plays the supervisor: reload.enable's SIGHUP handler reloads the app.
    monkeypatch.setitem(os.environ, SUPERVISOR_ENV, str(os.getpid()))
    monkeypatch.setitem(os.environ, WORKERS_ENV, "2")
    client, path = await file_gateway(aiohttp_client, upstream.url, tmp_path)
    write(path, upstream.url, "grouped")
    body = await (await client.post("/ui/api/reload", json={})).json()
    assert body["reloaded"] is True and body["workers"] == 2
    assert "SIGHUP" in body["note"] and str(os.getpid()) in body["note"]
    overview = await (await client.get("/ui/api/overview")).json()
    assert overview["workers"] == 2 and overview["pid"] == os.getpid()


async def test_an_embedded_app_has_nothing_to_reload(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    body = await (await client.post("/ui/api/reload", json={})).json()
    assert body["reloaded"] is False and "restart" in body["problems"][0]


async def test_no_answer_of_the_dashboard_holds_a_secret(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    answering(upstream)
    echoing = upstream.handler
    assert echoing is not None

    async def leaky(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/limited"):  # an upstream that echoes the key it got
            message = f"key {request.headers.get('x-api-key')} is rate limited"
            body = {"type": "error", "error": {"type": "rate_limit_error", "message": message}}
            return web.json_response(body, status=429)
        return await echoing(request)

    upstream.handler = leaky
    client = await gateway(
        aiohttp_client, upstream.url, tmp_path, auth_token=TOKEN,
        log_request_body=True, log_response_body=True,
    )  # fmt: skip
    auth = {"Authorization": f"Bearer {TOKEN}"}
    secrets = [*KEYS.values(), FILE_KEY, TOKEN]
    pasted = {"role": "user", "content": f"keys: {' '.join(secrets)}"}
    for model in ("claude-sonnet-4-5", "falls", "limits"):
        body = message_body(model, messages=[pasted])
        await (await client.post("/v1/messages", json=body, headers=auth)).read()
    stream = await client.get("/ui/api/events", headers=auth)
    await client.post("/v1/messages", json=message_body(stream=True), headers=auth)
    texts = [await stream.content.readuntil(b"\n\n") for _ in range(2)]
    client.app[RECENT].close_listeners()
    texts.append(await stream.read())
    paths = ["/ui", "/ui/api/overview", "/ui/api/health", "/ui/api/requests", "/ui/api/usage",
             "/ui/api/routing"]  # fmt: skip
    for request_id in [e.request_id for e in client.app[RECENT].entries]:
        paths.append(f"/ui/api/requests/{request_id}")
    for path in paths:
        answer = await client.get(path, headers=auth)
        assert answer.status == 200, path
        texts.append(await answer.read())
    texts.append(await (await client.post("/ui/api/reload", json={}, headers=auth)).read())
    everything = b"\n".join(texts).decode()
    assert "rate limited" in everything and "keys: " in everything  # what would carry them
    for secret in secrets:
        assert secret not in everything
        assert secret[4:-4] not in everything  # nor most of it


async def test_a_supervisor_that_is_gone_is_a_refusal_not_a_crash(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path, monkeypatch: Any
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process
    monkeypatch.setitem(os.environ, SUPERVISOR_ENV, str(gone.pid))
    monkeypatch.setitem(os.environ, WORKERS_ENV, "2")
    client, _ = await file_gateway(aiohttp_client, upstream.url, tmp_path)
    answer = await client.post("/ui/api/reload", json={})
    assert answer.status == 200
    body = await answer.json()
    assert body["reloaded"] is False and str(gone.pid) in body["problems"][0]
