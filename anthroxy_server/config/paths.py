"""Where anthroxy keeps its files, computed from a passed-in environment and home directory,
plus the two things every CLI command shares: its surroundings (``Locations``) and the one error
type a command raises to fail cleanly (``CommandError``).

Nothing here reads ``os.environ`` or ``Path.home()``: the CLI passes both in, so tests run in a
temporary HOME and never touch the real one. Directories follow the XDG Base Directory spec
(``$XDG_CONFIG_HOME`` / ``$XDG_STATE_HOME`` / ``$XDG_CACHE_HOME``; a relative value is ignored,
as the spec says).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP = "anthroxy"
MANAGED_CONFIG = Path("/etc/anthroxy/config.toml")
LAUNCH_AGENT_LABEL = "dev.anthroxy"


class CommandError(Exception):
    """A user-facing failure: the CLI prints ``anthroxy: error: <message>`` and exits ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Locations:
    """The environment, home and working directory one command runs in (tests pass temp ones)."""

    env: Mapping[str, str]
    home: Path
    cwd: Path


def _xdg(env: Mapping[str, str], var: str, home: Path, default: str) -> Path:
    # XDG Base Directory spec: "If an implementation encounters a relative path in any of these
    # variables it should consider the path invalid and ignore it."
    value = env.get(var, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return home / default


def config_home(env: Mapping[str, str], home: Path) -> Path:
    """``$XDG_CONFIG_HOME`` or ``~/.config``."""
    return _xdg(env, "XDG_CONFIG_HOME", home, ".config")


def config_dir(env: Mapping[str, str], home: Path) -> Path:
    return config_home(env, home) / APP


def user_config_file(env: Mapping[str, str], home: Path) -> Path:
    return config_dir(env, home) / "config.toml"


def project_config_file(cwd: Path) -> Path:
    return cwd / f".{APP}" / "config.toml"


def managed_config_file(env: Mapping[str, str], default: Path = MANAGED_CONFIG) -> Path:
    """The administrator's file, layered over the others; ``$ANTHROXY_MANAGED_CONFIG`` moves it
    (a package that installs elsewhere, a test that must not read the real ``/etc``)."""
    moved = env.get("ANTHROXY_MANAGED_CONFIG", "").strip()
    return Path(moved).expanduser() if moved else default


def state_dir(env: Mapping[str, str], home: Path) -> Path:
    """``$XDG_STATE_HOME/anthroxy`` (default ``~/.local/state/anthroxy``): pid, log, backups."""
    return _xdg(env, "XDG_STATE_HOME", home, ".local/state") / APP


# ``[server] log_file_level``'s file in the state directory (gateway/logs.py writes it).
SERVER_LOG_NAME = "server.log"


def cache_dir(env: Mapping[str, str], home: Path) -> Path:
    """``$XDG_CACHE_HOME/anthroxy`` (default ``~/.cache/anthroxy``): what can be fetched again
    (model lists, the Gemini tier probe's verdicts)."""
    return _xdg(env, "XDG_CACHE_HOME", home, ".cache") / APP


def credentials_dir(env: Mapping[str, str], home: Path) -> Path:
    """``$XDG_DATA_HOME/anthroxy/credentials`` (default ``~/.local/share/anthroxy/credentials``):
    the logins ``anthroxy login`` stores, one 0600 file per provider. Data, not configuration:
    the config file may be shared or committed, a login must never be."""
    return _xdg(env, "XDG_DATA_HOME", home, ".local/share") / APP / "credentials"


def pid_file(env: Mapping[str, str], home: Path) -> Path:
    return state_dir(env, home) / "anthroxy.pid"


def log_file(env: Mapping[str, str], home: Path) -> Path:
    return state_dir(env, home) / "anthroxy.log"


def claude_settings_file(env: Mapping[str, str], home: Path) -> Path:
    """Claude Code's user settings; ``$CLAUDE_CONFIG_DIR`` moves the whole ``~/.claude`` dir."""
    base = env.get("CLAUDE_CONFIG_DIR", "")
    return (Path(base) if base else home / ".claude") / "settings.json"


def claude_settings_backup(env: Mapping[str, str], home: Path) -> Path:
    return state_dir(env, home) / "claude-settings.backup.json"


def claude_settings_absent_marker(env: Mapping[str, str], home: Path) -> Path:
    """Exists when ``--persist`` created settings.json: ``restore`` then deletes the file."""
    return state_dir(env, home) / "claude-settings.absent"


def systemd_unit_file(env: Mapping[str, str], home: Path) -> Path:
    # systemd.unit(5): user units are read from $XDG_CONFIG_HOME/systemd/user.
    return config_home(env, home) / "systemd" / "user" / f"{APP}.service"


def launch_agent_file(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"


def env_file(env: Mapping[str, str], home: Path) -> Path:
    """Optional ``KEY=value`` file the systemd unit loads (services do not see shell exports)."""
    return config_dir(env, home) / "env"
