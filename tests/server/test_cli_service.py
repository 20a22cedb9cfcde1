"""`anthroxy service install|uninstall`: the systemd unit and the LaunchAgent as written, the
exact systemctl/launchctl commands run (through a fake runner, never the machine's own), and the
keys file beside config.toml."""

from __future__ import annotations

import io
import plistlib
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.cli import service
from anthroxy_server.config.paths import CommandError, Locations

SECRET = "sk-service-secret-0123456789"
UID = 501
PLIST_TARGET = f"gui/{UID}/dev.anthroxy"


class FakeRunner:
    """Records each command; answers from ``replies`` (first matching argv prefix), else 0."""

    def __init__(self, replies: Sequence[tuple[Sequence[str], int, str]] = ()) -> None:
        self.calls: list[list[str]] = []
        self.replies = [(list(prefix), code, text) for prefix, code, text in replies]

    def __call__(self, argv: Sequence[str]) -> tuple[int, str]:
        self.calls.append(list(argv))
        for prefix, code, text in self.replies:
            if list(argv[: len(prefix)]) == prefix:
                return code, text
        return 0, ""


def must_not_run(argv: Sequence[str]) -> tuple[int, str]:
    raise AssertionError(f"ran {argv}")


@pytest.fixture
def loc(tmp_path: Path) -> Locations:
    return Locations(env={"HOME": str(tmp_path)}, home=tmp_path, cwd=tmp_path)


def run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def unit_path(loc: Locations) -> Path:
    return loc.home / ".config" / "systemd" / "user" / "anthroxy.service"


def keys_path(loc: Locations) -> Path:
    return loc.home / ".config" / "anthroxy" / ".env"


def test_systemd_unit_is_written_enabled_and_started(loc: Locations) -> None:
    runner, out = FakeRunner(), io.StringIO()
    service.install(loc, out, platform="linux", start=True, runner=runner, uid=UID)
    assert runner.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "anthroxy.service"],
        ["systemctl", "--user", "restart", "anthroxy.service"],
    ]
    lines = unit_path(loc).read_text().splitlines()
    assert f"ExecStart={sys.executable} -m anthroxy_server serve" in lines
    assert "Restart=on-failure" in lines
    assert "WantedBy=default.target" in lines
    # The older env file first, then .env beside config.toml (a later file wins).
    files = [line for line in lines if line.startswith("EnvironmentFile=")]
    assert files == [
        f"EnvironmentFile=-{loc.home}/.config/anthroxy/env",
        f"EnvironmentFile=-{keys_path(loc)}",
    ]
    assert lines[0] == "[Unit]" and "[Service]" in lines and "[Install]" in lines
    assert "enabled and started anthroxy.service" in out.getvalue()
    assert f"created {keys_path(loc)} (mode 0600)" in out.getvalue()


def test_a_failing_systemctl_is_reported_with_the_command(loc: Locations) -> None:
    runner = FakeRunner([(["systemctl", "--user", "enable"], 1, "Failed to connect to bus")])
    with pytest.raises(CommandError) as caught:
        service.install(loc, io.StringIO(), platform="linux", start=True, runner=runner)
    message = caught.value.message
    assert f"wrote {unit_path(loc)}" in message
    assert "`systemctl --user enable anthroxy.service` failed (Failed to connect to bus)" in message
    assert runner.calls[-1] == ["systemctl", "--user", "enable", "anthroxy.service"]
    assert unit_path(loc).exists() and keys_path(loc).exists()


def test_no_start_writes_the_files_and_runs_nothing(loc: Locations) -> None:
    out = io.StringIO()
    service.install(loc, out, platform="linux", start=False, runner=must_not_run)
    assert unit_path(loc).exists() and keys_path(loc).exists()
    assert "systemctl --user enable anthroxy.service" in out.getvalue()
    # The CLI's --no-start on this machine (Linux here; --platform for the other system).
    code, text, err = run(loc, "service", "install", "--platform", "linux", "--no-start")
    assert code == 0, err
    assert "systemctl --user restart anthroxy.service" in text


def test_systemd_uninstall_disables_then_removes(loc: Locations) -> None:
    service.install(loc, io.StringIO(), platform="linux", start=False, runner=must_not_run)
    runner, out = FakeRunner(), io.StringIO()
    service.uninstall(loc, out, platform="linux", stop=True, runner=runner)
    assert runner.calls == [
        ["systemctl", "--user", "disable", "--now", "anthroxy.service"],
        ["systemctl", "--user", "daemon-reload"],
    ]
    assert not unit_path(loc).exists()
    assert keys_path(loc).exists()  # the user's keys are not the service's to delete
    assert f"your API keys stay in {keys_path(loc)}" in out.getvalue()
    with pytest.raises(CommandError, match="no service installed"):
        service.uninstall(loc, io.StringIO(), platform="linux", stop=True, runner=FakeRunner())


def test_systemd_uninstall_without_stop_refuses_an_enabled_unit(loc: Locations) -> None:
    service.install(loc, io.StringIO(), platform="linux", start=False, runner=must_not_run)
    unit = unit_path(loc)
    wants = unit.parent / "default.target.wants" / unit.name
    wants.parent.mkdir()
    wants.symlink_to(unit)
    code, _out, err = run(loc, "service", "uninstall", "--platform", "linux", "--no-start")
    assert code == 1 and "systemctl --user disable --now anthroxy" in err
    assert unit.exists()
    wants.unlink()
    code, text, _err = run(loc, "service", "uninstall", "--platform", "linux", "--no-start")
    assert code == 0 and "then run: systemctl --user daemon-reload" in text
    assert not unit.exists()


def test_systemd_unit_honours_xdg_config_home_and_a_config_path(tmp_path: Path) -> None:
    loc = Locations({"XDG_CONFIG_HOME": str(tmp_path / "cfg")}, tmp_path / "h", tmp_path)
    service.install(
        loc,
        io.StringIO(),
        platform="linux",
        config_path="my.toml",
        start=False,
        runner=must_not_run,
    )
    unit = (tmp_path / "cfg" / "systemd" / "user" / "anthroxy.service").read_text()
    assert f"-m anthroxy_server serve --config {tmp_path / 'my.toml'}\n" in unit
    assert f"EnvironmentFile=-{tmp_path / 'cfg' / 'anthroxy' / '.env'}\n" in unit
    assert (tmp_path / "cfg" / "anthroxy" / ".env").exists()
    # Its working directory is the config directory: a stray ~/.env never configures it.
    assert f"WorkingDirectory={tmp_path / 'cfg' / 'anthroxy'}\n" in unit


def test_exec_start_quotes_awkward_paths() -> None:
    argv = ["/opt/my python/bin/python3", "-m", "anthroxy_server", "serve", "--config", "/a/50%"]
    unit = service.systemd_unit(argv, [Path("/e")], Path("/w"))
    # systemd.service(5): quote words with spaces; "%" starts a specifier, so it is doubled.
    assert (
        'ExecStart="/opt/my python/bin/python3" -m anthroxy_server serve --config "/a/50%%"' in unit
    )


def test_launch_agent_is_written_and_bootstrapped(loc: Locations) -> None:
    runner = FakeRunner([(["launchctl", "print"], 113, "Could not find service")])
    out = io.StringIO()
    path = service.install(loc, out, platform="macos", start=True, runner=runner, uid=UID)
    assert path == loc.home / "Library" / "LaunchAgents" / "dev.anthroxy.plist"
    assert runner.calls == [
        ["launchctl", "print", PLIST_TARGET],
        ["launchctl", "bootstrap", f"gui/{UID}", str(path)],
    ]
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == "dev.anthroxy"
    assert plist["ProgramArguments"] == [sys.executable, "-m", "anthroxy_server", "serve"]
    assert plist["RunAtLoad"] is True
    assert plist["WorkingDirectory"] == str(keys_path(loc).parent)
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["StandardErrorPath"] == str(loc.home / ".local/state/anthroxy/anthroxy.log")
    text = out.getvalue()
    assert f"loaded dev.anthroxy into gui/{UID}" in text
    assert f"created {keys_path(loc)} (mode 0600)" in text
    assert f"launchctl kickstart -k {PLIST_TARGET}" in keys_path(loc).read_text()


def test_an_already_loaded_launch_agent_is_booted_out_and_loaded_again(loc: Locations) -> None:
    runner = FakeRunner()  # `launchctl print` succeeds: loaded
    path = service.install(loc, io.StringIO(), platform="macos", start=True, runner=runner, uid=UID)
    assert runner.calls == [
        ["launchctl", "print", PLIST_TARGET],
        ["launchctl", "bootout", PLIST_TARGET],
        ["launchctl", "bootstrap", f"gui/{UID}", str(path)],
    ]


def test_bootstrap_failures(loc: Locations) -> None:
    # "Bootstrap failed: 5" while the label got loaded anyway: it is loaded, which is the goal.
    raced = FakeRunner([(["launchctl", "bootstrap"], 5, "Bootstrap failed: 5: Input/output error")])
    service.install(loc, io.StringIO(), platform="macos", start=True, runner=raced, uid=UID)
    assert raced.calls[-1] == ["launchctl", "print", PLIST_TARGET]

    failing = FakeRunner(
        [
            (["launchctl", "print"], 113, ""),
            (["launchctl", "bootstrap"], 5, "Bootstrap failed: 5: Input/output error"),
        ]
    )
    with pytest.raises(CommandError) as caught:
        service.install(loc, io.StringIO(), platform="macos", start=True, runner=failing, uid=UID)
    assert f"`launchctl bootstrap gui/{UID} " in caught.value.message
    assert "Input/output error" in caught.value.message


def test_launch_agent_uninstall_boots_it_out(loc: Locations) -> None:
    path = service.install(loc, io.StringIO(), platform="macos", start=False, runner=must_not_run)
    runner, out = FakeRunner(), io.StringIO()
    service.uninstall(loc, out, platform="macos", stop=True, runner=runner, uid=UID)
    assert runner.calls == [
        ["launchctl", "print", PLIST_TARGET],
        ["launchctl", "bootout", PLIST_TARGET],
    ]
    assert not path.exists() and keys_path(loc).exists()

    service.install(loc, io.StringIO(), platform="macos", start=False, runner=must_not_run)
    not_loaded = FakeRunner([(["launchctl", "print"], 113, "")])
    service.uninstall(loc, io.StringIO(), platform="macos", stop=True, runner=not_loaded, uid=UID)
    assert not_loaded.calls == [["launchctl", "print", PLIST_TARGET]]


def test_cli_for_the_other_system_only_writes_the_file(loc: Locations) -> None:
    other = "linux" if sys.platform == "darwin" else "macos"
    code, out, err = run(loc, "service", "install", "--platform", other)
    assert code == 0, err
    assert "load and start it with" in out or "enable and start it with" in out
    assert run(loc, "service", "uninstall", "--platform", other)[0] == 0


def test_keys_template_lists_the_configured_providers_key_variables(tmp_path: Path) -> None:
    home = tmp_path
    config = home / ".config" / "anthroxy" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "[providers.deepseek]\n"
        '[providers.gw]\napi = "chat"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "MY_GATEWAY_KEY"\n'
        '[providers.local]\napi = "chat"\nbase_url = "http://127.0.0.1:9/v1"\nauth = "none"\n'
        '[tiers]\ndefault = "deepseek/deepseek-v4-pro"\n'
    )
    loc = Locations({"HOME": str(home), "DEEPSEEK_API_KEY": SECRET}, home, tmp_path)
    service.install(loc, io.StringIO(), platform="linux", start=False, runner=must_not_run)
    path = keys_path(loc)
    text = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "# DEEPSEEK_API_KEY=\n" in text and "# MY_GATEWAY_KEY=\n" in text
    assert "local" not in text.lower().replace("localhost", "")
    assert SECRET not in text
    assert "systemctl --user restart anthroxy" in text
    assert all(line.startswith("#") for line in text.splitlines() if line)
    assert not list(path.parent.glob(".*.tmp"))


def test_keys_template_without_providers_shows_examples(loc: Locations) -> None:
    service.install(loc, io.StringIO(), platform="linux", start=False, runner=must_not_run)
    assert "# DEEPSEEK_API_KEY=" in keys_path(loc).read_text()


def test_an_existing_keys_file_is_never_overwritten(loc: Locations) -> None:
    path = keys_path(loc)
    path.parent.mkdir(parents=True)
    path.write_text(f"DEEPSEEK_API_KEY={SECRET}\n")
    path.chmod(0o644)
    out = io.StringIO()
    service.install(loc, out, platform="linux", start=False, runner=must_not_run)
    assert path.read_text() == f"DEEPSEEK_API_KEY={SECRET}\n"
    assert f"API keys: {path} (kept as it is); others can read it: chmod 600 {path}" in (
        out.getvalue()
    )
    assert SECRET not in out.getvalue()
    assert service.create_private(path, "x") is False and path.read_text().startswith("DEEP")


def test_keys_template_names_keys_exported_in_this_shell(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "OPENROUTER_API_KEY": SECRET}
    loc = Locations(env, tmp_path, tmp_path)
    service.install(loc, io.StringIO(), platform="macos", start=False, runner=must_not_run)
    text = keys_path(loc).read_text()
    assert "# OpenRouter\n# OPENROUTER_API_KEY=\n" in text
    assert "(example)" not in text and SECRET not in text
