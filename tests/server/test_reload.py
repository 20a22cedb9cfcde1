"""Reloading a running app: all or nothing, and a request under way keeps the configuration it
started with (streams included). The real app, real fake upstreams on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.config import ConfigError, fingerprint, settings_from_config, structure_config
from anthroxy_server.gateway import reload
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.live import LIVE

from .conftest import SECRET_KEY, FakeUpstream, fixture_bytes, message_body, sse_events

PEPPER = b"p" * 32


def settings(base_url: str, model: str, *, key: str = SECRET_KEY, read_timeout: float = 5.0) -> Any:
    raw = {
        "providers": {
            "fake": {
                "api": "anthropic",
                "base_url": base_url,
                "api_key": key,
                "auth": "x-api-key",
                "models": [model],
                "read_timeout": read_timeout,
            }
        },
        "tiers": {"default": f"fake/{model}"},
    }
    return settings_from_config(structure_config(raw), {})


async def answer_json(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )


async def health(client: Any) -> dict[str, Any]:
    response = await client.get("/healthz")
    assert response.status == 200
    data: dict[str, Any] = await response.json()
    return data


async def test_reload_swaps_the_routing_and_reports_the_new_fingerprint(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    upstream.handler = answer_json
    client = await aiohttp_client(create_app(settings(upstream.url, "old-model"), pepper=PEPPER))
    before = await health(client)
    assert before["service"] == "anthroxy" and isinstance(before["pid"], int)
    assert before["config"]["generation"] == 1
    await client.post("/v1/messages", json=message_body())
    assert upstream.seen[-1].body["model"] == "old-model"

    assert await reload.reload(client.app, lambda: settings(upstream.url, "new-model"))
    await client.post("/v1/messages", json=message_body())
    assert upstream.seen[-1].body["model"] == "new-model"
    after = await health(client)
    assert after["config"]["generation"] == 2
    assert after["config"]["fingerprint"] != before["config"]["fingerprint"]
    assert after["config"]["reload"] == {
        "attempts": 1,
        "refused_at": None,
        "problems": [],
        "restart_needed": [],
    }
    assert "new-model" in after["providers"]["fake"]["models"]


async def test_a_refused_configuration_keeps_the_old_one(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    upstream.handler = answer_json
    client = await aiohttp_client(create_app(settings(upstream.url, "old-model"), pepper=PEPPER))
    before = await health(client)
    problem = "tiers.sonet: unknown key (did you mean 'sonnet'?)"

    def broken() -> Any:
        raise ConfigError([problem])

    assert not await reload.reload(client.app, broken)
    after = await health(client)
    assert after["config"]["fingerprint"] == before["config"]["fingerprint"]
    assert after["config"]["generation"] == 1
    assert after["config"]["reload"]["problems"] == [problem]
    assert after["config"]["reload"]["attempts"] == 1
    await client.post("/v1/messages", json=message_body())
    assert upstream.seen[-1].body["model"] == "old-model"


async def test_a_stream_in_flight_finishes_on_the_route_it_started_with(
    aiohttp_client: Any, aiohttp_server: Any, upstream: FakeUpstream
) -> None:
    events = fixture_bytes("stream_text.sse").split(b"\n\n")
    halfway = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_stream(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for i, event in enumerate(events):
            if event.strip():
                await response.write(event + b"\n\n")
            if i == 2:
                halfway.set()
                await go_on.wait()
        assert body["model"]
        return response

    upstream.handler = slow_stream
    second = FakeUpstream(handler=answer_json)
    second_app = web.Application()
    second_app.router.add_route("*", "/{tail:.*}", second.dispatch)
    second.server = await aiohttp_server(second_app)

    old = settings(upstream.url, "old-model", read_timeout=5.0)
    client = await aiohttp_client(create_app(old, pepper=PEPPER))
    old_session = client.app[LIVE].current.sessions["fake"]
    streaming = asyncio.create_task(client.post("/v1/messages", json=message_body(stream=True)))
    await asyncio.wait_for(halfway.wait(), 5)
    # The new file: another upstream, another model, another key, other timeouts.
    new = settings(second.url, "new-model", key="sk-new-" + "k" * 20, read_timeout=7.0)
    assert await reload.reload(client.app, lambda: new)
    await client.post("/v1/messages", json=message_body())  # a new request: the new route
    assert second.seen[-1].body["model"] == "new-model"
    assert not old_session.closed  # the stream still uses it
    go_on.set()
    response = await asyncio.wait_for(streaming, 5)
    raw = await response.read()
    names = [name for name, _ in sse_events(raw)]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert [s.body["model"] for s in upstream.seen] == ["old-model"]
    assert upstream.seen[0].headers["x-api-key"] == SECRET_KEY
    for _ in range(50):  # retired once its last request ended: its own session is closed
        if old_session.closed:
            break
        await asyncio.sleep(0.02)
    assert old_session.closed
    assert not client.app[LIVE].current.sessions["fake"].closed


async def test_an_unchanged_provider_keeps_its_session(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    upstream.handler = answer_json
    client = await aiohttp_client(create_app(settings(upstream.url, "m1"), pepper=PEPPER))
    session = client.app[LIVE].current.sessions["fake"]
    assert await reload.reload(client.app, lambda: settings(upstream.url, "m2"))
    assert client.app[LIVE].current.sessions["fake"] is session
    assert not session.closed


async def test_a_changed_address_is_named_as_needing_a_restart(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    first = settings(upstream.url, "m1")
    client = await aiohttp_client(create_app(first, pepper=PEPPER))
    moved = settings_from_config(
        structure_config(
            {
                "server": {"port": 9999},
                "providers": {
                    "fake": {"api": "anthropic", "base_url": upstream.url, "auth": "none"}
                },
                "tiers": {"default": "fake/m1"},
            }
        ),
        {},
    )
    assert await reload.reload(client.app, lambda: moved)
    assert (await health(client))["config"]["reload"]["restart_needed"] == ["server.port"]


# --- the fingerprint ------------------------------------------------------------------------


def test_a_changed_key_changes_the_fingerprint_without_showing_it() -> None:
    one = fingerprint.sections(settings("http://127.0.0.1:9", "m", key=SECRET_KEY), PEPPER)
    two = fingerprint.sections(settings("http://127.0.0.1:9", "m", key=SECRET_KEY + "x"), PEPPER)
    assert fingerprint.differences(one, two) == ["key.fake"]
    assert SECRET_KEY not in repr(one)
    # Keyed: without the pepper nobody can test a guess against the published digest.
    other_pepper = fingerprint.sections(settings("http://127.0.0.1:9", "m"), b"q" * 32)
    assert other_pepper["key.fake"] != one["key.fake"]
    assert one["provider.fake"] == other_pepper["provider.fake"]


def test_without_a_pepper_a_key_is_only_set_or_unset() -> None:
    parts = fingerprint.sections(settings("http://127.0.0.1:9", "m"), b"")
    assert parts["key.fake"] == "set"


def test_a_key_this_shell_lacks_is_not_a_difference() -> None:
    theirs = {"tiers": "a", "key.fake": "digest"}
    assert fingerprint.differences({"tiers": "a", "key.fake": "unset"}, theirs) == []
    assert fingerprint.differences({"tiers": "b", "key.fake": "other"}, theirs) == [
        "key.fake",
        "tiers",
    ]


def test_the_address_and_logging_do_not_count() -> None:
    def with_server(**server: Any) -> dict[str, str]:
        raw = {
            "server": server,
            "providers": {"p": {"api": "chat", "base_url": "http://127.0.0.1:9", "auth": "none"}},
            "tiers": {"default": "p/m"},
        }
        return fingerprint.sections(settings_from_config(structure_config(raw), {}), PEPPER)

    base = with_server()
    assert with_server(port=9000, host="0.0.0.0", log_level="debug") == base
    assert with_server(ping_interval=3.0) != base


@pytest.mark.parametrize("content", [b"", b"short"])
def test_the_pepper_file_is_made_once_and_private(tmp_path: Any, content: bytes) -> None:
    path = tmp_path / "state" / "fingerprint.key"
    if content:
        path.parent.mkdir()
        path.write_bytes(content)  # damaged: not ours to replace
    first = fingerprint.load_pepper(path)
    if content:
        assert first == b""  # never overwrite a file someone else wrote
        return
    assert len(first) == 32 and fingerprint.load_pepper(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_fallback_after_a_reload_follows_the_chain_the_request_started_with(
    aiohttp_client: Any, aiohttp_server: Any, upstream: FakeUpstream
) -> None:
    """The new file drops the backup provider; a request that started before the reload and
    fails over afterwards still reaches it (its session outlives the reload)."""
    arrived = asyncio.Event()
    go_on = asyncio.Event()

    async def overloaded_later(request: web.Request) -> web.Response:
        arrived.set()
        await go_on.wait()
        error = {"type": "overloaded_error", "message": "busy"}
        return web.json_response({"type": "error", "error": error}, status=529)

    upstream.handler = overloaded_later
    backup = FakeUpstream(handler=answer_json)
    backup_app = web.Application()
    backup_app.router.add_route("*", "/{tail:.*}", backup.dispatch)
    backup.server = await aiohttp_server(backup_app)
    raw = {
        "providers": {
            "fake": {"api": "anthropic", "base_url": upstream.url, "auth": "none"},
            "back": {"api": "anthropic", "base_url": backup.url, "auth": "none"},
        },
        "tiers": {"default": "fake/old-model"},
        "routing": {"fallbacks": {"fake/old-model": ["back/old-backup"]}},
    }
    client = await aiohttp_client(
        create_app(settings_from_config(structure_config(raw), {}), pepper=PEPPER)
    )
    backup_session = client.app[LIVE].current.sessions["back"]
    request = asyncio.create_task(client.post("/v1/messages", json=message_body()))
    await asyncio.wait_for(arrived.wait(), 5)
    assert await reload.reload(client.app, lambda: settings(upstream.url, "new-model"))
    assert "back" not in client.app[LIVE].current.settings.providers
    go_on.set()
    response = await asyncio.wait_for(request, 5)
    assert response.status == 200, await response.text()
    assert (await response.json())["content"][0]["text"] == "hi"
    assert [s.body["model"] for s in backup.seen] == ["old-backup"]
    for _ in range(50):
        if backup_session.closed:
            break
        await asyncio.sleep(0.02)
    assert backup_session.closed  # the provider is gone and its last request ended


async def test_the_new_body_limit_and_the_new_key_apply_to_later_requests(
    aiohttp_client: Any, upstream: FakeUpstream
) -> None:
    new_key = "sk-new-SECRET-" + "z" * 24

    async def echo_key(request: web.Request) -> web.Response:
        # A careless upstream that repeats the credentials it got in its error message.
        error = {"type": "invalid_request_error", "message": f"bad: {request.headers['x-api-key']}"}
        return web.json_response({"type": "error", "error": error}, status=400)

    upstream.handler = echo_key
    small = settings_from_config(
        structure_config(
            {
                "server": {"max_body_bytes": 2000},
                "providers": {
                    "fake": {
                        "api": "anthropic",
                        "base_url": upstream.url,
                        "api_key": SECRET_KEY,
                        "auth": "x-api-key",
                    }
                },
                "tiers": {"default": "fake/m"},
            }
        ),
        {},
    )
    client = await aiohttp_client(create_app(small, pepper=PEPPER))
    big_body = message_body(messages=[{"role": "user", "content": "x" * 5000}])
    assert (await client.post("/v1/messages", json=big_body)).status == 413

    assert await reload.reload(client.app, lambda: settings(upstream.url, "m", key=new_key))
    response = await client.post("/v1/messages", json=big_body)  # the default limit now
    assert response.status == 400
    text = await response.text()
    assert upstream.seen[-1].headers["x-api-key"] == new_key
    assert new_key not in text and "[REDACTED]" in text
