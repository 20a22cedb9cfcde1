"""Coming from ccproxy: its README's settings.json (tests/fixtures/imports/SOURCES.md) goes
through `anthroxy import`, the app starts from the file written, and the names its README
documents reach the providers it names, each in its dialect: Claude's sonnet and haiku names go
to bigModel and smallModel, and ``model@provider`` goes to that provider.

Then ccproxy's layering: a project-level settings.json that sets only ``models.bigModel`` is
imported as the project's file; it changes the big model and keeps the user's providers and small
model, as ccproxy's managed > project > user layering does.

The providers are fakes on loopback (migrate_fakes.py), reached through the catalogue's
``<ID>_BASE_URL`` variables: the imported files are used unchanged.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import anthropic

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config import load_settings
from anthroxy_server.config.paths import Locations
from anthroxy_server.gateway.app import create_app

from .migrate_fakes import Providers, ask, point_env

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"
PROVIDERS = ("openai", "anthropic", "gemini", "openrouter")


class User:
    """A ccproxy user's home and project, with the README's settings.json as the user file."""

    def __init__(self, tmp_path: Path) -> None:
        self.home, self.work = tmp_path / "home", tmp_path / "project"
        self.work.mkdir(parents=True)
        self.env = {
            "HOME": str(self.home),
            "ANTHROXY_MANAGED_CONFIG": str(tmp_path / "etc" / "managed.toml"),
        }
        self.loc = Locations(env=self.env, home=self.home, cwd=self.work)
        user_level = self.home / ".ccproxy" / "settings.json"
        user_level.parent.mkdir(parents=True)
        shutil.copy(FIXTURES / "ccproxy-readme.json", user_level)
        self.anthroxy("import", str(user_level))

    def anthroxy(self, *argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert cli.run(list(argv), self.loc, io.StringIO(), out, err) == 0, err.getvalue()
        return out.getvalue()

    async def start(self, aiohttp_server: Any, aiohttp_client: Any) -> tuple[Providers, Any]:
        fakes = Providers()
        server = await aiohttp_server(fakes.app())
        env = {**self.env, **point_env(str(server.make_url("")).rstrip("/"), *PROVIDERS)}
        settings = load_settings(env=env, cwd=self.work, home=self.home)
        client = await aiohttp_client(create_app(settings))
        sdk = anthropic.AsyncAnthropic(
            base_url=str(client.server.make_url("")), api_key="anything", max_retries=0
        )
        return fakes, sdk


async def test_readme_example_routes_documented_names(
    tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any
) -> None:
    user = User(tmp_path)
    fakes, sdk = await user.start(aiohttp_server, aiohttp_client)
    assert await ask(sdk, "claude-sonnet-4-6") == "openai says hi"  # claude-*-sonnet-*: bigModel
    assert await ask(sdk, "claude-3-5-haiku-20241022", stream=True) == "openai says hi"
    assert await ask(sdk, "claude-3-opus@anthropic") == "anthropic says hi"
    assert await ask(sdk, "gemini-pro@gemini", stream=True) == "gemini says hi"
    assert await ask(sdk, "gpt-4@openrouter") == "openrouter says hi"
    seen = [(c.provider, c.dialect, c.model, c.stream) for c in fakes.calls]
    assert seen == [
        ("openai", "chat", "gpt-4", False),
        ("openai", "chat", "gpt-4-mini", True),  # claude-*-haiku-*: smallModel
        ("anthropic", "anthropic", "claude-3-opus", False),  # responseStyle anthropic
        ("gemini", "chat", "gemini-pro", True),
        ("openrouter", "chat", "gpt-4", False),
    ]
    # Each provider gets its own key from the file, in its own header.
    assert fakes.calls[0].headers["authorization"] == "Bearer sk-..."
    assert fakes.calls[2].headers["x-api-key"] == "sk-ant-..."
    assert fakes.calls[4].headers["authorization"] == "Bearer sk-or-v1-..."


async def test_project_settings_layer_over_the_user_ones(
    tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any
) -> None:
    user = User(tmp_path)
    project_level = user.work / ".ccproxy" / "settings.json"
    project_level.parent.mkdir()
    project_level.write_text(json.dumps({"models": {"bigModel": "gemini-2.5-pro@gemini"}}))
    project_file = user.work / ".anthroxy" / "config.toml"
    out = user.anthroxy("import", str(project_level), "--output", str(project_file))
    # Checked as it will run: over the user's file, which defines gemini.
    assert "check: the configuration loads from " in out
    assert "to fix" not in out
    assert project_file.read_text().count("[providers") == 0  # only what the project sets

    fakes, sdk = await user.start(aiohttp_server, aiohttp_client)
    assert await ask(sdk, "claude-sonnet-4-6") == "gemini says hi"  # the project's bigModel
    assert await ask(sdk, "claude-haiku-4-5") == "openai says hi"  # the user's smallModel
    assert [(c.provider, c.model) for c in fakes.calls] == [
        ("gemini", "gemini-2.5-pro"),
        ("openai", "gpt-4-mini"),
    ]
    shown = user.anthroxy("config", "show")
    sonnet = next(line for line in shown.splitlines() if line.startswith("tiers.sonnet = "))
    haiku = next(line for line in shown.splitlines() if line.startswith("tiers.haiku = "))
    assert sonnet.endswith(f"# {project_file}")
    assert haiku.endswith(f"# {user.home / '.config' / 'anthroxy' / 'config.toml'}")
