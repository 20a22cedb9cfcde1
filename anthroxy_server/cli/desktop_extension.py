"""``anthroxy desktop-extension``: an installable Claude Desktop extension (``.mcpb``).

An MCPB bundle is a zip holding ``manifest.json`` (MCPB manifest version 0.3; the fields used
here are described in docs/claude-desktop.md, "What the bundle holds") and the files it names.
Ours holds one file besides the manifest, ``server/main.py``, which runs `anthroxy mcp`.

Claude Desktop starts the server exactly as ``server.mcp_config`` says, with ``${__dirname}`` and
``${user_config.<key>}`` substituted, and with none of the user's shell setup: no activated
virtualenv and often not the shell's PATH. So the bundle names the interpreter that built it by
its absolute path (``sys.executable``), which is the one that has anthroxy installed, and the
entry point also remembers where the ``anthroxy_server`` package was found. The bundle is
therefore tied to this machine's installation; rebuild it after moving or reinstalling anthroxy.

The user's port and proxy token are the extension's settings (``user_config``): the port goes to
``--port``, the token (``sensitive``, so Desktop masks and stores it securely) to
``$ANTHROXY_AUTH_TOKEN``, never to the command line. No key is ever written into the bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any, TextIO

import anthroxy_server
from anthroxy import __version__

from ..config.paths import CommandError, Locations
from . import daemon, mcp

MANIFEST_VERSION = "0.3"
ENTRY_POINT = "server/main.py"
DEFAULT_PORT = 8082  # ServerConfig's default, for when the configuration cannot be read
# MCPB's names for sys.platform values (docs/claude-desktop.md: "compatibility.platforms").
PLATFORMS = {"darwin": "darwin", "win32": "win32", "linux": "linux"}
# Fixed timestamp: the same inputs give the same bytes.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)

ENTRY_SOURCE = '''"""Starts `anthroxy mcp` for Claude Desktop (manifest.json, server.mcp_config).

Written by `anthroxy desktop-extension`; manifest.json runs it with BUILT_WITH.
"""

import sys

BUILT_WITH = {python!r}

# Where anthroxy_server was found when the extension was built; used only when this interpreter
# cannot import it by itself (anthroxy run from a source checkout).
SOURCE = {source!r}

try:
    from anthroxy_server.cli.dispatch import main
except ImportError:
    sys.path.append(SOURCE)
    try:
        from anthroxy_server.cli.dispatch import main
    except ImportError as exc:
        sys.stderr.write(
            f"anthroxy extension: {{sys.executable}} cannot import anthroxy ({{exc}}); install "
            "anthroxy again, then rebuild the extension with `anthroxy desktop-extension`\\n"
        )
        sys.exit(1)

sys.exit(main(["mcp", *sys.argv[1:]]))
'''


def _user_config(port: int) -> dict[str, Any]:
    return {
        "port": {
            "type": "number",
            "title": "Proxy port",
            "description": "The port anthroxy listens on (Claude Desktop's gateway base URL is "
            "http://127.0.0.1:<port>). Taken from your anthroxy configuration when the "
            "extension was built.",
            "default": port,
            "min": 1,
            "max": 65535,
            "required": True,
        },
        "auth_token": {
            "type": "string",
            "title": "Proxy token",
            "description": "The proxy's [server] auth_token, if you set one (the same value goes "
            "in Claude Desktop's gateway API key). Leave empty when anthroxy requires no token.",
            "sensitive": True,
            "required": False,
        },
    }


def manifest(python: str, port: int, config: str | None, platform: str) -> dict[str, Any]:
    """The MCPB manifest for an extension that runs `anthroxy mcp` with ``python``."""
    args = ["${__dirname}/" + ENTRY_POINT, "--port", "${user_config.port}"]
    if config is not None:
        args += ["--config", config]
    found: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "name": "anthroxy",
        "display_name": "anthroxy model proxy",
        "version": __version__,
        "description": "Status and start control for anthroxy, the local proxy that runs Claude "
        "on other model providers.",
        "long_description": "Adds the tools model_proxy_status (the same fields as "
        "claude-model-proxy's tool of that name), anthroxy_status and start_proxy. Runs "
        f"`anthroxy mcp` with {python}; rebuild the extension with `anthroxy "
        "desktop-extension` after reinstalling anthroxy.",
        "author": {"name": "anthroxy"},
        "server": {
            "type": "python",
            "entry_point": ENTRY_POINT,
            "mcp_config": {
                "command": python,
                "args": args,
                "env": {mcp.TOKEN_ENV: "${user_config.auth_token}"},
            },
        },
        "tools": [{"name": t["name"], "description": t["description"]} for t in mcp.TOOLS],
        "keywords": ["claude", "proxy", "gateway", "models", "anthroxy"],
        "license": "MIT",
        "user_config": _user_config(port),
    }
    if platform in PLATFORMS:  # the interpreter's path is only valid on this system
        found["compatibility"] = {"platforms": [PLATFORMS[platform]]}
    return found


def entry_point(python: str) -> str:
    source = str(Path(anthroxy_server.__file__).resolve().parent.parent)
    return ENTRY_SOURCE.format(python=python, source=source)


def bundle(manifest_data: dict[str, Any], entry: str) -> dict[str, bytes]:
    """The files of the bundle, by path inside the zip."""
    text = json.dumps(manifest_data, indent=2, ensure_ascii=False) + "\n"
    return {"manifest.json": text.encode(), ENTRY_POINT: entry.encode()}


def _configured_port(loc: Locations, config: str | None) -> int:
    try:
        return daemon.load_settings(loc, config).config.server.port
    except CommandError:
        return DEFAULT_PORT


def _write_zip(path: Path, files: dict[str, bytes], force: bool) -> None:
    if path.exists() and not force:
        raise CommandError(f"{path} exists; pass --force to overwrite it, or --out for another")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # a readable regular file once unpacked
            archive.writestr(info, data)
    os.replace(tmp, path)


def write(
    loc: Locations,
    out: TextIO,
    out_path: str | None,
    *,
    force: bool = False,
    config: str | None = None,
    python: str = sys.executable,
    platform: str = sys.platform,
) -> Path:
    """Write the ``.mcpb`` (default ``./anthroxy-<version>.mcpb``); its path."""
    if not python or not Path(python).is_absolute():
        raise CommandError(
            f"cannot tell which Python runs anthroxy (sys.executable is {python!r}); run "
            "`python -m anthroxy_server desktop-extension` with the interpreter that has it"
        )
    path = loc.cwd / Path(out_path or f"anthroxy-{__version__}.mcpb").expanduser()
    config_file = str(loc.cwd / Path(config).expanduser()) if config else None
    port = _configured_port(loc, config)
    files = bundle(manifest(python, port, config_file, platform), entry_point(python))
    _write_zip(path, files, force)
    out.write(
        f"wrote {path}\n"
        f"it runs `anthroxy mcp` with {python} (rebuild it after reinstalling anthroxy)\n"
        "install it in Claude Desktop: Settings > Extensions > Advanced settings > "
        "Install Extension..., then set the proxy port"
        f" (now {port}) and token if you use one\n"
    )
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="FILE", help="default: ./anthroxy-<version>.mcpb")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--config", metavar="FILE", help="configuration file the extension uses")


def command(args: argparse.Namespace, loc: Locations, out: TextIO) -> int:
    write(loc, out, args.out, force=args.force, config=args.config)
    return 0
