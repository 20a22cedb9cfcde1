"""Several GitHub Copilot logins (``accounts``) through the credential pool:

* a rate-limited account (429 with ``retry-after``) rests while the other serves, and serves
  again after the rest;
* an account whose token is refused after its own re-exchange is set aside with a warning
  naming the account, never a token;
* a conversation stays on its account; requests without one rotate;
* ``anthroxy login/logout --account`` keep one file per account, ``status`` and ``config check``
  name each account, and the live list cache is kept per account.
"""

from __future__ import annotations

import io
import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.cli import dispatch
from anthroxy_server.cli.login import for_account, run_login, status_lines
from anthroxy_server.config.paths import Locations
from anthroxy_server.gateway.app import create_app
from anthroxy_server.live_lists import cache
from anthroxy_server.providers.credentials import CREDENTIAL_POOLS, CredentialPools

from .fake_copilot import GITHUB_TOKEN, FakeCopilot, FakeGitHub, account_of
from .test_copilot import Rig, Sleeps, login_io

HOME_TOKEN = "gho_fake_home_token"
ACCOUNTS = {"work": (GITHUB_TOKEN, "octocat"), "home": (HOME_TOKEN, "hubber")}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class AccountsRig(Rig):
    def account_file(self, name: str) -> Path:
        return self.credentials.with_name(f"copilot-{name}.json")

    def log_in_account(self, name: str) -> None:
        token, user = ACCOUNTS[name]
        path = self.account_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"github_token": token, "host": "github.com", "user": user}))

    async def start(self, aiohttp_client: Any, clock: Clock, **extra: Any) -> Any:
        app = create_app(self.settings(accounts=["work", "home"], **extra))
        app[CREDENTIAL_POOLS] = CredentialPools(clock=clock, wall=lambda: 1_800_000_000.0)
        self.client = await aiohttp_client(app)
        return self.client

    def served_by(self) -> list[str]:
        return [
            account_of(s.headers["authorization"].removeprefix("Bearer "))
            for s in self.copilot.seen
        ]


@pytest.fixture
async def rig(aiohttp_server: Any, tmp_path: Path) -> AccountsRig:
    return await start_rig(aiohttp_server, tmp_path)


async def start_rig(aiohttp_server: Any, tmp_path: Path) -> AccountsRig:
    """Copilot's API and GitHub's, each a loopback fake; logins go under ``tmp_path``."""
    copilot = FakeCopilot()
    copilot_app = web.Application()
    copilot.routes(copilot_app)
    copilot_server = await aiohttp_server(copilot_app)
    github = FakeGitHub(lambda: str(copilot_server.make_url("")).rstrip("/"))
    github.users[HOME_TOKEN] = "hubber"
    github_app = web.Application()
    github.routes(github_app)
    github_server = await aiohttp_server(github_app)
    return AccountsRig(tmp_path, github, copilot, str(github_server.make_url("")).rstrip("/"))


def session(name: str) -> dict[str, str]:
    return {"x-claude-code-session-id": f"session-{name}"}


async def test_a_rate_limited_account_rests_then_serves_again(
    rig: AccountsRig, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="anthroxy")
    rig.log_in_account("work")
    rig.log_in_account("home")
    limit = (429, {"message": "rate limited"}, {"retry-after": "30"})
    rig.copilot.account_errors["octocat"] = [limit]
    clock = Clock()
    await rig.start(aiohttp_client, clock, rotation="fill-first")
    assert (await rig.ask()).status == 200
    assert rig.served_by() == ["octocat", "hubber"]  # the 429, then the other account
    assert (await rig.ask()).status == 200
    assert rig.served_by()[-1] == "hubber"  # "work" still rests
    clock.now += 31
    assert (await rig.ask()).status == 200
    assert rig.served_by()[-1] == "octocat"  # fill-first: back on the first account
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "account work is rate-limited; resting it 30 s" in logged


async def test_a_refused_account_is_set_aside_after_its_own_reexchange(
    rig: AccountsRig, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anthroxy")
    rig.log_in_account("work")
    rig.log_in_account("home")
    rig.copilot.refuse_accounts = {"octocat"}
    await rig.start(aiohttp_client, Clock(), rotation="fill-first")
    assert (await rig.ask()).status == 200
    # work's token, its renewed token (one re-exchange), then home's.
    assert rig.served_by() == ["octocat", "octocat", "hubber"]
    assert (await rig.ask()).status == 200
    assert rig.served_by()[-1] == "hubber"  # set aside: not tried again
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "account work was refused (HTTP 401)" in logged
    assert "tid=copilot" not in logged and GITHUB_TOKEN not in logged
    health = await (await rig.client.get("/healthz")).json()
    states = {c["label"]: c["state"] for c in health["providers"]["copilot"]["credentials"]}
    assert states == {"account work": "refused", "account home": "active"}


async def test_every_account_refused_names_them(rig: AccountsRig, aiohttp_client: Any) -> None:
    rig.log_in_account("work")
    rig.log_in_account("home")
    rig.copilot.refuse_accounts = {"octocat", "hubber"}
    await rig.start(aiohttp_client, Clock())
    response = await rig.ask()
    assert response.status == 401
    message = (await response.json())["error"]["message"]
    assert "every account was refused" in message
    assert "account work: 401" in message and "account home: 401" in message
    assert "`anthroxy login copilot --account NAME`" in message


async def test_an_account_without_a_login_is_stepped_over(
    rig: AccountsRig, aiohttp_client: Any
) -> None:
    rig.log_in_account("home")  # "work" never logged in
    await rig.start(aiohttp_client, Clock(), rotation="fill-first")
    assert (await rig.ask()).status == 200
    assert rig.served_by() == ["hubber"]


async def test_a_conversation_stays_on_its_account(rig: AccountsRig, aiohttp_client: Any) -> None:
    rig.log_in_account("work")
    rig.log_in_account("home")
    await rig.start(aiohttp_client, Clock())
    body = {
        "model": "copilot/gpt-4.1",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    for name in ("a", "b", "a", "b", "a"):
        response = await rig.client.post("/v1/messages", json=body, headers=session(name))
        assert response.status == 200
    assert rig.served_by() == ["octocat", "hubber", "octocat", "hubber", "octocat"]
    await rig.ask()
    await rig.ask()
    assert set(rig.served_by()[-2:]) == {"octocat", "hubber"}  # no session: round-robin


async def test_login_status_logout_per_account(rig: AccountsRig) -> None:
    provider = rig.settings(accounts=["work", "home"]).providers["copilot"]
    rig.github.poll_answers = [{"access_token": HOME_TOKEN}]
    out = io.StringIO()
    await run_login(for_account(provider, "home"), login_io(Sleeps(), out, []))
    saved = rig.account_file("home")
    assert "as hubber" in out.getvalue() and saved.exists() and not rig.credentials.exists()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["github_token"] == HOME_TOKEN
    lines = status_lines(rig.settings(accounts=["work", "home"]).providers)
    assert lines[0] == (
        "copilot (account work): not logged in (`anthroxy login copilot --account work`)"
    )
    assert lines[1].startswith("copilot (account home): GitHub Copilot, hubber on github.com")
    assert all(HOME_TOKEN not in line for line in lines)
    config = rig.tmp / "config.toml"
    config.write_text(f'[providers.copilot]\nuser_url = "{rig.gh_url}/user"\n')
    loc = Locations(env=rig.env, home=rig.tmp, cwd=rig.tmp)
    out, err = io.StringIO(), io.StringIO()
    argv = ["logout", "copilot", "--account", "home", "--config", str(config)]
    assert dispatch.run(argv, loc, io.StringIO(), out, err) == 0, err.getvalue()
    assert "copilot (account home): logged out" in out.getvalue() and not saved.exists()
    argv = ["logout", "copilot", "--account", "../x", "--config", str(config)]
    assert dispatch.run(argv, loc, io.StringIO(), io.StringIO(), err) == 2
    assert "--account '../x'" in err.getvalue()


def test_config_check_names_the_account_to_log_in(rig: AccountsRig) -> None:
    config = rig.tmp / "config.toml"
    config.write_text(
        '[providers.copilot]\naccounts = ["work", "home"]\n[tiers]\ndefault = "copilot/gpt-4.1"\n'
    )
    loc = Locations(env=rig.env, home=rig.tmp, cwd=rig.tmp)
    argv = ["config", "check", "--config", str(config)]
    err = io.StringIO()
    assert dispatch.run(argv, loc, io.StringIO(), io.StringIO(), err) == 2
    assert "anthroxy login copilot --account home" in err.getvalue()
    assert "anthroxy login copilot --account work" in err.getvalue()
    rig.log_in_account("work")
    rig.log_in_account("home")
    assert dispatch.run(argv, loc, io.StringIO(), io.StringIO(), io.StringIO()) == 0


def test_accounts_are_checked(rig: AccountsRig) -> None:
    from anthroxy_server.config import ConfigError

    with pytest.raises(ConfigError, match="is not an account name"):
        rig.settings(accounts=["a/b"])
    with pytest.raises(ConfigError, match="the list is empty"):
        rig.settings(accounts=[])


def test_the_live_list_cache_is_kept_per_account(rig: AccountsRig, tmp_path: Path) -> None:
    rig.log_in_account("work")
    rig.log_in_account("home")
    work = rig.settings(accounts=["work"]).providers["copilot"]
    home = rig.settings(accounts=["home"]).providers["copilot"]
    assert cache.cache_file(tmp_path, work) != cache.cache_file(tmp_path, home)
    again = rig.settings(accounts=["work", "home"]).providers["copilot"]
    assert cache.cache_file(tmp_path, again) == cache.cache_file(tmp_path, work)
    assert GITHUB_TOKEN not in cache.cache_file(tmp_path, work).name


async def test_no_account_logged_in_names_the_command(
    rig: AccountsRig, aiohttp_client: Any
) -> None:
    await rig.start(aiohttp_client, Clock())
    response = await rig.ask()
    assert response.status == 401
    message = (await response.json())["error"]["message"]
    assert "every account was refused" in message and "--account NAME" in message
    assert rig.copilot.seen == []


def test_the_account_used_is_the_usage_ledgers_credential() -> None:
    from anthroxy_server.gateway.state import AccessInfo
    from anthroxy_server.providers.account_lease import AccountLease
    from anthroxy_server.providers.credentials import Credential, CredentialPool

    accounts = [Credential(f"a-{n}", f"account {n}", {}, account=n) for n in ("work", "home")]
    pool = CredentialPool("copilot", accounts, rotation="fill-first")
    access = AccessInfo()
    lease = AccountLease("copilot", pool, None, access)
    assert lease.account == "work" and access.credential == "account work"
    lease.refused(401)
    assert lease.account == "home" and access.credential == "account home"
