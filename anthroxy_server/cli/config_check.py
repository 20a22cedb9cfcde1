"""``anthroxy config check`` and ``config path``: which files are read, and every problem.

``check`` reports in one run everything that stops the configuration from working: the
problems of the files (all of them, see ``config.checks.problems_beyond``) and then what only
the machine can tell, such as a ChatGPT provider whose Codex login is not there, or a Bedrock
provider without an API key whose AWS credential chain finds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from anthroxy.errors import AnthroxyError

from ..config.paths import CommandError, Locations
from . import daemon

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider, Settings


def check(loc: Locations, config_path: str | None, out: TextIO) -> int:
    settings = daemon.load_settings(loc, config_path)  # exit 2 listing every file problem
    problems = login_problems(settings)
    if problems:
        lines = "\n  ".join(problems)
        raise CommandError(f"the configuration cannot work here yet:\n  {lines}", code=2)
    names = settings.routing.model_names()
    out.write(
        f"ok: {len(settings.providers)} provider(s), {len(names)} model name(s); "
        f"read {', '.join(settings.sources) or 'no file (built-in defaults)'}\n"
    )
    return 0


def login_problems(settings: Settings) -> list[str]:
    """Providers whose credentials live outside the configuration and are not usable now."""
    problems = []
    for pid, provider in settings.providers.items():
        if provider.accounts:  # named logins instead of the one (copilot, chatgpt)
            problems.extend(_account_problems(provider))
            continue
        if provider.auth == "copilot":
            problems.extend(_copilot_login(provider))
        if provider.auth in ("azure", "entra"):
            from ..providers.azure import entra_problem  # aiohttp: only when a provider needs it

            problem = entra_problem(provider)
            problems.extend([f"providers.{pid}: {problem}"] if problem else [])
            continue
        if provider.auth == "google":
            from ..providers.vertex_auth import INSTALL_HINT, google_auth_installed

            if not google_auth_installed():
                problems.append(f"providers.{pid}: needs the google-auth package: {INSTALL_HINT}")
            continue
        if provider.auth == "bedrock" and provider.api_key is None:
            from ..providers.bedrock_auth import chain_problem

            problem = chain_problem(pid, provider.aws_profile)
            if problem is not None:
                problems.append(f"providers.{pid}: {problem}")
            continue
        if provider.auth != "codex" or provider.codex_home is None:
            continue
        from ..providers.codex_auth import credentials_of  # aiohttp: only when needed

        try:
            credentials_of(provider).load()
        except AnthroxyError as exc:
            problems.append(f"providers.{pid}: {exc.message}")
    return problems


def _copilot_login(provider: ResolvedProvider) -> list[str]:
    from ..providers.copilot_auth import read_login  # aiohttp: only when a provider needs it

    try:
        read_login(provider)
    except AnthroxyError as exc:
        return [f"providers.{provider.id}: {exc.message}"]
    return []


def _account_problems(provider: ResolvedProvider) -> list[str]:
    from ..providers.accounts import account_provider, login_file

    missing = []
    for name in provider.accounts:
        path = login_file(account_provider(provider, name))
        if path is not None and not path.is_file():
            missing.append(
                f"providers.{provider.id}.accounts: account {name!r} is not logged in; run "
                f"`anthroxy login {provider.id} --account {name}`"
            )
    return missing


def path_report(loc: Locations, cli_path: str | None) -> str:
    from ..config import paths
    from ..config.files import find_config_files

    read = find_config_files(
        cli_path=str(loc.cwd / cli_path) if cli_path else None,
        env=loc.env,
        cwd=loc.cwd,
        home=loc.home,
        managed_path=paths.MANAGED_CONFIG,
    )
    candidates = [
        *([loc.cwd / cli_path] if cli_path else []),
        *([Path(loc.env["ANTHROXY_CONFIG"])] if loc.env.get("ANTHROXY_CONFIG") else []),
        paths.project_config_file(loc.cwd),
        paths.user_config_file(loc.env, loc.home),
        paths.MANAGED_CONFIG,
    ]
    lines = ["configuration files, in order (later ones override earlier ones):"]
    for path in read:
        lines.append(f"  read     {path}")
    for path in candidates:
        if path not in read:
            state = "exists, not read" if path.exists() else "absent"
            lines.append(f"  {state:<8} {path}" if state == "absent" else f"  ({state}) {path}")
    return "\n".join(lines) + "\n"
