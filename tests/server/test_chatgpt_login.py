"""``anthroxy login chatgpt``, the ChatGPT live model list and the subscription line of
``anthroxy status``, against local fakes of OpenAI's auth server and the ChatGPT backend:

* an existing Codex CLI login is reported and used, and no new login is started;
* otherwise the device-code login polls at the given interval (slower after ``slow_down``),
  writes the Codex CLI's file format 0600 in anthroxy's credentials directory, and the proxy
  serves requests with it (and refreshes it like a Codex login);
* a declined or expired code ends the login with a message naming the command;
* the live list keeps the picker's models, by the backend's priority;
* status and logout say who and until when, never a token.
"""

from __future__ import annotations

import io
import json
import stat
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from anthroxy_server.cli import dispatch
from anthroxy_server.cli.chatgpt_login import poll_answer
from anthroxy_server.cli.login import LOGINS, LoginIO, run_login, status_lines
from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.config.paths import Locations
from anthroxy_server.config.schema import ResolvedProvider, Settings
from anthroxy_server.gateway.app import create_app
from anthroxy_server.providers import LISTERS, chatgpt
from anthroxy_server.providers.codex_auth import CLIENT_ID
from anthroxy_server.providers.device_flow import LoginFailed

from .fake_chatgpt import (
    ACCOUNT,
    FakeBackend,
    FakeTokenServer,
    make_jwt,
    stream_reply,
    text_stream,
    write_auth,
)
from .fake_openai_auth import (
    AUTH_CODE,
    DEVICE_AUTH_ID,
    EMAIL,
    PLAN,
    USER_CODE,
    VERIFIER,
    FakeDeviceAuth,
    FakeModels,
    id_token,
    model_info,
)


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []
        self.now = time.time()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


class Rig:
    def __init__(self, tmp: Path, base: str, auth: FakeDeviceAuth, models: FakeModels) -> None:
        self.tmp, self.base, self.auth, self.models = tmp, base, auth, models
        self.tokens = auth.tokens
        self.backend = FakeBackend(tokens=auth.tokens)
        self.codex_home = tmp / "codex"
        self.own = tmp / "data" / "anthroxy" / "credentials" / "chatgpt.json"
        self.env = {"HOME": str(tmp), "XDG_DATA_HOME": str(tmp / "data")}
        self.out = io.StringIO()
        self.sleeps = Sleeps()
        self.copied: list[str] = []

    def table(self) -> dict[str, Any]:
        return {
            "base_url": self.base + "/backend-api/codex",
            "codex_home": str(self.codex_home),
            "token_url": self.base + "/oauth/token",
            "device_auth_url": self.base + "/api/accounts/deviceauth/usercode",
            "device_token_url": self.base + "/api/accounts/deviceauth/token",
            "verification_url": self.base + "/codex/device",
            "read_timeout": 5.0,
        }

    def settings(self) -> Settings:
        raw = {"providers": {"chatgpt": self.table()}, "tiers": {"default": "chatgpt/gpt-5.4"}}
        return settings_from_config(structure_config(raw), self.env)

    @property
    def provider(self) -> ResolvedProvider:
        return self.settings().providers["chatgpt"]

    def io(self) -> LoginIO:
        def copy(text: str) -> bool:
            self.copied.append(text)
            return True

        return LoginIO(self.out, sleep=self.sleeps.sleep, clock=self.sleeps.clock, copy=copy)

    async def login(self) -> str:
        await run_login(self.provider, self.io())
        return self.out.getvalue()

    def config_file(self) -> Path:
        lines = [f"{k} = {json.dumps(v)}" for k, v in self.table().items()]
        path = self.tmp / "config.toml"
        path.write_text("[providers.chatgpt]\n" + "\n".join(lines) + "\n")
        return path

    def cli(self, *argv: str) -> tuple[int, str, str]:
        loc = Locations(env=self.env, home=self.tmp, cwd=self.tmp)
        out, err = io.StringIO(), io.StringIO()
        args = [*argv, "--config", str(self.config_file())]
        return dispatch.run(args, loc, io.StringIO(), out, err), out.getvalue(), err.getvalue()


@pytest.fixture
async def rig(aiohttp_server: Any, tmp_path: Path) -> Rig:
    tokens = FakeTokenServer()
    auth = FakeDeviceAuth(tokens)
    models = FakeModels(tokens)
    app = web.Application()
    auth.routes(app)
    app.router.add_get("/backend-api/codex/models", models.handle)
    backend = FakeBackend(tokens=tokens)
    app.router.add_post("/backend-api/codex/responses", backend.handle)
    server = await aiohttp_server(app)
    rig = Rig(tmp_path, str(server.make_url("")).rstrip("/"), auth, models)
    rig.backend = backend
    return rig


def codex_login(rig: Rig, access: str) -> Path:
    path = write_auth(rig.codex_home, access, "rt-codex", auth_mode="chatgpt")
    data = json.loads(path.read_text())
    data["tokens"]["id_token"] = id_token(email="codex@example.com", plan="plus")
    path.write_text(json.dumps(data))
    return path


def secrets_of(path: Path) -> list[str]:
    tokens = json.loads(path.read_text())["tokens"]
    return [tokens[k] for k in ("id_token", "access_token", "refresh_token")]


async def ask(rig: Rig, aiohttp_client: Any) -> Any:
    client = await aiohttp_client(create_app(rig.settings()))
    rig.backend.replies.append(stream_reply(text_stream("hello there")))
    body = {"model": "chatgpt/gpt-5.4", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    return await client.post("/v1/messages", json=body)


# ---------------------------------------------------------------------------------------------
# Logging in.


async def test_an_existing_codex_login_is_used_and_no_login_starts(rig: Rig) -> None:
    path = codex_login(rig, make_jwt(time.time() + 1800))
    said = await rig.login()
    assert "the Codex CLI's login" in said and str(path) in said
    assert "ChatGPT plus, codex@example.com" in said and f"account {ACCOUNT}" in said
    assert "access token valid until" in said and "`codex logout`" in said
    assert rig.auth.code_bodies == [] and not rig.own.exists()
    assert not any(secret in said for secret in secrets_of(path))


async def test_a_codex_file_without_a_chatgpt_login_is_named(rig: Rig) -> None:
    rig.codex_home.mkdir()
    (rig.codex_home / "auth.json").write_text('{"OPENAI_API_KEY": "sk-secret"}')
    with pytest.raises(LoginFailed) as failed:
        await rig.login()
    assert "holds no ChatGPT login" in failed.value.message
    assert str(rig.codex_home / "auth.json") in failed.value.message
    assert "sk-secret" not in failed.value.message and rig.auth.code_bodies == []


async def test_device_login_pending_then_slow_down_then_success(
    rig: Rig, aiohttp_client: Any
) -> None:
    rig.auth.script = ["pending", "slow_down", "pending"]
    said = await rig.login()
    # The interval arrives as the string "5"; slow_down adds 5 s for good.
    assert rig.sleeps.slept == [5, 5, 10, 10]
    assert rig.auth.code_bodies == [{"client_id": CLIENT_ID}]
    assert rig.auth.polls == [{"device_auth_id": DEVICE_AUTH_ID, "user_code": USER_CODE}] * 4
    assert rig.auth.exchanges == [
        {
            "grant_type": "authorization_code",
            "code": AUTH_CODE,
            "redirect_uri": "https://auth.openai.com/deviceauth/callback",
            "client_id": CLIENT_ID,
            "code_verifier": VERIFIER,
        }
    ]
    assert f"{rig.base}/codex/device" in said and USER_CODE in said and rig.copied == [USER_CODE]
    assert f"as {EMAIL} (plan: {PLAN})" in said and str(rig.own) in said
    assert stat.S_IMODE(rig.own.stat().st_mode) == 0o600
    assert stat.S_IMODE(rig.own.parent.stat().st_mode) == 0o700
    saved = json.loads(rig.own.read_text())
    assert saved["auth_mode"] == "chatgpt" and saved["OPENAI_API_KEY"] is None
    assert saved["tokens"]["account_id"] == ACCOUNT and saved["last_refresh"].endswith("Z")
    assert saved["tokens"]["access_token"] == rig.tokens.issued[0]
    assert not any(secret in said for secret in secrets_of(rig.own))
    # The proxy finds the new login (the Codex home has none) and sends with it.
    response = await ask(rig, aiohttp_client)
    assert response.status == 200, await response.text()
    sent = rig.backend.seen[-1].headers
    assert sent["authorization"] == f"Bearer {rig.tokens.issued[0]}"
    assert sent["chatgpt-account-id"] == ACCOUNT


async def test_own_login_is_refreshed_like_a_codex_login(rig: Rig, aiohttp_client: Any) -> None:
    rig.own.parent.mkdir(parents=True)
    write_auth(rig.own.parent, make_jwt(time.time() - 10), "rt-0").rename(rig.own)
    response = await ask(rig, aiohttp_client)
    assert response.status == 200, await response.text()
    assert rig.tokens.refreshes == 1
    saved = json.loads(rig.own.read_text())
    assert saved["tokens"]["refresh_token"] == "rt-1"
    assert saved["tokens"]["access_token"] == rig.tokens.issued[0]
    assert stat.S_IMODE(rig.own.stat().st_mode) == 0o600
    assert not (rig.codex_home / "auth.json").exists()


async def test_the_codex_login_wins_over_anthroxys(rig: Rig, aiohttp_client: Any) -> None:
    codex_access = make_jwt(time.time() + 1800, nonce="codex")
    codex_login(rig, codex_access)
    rig.backend.valid.add(codex_access)
    rig.own.parent.mkdir(parents=True)
    write_auth(rig.own.parent, make_jwt(time.time() + 1800, nonce="own"), "rt-0").rename(rig.own)
    response = await ask(rig, aiohttp_client)
    assert response.status == 200
    assert rig.backend.seen[-1].headers["authorization"] == f"Bearer {codex_access}"


@pytest.mark.parametrize(
    ("script", "interval", "says"),
    [
        (["pending", "declined"], "5", "the authorization was declined"),
        (["pending"] * 40, "60", "the code expired before it was entered"),
    ],
)
async def test_declined_or_expired_code_ends_the_login(
    rig: Rig, script: list[str], interval: str, says: str
) -> None:
    rig.auth.script, rig.auth.interval = script, interval
    with pytest.raises(LoginFailed) as failed:
        await rig.login()
    assert says in failed.value.message and "anthroxy login chatgpt" in failed.value.message
    assert rig.auth.exchanges == [] and not rig.own.exists()
    if interval == "60":  # polled for the code's 15 minutes, then stopped
        assert sum(rig.sleeps.slept) == 15 * 60 and len(rig.auth.polls) == 15


async def test_no_device_login_on_the_server_is_a_clear_error(rig: Rig) -> None:
    rig.auth.enabled = False
    with pytest.raises(LoginFailed, match="offers no device-code login"):
        await rig.login()
    assert rig.auth.polls == []


def test_poll_answers_map_onto_rfc_8628() -> None:
    assert poll_answer(403, None) == {"error": "authorization_pending"}
    assert poll_answer(404, {"error": {"code": "deviceauth_pending"}}) == {
        "error": "authorization_pending"
    }
    assert poll_answer(429, None) == {"error": "slow_down"}
    assert poll_answer(400, {"error": "authorization_declined"}) == {"error": "access_denied"}
    assert poll_answer(400, {"error": {"code": "token_expired"}}) == {"error": "expired_token"}
    assert poll_answer(401, None)["error"] == "HTTP 401"


def test_cli_login_with_a_codex_login_says_so(rig: Rig) -> None:
    codex_login(rig, make_jwt(time.time() + 1800))
    code, out, err = rig.cli("login", "chatgpt")
    assert code == 0, err
    assert "Already logged in to ChatGPT" in out and "codex@example.com" in out
    assert rig.auth.code_bodies == []


# ---------------------------------------------------------------------------------------------
# The live model list.


async def test_live_list_keeps_visible_models_by_priority(rig: Rig) -> None:
    rig.models.models = [
        model_info("gpt-5.4-mini", "list", 7),
        model_info("codex-auto-review", "hide", 0),
        model_info("gpt-5.4", "list", 2),
        model_info("gpt-internal", "none", 1),
        model_info("gpt-5.3-codex", "list", 4),
    ]
    rig.own.parent.mkdir(parents=True)
    write_auth(rig.own.parent, make_jwt(time.time() + 1800, nonce="x"), "rt-0").rename(rig.own)
    assert LISTERS["chatgpt"] is chatgpt.list_models
    async with aiohttp.ClientSession() as session:
        found = await LISTERS["chatgpt"](rig.provider, session)
    assert [(m.id, m.priority) for m in found] == [
        ("gpt-5.4", 2),
        ("gpt-5.3-codex", 4),
        ("gpt-5.4-mini", 7),
    ]
    # The first ask carried a token the backend did not know: one refresh, then asked again.
    assert rig.tokens.refreshes == 1 and len(rig.models.seen) == 2
    headers, query = rig.models.seen[-1]
    assert query == {"client_version": chatgpt.CLIENT_VERSION}
    assert headers["authorization"] == f"Bearer {rig.tokens.issued[0]}"
    assert headers["chatgpt-account-id"] == ACCOUNT


# ---------------------------------------------------------------------------------------------
# Status, logout and the settings.


def test_status_and_logout_show_no_secret(rig: Rig) -> None:
    providers = rig.settings().providers
    assert status_lines(providers) == [
        "chatgpt: not logged in (`anthroxy login chatgpt` or `codex login`)"
    ]
    rig.own.parent.mkdir(parents=True)
    path = write_auth(rig.own.parent, make_jwt(time.time() + 1800), "rt-0")
    data = json.loads(path.read_text())
    data["tokens"]["id_token"] = id_token()
    path.write_text(json.dumps(data))
    path.rename(rig.own)
    (line,) = status_lines(providers)
    assert line.startswith(f"chatgpt: ChatGPT {PLAN}, {EMAIL} (account {ACCOUNT})")
    assert "access token valid until 20" in line and f"anthroxy's login in {rig.own}" in line
    assert not any(secret in line for secret in secrets_of(rig.own))
    codex = codex_login(rig, make_jwt(time.time() - 60))
    (line,) = status_lines(providers)
    assert "ChatGPT plus" in line and "access token expired" in line and str(codex) in line
    code, out, err = rig.cli("logout", "chatgpt")
    assert code == 0, err
    assert "the Codex CLI's login" in out and "`codex logout`" in out
    assert not rig.own.exists() and codex.exists()
    assert "codex" in LOGINS


def test_login_urls_are_checked_and_only_for_codex(rig: Rig) -> None:
    provider = rig.provider
    assert provider.codex_login is not None
    assert provider.codex_login.login_file == str(rig.own)
    bad = {"providers": {"chatgpt": {"device_auth_url": "ftp://x"}}}
    with pytest.raises(ConfigError, match="device_auth_url: must start with http"):
        settings_from_config(structure_config(bad), rig.env)
    wrong = {"providers": {"deepseek": {"verification_url": "https://x"}}}
    with pytest.raises(ConfigError, match='verification_url: only used with auth = "codex"'):
        settings_from_config(structure_config(wrong), {"DEEPSEEK_API_KEY": "k"})
    defaults = settings_from_config(structure_config({"providers": {"chatgpt": {}}}), rig.env)
    login = defaults.providers["chatgpt"].codex_login
    assert login is not None
    assert login.device_auth_url == "https://auth.openai.com/api/accounts/deviceauth/usercode"
    assert login.verification_url == "https://auth.openai.com/codex/device"
