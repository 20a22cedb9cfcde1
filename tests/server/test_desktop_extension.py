"""`anthroxy desktop-extension`: the .mcpb bundle is a zip whose manifest follows the MCPB
manifest 0.3 (docs/claude-desktop.md, "What the bundle holds"), and whose server
starts, exactly as the manifest's mcp_config says, into a working `anthroxy mcp`."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from anthroxy import __version__
from anthroxy_server.cli import daemon, desktop_extension, mcp
from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config.paths import Locations

from .test_cli_daemon import _kill_leftover, free_port

SECRET = "sk-desktop-secret-0123456789"
TOKEN = "proxy-token-from-desktop-42"

# MCPB manifest 0.3 (docs/claude-desktop.md, "What the bundle holds"): every object
# there is strict, so a key outside these sets makes the manifest invalid.
TOP_LEVEL = {
    "$schema", "manifest_version", "name", "display_name", "version", "description",
    "long_description", "author", "repository", "homepage", "documentation", "support", "icon",
    "icons", "screenshots", "localization", "server", "tools", "tools_generated", "prompts",
    "prompts_generated", "keywords", "license", "privacy_policies", "compatibility",
    "user_config", "_meta",
}  # fmt: skip
REQUIRED = {"manifest_version", "name", "version", "description", "author", "server"}
OPTION_KEYS = {
    "type", "title", "description", "required", "default", "multiple", "sensitive", "min", "max",
}  # fmt: skip
OPTION_TYPES = {"string", "number", "boolean", "directory", "file"}


@pytest.fixture
def loc(tmp_path: Path) -> Iterator[Locations]:
    home = tmp_path / "home"
    (home / ".config" / "anthroxy").mkdir(parents=True)
    (home / ".config" / "anthroxy" / "config.toml").write_text(
        f"[server]\nport = {free_port()}\n"
        '[providers.mock]\napi = "chat"\nbase_url = "http://127.0.0.1:9/v1"\nauth = "none"\n'
        "[providers.deepseek]\n"
        '[tiers]\ndefault = "deepseek/deepseek-v4-pro"\n'
    )
    env = {
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(sys.path),
        "DEEPSEEK_API_KEY": SECRET,
    }
    work = tmp_path / "work"
    work.mkdir()
    loc = Locations(env=env, home=home, cwd=work)
    yield loc
    _kill_leftover(loc)


def run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def unpack(bundle: Path, into: Path) -> dict[str, Any]:
    with zipfile.ZipFile(bundle) as archive:
        assert archive.testzip() is None
        archive.extractall(into)
    manifest: dict[str, Any] = json.loads((into / "manifest.json").read_text())
    return manifest


def check_manifest(manifest: Mapping[str, Any], unpacked: Path) -> None:
    assert REQUIRED <= set(manifest) <= TOP_LEVEL
    assert manifest["manifest_version"] == "0.3"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", manifest["version"])
    assert set(manifest["author"]) <= {"name", "email", "url"} and manifest["author"]["name"]
    server = manifest["server"]
    assert set(server) == {"type", "entry_point", "mcp_config"}
    assert server["type"] in {"python", "node", "binary"}
    assert (unpacked / server["entry_point"]).is_file()
    config = server["mcp_config"]
    assert set(config) <= {"command", "args", "env", "platform_overrides"}
    assert isinstance(config["command"], str)
    assert all(isinstance(arg, str) for arg in config["args"])
    assert all(isinstance(v, str) for v in config["env"].values())
    for tool in manifest["tools"]:
        assert set(tool) <= {"name", "description"}
    for key, option in manifest["user_config"].items():
        assert set(option) <= OPTION_KEYS, key
        assert option["type"] in OPTION_TYPES and option["title"] and option["description"]
    assert set(manifest["compatibility"]) <= {"claude_desktop", "platforms", "runtimes"}
    assert manifest["compatibility"]["platforms"] == [sys.platform]


def desktop_launch(
    manifest: Mapping[str, Any], unpacked: Path, values: Mapping[str, object]
) -> tuple[str, list[str], dict[str, str]]:
    """mcp_config with variables substituted as the MCPB reference implementation does
    (src/shared/config.ts, getMcpConfigForManifest): user_config defaults, then the user's
    values; an argument that is exactly a ``${user_config.x}`` with no value stays as written."""
    merged: dict[str, object] = {
        key: option["default"]
        for key, option in manifest["user_config"].items()
        if "default" in option
    }
    merged.update(values)
    variables = {"__dirname": str(unpacked)}
    for key, value in merged.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        variables[f"user_config.{key}"] = text

    def substitute(text: str) -> str:
        for name, value in variables.items():
            text = text.replace("${" + name + "}", value)
        return text

    config = manifest["server"]["mcp_config"]
    args = []
    for arg in config["args"]:
        whole = re.fullmatch(r"\$\{(user_config\.[^}]+)\}", arg)
        args.append(arg if whole and not variables.get(whole.group(1)) else substitute(arg))
    env = {name: substitute(value) for name, value in config["env"].items()}
    return substitute(config["command"]), args, env


def talk(
    command: str, args: list[str], env: Mapping[str, str], loc: Locations, calls: list[str]
) -> dict[Any, dict[str, Any]]:
    """initialize, initialized, tools/list, then ``tools/call`` each of ``calls``, over stdio."""
    lines: list[dict[str, Any]] = [
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "claude-ai", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "list", "method": "tools/list"},
    ]
    lines += [
        {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": name}}
        for n, name in enumerate(calls, 1)
    ]
    # Desktop gives the server its own environment plus the manifest's env; here the test's
    # HOME, PATH and PYTHONPATH stand for the former.
    done = subprocess.run(
        [command, *args],
        input="".join(json.dumps(line) + "\n" for line in lines).encode(),
        capture_output=True,
        env={**loc.env, **env},
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    return {reply["id"]: reply for reply in replies}


def report_of(reply: Mapping[str, Any]) -> dict[str, Any]:
    result = reply["result"]
    report: dict[str, Any] = json.loads(result["content"][0]["text"])
    assert report == result["structuredContent"]
    return report


def test_bundle_installs_and_runs_as_claude_desktop_would(loc: Locations, tmp_path: Path) -> None:
    code, out, err = run(loc, "desktop-extension")
    assert code == 0, err
    bundle = loc.cwd / f"anthroxy-{__version__}.mcpb"
    assert f"wrote {bundle}" in out and sys.executable in out
    manifest = unpack(bundle, tmp_path / "installed")
    check_manifest(manifest, tmp_path / "installed")
    assert [t["name"] for t in manifest["tools"]] == [t["name"] for t in mcp.TOOLS]
    assert manifest["server"]["mcp_config"]["command"] == sys.executable
    options = manifest["user_config"]
    configured_port = daemon.load_settings(loc).config.server.port
    assert options["port"]["type"] == "number" and options["port"]["default"] == configured_port
    assert options["auth_token"]["sensitive"] is True and options["auth_token"]["type"] == "string"
    assert "${user_config.auth_token}" in manifest["server"]["mcp_config"]["env"].values()
    assert "${user_config.auth_token}" not in manifest["server"]["mcp_config"]["args"]

    port = free_port()
    command, args, env = desktop_launch(
        manifest, tmp_path / "installed", {"port": port, "auth_token": TOKEN}
    )
    replies = talk(command, args, env, loc, ["model_proxy_status", "start_proxy"])
    assert replies[0]["result"]["serverInfo"]["name"] == "anthroxy"
    listed = [tool["name"] for tool in replies["list"]["result"]["tools"]]
    assert listed == [tool["name"] for tool in manifest["tools"]]
    status = report_of(replies[1])
    assert (status["listening"], status["error"], status["external"]) == (False, None, False)
    assert status["localUrl"] == f"http://127.0.0.1:{port}"
    assert status["providers"]["deepseek"]["hasApiKey"] is True
    assert status["tokenRequired"] is True
    started = report_of(replies[2])
    assert started["started"] is True and started["listening"] is True
    assert started["localUrl"] == f"http://127.0.0.1:{port}"
    # The started proxy inherits the extension's token ($ANTHROXY_AUTH_TOKEN) and requires it.
    assert "warning" not in started
    models = urllib.request.Request(started["localUrl"] + "/v1/models", headers={"x-api-key": "x"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(models, timeout=5)
    assert refused.value.code == 401
    text = json.dumps(replies)
    assert TOKEN not in text and SECRET not in text


def test_fields_left_empty_still_start_a_working_server(loc: Locations, tmp_path: Path) -> None:
    bundle = desktop_extension.write(loc, io.StringIO(), "out/ext.mcpb")
    assert bundle == loc.cwd / "out" / "ext.mcpb"
    manifest = unpack(bundle, tmp_path / "installed")
    # Nothing typed in: the port default applies, the token placeholder stays unreplaced.
    command, args, env = desktop_launch(manifest, tmp_path / "installed", {})
    assert env[mcp.TOKEN_ENV] == "${user_config.auth_token}"
    status = report_of(talk(command, args, env, loc, ["model_proxy_status"])[1])
    assert status["tokenRequired"] is False
    assert status["localUrl"] == f"http://127.0.0.1:{manifest['user_config']['port']['default']}"


def test_refuses_to_overwrite_without_force(loc: Locations) -> None:
    assert run(loc, "desktop-extension")[0] == 0
    bundle = loc.cwd / f"anthroxy-{__version__}.mcpb"
    first = bundle.read_bytes()
    code, _out, err = run(loc, "desktop-extension")
    assert code == 1 and "exists; pass --force" in err
    assert run(loc, "desktop-extension", "--force")[0] == 0
    assert bundle.read_bytes() == first  # same inputs, same bytes
    assert not list(loc.cwd.glob(".*.tmp"))


def test_no_secret_in_the_bundle_and_a_config_path_is_kept(loc: Locations, tmp_path: Path) -> None:
    config = loc.home / ".config" / "anthroxy" / "config.toml"
    config.write_text(
        config.read_text().replace("[server]\n", f'[server]\nauth_token = "{TOKEN}"\n')
    )
    config.chmod(0o600)
    other = tmp_path / "other.toml"
    other.write_text(config.read_text())
    other.chmod(0o600)
    bundle = desktop_extension.write(loc, io.StringIO(), None, config=str(other))
    with zipfile.ZipFile(bundle) as archive:
        everything = b"".join(archive.read(name) for name in archive.namelist())
    assert TOKEN.encode() not in everything and SECRET.encode() not in everything
    manifest = json.loads(zipfile.ZipFile(bundle).read("manifest.json"))
    args = manifest["server"]["mcp_config"]["args"]
    assert args[-2:] == ["--config", str(other)]


def test_the_entry_point_explains_a_missing_anthroxy(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text(
        desktop_extension.entry_point(sys.executable).replace(
            repr(str(Path(desktop_extension.__file__).resolve().parents[2])), repr(str(tmp_path))
        )
    )
    # -S: no site-packages, so anthroxy is importable from nowhere.
    done = subprocess.run(
        [sys.executable, "-S", str(script)], capture_output=True, text=True, env={}, timeout=30
    )
    assert done.returncode == 1
    assert "cannot import anthroxy" in done.stderr
    assert "anthroxy desktop-extension" in done.stderr and "Traceback" not in done.stderr
