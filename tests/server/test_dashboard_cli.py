"""``anthroxy ui`` and the dashboard link of ``anthroxy start`` / ``status``, against a proxy
started in the background (the fake server of test_cli_daemon.py answers /healthz)."""

from __future__ import annotations

import io
from pathlib import Path

from anthroxy_server.cli import daemon, ui
from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config.paths import Locations

from .test_cli_daemon import loc, write_fake_python  # noqa: F401  (the fixture)


def test_start_status_and_ui_name_the_dashboard(loc: Locations, tmp_path: Path) -> None:  # noqa: F811
    out = io.StringIO()
    record = daemon.start(loc, out, python=write_fake_python(tmp_path), timeout=10)
    link = f"dashboard: {record.url}/ui\n"
    assert link in out.getvalue()
    again = io.StringIO()
    daemon.start(loc, again)  # already running: the link again
    assert link in again.getvalue()
    for argv in (["status"], ["ui", "--print"]):
        text = io.StringIO()
        assert cli.run(argv, loc, io.StringIO(), text, io.StringIO()) == 0
        assert link in text.getvalue()
    opened: list[str] = []
    shown = io.StringIO()
    args = cli.build_parser().parse_args(["ui"])
    assert ui.command(args, loc, shown, opener=lambda url: opened.append(url) is None) == 0
    assert opened == [f"{record.url}/ui"]
    assert "auth_token" not in shown.getvalue()  # this proxy has none
    assert daemon.stop(loc, io.StringIO())
    gone = io.StringIO()
    assert cli.run(["ui", "--print"], loc, io.StringIO(), gone, io.StringIO()) == 1
    assert "not running" in gone.getvalue() and "anthroxy start" in gone.getvalue()


def test_ui_says_where_the_token_is(loc: Locations, tmp_path: Path) -> None:  # noqa: F811
    config = loc.home / ".config" / "anthroxy" / "config.toml"
    token = "tok-" + "z" * 30
    config.write_text(
        config.read_text().replace("[server]\n", f'[server]\nauth_token = "{token}"\n')
    )
    config.chmod(0o600)
    note = ui.token_note(loc)
    assert "asks for it" in note and str(config) in note and token not in note
