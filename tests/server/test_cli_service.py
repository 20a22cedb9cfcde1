"""`anthroxy service install|uninstall`: the systemd unit and the LaunchAgent plist as written."""

from __future__ import annotations

import io
import plistlib
import sys
from pathlib import Path

import pytest

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.cli import service
from anthroxy_server.config.paths import Locations


@pytest.fixture
def loc(tmp_path: Path) -> Locations:
    return Locations(env={"HOME": str(tmp_path)}, home=tmp_path, cwd=tmp_path)


def run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def test_systemd_unit(loc: Locations) -> None:
    code, out, err = run(loc, "service", "install", "--platform", "linux")
    assert code == 0, err
    unit = loc.home / ".config" / "systemd" / "user" / "anthroxy.service"
    text = unit.read_text()
    lines = text.splitlines()
    assert f"ExecStart={sys.executable} -m anthroxy_server serve" in lines
    assert "Restart=on-failure" in lines
    assert "WantedBy=default.target" in lines
    assert f"EnvironmentFile=-{loc.home}/.config/anthroxy/env" in lines
    assert lines[0] == "[Unit]" and "[Service]" in lines and "[Install]" in lines
    assert "systemctl --user enable --now anthroxy" in out

    wants = unit.parent / "default.target.wants" / unit.name
    wants.parent.mkdir()
    wants.symlink_to(unit)
    code, _out, err = run(loc, "service", "uninstall", "--platform", "linux")
    assert code == 1 and "systemctl --user disable --now anthroxy" in err
    assert unit.exists()
    wants.unlink()
    assert run(loc, "service", "uninstall", "--platform", "linux")[0] == 0
    assert not unit.exists()
    assert run(loc, "service", "uninstall", "--platform", "linux")[0] == 1


def test_systemd_unit_honours_xdg_config_home_and_a_config_path(tmp_path: Path) -> None:
    loc = Locations({"XDG_CONFIG_HOME": str(tmp_path / "cfg")}, tmp_path / "h", tmp_path)
    assert run(loc, "service", "install", "--platform", "linux", "--config", "my.toml")[0] == 0
    unit = (tmp_path / "cfg" / "systemd" / "user" / "anthroxy.service").read_text()
    assert f"-m anthroxy_server serve --config {tmp_path / 'my.toml'}\n" in unit


def test_exec_start_quotes_awkward_paths() -> None:
    argv = ["/opt/my python/bin/python3", "-m", "anthroxy_server", "serve", "--config", "/a/50%"]
    unit = service.systemd_unit(argv, Path("/e"), Path("/w"))
    # systemd.service(5): quote words with spaces; "%" starts a specifier, so it is doubled.
    assert (
        'ExecStart="/opt/my python/bin/python3" -m anthroxy_server serve --config "/a/50%%"' in unit
    )


def test_launch_agent_plist(loc: Locations) -> None:
    code, out, err = run(loc, "service", "install", "--platform", "macos")
    assert code == 0, err
    path = loc.home / "Library" / "LaunchAgents" / "dev.anthroxy.plist"
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == "dev.anthroxy"
    assert plist["ProgramArguments"] == [sys.executable, "-m", "anthroxy_server", "serve"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["StandardErrorPath"] == str(loc.home / ".local/state/anthroxy/anthroxy.log")
    assert f"launchctl bootstrap gui/$(id -u) {path}" in out
    assert run(loc, "service", "uninstall", "--platform", "macos")[0] == 0
    assert not path.exists()
