"""Invariants of the security defaults (issue 17): a web page the user visits cannot use the
proxy (foreign ``Host``, foreign ``Origin``, a body that is not ``application/json``), while
Claude Code, the SDKs and curl (no Origin, a loopback Host, JSON) keep working; the server does
not listen beyond loopback without a token; client strings cannot break a reply header or forge
a log line; ``/healthz`` details need the token."""

from __future__ import annotations

import argparse
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.gateway import serve
from anthroxy_server.gateway.logs import LOGGER_NAME, setup_logging

from .conftest import message_body, short_reply
from .test_chatgpt import rig  # noqa: F401 (the ChatGPT fixture)

TOKEN = "proxy-token-123456"


def _error(body: dict[str, Any]) -> tuple[str, str]:
    assert body["type"] == "error", body
    return body["error"]["type"], body["error"]["message"]


async def test_cross_site_text_plain_post_is_refused(make_gateway, upstream) -> None:
    """The issue's attack: a form-like POST from a page, which browsers send without preflight."""
    upstream.handler = short_reply
    client = await make_gateway()
    response = await client.post(
        "/v1/messages",
        data=json.dumps(message_body()),
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert response.status == 403
    kind, message = _error(await response.json())
    assert kind == "permission_error" and "allowed_origins" in message
    assert "evil.example" in message
    assert upstream.seen == []


async def test_text_plain_without_origin_is_415_naming_the_header(make_gateway, upstream) -> None:
    upstream.handler = short_reply
    client = await make_gateway()
    response = await client.post(
        "/v1/messages", data=json.dumps(message_body()), headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    kind, message = _error(await response.json())
    assert kind == "invalid_request_error" and "application/json" in message
    assert "Content-Type" in message and "text/plain" in message
    assert upstream.seen == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
async def test_json_with_parameters_passes(make_gateway, upstream, content_type: str) -> None:
    upstream.handler = short_reply
    client = await make_gateway()
    response = await client.post(
        "/v1/messages", data=json.dumps(message_body()), headers={"Content-Type": content_type}
    )
    assert response.status == 200, await response.text()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8082", "127.0.0.1.evil.example"])
async def test_foreign_host_is_refused(make_gateway, upstream, host: str) -> None:
    """DNS rebinding: the attacker's name resolves to 127.0.0.1, the Host header still says it."""
    upstream.handler = short_reply
    client = await make_gateway()
    for method, path in (("POST", "/v1/messages"), ("GET", "/healthz"), ("GET", "/v1/models")):
        kwargs: dict[str, Any] = {"json": message_body()} if method == "POST" else {}
        response = await client.request(method, path, headers={"Host": host}, **kwargs)
        assert response.status == 403, (method, path)
        kind, message = _error(await response.json())
        assert kind == "permission_error" and "allowed_hosts" in message
    assert upstream.seen == []


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8082", "127.0.0.1", "127.0.0.1:9", "[::1]", "[::1]:8082",
             "LOCALHOST.", "127.5.6.7"],
)  # fmt: skip
async def test_loopback_hosts_pass(make_gateway, upstream, host: str) -> None:
    upstream.handler = short_reply
    client = await make_gateway()
    response = await client.post("/v1/messages", json=message_body(), headers={"Host": host})
    assert response.status == 200, await response.text()


async def test_allowed_hosts_and_origins_let_a_listed_name_in(make_gateway, upstream) -> None:
    upstream.handler = short_reply
    client = await make_gateway(
        allowed_hosts=["proxy.lan"], allowed_origins=["https://dash.example"]
    )
    headers = {"Host": "proxy.lan:8082", "Origin": "https://dash.example"}
    response = await client.post("/v1/messages", json=message_body(), headers=headers)
    assert response.status == 200, await response.text()
    headers["Origin"] = "https://other.example"
    response = await client.post("/v1/messages", json=message_body(), headers=headers)
    assert response.status == 403


async def test_the_servers_own_origin_passes(make_gateway, upstream) -> None:
    """The dashboard's page, served by the proxy, sends its own origin."""
    upstream.handler = short_reply
    client = await make_gateway()
    host = f"127.0.0.1:{client.port}"
    headers = {"Host": host, "Origin": f"http://{host}"}
    response = await client.post("/v1/messages", json=message_body(), headers=headers)
    assert response.status == 200, await response.text()
    response = await client.get("/healthz", headers={"Origin": "null"})
    assert response.status == 403  # a sandboxed page or a file:// page


def test_host_rules_for_the_bound_address() -> None:
    from anthroxy_server.config.schema import ServerConfig
    from anthroxy_server.gateway.guard import host_allowed

    wildcard = ServerConfig(host="0.0.0.0", auth_token=TOKEN)
    assert host_allowed("192.168.1.20:8082", wildcard)  # an address: no rebinding possible
    assert not host_allowed("rebind.example", wildcard)
    named = ServerConfig(host="10.0.0.5", auth_token=TOKEN)
    assert host_allowed("10.0.0.5:8082", named) and not host_allowed("10.0.0.6", named)
    assert host_allowed("anything.example", ServerConfig(allowed_hosts=["*"]))


def _serve_args(tmp_path: Path, host: str) -> argparse.Namespace:
    config = tmp_path / "anthroxy.toml"
    config.write_text("")
    config.chmod(0o600)
    return argparse.Namespace(config=str(config), host=host, port=8082, debug=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
@pytest.mark.usefixtures("kept_logging")
def test_no_open_bind_without_a_token(tmp_path, monkeypatch, capsys, host: str) -> None:
    started: list[object] = []
    monkeypatch.setattr(serve.web, "run_app", lambda *a, **k: started.append(a))
    monkeypatch.delenv("ANTHROXY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert serve.serve(_serve_args(tmp_path, host)) == 2
    assert started == []
    err = capsys.readouterr().err
    assert f"refusing to listen on {host} without server.auth_token" in err
    assert "ANTHROXY_AUTH_TOKEN" in err and "127.0.0.1" in err


@pytest.mark.usefixtures("kept_logging")
def test_open_bind_with_a_token_starts(tmp_path, monkeypatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(serve.web, "run_app", lambda *a, **k: started.append(k["host"]))
    monkeypatch.setenv("ANTHROXY_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert serve.serve(_serve_args(tmp_path, "0.0.0.0")) == 0
    assert started == ["0.0.0.0"]


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("model", message_body(model="f/x\r\nX-Injected: 1")),
        ("model", message_body(model="claude\n2026-12-04 00:00:00,000 INFO fake log line")),
        ("model", message_body(model="claude\x1b[2J")),
        ("model", message_body(model="claude\u2028x")),
        ("metadata.user_id", message_body(metadata={"user_id": "u\r\nX-Injected: 1"})),
    ],
)
async def test_control_characters_in_routed_strings_are_400(
    make_gateway, upstream, field: str, body: dict[str, Any]
) -> None:
    upstream.handler = short_reply
    client = await make_gateway()
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        response = await client.post(path, json=body)
        assert response.status == 400, await response.text()
        kind, message = _error(await response.json())
        assert kind == "invalid_request_error" and message.startswith(field)
        assert "\n" not in message and "\r" not in message
        assert message.endswith(f"@ $.{field}")
    assert upstream.seen == []


@pytest.fixture
def kept_logging() -> Iterator[None]:
    """Put the loggers back as they were after a test that runs ``setup_logging`` (the tests
    after it read their logs through caplog, which needs propagation)."""
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level,
               logging.getLogger(name).propagate)
        for name in (LOGGER_NAME, "aiohttp")
    }  # fmt: skip
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


@pytest.fixture
def text_log(kept_logging: None) -> io.StringIO:
    """The gateway's text log, as ``serve`` sets it up, written to a buffer."""
    setup_logging(level="info", fmt="text")
    buffer = io.StringIO()
    for name in (LOGGER_NAME, "aiohttp"):
        for handler in logging.getLogger(name).handlers:
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(buffer)
    return buffer


async def test_client_strings_cannot_forge_log_lines(make_gateway, upstream, text_log) -> None:
    upstream.handler = short_reply
    client = await make_gateway()
    forged = "2026-12-04 00:00:00,000 INFO fake log line"
    await client.post("/v1/messages", json=message_body(model=f"claude\n{forged}"))
    await client.get(f"/v1/nothing%0A{forged.replace(' ', '%20')}")
    await client.get("/v1/models/x%0D%0A" + forged.replace(" ", "%20"))
    lines = text_log.getvalue().splitlines()
    assert lines and not any(line.startswith(forged) for line in lines), lines
    assert any("\\n2026-12-04" in line for line in lines)


async def test_healthz_details_need_the_token(make_gateway, upstream) -> None:
    client = await make_gateway(auth_token=TOKEN)
    bare = await client.get("/healthz")
    assert bare.status == 200
    assert set(await bare.json()) == {"status", "version", "service"}
    wrong = await client.get("/healthz", headers={"Authorization": "Bearer nope-nope-nope"})
    assert set(await wrong.json()) == {"status", "version", "service"}
    full = await client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    detail = await full.json()
    assert {"providers", "routing", "config_sources"} <= set(detail)
    with_key = await client.get("/healthz", headers={"x-api-key": TOKEN})
    assert "providers" in await with_key.json()


async def test_healthz_without_a_token_configured_keeps_its_details(make_gateway) -> None:
    client = await make_gateway()
    assert "providers" in await (await client.get("/healthz")).json()


def test_provider_tokens_join_the_redaction_list() -> None:
    """OAuth and Copilot tokens are obtained while running, not configured: still redacted."""
    from anthroxy_server.gateway.logs import ContextFilter, redact
    from anthroxy_server.providers.codex_auth import CodexTokens
    from anthroxy_server.providers.copilot_auth import CopilotToken

    CodexTokens("chatgpt-access-token-1", "chatgpt-refresh-token-1", None, None)
    CopilotToken("tid=copilot-token-1;exp=1", "https://api.example", 0.0, None, None, True)
    line = "sent chatgpt-access-token-1 / chatgpt-refresh-token-1 / tid=copilot-token-1;exp=1"
    assert redact(line, ()) == "sent [REDACTED] / [REDACTED] / [REDACTED]"
    record = logging.LogRecord("anthroxy", logging.INFO, __file__, 1, "got %s", (line,), None)
    assert ContextFilter().filter(record)
    assert "token-1" not in record.getMessage()


async def test_token_refresh_has_its_own_short_timeout(rig, monkeypatch) -> None:  # noqa: F811
    """A hung token endpoint fails the request after TOKEN_TIMEOUT, not the provider's 5 s."""
    from anthroxy_server.providers import codex_auth

    from .fake_chatgpt import write_auth
    from .test_chatgpt import ask, expired

    monkeypatch.setattr(codex_auth, "TOKEN_TIMEOUT", 0.3)
    write_auth(rig.home, expired(), "rt-0")
    rig.tokens.delay = 3.0
    started = time.monotonic()
    response = await rig.client.post("/v1/messages", json=ask())
    elapsed = time.monotonic() - started
    assert response.status >= 500, await response.text()
    assert elapsed < 2.0, elapsed
