"""``anthroxy config init``: write a working configuration file by asking a few questions.

The answers (from stdin, or from flags with ``--yes``) become a plain TOML table
(``build_config``), which is validated with ``config.load_settings`` before it replaces anything
(``write_config``: temp file in the same directory, then ``os.replace``; mode 0600 when it holds
a key). An existing file is never overwritten without a "yes" or ``--force``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import tomli_w

from anthroxy.routing.catalog import CATALOG, ProviderPreset, available_presets, find_key

from ..config import paths
from ..config.paths import CommandError, Locations

Scope = Literal["user", "project"]
TIERS = ("opus", "sonnet", "haiku", "default")
DEFAULT_PORT = 8082
# An answer to "key or variable?" that looks like an environment variable name is one.
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
HEADER = (
    "# anthroxy configuration, written by `anthroxy config init`.\n"
    "# Check it with `anthroxy config check`; see effective values with `anthroxy config show`.\n"
    "\n"
)


@dataclass(frozen=True)
class ProviderChoice:
    id: str
    key_env: str | None = None  # a variable other than the catalogue's own
    key: str | None = field(default=None, repr=False)  # pasted key: the file becomes 0600


@dataclass(frozen=True)
class Answers:
    providers: list[ProviderChoice]
    tiers: dict[str, str]
    port: int = DEFAULT_PORT


@dataclass(frozen=True)
class Flags:
    """What the command line already answered (None = ask, or use the default with --yes)."""

    scope: Scope | None = None
    providers: Sequence[str] = ()
    key_env: str | None = None
    key: str | None = None
    tiers: Mapping[str, str | None] = field(default_factory=dict)
    port: int | None = None
    yes: bool = False
    force: bool = False


def build_config(answers: Answers) -> dict[str, Any]:
    """The TOML data for ``answers`` (only what differs from the catalogue is written)."""
    providers: dict[str, dict[str, Any]] = {}
    for choice in answers.providers:
        table: dict[str, Any] = {}
        if choice.key_env:
            table["api_key_env"] = choice.key_env
        if choice.key:
            table["api_key"] = choice.key
        providers[choice.id] = table
    return {
        "server": {"port": answers.port},
        "providers": providers,
        "tiers": {t: answers.tiers[t] for t in TIERS if answers.tiers.get(t)},
    }


def target_path(loc: Locations, scope: Scope) -> Path:
    if scope == "project":
        return paths.project_config_file(loc.cwd)
    return paths.user_config_file(loc.env, loc.home)


class Prompter:
    """Questions on ``out``, answers from ``inp``; end of input is a clean error."""

    def __init__(self, inp: TextIO, out: TextIO) -> None:
        self.inp, self.out = inp, out

    def ask(self, question: str, default: str | None = None) -> str:
        suffix = f" [{default}]" if default else ""
        self.out.write(f"{question}{suffix}: ")
        self.out.flush()
        line = self.inp.readline()
        if not line:
            raise CommandError("input ended before the wizard finished; nothing was written")
        return line.strip() or (default or "")

    def say(self, text: str) -> None:
        self.out.write(text + "\n")


def _parse_providers(text: str, presets: Sequence[ProviderPreset]) -> list[str]:
    chosen: list[str] = []
    for word in filter(None, (w.strip() for w in re.split(r"[,\s]+", text))):
        if word.isdigit() and 1 <= int(word) <= len(presets):
            word = presets[int(word) - 1].id
        if word not in CATALOG:
            raise ValueError(f"unknown provider {word!r}")
        if word not in chosen:
            chosen.append(word)
    if not chosen:
        raise ValueError("choose at least one provider")
    return chosen


def _ask_providers(p: Prompter, env: Mapping[str, str]) -> list[str]:
    presets = list(CATALOG.values())
    for i, preset in enumerate(presets, 1):
        mark = (
            "no key needed"
            if not preset.needs_key
            else ("key found" if find_key(preset, env) else ", ".join(preset.key_env))
        )
        p.say(f"  {i:2}. {preset.id:<15} {preset.name:<28} ({mark})")
    found = ",".join(x.id for x in available_presets(env) if x.needs_key)
    while True:
        answer = p.ask("Providers to use (numbers or ids, comma-separated)", found or None)
        try:
            return _parse_providers(answer, presets)
        except ValueError as exc:
            p.say(f"  {exc}; try again")


def _key_choice(pid: str, answer: str | None, env_flag: str | None) -> ProviderChoice:
    preset = CATALOG[pid]
    if env_flag:
        answer = env_flag
    if not answer or answer in preset.key_env:
        return ProviderChoice(pid)  # the catalogue already looks in its own variables
    if _ENV_NAME.match(answer):
        return ProviderChoice(pid, key_env=answer)
    return ProviderChoice(pid, key=answer)


def _ask_key(p: Prompter, preset: ProviderPreset, env: Mapping[str, str]) -> ProviderChoice:
    if not preset.needs_key:
        return ProviderChoice(preset.id)
    default = preset.key_env[0] if preset.key_env else None
    answer = p.ask(
        f"{preset.name}: paste its API key, or the name of the variable holding it", default
    )
    choice = _key_choice(preset.id, answer, None)
    variable = choice.key_env or (None if choice.key else _first_set(preset, env))
    if choice.key is None and variable is None:
        p.say(f"  note: {default} is not set now; export it before `anthroxy start`")
    elif choice.key_env and not env.get(choice.key_env):
        p.say(f"  note: {choice.key_env} is not set now; export it before `anthroxy start`")
    return choice


def _first_set(preset: ProviderPreset, env: Mapping[str, str]) -> str | None:
    return next((name for name in preset.key_env if env.get(name, "").strip()), None)


def suggested_target(provider_ids: Sequence[str]) -> str | None:
    for pid in provider_ids:
        preset = CATALOG[pid]
        model = preset.default_model or next(iter(preset.models), None)
        if model:
            return f"{pid}/{model}"
    return None


def _ask_port(p: Prompter) -> int:
    while True:
        answer = p.ask("Port for the proxy", str(DEFAULT_PORT))
        if answer.isdigit() and 1 <= int(answer) <= 65535:
            return int(answer)
        p.say("  a port is a number from 1 to 65535; try again")


def ask_answers(p: Prompter, env: Mapping[str, str], flags: Flags) -> Answers:
    """Interactive: every question the flags did not answer."""
    ids = list(flags.providers) or _ask_providers(p, env)
    if flags.key is not None or flags.key_env is not None:
        choices = _flag_keys(ids, flags)
    else:
        choices = [_ask_key(p, CATALOG[pid], env) for pid in ids]
    p.say("Which model serves each Claude tier? Use provider/model (e.g. deepseek/deepseek-chat).")
    tiers: dict[str, str] = {}
    suggestion = suggested_target(ids)
    for tier in TIERS:
        given = flags.tiers.get(tier)
        default = tiers.get("sonnet") if tier == "default" else suggestion
        while not given:
            given = p.ask(f"  {tier}", default)
        tiers[tier] = given
        suggestion = suggestion if tier != "opus" else given
    port = flags.port if flags.port is not None else _ask_port(p)
    return Answers(choices, tiers, port)


def _flag_keys(ids: Sequence[str], flags: Flags) -> list[ProviderChoice]:
    if len(ids) > 1 and (flags.key or flags.key_env):
        raise CommandError("--key/--key-env apply to one provider; pass a single --provider")
    first = _key_choice(ids[0], flags.key, flags.key_env)
    return [first, *(ProviderChoice(pid) for pid in ids[1:])]


def answers_from_flags(env: Mapping[str, str], flags: Flags) -> Answers:
    """``--yes``: flags plus defaults, no questions."""
    ids = list(flags.providers) or [x.id for x in available_presets(env) if x.needs_key]
    if not ids:
        raise CommandError(
            "no provider chosen and no provider key in the environment; "
            "pass --provider ID (see `anthroxy config init --help`)"
        )
    for pid in ids:
        if pid not in CATALOG:
            raise CommandError(
                f"--provider {pid}: not in the catalogue (known: {', '.join(CATALOG)})"
            )
    choices = _flag_keys(ids, flags)
    suggestion = suggested_target(ids)
    tiers: dict[str, str] = {}
    for tier in TIERS:
        value = flags.tiers.get(tier) or (tiers.get("sonnet") if tier == "default" else suggestion)
        if not value:
            raise CommandError(f"no model known for {ids[0]}; pass --{tier} provider/model")
        tiers[tier] = value
    return Answers(choices, tiers, flags.port or DEFAULT_PORT)


def render(data: Mapping[str, Any]) -> str:
    return HEADER + tomli_w.dumps(dict(data))


def _holds_key(data: Mapping[str, Any]) -> bool:
    return any("api_key" in table for table in data.get("providers", {}).values())


def write_config(loc: Locations, path: Path, data: Mapping[str, Any], out: TextIO) -> Path:
    """Validate ``data`` as a file at ``path`` and put it there atomically."""
    from ..config import ConfigError, load_settings

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if _holds_key(data) else 0o644
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render(data))
    try:
        load_settings(cli_path=str(tmp), env=loc.env, cwd=loc.cwd, home=loc.home)
    except ConfigError as exc:
        # A key variable that is not exported yet is expected right after setup; anything else
        # means the answers do not make a working configuration.
        serious = [p for p in exc.problems if "no API key found" not in p]
        if serious:
            tmp.unlink()
            lines = "\n  ".join(p.replace(str(tmp), str(path)) for p in serious)
            raise CommandError(
                f"the answers do not make a valid configuration:\n  {lines}", code=2
            ) from exc
        for problem in exc.problems:
            out.write(f"warning: {problem}\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path


def init(loc: Locations, inp: TextIO, out: TextIO, flags: Flags) -> Path:
    """The whole command: choose the file, refuse to clobber, gather answers, write."""
    p = Prompter(inp, out)
    scope = flags.scope
    if scope is None and not flags.yes:
        answer = p.ask("Save for this user (u) or this project directory (p)?", "u")
        scope = "project" if answer.lower().startswith("p") else "user"
    path = target_path(loc, scope or "user")
    if path.exists() and not flags.force:
        if flags.yes:
            raise CommandError(f"{path} already exists; pass --force to overwrite it")
        if not p.ask(f"{path} already exists. Overwrite it? (y/N)", "n").lower().startswith("y"):
            raise CommandError(f"left {path} unchanged")
    answers = answers_from_flags(loc.env, flags) if flags.yes else ask_answers(p, loc.env, flags)
    write_config(loc, path, build_config(answers), out)
    out.write(f"wrote {path}\nnext: `anthroxy start`, then `anthroxy run` to launch Claude Code\n")
    return path
