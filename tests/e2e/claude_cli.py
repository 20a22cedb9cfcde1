"""Running the real Claude Code CLI headless against a local anthroxy, for the end-to-end tests.

Every test runs once per CLI in ``CLAUDES``: ``$ANTHROXY_CLAUDE_BIN`` alone when set, else the
releases ``.ci/run`` installs (``.ci/claude-versions``: the oldest supported and the newest), else
``claude`` on PATH. ``conftest.py`` points ``CLAUDE`` at the one a test runs with; without any
CLI the tests skip, saying so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.config import Settings, settings_from_config, structure_config

ROOT = Path(__file__).resolve().parents[2]
CI_VERSIONS = ROOT / ".ci" / "claude-versions"


def _ci_copies() -> list[tuple[str, str]]:
    versions = [
        line.strip()
        for line in CI_VERSIONS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found = []
    for version in versions:
        binary = ROOT / ".ci" / "claude-code" / version / "node_modules" / ".bin" / "claude"
        if binary.exists():
            found.append((version, str(binary)))
    return found


def _claude_binaries() -> list[tuple[str, str]]:
    """(label, path) of each CLI to run the tests with."""
    explicit = os.environ.get("ANTHROXY_CLAUDE_BIN")
    if explicit:
        return [("given", explicit)]
    on_path = shutil.which("claude")
    return _ci_copies() or ([("path", on_path)] if on_path else [])


CLAUDES = _claude_binaries()
CLAUDE: str | None = CLAUDES[0][1] if CLAUDES else None  # the one the current test runs with
needs_claude = pytest.mark.skipif(not CLAUDES, reason="Claude Code CLI not installed")


def base_url(server: Any) -> str:
    """``http://127.0.0.1:PORT`` of a pytest-aiohttp test server."""
    return str(server.make_url("")).rstrip("/")


def settings(
    url: str,
    *,
    api: str = "chat",
    model: str = "gpt-mock",
    limits: dict[str, Any] | None = None,
    provider_id: str = "mock",
    **provider: Any,
) -> Settings:
    """One provider ``provider_id`` at ``url`` serving every tier with ``model``; ``limits`` is its
    ``[models."<model>"]`` table (e.g. ``thinking = true`` for a reasoning model anthroxy's
    capability table does not know)."""
    target = f"{provider_id}/{model}"
    raw: dict[str, Any] = {
        "providers": {
            provider_id: {
                "api": api,
                "base_url": url,
                "auth": "none",
                "models": [model],
                **provider,
            }
        },
        "tiers": {"opus": target, "sonnet": target, "haiku": target, "default": target},
    }
    if limits is not None:
        raw["models"] = {model: limits}
    return settings_from_config(structure_config(raw), {})


async def run_claude(
    base: str,
    home: Path,
    prompt: str,
    *,
    timeout: float = 90,
    credentials: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run ``claude -p prompt`` in ``home`` (also its HOME) against ``base``; (status, output).

    ``credentials`` replaces the default ``ANTHROPIC_API_KEY=placeholder-key`` (e.g. an
    ``ANTHROPIC_AUTH_TOKEN``, or nothing at all).

    Only Write is allowed and edits are accepted, so a scripted model can make it write a file
    without a permission prompt (bypassPermissions is refused as root).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    env.update({"ANTHROPIC_API_KEY": "placeholder-key"} if credentials is None else credentials)
    assert CLAUDE is not None
    process = await asyncio.create_subprocess_exec(
        CLAUDE,
        "-p",
        prompt,
        "--allowedTools",
        "Write",
        "--permission-mode",
        "acceptEdits",
        env=env,
        cwd=str(home),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, output.decode(errors="replace")


async def claude_writes(
    proxy: Any, home: Path, name: str, words: str, credentials: dict[str, str] | None = None
) -> str:
    """Claude Code, through ``proxy``, writes ``words`` into ``home/name`` with its Write tool.

    Asserts what every such run must show (exit 0, the file holds exactly the words, the
    scripted model's closing sentence reached the person) and returns the CLI's output.
    """
    target = home / name
    prompt = f"Please write {words} into {target}"
    status, output = await run_claude(base_url(proxy), home, prompt, credentials=credentials)
    assert status == 0, output
    assert target.read_text() == words + "\n"  # the Write tool ran with the streamed arguments
    assert "The file is written." in output
    return output
