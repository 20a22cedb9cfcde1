"""Several ChatGPT logins (``accounts``), against the fakes of OpenAI's auth server and the
ChatGPT backend:

* an account that hits its usage limit (429) rests while the other serves;
* an account whose token is refused and cannot be refreshed is set aside with a warning naming
  the account, never a token;
* ``anthroxy login chatgpt --account NAME`` writes that account's own file (0600), never the
  Codex CLI's; ``status`` names each account; the live list cache is kept per account id.
"""

from __future__ import annotations

import json
import logging
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.cli.login import for_account, run_login, status_lines
from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.config.schema import Settings
from anthroxy_server.gateway.app import create_app
from anthroxy_server.live_lists import cache

from .fake_chatgpt import (
    FakeBackend,
    FakeTokenServer,
    json_reply,
    make_jwt,
    stream_reply,
    text_stream,
    write_auth,
)
from .fake_openai_auth import FakeDeviceAuth, FakeModels
from .test_chatgpt_login import Rig

USAGE_LIMIT = {
    "error": {"type": "usage_limit_reached", "message": "The usage limit has been reached"}
}


@pytest.fixture
async def rig(aiohttp_server: Any, tmp_path: Path) -> Rig:
    return await start_rig(aiohttp_server, tmp_path)


async def start_rig(aiohttp_server: Any, tmp_path: Path) -> Rig:
    """OpenAI's login server and the ChatGPT backend, one loopback fake."""
    tokens = FakeTokenServer()
    auth = FakeDeviceAuth(tokens)
    app = web.Application()
    auth.routes(app)
    backend = FakeBackend(tokens=tokens)
    app.router.add_post("/backend-api/codex/responses", backend.handle)
    server = await aiohttp_server(app)
    rig = Rig(tmp_path, str(server.make_url("")).rstrip("/"), auth, FakeModels(tokens))
    rig.backend = backend
    return rig


def settings(rig: Rig, **extra: Any) -> Settings:
    table = {**rig.table(), "accounts": ["work", "home"], "rotation": "fill-first", **extra}
    raw = {"providers": {"chatgpt": table}, "tiers": {"default": "chatgpt/gpt-5.4"}}
    return settings_from_config(structure_config(raw), rig.env)


def account_file(rig: Rig, name: str) -> Path:
    return rig.own.with_name(f"chatgpt-{name}.json")


def log_in(rig: Rig, name: str, refresh: str = "rt-none") -> str:
    """A stored login for account ``name`` (account id ``acct-<name>``); its access token."""
    access = make_jwt(time.time() + 3600, account=f"acct-{name}", nonce=name)
    path = write_auth(rig.tmp / "staging", access, refresh)
    data = json.loads(path.read_text())
    data["tokens"]["account_id"] = f"acct-{name}"
    account_file(rig, name).parent.mkdir(parents=True, exist_ok=True)
    account_file(rig, name).write_text(json.dumps(data))
    return access


async def send(client: Any) -> Any:
    body = {"model": "chatgpt/gpt-5.4", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    return await client.post("/v1/messages", json=body)


def accounts_seen(rig: Rig) -> list[str]:
    return [seen.headers["chatgpt-account-id"] for seen in rig.backend.seen]


async def test_a_limited_account_rests_while_the_other_serves(
    rig: Rig, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="anthroxy")
    rig.backend.valid = {log_in(rig, "work"), log_in(rig, "home")}
    rig.backend.replies = [
        json_reply(429, USAGE_LIMIT),
        stream_reply(text_stream("from home")),
        stream_reply(text_stream("home again")),
    ]
    client = await aiohttp_client(create_app(settings(rig)))
    response = await send(client)
    assert response.status == 200, await response.text()
    assert (await response.json())["content"][0]["text"] == "from home"
    assert (await send(client)).status == 200
    assert accounts_seen(rig) == ["acct-work", "acct-home", "acct-home"]
    assert any("account work is rate-limited" in r.getMessage() for r in caplog.records)


async def test_a_refused_account_is_set_aside_after_its_own_recovery(
    rig: Rig, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anthroxy")
    work = log_in(rig, "work", refresh="rt-revoked")  # the token server refuses to refresh it
    rig.backend.valid = {log_in(rig, "home")}
    rig.backend.replies = [stream_reply(text_stream("a")), stream_reply(text_stream("b"))]
    client = await aiohttp_client(create_app(settings(rig)))
    assert (await send(client)).status == 200
    assert (await send(client)).status == 200
    assert accounts_seen(rig) == ["acct-work", "acct-home", "acct-home"]
    assert rig.tokens.bodies[0]["refresh_token"] == "rt-revoked"  # recovery was tried first
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "account work was refused (HTTP 401)" in logged
    assert work not in logged and "rt-revoked" not in logged


async def test_login_with_an_account_writes_its_own_file(rig: Rig) -> None:
    provider = settings(rig).providers["chatgpt"]
    await run_login(for_account(provider, "work"), rig.io())
    saved = account_file(rig, "work")
    assert saved.exists() and not rig.own.exists()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert str(saved) in rig.out.getvalue()
    lines = status_lines(settings(rig).providers)
    assert lines[0].startswith("chatgpt (account work): ChatGPT pro")
    assert (
        lines[1]
        == "chatgpt (account home): not logged in (`anthroxy login chatgpt --account home`)"
    )
    assert json.loads(saved.read_text())["tokens"]["access_token"] not in "\n".join(lines)


def test_the_live_list_cache_is_kept_per_account_id(rig: Rig, tmp_path: Path) -> None:
    log_in(rig, "work")
    log_in(rig, "home")
    work = settings(rig, accounts=["work"]).providers["chatgpt"]
    home = settings(rig, accounts=["home"]).providers["chatgpt"]
    assert cache.cache_file(tmp_path, work) != cache.cache_file(tmp_path, home)
