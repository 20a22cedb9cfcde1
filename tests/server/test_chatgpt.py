"""Invariants of the ``chatgpt`` provider (ChatGPT subscription through the Codex CLI's login):

* the login file is refreshed at most once per expiry, under a lock, and always ends holding the
  newest token pair, mode 0600, with every field it had kept;
* a 401 is recovered the Codex CLI's way (re-read, retry; refresh, retry; then a clear error);
* anything unrecoverable reaches the client as an Anthropic error telling the person what to do,
  and no token ever appears in a reply, /healthz or the logs;
* the official anthropic SDK, through the app, gets faithful answers (text, tools with reasoning
  handed back, streamed and not) from a local fake of the backend.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

import anthropic
import pytest
from aiohttp import web

from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.providers.chatgpt import BACKEND_FIELDS, DEFAULT_INSTRUCTIONS, conversation_key
from anthroxy_server.providers.codex_auth import CLIENT_ID, jwt_claims

from .fake_chatgpt import (
    ACCOUNT,
    FakeBackend,
    FakeTokenServer,
    json_reply,
    make_jwt,
    reasoning_tool_stream,
    stream_reply,
    text_stream,
    write_auth,
)

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
USAGE_LIMIT = {
    "error": {
        "type": "usage_limit_reached",
        "message": "The usage limit has been reached",
        "plan_type": "plus",
        "resets_in_seconds": 1800,
    }
}


class Rig:
    def __init__(self, home: Path, tokens: FakeTokenServer, backend: FakeBackend) -> None:
        self.home, self.tokens, self.backend = home, tokens, backend
        self.client: Any = None

    @property
    def auth(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.home / "auth.json").read_text())
        return data

    def sdk(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            base_url=str(self.client.server.make_url("")), api_key="client", max_retries=0
        )


@pytest.fixture
async def rig(aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path) -> Rig:
    tokens = FakeTokenServer()
    backend = FakeBackend(tokens=tokens)
    fake = web.Application()
    fake.router.add_post("/oauth/token", tokens.handle)
    fake.router.add_post("/backend-api/codex/responses", backend.handle)
    server = await aiohttp_server(fake)
    base = str(server.make_url("")).rstrip("/")
    rig = Rig(tmp_path / "codex", tokens, backend)
    raw = {
        "providers": {
            "chatgpt": {
                "base_url": base + "/backend-api/codex",
                "codex_home": str(rig.home),
                "token_url": base + "/oauth/token",
                "read_timeout": 5.0,
            }
        },
        "tiers": {"default": "chatgpt/gpt-5.4"},
    }
    # HOME in the test dir: anthroxy's own login file (the fallback) is looked for there.
    settings = settings_from_config(structure_config(raw), {"HOME": str(tmp_path)})
    rig.client = await aiohttp_client(create_app(settings))
    return rig


def expired() -> str:
    return make_jwt(time.time() - 10, nonce="old")


def valid(nonce: str = "ok") -> str:
    return make_jwt(time.time() + 3600, nonce=nonce)


def ask(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(extra)
    return body


# ---------------------------------------------------------------------------------------------
# Refreshing the login file.


async def test_two_concurrent_requests_refresh_once(rig: Rig) -> None:
    path = write_auth(rig.home, expired(), "rt-0", custom={"keep": [1, 2]}, auth_mode="chatgpt")
    data = json.loads(path.read_text())
    data["tokens"]["future_field"] = "kept"
    path.write_text(json.dumps(data))
    path.chmod(0o644)  # the rewrite must end at 0600 whatever the file had
    rig.tokens.delay = 0.2  # both requests are waiting while the one refresh is in flight
    rig.backend.replies += [stream_reply(text_stream("one")), stream_reply(text_stream("two"))]
    api = rig.sdk()
    first, second = await asyncio.gather(api.messages.create(**ask()), api.messages.create(**ask()))
    assert {first.content[0].text, second.content[0].text} == {"one", "two"}
    assert rig.tokens.refreshes == 1
    new_access = rig.tokens.issued[0]
    auth = rig.auth
    assert auth["tokens"]["access_token"] == new_access
    assert auth["tokens"]["refresh_token"] == "rt-1"  # the rotated one, not the spent rt-0
    assert auth["tokens"]["id_token"] != data["tokens"]["id_token"]
    assert auth["tokens"]["future_field"] == "kept" and auth["tokens"]["account_id"] == ACCOUNT
    assert auth["custom"] == {"keep": [1, 2]} and auth["auth_mode"] == "chatgpt"
    assert auth["last_refresh"] != "2025-01-01T00:00:00Z" and auth["last_refresh"].endswith("Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in rig.home.iterdir()] == ["auth.json"]  # no temp or lock file left
    (request,) = rig.tokens.bodies
    assert request == {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": "rt-0",
        "scope": "openid profile email",
    }
    assert {s.headers["Authorization"] for s in rig.backend.seen} == {f"Bearer {new_access}"}


async def test_refresh_waits_for_another_process_holding_the_file_lock(rig: Rig) -> None:
    write_auth(rig.home, expired(), "rt-0")
    rig.backend.replies.append(stream_reply(text_stream("after")))
    fd = os.open(rig.home, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as another anthroxy process refreshing would
    try:
        request = asyncio.ensure_future(rig.sdk().messages.create(**ask()))
        await asyncio.sleep(0.3)
        assert not request.done() and rig.tokens.refreshes == 0
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert (await request).content[0].text == "after"
    assert rig.tokens.refreshes == 1


async def test_401_rereads_the_file_and_retries(rig: Rig) -> None:
    """The Codex CLI refreshed behind anthroxy's back: the file's new token is used, no refresh."""
    old, new = valid("A"), valid("B")
    write_auth(rig.home, old, "rt-0")
    rig.backend.valid = {old}
    rig.backend.replies += [stream_reply(text_stream("first")), stream_reply(text_stream("2nd"))]
    api = rig.sdk()
    assert (await api.messages.create(**ask())).content[0].text == "first"
    write_auth(rig.home, new, "rt-9")  # what `codex` did meanwhile
    rig.backend.valid = {new}
    assert (await api.messages.create(**ask())).content[0].text == "2nd"
    bearers = [s.headers["Authorization"] for s in rig.backend.seen]
    assert bearers == [f"Bearer {old}", f"Bearer {old}", f"Bearer {new}"]
    assert rig.tokens.refreshes == 0


async def test_401_with_an_unchanged_file_refreshes_once(rig: Rig) -> None:
    write_auth(rig.home, valid("revoked"), "rt-0")  # not expired, yet refused by the backend
    rig.backend.replies.append(stream_reply(text_stream("fine")))
    message = await rig.sdk().messages.create(**ask())
    assert message.content[0].text == "fine"
    assert rig.tokens.refreshes == 1
    assert rig.auth["tokens"]["refresh_token"] == "rt-1"
    assert len(rig.backend.seen) == 2


async def test_401_after_refresh_is_final_and_tokens_never_leak(rig: Rig, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    access = valid("refused")
    write_auth(rig.home, access, "rt-0")
    rig.backend.tokens = None  # the backend refuses every token, even fresh ones
    response = await rig.client.post("/v1/messages", json=ask())
    assert response.status == 401
    assert response.headers["x-should-retry"] == "false"
    error = (await response.json())["error"]
    assert error["type"] == "authentication_error" and "codex login" in error["message"]
    assert len(rig.backend.seen) == 2  # the first token, then the refreshed one
    health = await (await rig.client.get("/healthz")).text()
    secrets = [access, "rt-0", "rt-1", rig.tokens.issued[0]]
    for secret in secrets:
        assert secret not in error["message"] and secret not in health
        assert secret not in caplog.text
    assert json.loads(health)["providers"]["chatgpt"]["key_source"] == "codex"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("refresh_token_expired", "expired"),
        ("refresh_token_reused", "already used"),
        ("refresh_token_invalidated", "revoked"),
    ],
)
async def test_permanent_refresh_error_asks_for_codex_login(rig: Rig, code, reason) -> None:
    path = write_auth(rig.home, expired(), "rt-0")
    before = path.read_bytes()
    rig.tokens.fail_code = code
    response = await rig.client.post("/v1/messages", json=ask())
    assert response.status == 401 and response.headers["x-should-retry"] == "false"
    error = (await response.json())["error"]
    assert error["type"] == "authentication_error"
    assert "codex login" in error["message"] and reason in error["message"]
    assert code in error["message"]
    assert rig.backend.seen == [] and path.read_bytes() == before


async def test_a_reused_refresh_token_is_refused_by_the_fake(rig: Rig) -> None:
    """The fake is strict like OpenAI: a spent refresh token fails (what an unlocked double
    refresh would hit), so the one-refresh test above proves the lock, not luck."""
    rig.tokens.used.add("rt-0")
    write_auth(rig.home, expired(), "rt-0")
    response = await rig.client.post("/v1/messages", json=ask(stream=True))
    assert response.status == 401
    assert "refresh_token_reused" in (await response.json())["error"]["message"]


async def test_missing_login_file_is_a_clear_error(rig: Rig) -> None:
    rig.home.mkdir()
    response = await rig.client.post("/v1/messages", json=ask(stream=True))
    assert response.status == 401  # before any byte of the stream: a plain JSON error
    message = (await response.json())["error"]["message"]
    assert "no ChatGPT login found" in message and str(rig.home / "auth.json") in message
    assert "anthroxy login chatgpt" in message and "codex login" in message
    assert "keyring" in message


async def test_api_key_only_login_is_a_clear_error(rig: Rig) -> None:
    rig.home.mkdir()
    (rig.home / "auth.json").write_text(json.dumps({"OPENAI_API_KEY": "sk-x"}))
    response = await rig.client.post("/v1/messages", json=ask())
    assert response.status == 401
    message = (await response.json())["error"]["message"]
    assert "holds an API key" in message and "sk-x" not in message


# ---------------------------------------------------------------------------------------------
# Usage limits.


@pytest.mark.parametrize("status", [429, 404])
async def test_usage_limit_reached_is_a_429_with_retry_after(rig: Rig, status: int) -> None:
    write_auth(rig.home, valid(), "rt-0")
    rig.backend.valid = {rig.auth["tokens"]["access_token"]}
    rig.backend.replies.append(json_reply(status, USAGE_LIMIT))
    response = await rig.client.post("/v1/messages", json=ask())
    assert response.status == 429
    assert response.headers["retry-after"] == "1800"
    assert (await response.json())["error"]["type"] == "rate_limit_error"


async def test_usage_limit_inside_response_failed(rig: Rig) -> None:
    write_auth(rig.home, valid(), "rt-0")
    rig.backend.valid = {rig.auth["tokens"]["access_token"]}
    failed = {
        "type": "response.failed",
        "response": {"status": "failed", "error": {**USAGE_LIMIT["error"], "code": None}},
    }
    body = f"event: response.failed\ndata: {json.dumps(failed)}\n\n".encode()
    rig.backend.replies += [stream_reply(body), stream_reply(body)]
    response = await rig.client.post("/v1/messages", json=ask())
    assert response.status == 429 and response.headers["retry-after"] == "1800"
    # Streamed, the failure is the backend's first event: the client has seen nothing yet, so
    # it gets the same 429 with its retry-after instead of a stream that fails.
    streamed = await rig.client.post("/v1/messages", json=ask(stream=True))
    assert streamed.status == 429 and streamed.headers["retry-after"] == "1800"
    assert (await streamed.json())["error"]["type"] == "rate_limit_error"


# ---------------------------------------------------------------------------------------------
# The SDK against the fake backend.


async def test_sdk_text_streamed_and_not_with_backend_request_shape(rig: Rig) -> None:
    write_auth(rig.home, valid(), "rt-0")
    rig.backend.valid = {rig.auth["tokens"]["access_token"]}
    rig.backend.replies += [stream_reply(text_stream("Hello there")) for _ in range(2)]
    api = rig.sdk()
    # Sent raw: fields the backend would refuse by name, which anthroxy must leave out.
    sent = ask(extra_body={"temperature": 0.2, "top_p": 0.9}, metadata={"user_id": "u-1"})
    message = await api.messages.create(**sent)
    assert message.content[0].text == "Hello there" and message.stop_reason == "end_turn"
    # input_tokens counts the uncached ones only; the cached 4 are reported apart.
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (16, 4)
    assert message.model == "claude-sonnet-4-6"
    async with api.messages.stream(**sent) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "Hello there" and final.usage.output_tokens == 5
    for seen in rig.backend.seen:
        body, headers = seen.body, seen.headers
        assert set(body) <= set(BACKEND_FIELDS)
        assert body["stream"] is True and body["store"] is False  # even for the JSON client
        assert body["instructions"] == DEFAULT_INSTRUCTIONS  # the client sent no system
        assert body["include"] == ["reasoning.encrypted_content"]
        for refused in ("max_output_tokens", "temperature", "top_p", "metadata", "user"):
            assert refused not in body
        assert headers["session_id"] == body["prompt_cache_key"]
        assert headers["chatgpt-account-id"] == ACCOUNT
        assert headers["OpenAI-Beta"] == "responses=experimental"
        assert headers["originator"] == "anthroxy" and "anthroxy" in headers["User-Agent"]
    # One conversation, one cache key, across both requests.
    assert (
        rig.backend.seen[0].body["prompt_cache_key"] == rig.backend.seen[1].body["prompt_cache_key"]
    )


async def test_sdk_tool_round_trip_hands_reasoning_back(rig: Rig) -> None:
    write_auth(rig.home, valid(), "rt-0")
    rig.backend.valid = {rig.auth["tokens"]["access_token"]}
    encrypted = "gAAAA-encrypted-reasoning-0123456789"
    PARIS = '{"city":"Paris"}'
    rig.backend.replies += [
        stream_reply(reasoning_tool_stream(encrypted, "Need weather.", "call_7", PARIS)),
        stream_reply(text_stream("Sunny in Paris.")),
    ]  # fmt: skip
    api = rig.sdk()
    question = {"role": "user", "content": "Weather in Paris?"}
    common: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4000,
        "tools": [WEATHER_TOOL],
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "system": "Be brief.",
    }
    async with api.messages.stream(**common, messages=[question]) as stream:
        first = await stream.get_final_message()
    thinking, tool = first.content
    assert thinking.type == "thinking" and thinking.thinking == "Need weather."
    assert tool.type == "tool_use" and tool.input == {"city": "Paris"}
    assert first.stop_reason == "tool_use"
    second = await api.messages.create(
        **common,
        messages=[
            question,
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sunny"}],
            },
        ],
    )
    assert second.content[0].text == "Sunny in Paris."
    items = rig.backend.seen[1].body["input"]
    kinds = [item.get("type") for item in items]
    reasoning = items[kinds.index("reasoning")]
    assert reasoning["encrypted_content"] == encrypted  # handed back for the model to continue
    call = items[kinds.index("function_call")]
    output = items[kinds.index("function_call_output")]
    assert call["call_id"] == output["call_id"] == "call_7" and output["output"] == "sunny"
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
    assert rig.backend.seen[1].body["instructions"] == "Be brief."
    assert rig.backend.seen[0].body["reasoning"]["summary"] == "auto"


# ---------------------------------------------------------------------------------------------
# Pieces: JWT claims, the conversation key, configuration.


def test_jwt_claims_reads_the_payload_and_tolerates_garbage() -> None:
    claims = jwt_claims(make_jwt(1234, account="acct-9"))
    assert claims["exp"] == 1234
    assert claims["https://api.openai.com/auth"] == {"chatgpt_account_id": "acct-9"}
    for junk in ("", "a.b", "a.!!!.c", "a.bnVsbA.c"):  # "bnVsbA" is base64 of "null"
        assert jwt_claims(junk) == {}


def test_a_sub_agent_gets_its_own_key_within_the_session() -> None:
    sid = "0f5c4e2a-4a52-4a0e-9d3e-3b8f2a1c9d77"
    main = conversation_key({"x-claude-code-session-id": sid}, {})
    agent = conversation_key(
        {"x-claude-code-session-id": sid, "x-claude-code-agent-id": "agent_7f3a"}, {}
    )
    assert main == sid and agent == f"{sid}-agent_7f3a"
    odd = {"x-claude-code-session-id": sid, "x-claude-code-agent-id": "no spaces allowed"}
    assert conversation_key(odd, {}) == sid


def test_conversation_key_prefers_the_client_session() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    sid = "0b3f8c2e-1111-4222-8333-944445555666"
    assert conversation_key({"x-claude-code-session-id": sid}, body) == sid
    meta = {**body, "metadata": {"user_id": json.dumps({"session_id": sid, "device_id": "d"})}}
    assert conversation_key({}, meta) == sid
    legacy = {**body, "metadata": {"user_id": f"user_abc_account__session_{sid}"}}
    assert conversation_key({}, legacy) == sid
    # Without any: stable for a growing conversation, different for another first message.
    grown = {"messages": [*body["messages"], {"role": "assistant", "content": "yo"}]}
    assert conversation_key({}, body) == conversation_key({}, grown)
    other = {"messages": [{"role": "user", "content": "bye"}]}
    assert conversation_key({}, body) != conversation_key({}, other)


def test_config_resolves_chatgpt_without_a_key() -> None:
    raw = {"providers": {"chatgpt": {}}, "tiers": {"default": "chatgpt/gpt-5.4"}}
    settings = settings_from_config(structure_config(raw), {"HOME": "/home/ann"})
    provider = settings.providers["chatgpt"]
    assert (provider.api, provider.auth, provider.api_key) == ("responses", "codex", None)
    assert provider.base_url == "https://chatgpt.com/backend-api/codex"
    assert provider.codex_home == "/home/ann/.codex" and provider.token_url is None
    env = {"HOME": "/home/ann", "CODEX_HOME": "/srv/codex"}
    assert settings_from_config(structure_config(raw), env).providers["chatgpt"].codex_home == (
        "/srv/codex"
    )
    raw["providers"]["chatgpt"] = {"codex_home": "~/alt"}
    settings = settings_from_config(structure_config(raw), env)
    assert settings.providers["chatgpt"].codex_home == "/home/ann/alt"  # the file beats the env


def test_config_rejects_codex_settings_in_the_wrong_place() -> None:
    raw = {
        "providers": {
            "odd": {"api": "chat", "base_url": "https://x.test/v1", "auth": "codex"},
            "plain": {"api": "chat", "base_url": "https://y.test/v1", "api_key": "k" * 10,
                      "codex_home": "/tmp/c"},
        },
        "tiers": {"default": "plain/m"},
    }  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        settings_from_config(structure_config(raw), {})
    problems = "\n".join(caught.value.problems)
    assert 'providers.odd.auth: "codex" needs api = "responses"' in problems
    assert 'providers.plain.codex_home: only used with auth = "codex"' in problems
    assert "odd: no API key" not in problems  # a codex provider needs no key
