"""``anthroxy run``: launch Claude Code through the proxy; ``--persist`` and ``restore``.

Claude Code reads its endpoint and model names from the environment (docs/protocol/claude-code.md
§1):
``ANTHROPIC_BASE_URL``, ``ANTHROPIC_AUTH_TOKEN`` (sent as ``Authorization: Bearer``),
``ANTHROPIC_MODEL``, ``ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL`` and
``CLAUDE_CODE_SUBAGENT_MODEL``. Whatever name we put in a model variable comes back verbatim as
the request's ``model``, so every name set here is checked against the routing table first.

``--persist`` writes the same variables into ``settings.json``'s ``env`` table (every other key
kept); ``claude_settings`` records what it changed so that ``restore`` undoes only that.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from anthroxy.errors import AnthroxyError

from ..config.paths import CommandError, Locations
from . import daemon
from .claude_settings import persist_settings

if TYPE_CHECKING:
    from anthroxy.routing.table import RoutingTable

    from ..config.schema import Settings

TIER_VARIABLES = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
}
SUBAGENT_VARIABLE = "CLAUDE_CODE_SUBAGENT_MODEL"
SUBAGENT_TIER = "sonnet"  # Claude Code's own sub-agent default is its sonnet-class model
PLACEHOLDER_TOKEN = "anthroxy"  # the server has no auth_token: any value passes
CLAUDE_MISSING = (
    "Claude Code (`claude`) is not on PATH. Install it with "
    "`npm install -g @anthropic-ai/claude-code` (Node.js 18+), or see "
    "https://docs.anthropic.com/en/docs/claude-code, then run `anthroxy run` again"
)


def _same_route(routing: RoutingTable, a: str, b: str) -> bool:
    try:
        first, second = routing.resolve(a), routing.resolve(b)
    except (AnthroxyError, ValueError):
        return False
    return (first.provider, first.model) == (second.provider, second.model)


def tier_model_name(routing: RoutingTable, tiers: Mapping[str, str], tier: str) -> str | None:
    """The name to give Claude Code for ``tier``: one the proxy routes to that tier's target.

    The tier's target string (``deepseek/deepseek-chat``) is preferred because Claude Code shows
    it in ``/model``; if an alias shadows it, ``anthroxy-<tier>`` (routed by the tier word inside
    the name) is used instead. None when no tier (nor ``default``) is configured.
    """
    target = tiers.get(tier) or tiers.get("default")
    if not target:
        return None
    # What a stock Claude Code model name of this tier (claude-opus-...) routes to.
    stock = f"claude-{tier}"
    for name in (target, f"anthroxy-{tier}"):
        if _same_route(routing, name, stock):
            return name
    return None


def claude_environment(settings: Settings, url: str, *, model: str | None = None) -> dict[str, str]:
    """The variables that point Claude Code at the proxy (nothing else of the user's env)."""
    variables = {
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_AUTH_TOKEN": settings.config.server.auth_token or PLACEHOLDER_TOKEN,
    }
    tiers = settings.config.tiers
    for tier, variable in TIER_VARIABLES.items():
        name = tier_model_name(settings.routing, tiers, tier)
        if name is not None:
            variables[variable] = name
    subagent = variables.get(TIER_VARIABLES[SUBAGENT_TIER])
    if subagent is not None:
        variables[SUBAGENT_VARIABLE] = subagent
    if model is not None:
        try:
            settings.routing.resolve(model)
        except AnthroxyError as exc:
            raise CommandError(f"--model {model}: {exc.message}") from exc
        variables["ANTHROPIC_MODEL"] = model
    return variables


def child_environment(env: Mapping[str, str], variables: Mapping[str, str]) -> dict[str, str]:
    # A real ANTHROPIC_API_KEY would make Claude Code send it (as x-api-key) to the proxy as well
    # and warn about conflicting credentials; the proxy's own token is all it needs.
    kept = {k: v for k, v in env.items() if k != "ANTHROPIC_API_KEY"}
    return {**kept, **variables}


def find_claude(env: Mapping[str, str]) -> str:
    found = shutil.which("claude", path=env.get("PATH", os.defpath))
    if found is None:
        raise CommandError(CLAUDE_MISSING, code=127)
    return found


def run(
    loc: Locations,
    err: TextIO,
    *,
    claude_args: Sequence[str] = (),
    model: str | None = None,
    persist: bool = False,
    config_path: str | None = None,
    overrides: Mapping[str, object] | None = None,
) -> int:
    """Start the proxy if needed, launch ``claude``, return its exit code.

    The proxy must serve the configuration the model names come from: ``daemon.start`` reloads
    or restarts one that serves another (``proxy.reconcile``), or refuses."""
    claude = find_claude(loc.env)
    settings = daemon.load_settings(loc, config_path, overrides)
    record = daemon.start(loc, err, config_path=config_path, overrides=overrides)
    variables = claude_environment(settings, record.url, model=model)
    if persist:
        persist_settings(loc, variables, err)
    err.flush()
    return _call([claude, *claude_args], child_environment(loc.env, variables), loc.cwd)


def _call(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    # Ctrl-C belongs to Claude Code (it uses it itself); the launcher just waits for it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = subprocess.call(list(argv), env=dict(env), cwd=cwd)
    except OSError as exc:
        raise CommandError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code  # killed by signal N -> 128+N, like a shell
