"""``anthroxy set-model``, ``refresh`` and ``models PROVIDER`` as a user runs them."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.cli import dispatch
from anthroxy_server.config.paths import Locations

USER_FILE = """\
# my anthroxy setup: keep this comment
[server]
port = 18999   # an unused port: no proxy answers in tests

[providers.x]
api = "chat"
base_url = "{url}/v1"   # the fake
api_key_env = "X_KEY"
models = ["x-0-pro"]

[tiers]
# opus stays as I wrote it
opus = "x/x-0-pro"  # trailing comment
default = "x/x-0-pro"
"""


def locations(tmp_path: Path) -> Locations:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "ANTHROXY_MANAGED_CONFIG": str(tmp_path / "none.toml"),
        "X_KEY": "sk-cli-test-0123456789abcdef",
    }
    return Locations(env=env, home=tmp_path, cwd=tmp_path)


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config" / "anthroxy" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(USER_FILE.format(url=url))
    path.chmod(0o600)
    return path


def run(loc: Locations, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = dispatch.run(list(argv), loc, io.StringIO(), out, err)
    return code, out.getvalue(), err.getvalue()


def test_set_model_keeps_comments_and_other_values(tmp_path: Path) -> None:
    loc = locations(tmp_path)
    path = write_config(tmp_path, "http://127.0.0.1:9")
    before = path.read_text()
    code, out, err = run(loc, "set-model", "default", "x/@auto:pro")
    assert code == 0, err
    after = path.read_text()
    assert after == before.replace('default = "x/x-0-pro"', 'default = "x/@auto:pro"')
    assert path.stat().st_mode & 0o777 == 0o600
    assert "tiers.default = 'x/@auto:pro'" in out and "no proxy is running" in out


def test_set_model_refuses_unknown_tier_and_provider(tmp_path: Path) -> None:
    loc = locations(tmp_path)
    path = write_config(tmp_path, "http://127.0.0.1:9")
    before = path.read_bytes()
    code, _, err = run(loc, "set-model", "large", "x/x-0-pro")
    assert code == 2 and "unknown tier 'large'" in err
    code, _, err = run(loc, "set-model", "opus", "nope/model")
    assert code == 2 and "provider 'nope'" in err
    assert path.read_bytes() == before


async def fake_models(aiohttp_server: Any) -> str:
    async def models(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer sk-cli-test-0123456789abcdef"
        data = [{"id": "x-1-pro", "created": 1700000000}, {"id": "x-2-pro"}]
        return web.json_response({"object": "list", "data": data})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_refresh_and_models_without_a_proxy(tmp_path: Path, aiohttp_server: Any) -> None:
    url = await fake_models(aiohttp_server)
    loc = locations(tmp_path)
    write_config(tmp_path, url)
    code, out, err = await asyncio.to_thread(run, loc, "refresh")
    assert code == 0, err
    assert "refreshed the cache directly" in out and "x: 2 models" in out
    assert list((tmp_path / "cache" / "anthroxy" / "models").glob("x-*.json"))
    await asyncio.to_thread(run, loc, "set-model", "sonnet", "x/@auto:pro")
    code, out, err = await asyncio.to_thread(run, loc, "models", "x")
    assert code == 0, err
    assert "x: 2 models, fetched now (cached list was" in out
    assert "x-1-pro" in out and "2023-11-14" in out
    assert "# x/@auto:pro -> x-2-pro" in out


async def test_models_table_shows_what_auto_means(tmp_path: Path, aiohttp_server: Any) -> None:
    url = await fake_models(aiohttp_server)
    loc = locations(tmp_path)
    write_config(tmp_path, url)
    await asyncio.to_thread(run, loc, "set-model", "opus", "x/@auto:pro")
    code, out, _ = await asyncio.to_thread(run, loc, "models")
    assert code == 0 and "@auto:pro=(no list yet)" in out
    await asyncio.to_thread(run, loc, "refresh", "x")
    code, out, _ = await asyncio.to_thread(run, loc, "models")
    assert code == 0 and "@auto:pro=x-2-pro" in out


async def test_refresh_goes_through_a_running_proxy(tmp_path: Path, aiohttp_server: Any) -> None:
    from aiohttp.test_utils import TestServer

    from anthroxy_server.cli import daemon
    from anthroxy_server.gateway.app import create_app
    from tests.server.conftest import free_port

    url = await fake_models(aiohttp_server)
    loc = locations(tmp_path)
    path = write_config(tmp_path, url)
    port = free_port()
    path.write_text(path.read_text().replace("port = 18999", f"port = {port}"))
    settings = daemon.load_settings(loc)
    proxy_cache = tmp_path / "proxy-cache"
    server = TestServer(create_app(settings, cache_dir=proxy_cache), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        code, out, err = await asyncio.to_thread(run, loc, "refresh")
    finally:
        await server.close()
    assert code == 0, err
    assert out == f"# refreshed by the proxy at http://127.0.0.1:{port}\nx: 2 models\n"
    assert list((proxy_cache / "models").glob("x-*.json"))  # the proxy's cache, not ours
    assert not (tmp_path / "cache" / "anthroxy" / "models").exists()


async def test_refresh_reports_a_failure(tmp_path: Path) -> None:
    loc = locations(tmp_path)
    write_config(tmp_path, "http://127.0.0.1:9")  # nothing listens on port 9
    code, out, _ = await asyncio.to_thread(run, loc, "refresh", "x")
    assert code == 1 and out.splitlines()[-1].startswith("x: failed: x: cannot reach")


def test_set_model_says_when_a_project_file_wins(tmp_path: Path) -> None:
    loc = locations(tmp_path)
    write_config(tmp_path, "http://127.0.0.1:9")
    project = tmp_path / ".anthroxy" / "config.toml"
    project.parent.mkdir()
    project.write_text('[tiers]\nopus = "x/x-0-pro"\n')
    code, out, err = run(loc, "set-model", "opus", "x/@auto")
    assert code == 0, err
    assert f"note: {project} also sets tiers.opus" in out
