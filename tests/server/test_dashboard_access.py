"""Who may open the dashboard, and how its page and files are served: loopback only without a
token (403 for any other peer), the token for every API call when one is set (401 without it or
with a wrong one), the page's security headers, and only files the static folder holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from anthroxy.errors import AnthroxyError
from anthroxy_server.dashboard import access, static
from anthroxy_server.gateway.app import error_response

from .conftest import FakeUpstream
from .dashboard_gateway import TOKEN, gateway

API = ("overview", "health", "requests", "usage", "routing")


def peer(app: Any, address: str, headers: dict[str, str] | None = None) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (address, 40000) if name == "peername" else default
    )
    return make_mocked_request("GET", "/ui/api/overview", headers=headers, app=app,
                               transport=transport)  # fmt: skip


async def test_loopback_needs_no_token(aiohttp_client: Any, upstream: FakeUpstream) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    for name in API:
        answer = await client.get(f"/ui/api/{name}")
        assert answer.status == 200, (name, await answer.text())
        assert answer.headers["Cache-Control"] == "no-store"
    overview = await (await client.get("/ui/api/overview")).json()
    assert overview["auth_required"] is False


async def test_another_machine_is_refused_without_a_token(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    for data in (True, False):  # the API and the page alike
        request = peer(client.app, "192.168.1.20")
        with pytest.raises(AnthroxyError) as refused:
            access.check(request, data=data)
        assert refused.value.status == 403
        body = error_response(refused.value, request)
        assert body.status == 403
        assert b'"permission_error"' in body.body  # type: ignore[operator]
        assert "auth_token" in refused.value.message
    access.check(peer(client.app, "::1"), data=True)  # IPv6 loopback passes
    assert not access.is_loopback(None)
    assert not access.is_loopback("not-an-address")


async def test_with_a_token_the_api_needs_it(aiohttp_client: Any, upstream: FakeUpstream) -> None:
    client = await gateway(aiohttp_client, upstream.url, None, auth_token=TOKEN)
    page = await client.get("/ui")
    assert page.status == 200  # the page holds no data: it asks for the token
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"x-api-key": "wrong"}):
        answer = await client.get("/ui/api/overview", headers=headers)
        assert answer.status == 401
        error = (await answer.json())["error"]
        assert error["type"] == "authentication_error"
        assert "auth_token" in error["message"]
        assert TOKEN not in await answer.text()
        assert answer.headers["Cache-Control"] == "no-store"
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"x-api-key": TOKEN}):
        answer = await client.get("/ui/api/overview", headers=headers)
        assert answer.status == 200
        assert (await answer.json())["auth_required"] is True
    # Another machine may load the page, and the API with the token.
    access.check(peer(client.app, "10.1.2.3"), data=False)
    access.check(peer(client.app, "10.1.2.3", {"Authorization": f"Bearer {TOKEN}"}), data=True)
    with pytest.raises(AnthroxyError):
        access.check(peer(client.app, "10.1.2.3"), data=True)


async def test_the_page_carries_its_security_headers(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    for path in ("/ui", "/ui/", "/ui/static/index.html"):
        page = await client.get(path)
        assert page.status == 200
        assert page.content_type == "text/html"
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"


async def test_only_files_of_the_folder_with_their_types(
    aiohttp_client: Any, upstream: FakeUpstream, tmp_path: Path, monkeypatch: Any
) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    files = {"app.js": "application/javascript", "style.css": "text/css", "logo.png":
             "image/png", "logo.svg": "image/svg+xml", "LICENSE.txt": "text/plain",
             "index.html": "text/html"}  # fmt: skip
    for name in files:
        (folder / name).write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("outside the folder")
    (folder / "notes.md").write_text("no known type")
    monkeypatch.setattr(static, "STATIC", folder)
    client = await gateway(aiohttp_client, upstream.url, None)
    for name, kind in files.items():
        answer = await client.get(f"/ui/static/{name}")
        assert answer.status == 200, name
        assert answer.content_type == kind
    for name in ("notes.md", "nope.js", "..%2Fsecret.txt", "%2E%2E%2Fsecret.txt"):
        answer = await client.get(f"/ui/static/{name}")
        assert answer.status == 404, name
        assert (await answer.json())["error"]["type"] == "not_found_error"
        assert "outside the folder" not in await answer.text()
    traversal = await client.get("/ui/static/../../secret.txt")
    assert traversal.status == 404


async def test_the_pages_own_origin_may_reload_and_another_may_not(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    client = await gateway(aiohttp_client, upstream.url, None)
    host = f"{client.server.host}:{client.server.port}"
    own = await client.post("/ui/api/reload", json={}, headers={"Origin": f"http://{host}"})
    assert own.status == 200
    assert "reloaded" in await own.json()
    foreign = await client.post(
        "/ui/api/reload", json={}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status == 403
    plain = await client.post("/ui/api/reload", data="{}", headers={"Content-Type": "text/plain"})
    assert plain.status == 415
