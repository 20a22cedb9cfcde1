"""``anthroxy service install|uninstall``: run the server at login, restarted on failure.

Linux: a systemd user unit (``~/.config/systemd/user/anthroxy.service``), enabled and started
with ``systemctl --user``. macOS: a launchd LaunchAgent (``~/Library/LaunchAgents/dev.anthroxy
.plist``, written with plistlib), loaded with ``launchctl bootstrap gui/<uid>``; one that is
loaded already is booted out first, so a reinstall runs the new file. ``--no-start`` (or a
``--platform`` other than this system's) only writes the file and prints the commands.

A service does not see the variables exported in a shell profile, so the keys go in ``.env``
beside the user's ``config.toml``: created here from a commented template listing the key
variables of the configured providers (mode 0600, never overwritten), read by the server at
start. The unit also loads it with ``EnvironmentFile=``, as it loads the older ``env`` file.

The init-system commands go through a ``Runner`` (argv -> exit code and output), so the tests
check the exact commands without touching the machine's launchd or systemd.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

from anthroxy.routing import catalog

from ..atomic import write_atomic
from ..config import paths
from ..config.paths import CommandError, Locations

Platform = Literal["linux", "macos"]
Runner = Callable[[Sequence[str]], tuple[int, str]]
UNIT = f"{paths.APP}.service"
SYSTEMCTL = ("systemctl", "--user")
# Shown in the template when no configured provider needs a key yet.
EXAMPLE_PROVIDERS = ("deepseek", "openrouter", "openai")


def this_platform() -> Platform | None:
    if sys.platform.startswith("linux"):
        return "linux"
    return "macos" if sys.platform == "darwin" else None


def current_platform() -> Platform:
    found = this_platform()
    if found is None:
        raise CommandError(
            f"services are supported on Linux (systemd) and macOS (launchd), not {sys.platform}; "
            "use --platform linux|macos to write a file anyway"
        )
    return found


def run_command(argv: Sequence[str]) -> tuple[int, str]:
    """Run an init-system command; its exit code and output (127 when it cannot run at all)."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def serve_command(python: str, config_path: str | None) -> list[str]:
    argv = [python, "-m", "anthroxy_server", "serve"]
    return [*argv, "--config", config_path] if config_path else argv


def keys_file(loc: Locations) -> Path:
    """``.env`` beside the user's ``config.toml``: where a service's API keys go."""
    return paths.user_config_file(loc.env, loc.home).parent / ".env"


def _systemd_quote(word: str) -> str:
    # systemd.service(5) "Command lines": words with spaces are double-quoted, "\" and '"'
    # escaped, and "%" doubled (it starts a specifier) and "$" doubled (variable expansion).
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if any(c.isspace() for c in word) or escaped != word else escaped


def systemd_unit(argv: list[str], env_files: Sequence[Path], working_dir: Path) -> str:
    exec_start = " ".join(_systemd_quote(word) for word in argv)
    # The leading "-" makes a missing file fine (systemd.exec(5) EnvironmentFile=); a later file
    # wins for a variable both set.
    loads = "".join(f"EnvironmentFile=-{_systemd_quote(str(path))}\n" for path in env_files)
    return (
        "[Unit]\n"
        "Description=anthroxy - Anthropic Messages API gateway\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={exec_start}\n"
        f"WorkingDirectory={_systemd_quote(str(working_dir))}\n"
        f"{loads}"
        "Environment=PYTHONUNBUFFERED=1\n"
        "Restart=on-failure\n"
        "RestartSec=2\n"
        # The server finishes running streams after SIGTERM; give it time before SIGKILL.
        "TimeoutStopSec=70\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def launch_agent(argv: list[str], log: Path, working_dir: Path) -> dict[str, Any]:
    """The LaunchAgent as a plist dict (launchd.plist(5) keys)."""
    return {
        "Label": paths.LAUNCH_AGENT_LABEL,
        "ProgramArguments": argv,
        "RunAtLoad": True,
        # Restart only when it exits with a failure, like systemd's Restart=on-failure.
        "KeepAlive": {"SuccessfulExit": False},
        "WorkingDirectory": str(working_dir),
        "StandardOutPath": str(log),
        "StandardErrorPath": str(log),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "ProcessType": "Background",
    }


def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data, mode=0o644)  # a unit file or a LaunchAgent: no secret in it


# -- the keys file ----------------------------------------------------------------------------


def key_variables(loc: Locations, config_path: str | None) -> list[tuple[str, str]]:
    """(variable, provider name) for each provider in the configuration files that takes an API
    key, and each whose key is exported right now; a few common ones when there is none.

    Read from the files' provider tables, not the loaded configuration: a provider whose key is
    missing makes the configuration invalid, and that is exactly when the template is needed."""
    from ..config.files import find_config_files, read_toml

    explicit = str(loc.cwd / config_path) if config_path else None
    found: dict[str, str] = {}
    for path in find_config_files(cli_path=explicit, env=loc.env, cwd=loc.cwd, home=loc.home):
        table = read_toml(path, []) if path.is_file() else None
        providers = table.get("providers") if table else None
        for pid, entry in providers.items() if isinstance(providers, dict) else ():
            item = _key_variable(pid, entry) if isinstance(entry, dict) else None
            if item is not None:
                found.setdefault(*item)
    # Providers found through a key exported in this shell: the service will not see it.
    for preset in catalog.CATALOG.values():
        if preset.needs_key and preset.auth != "codex" and catalog.find_key(preset, loc.env):
            variable = next(v for v in preset.key_env if loc.env.get(v, "").strip())
            found.setdefault(variable, preset.name)
    if not found:
        examples = (catalog.CATALOG[pid] for pid in EXAMPLE_PROVIDERS if pid in catalog.CATALOG)
        found = {p.key_env[0]: f"{p.name} (example)" for p in examples if p.key_env}
    return list(found.items())


def _key_variable(pid: str, entry: dict[str, Any]) -> tuple[str, str] | None:
    """Where the key of ``[providers.<pid>]`` is read from, when it comes from the environment."""
    preset = catalog.CATALOG.get(pid)
    auth = entry.get("auth") or (preset.auth if preset else "bearer")
    if auth in ("none", "codex") or entry.get("api_key") or (preset and not preset.needs_key):
        return None
    name = preset.name if preset else pid
    variable = entry.get("api_key_env")
    if isinstance(variable, str) and variable:
        return variable, name
    return (preset.key_env[0], name) if preset and preset.key_env else None


def keys_template(variables: Sequence[tuple[str, str]], restart: str) -> str:
    lines = [
        "# API keys for the anthroxy service: KEY=value lines, read when the server starts.",
        "# A service does not see the variables exported in your shell profile; put them here.",
        "# A variable already set in the service's environment wins over this file.",
        "# Keep this file private (mode 0600). After editing it, restart the service:",
        f"#   {restart}",
    ]
    for variable, name in variables:
        lines += ["", f"# {name}", f"# {variable}="]
    return "\n".join(lines) + "\n"


def create_private(path: Path, text: str) -> bool:
    """Write ``text`` to a new file readable by its owner only; False (and no change) when the
    file exists. Written beside it first and linked into place, which fails rather than
    replaces when the file appeared meanwhile."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _keys_message(loc: Locations, config_path: str | None, restart: str) -> str:
    path = keys_file(loc)
    if create_private(path, keys_template(key_variables(loc, config_path), restart)):
        return f"created {path} (mode 0600): put your API keys there, then restart the service\n"
    note = f"API keys: {path} (kept as it is)"
    if path.stat().st_mode & 0o077:
        note += f"; others can read it: chmod 600 {path}"
    return note + "\n"


# -- install / uninstall ----------------------------------------------------------------------


def _run_all(runner: Runner, commands: Sequence[Sequence[str]], state: str) -> None:
    """Run each command; the first failure is a CommandError that says ``state`` (what is on
    disk now) and the command to run by hand."""
    for argv in commands:
        code, output = runner(argv)
        if code != 0:
            raise CommandError(
                f"{state}, but `{' '.join(argv)}` failed ({output or f'exit {code}'}); "
                "run it yourself once the problem is fixed, or pass --no-start to skip it"
            )


def _linux_install(
    loc: Locations, out: TextIO, argv: list[str], start: bool, runner: Runner
) -> Path:
    path = paths.systemd_unit_file(loc.env, loc.home)
    legacy = paths.env_file(loc.env, loc.home)
    # Run in the config directory: its .env is then the service's ./.env too, and a stray ~/.env
    # (some other project's) never configures the proxy.
    workdir = keys_file(loc).parent
    workdir.mkdir(parents=True, exist_ok=True)
    _write(path, systemd_unit(argv, [legacy, keys_file(loc)], workdir).encode())
    commands = [
        [*SYSTEMCTL, "daemon-reload"],
        [*SYSTEMCTL, "enable", UNIT],
        [*SYSTEMCTL, "restart", UNIT],  # starts it, or restarts one running an older unit
    ]
    out.write(f"wrote {path}\n")
    if start:
        _run_all(runner, commands, f"wrote {path}")
        out.write(f"enabled and started {UNIT} (systemctl --user status {paths.APP})\n")
    else:
        out.write("enable and start it with:\n" + "".join(f"  {' '.join(c)}\n" for c in commands))
    out.write("to keep it running after you log out: loginctl enable-linger $USER\n")
    return path


def _launchd_loaded(runner: Runner, target: str) -> bool:
    return runner(["launchctl", "print", target])[0] == 0


def _macos_install(
    loc: Locations, out: TextIO, argv: list[str], start: bool, runner: Runner, uid: int
) -> Path:
    path = paths.launch_agent_file(loc.home)
    log = paths.log_file(loc.env, loc.home)
    workdir = keys_file(loc).parent  # as on Linux: its .env is the service's ./.env
    workdir.mkdir(parents=True, exist_ok=True)
    _write(path, plistlib.dumps(launch_agent(argv, log, workdir)))
    out.write(f"wrote {path}\n")
    domain = f"gui/{uid}"
    target = f"{domain}/{paths.LAUNCH_AGENT_LABEL}"
    bootstrap = ["launchctl", "bootstrap", domain, str(path)]
    if not start:
        out.write(f"load and start it with:\n  {' '.join(bootstrap)}\n")
        return path
    if _launchd_loaded(runner, target):
        # bootstrap refuses a loaded label; unload it so the file just written is what runs.
        _run_all(runner, [["launchctl", "bootout", target]], f"wrote {path}")
    code, output = runner(bootstrap)
    # launchd reports a label that got loaded meanwhile as an I/O error: loaded is what we want.
    if code != 0 and not _launchd_loaded(runner, target):
        raise CommandError(
            f"wrote {path}, but `{' '.join(bootstrap)}` failed ({output or f'exit {code}'}); "
            "run it yourself once the problem is fixed, or pass --no-start"
        )
    out.write(f"loaded {paths.LAUNCH_AGENT_LABEL} into {domain}; it starts at every login\n")
    return path


def _uid() -> int:
    # launchd's per-user domain is gui/<uid>; Windows has no uid (and no launchd either).
    getuid = getattr(os, "getuid", None)
    return int(getuid()) if getuid is not None else 0


def _restart_command(platform: Platform, uid: int) -> str:
    if platform == "linux":
        return f"systemctl --user restart {paths.APP}"
    return f"launchctl kickstart -k gui/{uid}/{paths.LAUNCH_AGENT_LABEL}"


def install(
    loc: Locations,
    out: TextIO,
    *,
    platform: Platform | None = None,
    config_path: str | None = None,
    python: str = sys.executable,
    start: bool | None = None,
    runner: Runner = run_command,
    uid: int | None = None,
) -> Path:
    """Write the service file and the keys file; load and start the service when ``start``
    (default: when ``platform`` is this system's)."""
    chosen = platform or current_platform()
    start = chosen == this_platform() if start is None else start
    uid = _uid() if uid is None else uid
    config = str(loc.cwd / config_path) if config_path else None
    argv = serve_command(python, config)
    # The keys file first: a service that fails to load still needs its keys.
    out.write(_keys_message(loc, config_path, _restart_command(chosen, uid)))
    if chosen == "linux":
        return _linux_install(loc, out, argv, start, runner)
    return _macos_install(loc, out, argv, start, runner, uid)


def uninstall(
    loc: Locations,
    out: TextIO,
    *,
    platform: Platform | None = None,
    stop: bool | None = None,
    runner: Runner = run_command,
    uid: int | None = None,
) -> Path:
    """Stop and unload the service (when ``stop``, default: on this system), remove its file.
    The keys file stays: it holds the user's keys."""
    chosen = platform or current_platform()
    stop = chosen == this_platform() if stop is None else stop
    uid = _uid() if uid is None else uid
    if chosen == "linux":
        path = paths.systemd_unit_file(loc.env, loc.home)
        _require(path)
        _linux_stop(path, stop, runner)
        path.unlink()
        after = " ".join([*SYSTEMCTL, "daemon-reload"])
        if stop:
            runner([*SYSTEMCTL, "daemon-reload"])  # tidies systemd's view; the unit is gone
    else:
        path = paths.launch_agent_file(loc.home)
        _require(path)
        target = f"gui/{uid}/{paths.LAUNCH_AGENT_LABEL}"
        if stop and _launchd_loaded(runner, target):
            _run_all(runner, [["launchctl", "bootout", target]], f"{path} is still there")
        path.unlink()
        after = f"launchctl bootout {target}  (if it is loaded)"
    out.write(f"removed {path}\n")
    if not stop:
        out.write(f"then run: {after}\n")
    out.write(f"your API keys stay in {keys_file(loc)}\n")
    return path


def _require(path: Path) -> None:
    if not path.exists():
        raise CommandError(f"no service installed ({path} does not exist)")


def _linux_stop(path: Path, stop: bool, runner: Runner) -> None:
    # `systemctl --user enable` links the unit here; disabling needs the unit file itself.
    wants = path.parent / "default.target.wants" / path.name
    if stop:
        _run_all(runner, [[*SYSTEMCTL, "disable", "--now", UNIT]], f"{path} is still there")
    elif wants.is_symlink() or wants.exists():
        raise CommandError(
            "the service is enabled; run `systemctl --user disable --now anthroxy` first, "
            "then `anthroxy service uninstall`"
        )


# ---------------------------------------------------------------------------------------------
# A proxy the service manager runs (its /healthz "managed_by", gateway/identity.py) is stopped
# and restarted through the manager: killed behind its back, systemd would record a failure
# (and restart it), launchd would forget why it stopped.


def manager_command(manager: Mapping[str, str], action: Literal["stop", "restart"]) -> list[str]:
    """The command that stops or restarts the service behind ``manager``."""
    if manager.get("manager") == "systemd":
        unit = manager.get("unit", f"{paths.APP}.service")
        if manager.get("scope") != "user":
            raise CommandError(
                f"anthroxy runs as the system service {unit}; {action} it with "
                f"`sudo systemctl {action} {unit}`"
            )
        return ["systemctl", "--user", action, unit]
    label = manager.get("label", paths.LAUNCH_AGENT_LABEL)
    target = f"gui/{os.getuid()}/{label}"
    if action == "restart":  # -k: kill the running instance, then start it again
        return ["launchctl", "kickstart", "-k", target]
    # SIGTERM ends it cleanly; KeepAlive restarts only a failed exit (launch_agent above).
    return ["launchctl", "kill", "SIGTERM", target]


def stop_managed(
    manager: Mapping[str, str],
    out: TextIO,
    *,
    action: Literal["stop", "restart"] = "stop",
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> None:
    argv = manager_command(manager, action)
    name = manager.get("unit") or manager.get("label")
    out.write(
        f"anthroxy runs under {manager.get('manager')} ({name}); asking it to {action} the "
        f"proxy: {' '.join(argv)}\n"
    )
    try:
        done = run(argv, capture_output=True, text=True, timeout=90)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CommandError(f"`{' '.join(argv)}` could not run: {exc}") from exc
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
        raise CommandError(f"`{' '.join(argv)}` failed: {why}")
