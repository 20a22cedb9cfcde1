"""Invariants of the ``copilot`` provider and of ``anthroxy login``:

* the device login polls at the interval GitHub gives, 5 s longer after each ``slow_down``, and
  ends with a clear message when the code expires or the person declines; the login is stored
  0600 in the credentials directory, never in the config file;
* one Copilot token exchange serves all concurrent requests, and the token is renewed before
  ``refresh_in`` runs out, once;
* each model goes to the endpoint Copilot's /models lists for it, with the editor headers,
  ``x-initiator`` and the vision header;
* a 401 exchanges again once, then names `anthroxy login`; an exhausted quota is a 429 naming
  the plan; ``model_not_supported`` is a 404 naming the model.
"""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.cli import dispatch
from anthroxy_server.cli.login import run_login, status_lines
from anthroxy_server.cli.login_io import LoginIO
from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.config.paths import Locations
from anthroxy_server.config.schema import Settings
from anthroxy_server.gateway.app import create_app
from anthroxy_server.providers import LISTERS
from anthroxy_server.providers.copilot import COPILOT_AUTH, dialect_by_endpoints
from anthroxy_server.providers.device_flow import (
    GRANT_TYPE,
    DeviceCode,
    DevicePoll,
    LoginFailed,
    Next,
    Step,
)

from .fake_copilot import DEVICE_CODE, GITHUB_TOKEN, PLAN, USER_CODE, FakeCopilot, FakeGitHub


class Rig:
    def __init__(self, tmp: Path, github: FakeGitHub, copilot: FakeCopilot, gh_url: str) -> None:
        self.tmp, self.github, self.copilot, self.gh_url = tmp, github, copilot, gh_url
        self.env = {"HOME": str(tmp), "XDG_DATA_HOME": str(tmp / "data")}
        self.client: Any = None

    @property
    def credentials(self) -> Path:
        return self.tmp / "data" / "anthroxy" / "credentials" / "copilot.json"

    def settings(self, **extra: Any) -> Settings:
        table = {
            "device_code_url": self.gh_url + "/login/device/code",
            "access_token_url": self.gh_url + "/login/oauth/access_token",
            "copilot_token_url": self.gh_url + "/copilot_internal/v2/token",
            "user_url": self.gh_url + "/user",
            "read_timeout": 5.0,
            **extra,
        }
        raw = {"providers": {"copilot": table}, "tiers": {"default": "copilot/gpt-4.1"}}
        return settings_from_config(structure_config(raw), self.env)

    def log_in(self) -> None:
        self.credentials.parent.mkdir(parents=True, exist_ok=True)
        record = {"github_token": GITHUB_TOKEN, "host": "github.com", "user": "octocat"}
        self.credentials.write_text(json.dumps(record))

    async def app(self, aiohttp_client: Any, **extra: Any) -> Any:
        self.client = await aiohttp_client(create_app(self.settings(**extra)))
        return self.client

    async def ask(self, model: str = "copilot/gpt-4.1", **extra: Any) -> Any:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
            **extra,
        }
        return await self.client.post("/v1/messages", json=body)


@pytest.fixture
async def rig(aiohttp_server: Any, tmp_path: Path) -> Rig:
    copilot = FakeCopilot()
    copilot_app = web.Application()
    copilot.routes(copilot_app)
    copilot_server = await aiohttp_server(copilot_app)
    github = FakeGitHub(lambda: str(copilot_server.make_url("")).rstrip("/"))
    github_app = web.Application()
    github.routes(github_app)
    github_server = await aiohttp_server(github_app)
    return Rig(tmp_path, github, copilot, str(github_server.make_url("")).rstrip("/"))


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []
        self.now = 1000.0

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def login_io(sleeps: Sleeps, out: io.StringIO, copied: list[str]) -> LoginIO:
    def copy(text: str) -> bool:
        copied.append(text)
        return True

    return LoginIO(out, sleep=sleeps.sleep, clock=sleeps.clock, copy=copy)


# ---------------------------------------------------------------------------------------------
# The device login.


async def test_login_polls_pending_then_slow_down_then_stores_the_token(rig: Rig) -> None:
    rig.github.poll_answers = [
        {"error": "authorization_pending"},
        {"error": "slow_down"},
        {"error": "authorization_pending"},
        {"access_token": GITHUB_TOKEN, "token_type": "bearer", "scope": "read:user"},
    ]
    sleeps, out, copied = Sleeps(), io.StringIO(), []
    await run_login(rig.settings().providers["copilot"], login_io(sleeps, out, copied))
    assert sleeps.slept == [5, 5, 10, 10]  # slow_down added 5 s, and it stays added
    assert len(rig.github.polls) == 4
    assert rig.github.polls[0]["grant_type"] == GRANT_TYPE
    assert rig.github.polls[0]["device_code"] == DEVICE_CODE
    assert copied == [USER_CODE]
    text = out.getvalue()
    assert USER_CODE in text and "https://github.com/login/device" in text and "octocat" in text
    assert stat.S_IMODE(rig.credentials.stat().st_mode) == 0o600
    stored = json.loads(rig.credentials.read_text())
    assert stored["github_token"] == GITHUB_TOKEN
    assert (stored["user"], stored["plan"], stored["host"]) == ("octocat", PLAN, "github.com")
    assert GITHUB_TOKEN not in text


def test_slow_down_keeps_the_longer_of_its_interval_and_five_more() -> None:
    code = DeviceCode("d", "U-1", "https://github.com/login/device", 900, 5)
    poll = DevicePoll(code, 0.0, login_hint="anthroxy login copilot")
    assert poll.answer({"error": "slow_down", "interval": 20}, 1.0).interval == 20
    assert poll.answer({"error": "slow_down", "interval": 3}, 2.0).interval == 25
    assert poll.answer({"error": "authorization_pending"}, 3.0) == Next(Step.WAIT, 25)
    with pytest.raises(LoginFailed, match="expired"):
        poll.answer({"error": "authorization_pending"}, 900.0)  # past expires_in
    done = poll.answer({"access_token": "t", "token_type": "bearer"}, 4.0)
    assert done.step is Step.DONE and done.token == {"access_token": "t", "token_type": "bearer"}


@pytest.mark.parametrize(
    ("error", "says"),
    [("expired_token", "expired before it was entered"), ("access_denied", "declined")],
)
async def test_login_ends_on_expiry_or_refusal(rig: Rig, error: str, says: str) -> None:
    rig.github.poll_answers = [{"error": "authorization_pending"}, {"error": error}]
    sleeps = Sleeps()
    with pytest.raises(LoginFailed) as failed:
        await run_login(rig.settings().providers["copilot"], login_io(sleeps, io.StringIO(), []))
    assert says in failed.value.message
    assert "anthroxy login copilot" in failed.value.message
    assert not rig.credentials.exists()


async def test_login_without_copilot_access_is_refused(rig: Rig) -> None:
    rig.github.exchange_status = 404
    with pytest.raises(LoginFailed, match="no GitHub Copilot access"):
        await run_login(rig.settings().providers["copilot"], login_io(Sleeps(), io.StringIO(), []))
    assert not rig.credentials.exists()


# ---------------------------------------------------------------------------------------------
# The token exchange.


async def test_concurrent_requests_share_one_exchange_and_renew_once(
    rig: Rig, aiohttp_client: Any
) -> None:
    rig.log_in()
    rig.github.exchange_delay = 0.2  # every request arrives while the exchange is in flight
    await rig.app(aiohttp_client)
    replies = await asyncio.gather(*(rig.ask() for _ in range(6)))
    assert [r.status for r in replies] == [200] * 6
    assert rig.github.exchanges == 1
    auth = rig.client.server.app[COPILOT_AUTH]["copilot"]
    token = await auth.current(None)  # fresh: no I/O
    late = token.refresh_at + 1  # a minute before refresh_in ran out
    auth.clock = lambda: late
    replies = await asyncio.gather(*(rig.ask() for _ in range(6)))
    assert [r.status for r in replies] == [200] * 6
    assert rig.github.exchanges == 2
    bearers = {s.headers["Authorization"] for s in rig.copilot.seen}
    assert bearers == {"Bearer tid=copilot-1", "Bearer tid=copilot-2"}


async def test_token_renewed_a_minute_before_refresh_in(rig: Rig, aiohttp_client: Any) -> None:
    rig.log_in()
    await rig.app(aiohttp_client)
    auth = rig.client.server.app[COPILOT_AUTH]["copilot"]
    auth.clock = lambda: 5000.0
    assert (await rig.ask()).status == 200
    token = await auth.current(None)
    assert token.refresh_at == 5000.0 + 1500 - 60


async def test_refused_exchange_uses_the_github_token(rig: Rig, aiohttp_client: Any) -> None:
    rig.log_in()
    rig.github.exchange_status = 404
    base = rig.github.api_base()  # the configured base_url: no endpoints.api without exchange
    await rig.app(aiohttp_client, base_url=base)
    response = await rig.ask()
    assert response.status == 200
    assert rig.copilot.seen[-1].headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"


async def test_not_logged_in_names_the_command(rig: Rig, aiohttp_client: Any) -> None:
    await rig.app(aiohttp_client)
    response = await rig.ask()
    assert response.status == 401
    assert "anthroxy login copilot" in (await response.json())["error"]["message"]


# ---------------------------------------------------------------------------------------------
# Endpoints and headers.


@pytest.mark.parametrize(
    ("model", "path", "text"),
    [
        ("claude-sonnet-4.5", "/v1/messages", "messages:claude-sonnet-4.5"),
        ("gpt-5.3-codex", "/responses", "responses:gpt-5.3-codex"),
        ("gpt-4.1", "/chat/completions", "chat:gpt-4.1"),
        ("gpt-5.4", "/chat/completions", "chat:gpt-5.4"),
        ("claude-opus-9", "/v1/messages", "messages:claude-opus-9"),  # not listed: by name
        ("gpt-9-codex", "/responses", "responses:gpt-9-codex"),
    ],
)
async def test_each_model_goes_to_its_endpoint(
    rig: Rig, aiohttp_client: Any, model: str, path: str, text: str
) -> None:
    rig.log_in()
    await rig.app(aiohttp_client)
    response = await rig.ask(f"copilot/{model}")
    assert response.status == 200, await response.text()
    assert rig.copilot.seen[-1].path == path
    assert rig.copilot.seen[-1].body["model"] == model
    assert (await response.json())["content"][0]["text"] == text


async def test_streamed_answer_through_copilot(rig: Rig, aiohttp_client: Any) -> None:
    rig.log_in()
    await rig.app(aiohttp_client)
    response = await rig.ask(stream=True, messages=TOOL_TURN, tools=TOOLS)
    assert response.status == 200
    text = await response.text()
    assert '"text":"chat:"' in text.replace(" ", "") and "gpt-4.1" in text
    assert text.rstrip().endswith('data: {"type":"message_stop"}')
    assert rig.copilot.seen[-1].headers["X-Initiator"] == "agent"


def test_endpoint_order() -> None:
    assert dialect_by_endpoints("x", ("/responses", "/chat/completions")) == "chat"
    assert dialect_by_endpoints("x", ("/chat/completions", "/v1/messages")) == "anthropic"
    assert dialect_by_endpoints("x", ()) == "chat"


TOOL_TURN = [
    {"role": "user", "content": "weather?"},
    {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
    {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
]  # fmt: skip
IMAGE_TURN = [
    {"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "what is it?"}]},
]  # fmt: skip
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]


@pytest.mark.parametrize("model", ["gpt-4.1", "claude-sonnet-4.5"])
async def test_headers(rig: Rig, aiohttp_client: Any, model: str) -> None:
    rig.log_in()
    await rig.app(aiohttp_client, headers={"x-extra": "kept"})
    assert (await rig.ask(f"copilot/{model}")).status == 200
    assert (await rig.ask(f"copilot/{model}", messages=TOOL_TURN, tools=TOOLS)).status == 200
    assert (await rig.ask(f"copilot/{model}", messages=IMAGE_TURN)).status == 200
    plain, tool, image = (s.headers for s in rig.copilot.seen)
    for sent in (plain, tool, image):
        assert sent["Copilot-Integration-Id"] == "vscode-chat"
        assert sent["Editor-Version"].startswith("vscode/")
        assert sent["Editor-Plugin-Version"].startswith("copilot-chat/")
        assert sent["Openai-Intent"] and sent["User-Agent"] and sent["x-extra"] == "kept"
        assert sent["Authorization"] == "Bearer tid=copilot-1"
    assert (plain["X-Initiator"], tool["X-Initiator"], image["X-Initiator"]) == (
        "user", "agent", "user"
    )  # fmt: skip
    assert "Copilot-Vision-Request" not in plain and "Copilot-Vision-Request" not in tool
    assert image["Copilot-Vision-Request"] == "true"


# ---------------------------------------------------------------------------------------------
# Errors.


async def test_401_exchanges_again_once(rig: Rig, aiohttp_client: Any) -> None:
    rig.log_in()
    rig.copilot.refuse_tokens = {"tid=copilot-1"}
    await rig.app(aiohttp_client)
    response = await rig.ask()
    assert response.status == 200
    assert rig.github.exchanges == 2
    assert [s.headers["Authorization"] for s in rig.copilot.seen] == [
        "Bearer tid=copilot-1", "Bearer tid=copilot-2"
    ]  # fmt: skip


async def test_401_after_a_new_exchange_names_login(rig: Rig, aiohttp_client: Any) -> None:
    rig.log_in()
    rig.copilot.refuse_tokens = {"tid=copilot-1", "tid=copilot-2", "tid=copilot-3"}
    await rig.app(aiohttp_client)
    response = await rig.ask()
    assert response.status == 401
    message = (await response.json())["error"]["message"]
    assert "run `anthroxy login copilot`" in message
    assert rig.github.exchanges == 2
    assert "tid=copilot" not in message and GITHUB_TOKEN not in message


async def test_quota_exhausted_is_429_naming_the_plan(rig: Rig, aiohttp_client: Any) -> None:
    rig.log_in()
    rig.copilot.errors = [(402, {"message": "You have no quota", "code": "quota_exceeded"})]
    await rig.app(aiohttp_client)
    response = await rig.ask()
    assert response.status == 429
    error = (await response.json())["error"]
    assert error["type"] == "rate_limit_error"
    assert PLAN in error["message"] and "premium requests" in error["message"]


async def test_model_not_supported_is_404_naming_it(rig: Rig, aiohttp_client: Any) -> None:
    rig.log_in()
    refusal = {
        "error": {
            "message": "The requested model is not supported.",
            "code": "model_not_supported",
            "param": "model",
            "type": "invalid_request_error",
        }
    }
    rig.copilot.errors = [(400, refusal)]
    await rig.app(aiohttp_client)
    response = await rig.ask("copilot/gpt-4.1")
    assert response.status == 404
    error = (await response.json())["error"]
    assert error["type"] == "not_found_error"
    assert "'gpt-4.1'" in error["message"] and "anthroxy models copilot" in error["message"]


# ---------------------------------------------------------------------------------------------
# Model list, configuration, status and logout.


async def test_live_list_skips_embeddings(rig: Rig) -> None:
    import aiohttp

    rig.log_in()
    provider = rig.settings().providers["copilot"]
    async with aiohttp.ClientSession() as session:
        models = await LISTERS["copilot"](provider, session)
    assert [m.id for m in models] == ["claude-sonnet-4.5", "gpt-5.3-codex", "gpt-4.1", "gpt-5.4"]
    assert models[1].endpoints == ("/responses",)
    assert models[0].display_name == "Claude Sonnet 4.5"


def test_config_keys_are_checked(rig: Rig) -> None:
    with pytest.raises(ConfigError) as bad:
        rig.settings(device_code_url="ftp://x", github_domain="https://x.ghe.com")
    assert "providers.copilot.github_domain" in str(bad.value)
    raw = {"providers": {"openai": {"copilot_token_url": "https://x"}}}
    with pytest.raises(ConfigError, match='copilot_token_url: only used with auth = "copilot"'):
        settings_from_config(structure_config(raw), {"OPENAI_API_KEY": "k"})


def test_enterprise_domain_sets_every_url(rig: Rig) -> None:
    raw = {"providers": {"copilot": {"github_domain": "acme.ghe.com"}}}
    found = settings_from_config(structure_config(raw), rig.env).providers["copilot"].copilot
    assert found is not None
    assert found.device_code_url == "https://acme.ghe.com/login/device/code"
    assert found.access_token_url == "https://acme.ghe.com/login/oauth/access_token"
    assert found.copilot_token_url == "https://api.acme.ghe.com/copilot_internal/v2/token"


def test_config_check_names_the_missing_login(rig: Rig) -> None:
    config = rig.tmp / "config.toml"
    config.write_text('[providers.copilot]\n[tiers]\ndefault = "copilot/gpt-4.1"\n')
    loc = Locations(env=rig.env, home=rig.tmp, cwd=rig.tmp)
    out, err = io.StringIO(), io.StringIO()
    argv = ["config", "check", "--config", str(config)]
    assert dispatch.run(argv, loc, io.StringIO(), out, err) == 2
    assert "providers.copilot: not logged in" in err.getvalue()
    assert "anthroxy login copilot" in err.getvalue()
    rig.log_in()
    assert dispatch.run(argv, loc, io.StringIO(), io.StringIO(), io.StringIO()) == 0


def test_status_and_logout_show_no_secret(rig: Rig) -> None:
    providers = rig.settings().providers
    assert status_lines(providers) == ["copilot: not logged in (`anthroxy login copilot`)"]
    rig.log_in()
    (line,) = status_lines(providers)
    assert "octocat" in line and GITHUB_TOKEN not in line
    config = rig.tmp / "config.toml"
    config.write_text("[providers.copilot]\n")
    loc = Locations(env=rig.env, home=rig.tmp, cwd=rig.tmp)
    out, err = io.StringIO(), io.StringIO()
    code = dispatch.run(
        ["logout", "copilot", "--config", str(config)], loc, io.StringIO(), out, err
    )
    assert code == 0, err.getvalue()
    assert "logged out" in out.getvalue() and not rig.credentials.exists()
    assert GITHUB_TOKEN not in config.read_text()
