"""Coming from clco-proxy: its README's own config.json files (the minimal and the full
example, tests/fixtures/imports/SOURCES.md) go through `anthroxy import`, the app starts from the
file written, and the names Claude Code sends (its opus, sonnet and haiku models, and a listed
model by name) reach the providers the README's modelMapping names, in each one's dialect.

The providers are fakes on loopback (migrate_fakes.py), reached through the catalogue's
``<ID>_BASE_URL`` variables: the imported file itself is used unchanged.
"""

from __future__ import annotations

import io
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
OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5-20251001"


async def start(
    tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any, example: str, *pids: str
) -> tuple[Providers, anthropic.AsyncAnthropic]:
    """Import the README example as a user would (into their config file), then start the app
    from that file with the providers pointed at the fakes."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    # clco-proxy keeps its file at ~/.clco-proxy/config.json.
    source = home / ".clco-proxy" / "config.json"
    source.parent.mkdir()
    shutil.copy(FIXTURES / example, source)
    fakes = Providers()
    server = await aiohttp_server(fakes.app())
    env = {"HOME": str(home), "ANTHROXY_MANAGED_CONFIG": str(tmp_path / "no-managed.toml")}
    loc = Locations(env=env, home=home, cwd=work)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["import", str(source)], loc, io.StringIO(), out, err) == 0, err.getvalue()
    assert "check: the configuration loads" in out.getvalue()
    env.update(point_env(str(server.make_url("")).rstrip("/"), *pids))
    settings = load_settings(env=env, cwd=work, home=home)  # found like `anthroxy start` does
    assert settings.sources == [str(home / ".config" / "anthroxy" / "config.toml")]
    client = await aiohttp_client(create_app(settings))
    sdk = anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="anything", max_retries=0
    )
    return fakes, sdk


async def test_minimal_example_routes_every_tier_to_deepseek(
    tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any
) -> None:
    fakes, sdk = await start(tmp_path, aiohttp_server, aiohttp_client, "clco-minimal.json",
                             "deepseek")  # fmt: skip
    assert await ask(sdk, OPUS) == "deepseek says hi"
    assert await ask(sdk, SONNET, stream=True) == "deepseek says hi"
    assert await ask(sdk, HAIKU) == "deepseek says hi"
    assert await ask(sdk, "some-other-model") == "deepseek says hi"  # modelMapping.default
    seen = [(c.provider, c.dialect, c.model, c.stream) for c in fakes.calls]
    assert seen == [
        ("deepseek", "anthropic", "deepseek-v4-pro", False),  # Mode A: passed through
        ("deepseek", "anthropic", "deepseek-v4-flash", True),
        ("deepseek", "anthropic", "deepseek-v4-flash", False),
        ("deepseek", "anthropic", "deepseek-v4-flash", False),
    ]
    # The README's apiKey, as DeepSeek's Anthropic endpoint takes it.
    assert fakes.calls[0].headers["authorization"] == "Bearer sk-your-key"


async def test_full_example_routes_tiers_to_gemini_deepseek_and_ollama(
    tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any
) -> None:
    fakes, sdk = await start(tmp_path, aiohttp_server, aiohttp_client, "clco-full.json",
                             "gemini", "deepseek", "ollama")  # fmt: skip
    assert await ask(sdk, OPUS) == "gemini says hi"
    assert await ask(sdk, SONNET, stream=True) == "gemini says hi"
    assert await ask(sdk, HAIKU) == "deepseek says hi"
    assert await ask(sdk, "devstral:24b") == "ollama says hi"  # a model Ollama lists
    assert await ask(sdk, "qwen3:32b@ollama", stream=True) == "ollama says hi"
    seen = [(c.provider, c.dialect, c.model) for c in fakes.calls]
    assert seen == [
        # @auto:pro, then @auto:flash (Mode B: translated). The fake has no model list, so
        # each is picked from the models the file lists for gemini.
        ("gemini", "chat", "gemini-2.5-pro"),
        ("gemini", "chat", "gemini-2.5-flash"),
        ("deepseek", "anthropic", "deepseek-v4-flash"),
        ("ollama", "chat", "devstral:24b"),
        ("ollama", "chat", "qwen3:32b"),
    ]
    assert fakes.calls[0].headers["authorization"] == "Bearer AIza..."
    assert "authorization" not in fakes.calls[3].headers  # a local Ollama takes no key
