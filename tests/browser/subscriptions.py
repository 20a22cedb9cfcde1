"""Two subscription providers for the browser tests and the screenshots: GitHub Copilot
(``auth = "copilot"``) and ChatGPT (``auth = "codex"``), each logged in the way ``anthroxy
login`` and the Codex CLI leave a login on disk, in front of the loopback fakes of the server
tests (``tests/server/fake_copilot.py``, ``fake_chatgpt.py``), which speak GitHub's and the
ChatGPT backend's wire formats: the token exchange, ``/copilot_internal/user`` and its
``quota_snapshots``, and the ``x-codex-*`` headers of a Responses stream.

So the quota, plan and expiry the dashboard shows are the ones
``anthroxy_server/providers/subscription_status.py`` reads from these answers, not an object a
test wrote.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from ..server.fake_chatgpt import FakeBackend, make_jwt, stream_reply, text_stream, write_auth
from ..server.fake_copilot import GITHUB_TOKEN, FakeCopilot, FakeGitHub, quota_snapshot
from .harness import serve

# Models as a client names them: "provider/model" needs no alias.
COPILOT_MODEL = "copilot/gpt-4.1"  # /chat/completions in the fake's model list
CHATGPT_MODEL = "chatgpt/gpt-5.4"
REFRESH_TOKEN = "rt-BROWSER-never-on-the-page"
# Named Copilot accounts: account -> (GitHub token, GitHub login). "work" is the fake's own
# user; "home" a second one it knows.
HOME_TOKEN = "gho_BROWSER_home_token"
ACCOUNTS = {"work": (GITHUB_TOKEN, "octocat"), "home": (HOME_TOKEN, "hubber")}
COPILOT_LIFETIME = 1800.0  # seconds: Copilot's tokens last about half an hour
CHATGPT_LIFETIME = 6 * 86_400.0  # ChatGPT's access tokens last days
# The backend's usage headers (openai/codex codex-rs/core/src/client.rs reads the same names).
CODEX_WINDOWS = {
    "x-codex-plan-type": "plus",
    "x-codex-active-limit": "premium",
    "x-codex-primary-used-percent": "38",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-after-seconds": "8100",
    "x-codex-secondary-used-percent": "61.5",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-after-seconds": "302400",
    "x-codex-credits-has-credits": "False",
}

CONFIG = """
[providers.copilot]
auth = "copilot"
device_code_url = "{github}/login/device/code"
access_token_url = "{github}/login/oauth/access_token"
copilot_token_url = "{github}/copilot_internal/v2/token"
user_url = "{github}/user"
read_timeout = 5.0
{accounts}
[providers.chatgpt]
api = "responses"
auth = "codex"
base_url = "{chatgpt}/backend-api/codex"
codex_home = "{codex_home}"
token_url = "{chatgpt}/oauth/token"
read_timeout = 5.0
"""


@dataclass
class Subscriptions:
    """The fakes, their addresses, and the tokens they hand out (none may reach the page)."""

    github: FakeGitHub
    copilot: FakeCopilot
    backend: FakeBackend
    github_url: str
    chatgpt_url: str
    access_token: str
    runners: list[web.AppRunner] = field(default_factory=list)
    accounts: tuple[str, ...] = ()  # names of ACCOUNTS: Copilot logs in with each

    def config(self, home: Path) -> str:
        """The two providers' TOML, for a gateway whose home (``HOME``) is ``home``."""
        accounts = f"accounts = {json.dumps(list(self.accounts))}\n" if self.accounts else ""
        return CONFIG.format(
            github=self.github_url, chatgpt=self.chatgpt_url, codex_home=home / "codex",
            accounts=accounts,
        )  # fmt: skip

    def log_in(self, home: Path) -> None:
        """``anthroxy login copilot``'s files under ``$XDG_DATA_HOME`` and the Codex CLI's
        ``auth.json`` in the configured Codex home."""
        # One file per named account (copilot-<name>.json), else the one unnamed login.
        logins = {f"copilot-{name}": ACCOUNTS[name] for name in self.accounts}
        for name, (token, user) in (logins or {"copilot": ACCOUNTS["work"]}).items():
            stored = home / "data" / "anthroxy" / "credentials" / f"{name}.json"
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(
                json.dumps({"github_token": token, "host": "github.com", "user": user})
            )
            stored.chmod(0o600)
        write_auth(home / "codex", self.access_token, REFRESH_TOKEN)

    def use_premium(self, entitlement: int, remaining: int, account: str = "work") -> None:
        """What GitHub's quota endpoint says of an account's premium requests from now on."""
        self.github.quota_snapshots[ACCOUNTS[account][1]] = {
            "premium_interactions": quota_snapshot("premium_interactions", entitlement, remaining)
        }

    def expect_chatgpt(self, headers: dict[str, str] | None = None) -> None:
        """The backend's answer to the next ChatGPT request: a text stream with usage headers."""
        reply = stream_reply(text_stream("hello from ChatGPT"), headers or CODEX_WINDOWS)
        self.backend.replies.append(reply)

    def secrets(self) -> tuple[str, ...]:
        """Every token the fakes issued or accepted: the GitHub login, the Copilot tokens
        (``tid=copilot-<n>``), the ChatGPT access and refresh tokens."""
        return (GITHUB_TOKEN, HOME_TOKEN, "tid=copilot", self.access_token, REFRESH_TOKEN)


async def start_subscriptions() -> Subscriptions:
    """GitHub, Copilot's API and the ChatGPT backend, each on a loopback port of its own."""
    copilot = FakeCopilot()
    copilot_app = web.Application()
    copilot.routes(copilot_app)
    copilot_runner, copilot_url = await serve(copilot_app)
    github = FakeGitHub(lambda: copilot_url)
    github.users[HOME_TOKEN] = ACCOUNTS["home"][1]
    # The exchange's expiry as GitHub gives it: about half an hour ahead.
    github.exchange_extra = {"expires_at": int(time.time() + COPILOT_LIFETIME)}
    github_app = web.Application()
    github.routes(github_app)
    github_runner, github_url = await serve(github_app)
    access = make_jwt(time.time() + CHATGPT_LIFETIME, nonce="browser")
    backend = FakeBackend(valid={access})
    chatgpt_app = web.Application()
    chatgpt_app.router.add_post("/backend-api/codex/responses", backend.handle)
    chatgpt_runner, chatgpt_url = await serve(chatgpt_app)
    return Subscriptions(
        github, copilot, backend, github_url, chatgpt_url, access,
        [copilot_runner, github_runner, chatgpt_runner],
    )  # fmt: skip


async def stop_subscriptions(subscriptions: Subscriptions) -> None:
    for runner in subscriptions.runners:
        await runner.cleanup()
