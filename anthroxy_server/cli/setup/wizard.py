"""``anthroxy config init``: write a working configuration file by asking a few questions.

The answers (from stdin, or from flags with ``--yes``) become a plain TOML table
(``build_config``), which is validated with ``config.load_settings`` before it replaces anything
(``write_config``: temp file in the same directory, then ``os.replace``; mode 0600 when it holds
a key). An existing file is never overwritten without a "yes" or ``--force``.

Each answer is checked when it is given and asked again when wrong (``prompts``). Besides the
catalogue, "another OpenAI- or Anthropic-compatible endpoint" is offered (``endpoint``). In
project scope a pasted key goes to the user's ``.env`` (``key_file``), not into a file that may
be committed, unless the person insists.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import tomli_w

from anthroxy.routing.catalog import CATALOG, ProviderPreset, available_presets, find_key
from anthroxy.routing.table import RoutingTable

from ...config import paths
from ...config.paths import CommandError, Locations
from . import azure_setup, key_file
from .bedrock import ask_bedrock
from .cloud import ask_place
from .endpoint import ask_endpoint
from .prompts import YES_NO, Prompter, ProviderChoice

Scope = Literal["user", "project"]
TIERS = ("opus", "sonnet", "haiku", "default")
DEFAULT_PORT = 8082
ENDPOINT = "+endpoint"  # the "another compatible endpoint" entry of the provider list
ENDPOINT_WORDS = ("other", "custom", "endpoint")
# An answer to "key or variable?" that looks like an environment variable name is one.
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
HEADER = (
    "# anthroxy configuration, written by `anthroxy config init`.\n"
    "# Check it with `anthroxy config check`; see effective values with `anthroxy config show`.\n"
    "\n"
)


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
    key_in_project: bool = False  # the person insists: a pasted key in ./.anthroxy/config.toml


def build_config(answers: Answers) -> dict[str, Any]:
    """The TOML data for ``answers`` (only what differs from the catalogue is written)."""
    providers: dict[str, dict[str, Any]] = {}
    for choice in answers.providers:
        table: dict[str, Any] = {}
        for name in ("api", "base_url", "auth", "region"):
            if getattr(choice, name):
                table[name] = getattr(choice, name)
        if choice.models:
            table["models"] = list(choice.models)
        if choice.key_env:
            table["api_key_env"] = choice.key_env
        if choice.key:
            table["api_key"] = choice.key
        table.update(choice.settings)
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


def _parse_providers(text: str, presets: Sequence[ProviderPreset]) -> list[str]:
    chosen: list[str] = []
    for word in filter(None, (w.strip() for w in re.split(r"[,\s]+", text))):
        if word.isdigit() and 1 <= int(word) <= len(presets):
            word = presets[int(word) - 1].id
        elif word == str(len(presets) + 1) or word in ENDPOINT_WORDS:
            word = ENDPOINT
        elif word not in CATALOG:
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
    p.say(f"  {len(presets) + 1:2}. {'other':<15} another OpenAI- or Anthropic-compatible endpoint")
    found = ",".join(x.id for x in available_presets(env) if x.needs_key)
    question = "Providers to use (numbers or ids, comma-separated)"
    return p.ask_until(question, found or None, lambda a: _parse_providers(a, presets))


def _key_choice(pid: str, answer: str | None, env_flag: str | None) -> ProviderChoice:
    preset = CATALOG[pid]
    if env_flag:
        answer = env_flag
    if not answer or answer in preset.key_env:
        return ProviderChoice(pid)  # the catalogue already looks in its own variables
    if _ENV_NAME.match(answer):
        return ProviderChoice(pid, key_env=answer)
    return ProviderChoice(pid, key=answer)


def _no_spaces(answer: str) -> str:
    if any(c.isspace() or c in "'\"\\" for c in answer):
        raise ValueError("a key or a variable name holds no spaces or quotes")
    return answer


def _ask_key(p: Prompter, preset: ProviderPreset, env: Mapping[str, str]) -> ProviderChoice:
    if preset.auth == "bedrock":
        return ask_bedrock(p, preset, env)
    if not preset.needs_key:
        return ProviderChoice(preset.id, settings=ask_place(p, preset, env))
    default = preset.key_env[0] if preset.key_env else None
    question = f"{preset.name}: paste its API key, or the name of the variable holding it"
    choice = _key_choice(preset.id, p.ask_until(question, default, _no_spaces), None)
    variable = choice.key_env or (None if choice.key else _first_set(preset, env))
    if choice.key is None and variable is None:
        p.say(f"  note: {default} is not set now; export it before `anthroxy start`")
    elif choice.key_env and not env.get(choice.key_env):
        p.say(f"  note: {choice.key_env} is not set now; export it before `anthroxy start`")
    return choice


def _first_set(preset: ProviderPreset, env: Mapping[str, str]) -> str | None:
    return next((name for name in preset.key_env if env.get(name, "").strip()), None)


def _models_of(choice: ProviderChoice) -> tuple[str, ...]:
    preset = CATALOG.get(choice.id)
    if preset is None or choice.models:  # the person named them (an endpoint, Azure deployments)
        return choice.models
    return (preset.default_model,) if preset.default_model else preset.models


def suggested_target(choices: Sequence[ProviderChoice]) -> str | None:
    for choice in choices:
        model = next(iter(_models_of(choice)), None)
        if model:
            return f"{choice.id}/{model}"
    return None


def tier_default(tier: str, tiers: Mapping[str, str], suggestion: str | None) -> str | None:
    """The one rule for a tier nobody answered, with or without ``--yes``: ``default`` follows
    sonnet, every other tier gets the suggested model. One tier's answer never becomes another's
    (a strong model chosen for opus would otherwise also serve haiku's background chores)."""
    return tiers.get("sonnet") if tier == "default" else suggestion


def _target_check(choices: Sequence[ProviderChoice]) -> Callable[[str], str]:
    """A tier answer is checked as the configuration will check it, when it is given."""
    catalogued = {c.id: CATALOG[c.id].models for c in choices if c.id in CATALOG}
    listed = {c.id: c.models or catalogued.get(c.id, ()) for c in choices}

    def check(answer: str) -> str:
        if not answer:
            raise ValueError("name a provider/model")
        try:
            RoutingTable(providers=listed, tiers={"default": answer}, aliases={})
        except ValueError as exc:
            raise ValueError(re.sub(r"^\[tiers\] [^:]*: ", "", str(exc))) from None
        return answer

    return check


def _ask_port(p: Prompter) -> int:
    def parse(answer: str) -> int:
        if answer.isdigit() and 1 <= int(answer) <= 65535:
            return int(answer)
        raise ValueError("a port is a number from 1 to 65535")

    return p.ask_until("Port for the proxy", str(DEFAULT_PORT), parse)


def ask_answers(p: Prompter, env: Mapping[str, str], flags: Flags) -> Answers:
    """Interactive: every question the flags did not answer."""
    ids = list(flags.providers) or _ask_providers(p, env)
    if flags.key is not None or flags.key_env is not None:
        choices = _flag_keys(ids, flags)
    else:
        choices = []
        for pid in ids:
            taken = [c.id for c in choices]
            if pid == ENDPOINT:
                pick = ask_endpoint(p, env, taken)
            elif pid == azure_setup.PROVIDER_ID:  # a resource and deployments of one's own
                pick = azure_setup.ask(p, env)
            else:
                pick = _ask_key(p, CATALOG[pid], env)
            choices.append(pick)
    p.say("Which model serves each Claude tier? Use provider/model (e.g. deepseek/deepseek-chat).")
    tiers: dict[str, str] = {}
    suggestion = suggested_target(choices)
    check = _target_check(choices)
    for tier in TIERS:
        given = flags.tiers.get(tier)
        default = tier_default(tier, tiers, suggestion)
        tiers[tier] = check(given) if given else p.ask_until(f"  {tier}", default, check)
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
                f"--provider {pid}: not in the catalogue (known: {', '.join(CATALOG)}); "
                "for another endpoint, run `anthroxy config init` without --yes"
            )
    choices = _flag_keys(ids, flags)
    suggestion = suggested_target(choices)
    tiers: dict[str, str] = {}
    for tier in TIERS:
        value = flags.tiers.get(tier) or tier_default(tier, tiers, suggestion)
        if not value:
            raise CommandError(f"no model known for {ids[0]}; pass --{tier} provider/model")
        tiers[tier] = value
    return Answers(choices, tiers, flags.port or DEFAULT_PORT)


def render(data: Mapping[str, Any]) -> str:
    return HEADER + tomli_w.dumps(dict(data))


def _holds_key(data: Mapping[str, Any]) -> bool:
    return any("api_key" in table for table in data.get("providers", {}).values())


def place_keys(
    p: Prompter, loc: Locations, scope: Scope, answers: Answers, flags: Flags
) -> tuple[Answers, dict[str, str]]:
    """In project scope, pasted keys go to the user's ``.env`` (the project file may be
    committed) unless the person insists; the answers then name the variable instead."""
    pasted = [c for c in answers.providers if c.key]
    if scope != "project" or not pasted or flags.key_in_project:
        return answers, {}
    target = key_file.path(loc.env, loc.home)
    if not flags.yes:
        where = p.choose(
            f"Keep the pasted key(s) in {target} (mode 0600), or in the project file, "
            "which may be committed? (env/project)",
            {"env": "env", "e": "env", "project": "project", "p": "project"},
            "env",
        )
        if where == "project":
            return answers, {}
    stored: dict[str, str] = {}
    choices = []
    for choice in answers.providers:
        if choice.key:
            variable = choice.key_env or _key_variable(choice.id)
            stored[variable] = choice.key
            keep = None if variable in _catalog_vars(choice.id) else variable
            choice = dataclasses.replace(choice, key=None, key_env=keep)
        choices.append(choice)
    return dataclasses.replace(answers, providers=choices), stored


def _catalog_vars(pid: str) -> tuple[str, ...]:
    return CATALOG[pid].key_env if pid in CATALOG else ()


def _key_variable(pid: str) -> str:
    own = _catalog_vars(pid)
    return own[0] if own else f"{pid.upper().replace('-', '_')}_API_KEY"


def write_config(
    loc: Locations,
    path: Path,
    data: Mapping[str, Any],
    out: TextIO,
    stored: Mapping[str, str] | None = None,
) -> Path:
    """Validate ``data`` as a file at ``path`` and put it there atomically; ``stored`` keys go to
    the user's ``.env`` once the file is known to be valid."""
    from ...config import ConfigError, load_settings

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if _holds_key(data) else 0o644
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render(data))
    env = {**loc.env, **(stored or {})}  # the server reads the .env file at start
    try:
        load_settings(cli_path=str(tmp), env=env, cwd=loc.cwd, home=loc.home)
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
    if stored:
        env_path = key_file.path(loc.env, loc.home)
        key_file.store(env_path, stored)
        out.write(f"stored {', '.join(stored)} in {env_path} (mode 0600), not in {path}\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path


def _scope(p: Prompter, flags: Flags) -> Scope:
    if flags.scope is not None or flags.yes:
        return flags.scope or "user"
    choices: dict[str, Scope] = {"u": "user", "user": "user", "p": "project", "project": "project"}
    answer = p.choose("Save for this user (u) or this project directory (p)?", choices, "u")
    return choices[answer[0]]


def init(loc: Locations, inp: TextIO, out: TextIO, flags: Flags) -> Path:
    """The whole command: choose the file, refuse to clobber, gather answers, write."""
    p = Prompter(inp, out)
    scope = _scope(p, flags)
    path = target_path(loc, scope)
    if path.exists() and not flags.force:
        if flags.yes:
            raise CommandError(f"{path} already exists; pass --force to overwrite it")
        if p.choose(f"{path} already exists. Overwrite it? (y/N)", YES_NO, "n") != "y":
            raise CommandError(f"left {path} unchanged")
    answers = answers_from_flags(loc.env, flags) if flags.yes else ask_answers(p, loc.env, flags)
    answers, stored = place_keys(p, loc, scope, answers, flags)
    write_config(loc, path, build_config(answers), out, stored)
    out.write(f"wrote {path}\nnext: `anthroxy start`, then `anthroxy run` to launch Claude Code\n")
    return path
