"""``anthroxy service install|uninstall``: run the server at login, restarted on failure.

Linux: a systemd user unit (``~/.config/systemd/user/anthroxy.service``). macOS: a launchd
LaunchAgent (``~/Library/LaunchAgents/dev.anthroxy.plist``, written with plistlib). Nothing is
enabled here: the command to do it is printed, so the user stays in charge of their init system.

A service does not see variables exported in a shell profile, so the unit loads the optional
``~/.config/anthroxy/env`` (``KEY=value`` lines) and the LaunchAgent documents the alternative.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

from ..config import paths
from ..config.paths import CommandError, Locations

Platform = Literal["linux", "macos"]


def current_platform() -> Platform:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macos"
    raise CommandError(
        f"services are supported on Linux (systemd) and macOS (launchd), not {sys.platform}; "
        "use --platform linux|macos to write a file anyway"
    )


def serve_command(python: str, config_path: str | None) -> list[str]:
    argv = [python, "-m", "anthroxy_server", "serve"]
    return [*argv, "--config", config_path] if config_path else argv


def _systemd_quote(word: str) -> str:
    # systemd.service(5) "Command lines": words with spaces are double-quoted, "\" and '"'
    # escaped, and "%" doubled (it starts a specifier) and "$" doubled (variable expansion).
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if any(c.isspace() for c in word) or escaped != word else escaped


def systemd_unit(argv: list[str], env_file: Path, working_dir: Path) -> str:
    exec_start = " ".join(_systemd_quote(word) for word in argv)
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
        # The leading "-" makes a missing file fine (systemd.exec(5) EnvironmentFile=).
        f"EnvironmentFile=-{_systemd_quote(str(env_file))}\n"
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def install(
    loc: Locations,
    out: TextIO,
    *,
    platform: Platform | None = None,
    config_path: str | None = None,
    python: str = sys.executable,
) -> Path:
    chosen = platform or current_platform()
    config = str(loc.cwd / config_path) if config_path else None
    argv = serve_command(python, config)
    if chosen == "linux":
        path = paths.systemd_unit_file(loc.env, loc.home)
        env_file = paths.env_file(loc.env, loc.home)
        _write(path, systemd_unit(argv, env_file, loc.home).encode())
        out.write(
            f"wrote {path}\n"
            f"API keys: put KEY=value lines in {env_file} (chmod 600); a service does not see "
            "your shell's exports\n"
            "enable and start it with:\n"
            "  systemctl --user daemon-reload && systemctl --user enable --now anthroxy\n"
            "to keep it running after you log out: loginctl enable-linger $USER\n"
        )
        return path
    path = paths.launch_agent_file(loc.home)
    log = paths.log_file(loc.env, loc.home)
    _write(path, plistlib.dumps(launch_agent(argv, log, loc.home)))
    out.write(
        f"wrote {path}\n"
        "API keys: a LaunchAgent does not see your shell's exports; put the keys in the config "
        "file (api_key, chmod 600) or `launchctl setenv NAME value`\n"
        "load and start it with:\n"
        f"  launchctl bootstrap gui/$(id -u) {path}\n"
    )
    return path


def uninstall(loc: Locations, out: TextIO, *, platform: Platform | None = None) -> Path:
    chosen = platform or current_platform()
    if chosen == "linux":
        path = paths.systemd_unit_file(loc.env, loc.home)
        # `systemctl --user enable` links the unit here; disabling needs the unit file itself.
        wants = path.parent / "default.target.wants" / path.name
        if wants.is_symlink() or wants.exists():
            raise CommandError(
                "the service is enabled; run `systemctl --user disable --now anthroxy` first, "
                "then `anthroxy service uninstall`"
            )
        after = "systemctl --user daemon-reload"
    else:
        path = paths.launch_agent_file(loc.home)
        # bootout by label works after the file is gone.
        after = f"launchctl bootout gui/$(id -u)/{paths.LAUNCH_AGENT_LABEL}  (if it is loaded)"
    if not path.exists():
        raise CommandError(f"no service installed ({path} does not exist)")
    path.unlink()
    out.write(f"removed {path}\nthen run: {after}\n")
    return path


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
