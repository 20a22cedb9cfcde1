"""The Gemini provider against a fake Gemini API on loopback (fake_gemini.py): the live list,
the tier probe and its cache, the refusal of a paid-only model, an invalid key."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from anthroxy_server.cli.status_view import render
from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.state import CACHE_DIR
from anthroxy_server.providers import LISTERS, gemini
from anthroxy_server.providers.gemini_tiers import (
    TTL,
    TierBook,
    Verdict,
    book_path,
    is_probed,
    probe_models,
    verdict,
)

from .fake_gemini import (
    FREE_KEY,
    PAID_KEY,
    FakeGemini,
    free_tier_error,
    invalid_key_error,
    rate_limited_error,
)

PAID_ONLY = ["gemini-2.5-pro", "gemini-3.1-pro-preview"]


@pytest.fixture
async def fake(aiohttp_server: Any) -> tuple[FakeGemini, str]:
    server = FakeGemini()
    running = await aiohttp_server(server.app())
    return server, str(running.make_url("")).rstrip("/")


def settings(base: str, key: str, fallbacks: Any = None, **extra: Any) -> Any:
    raw = {
        "providers": {"gemini": {"base_url": base + "/v1beta/openai", "api_key": key, **extra}},
        "tiers": {"opus": "gemini/gemini-2.5-pro", "sonnet": "gemini/gemini-2.5-flash"},
        "routing": {"fallbacks": fallbacks or {}},
    }
    return settings_from_config(structure_config(raw), {})


def message(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


# --- the live list ------------------------------------------------------------------------


async def test_live_list_follows_every_page_and_keeps_generation_models(
    fake: tuple[FakeGemini, str],
) -> None:
    server, base = fake
    provider = settings(base, PAID_KEY).providers["gemini"]
    async with aiohttp.ClientSession() as session:
        models = await gemini.fetch_models(provider, session)
    assert [m.id for m in models] == [
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "gemini-3-flash-preview",
        "gemini-3.1-pro-preview",
        "gemini-2.5-flash-preview-tts",
    ]  # no embedding, no Imagen; no "models/" prefix
    assert models[1].display_name == "Gemini 2.5 Pro"
    assert [q.get("pageToken") for q in server.listings] == [None, "2", "4", "6"]
    assert all(q["pageSize"] == "1000" for q in server.listings)
    assert all(h["x-goog-api-key"] == PAID_KEY for h in server.list_headers)


async def test_models_url_overrides_the_listing_address(fake: tuple[FakeGemini, str]) -> None:
    server, base = fake
    provider = settings("http://127.0.0.1:9", PAID_KEY, models_url=base + "/v1beta/models")
    async with aiohttp.ClientSession() as session:
        models = await gemini.fetch_models(provider.providers["gemini"], session)
    assert len(models) == 5 and server.listings


def test_models_url_must_be_http() -> None:
    with pytest.raises(Exception, match=r"providers\.gemini\.models_url: must start with http"):
        settings("http://127.0.0.1:9", PAID_KEY, models_url="ftp://example.invalid/models")


async def test_lister_leaves_out_paid_only_models_of_a_free_key(
    fake: tuple[FakeGemini, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, base = fake
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    lister = LISTERS["gemini"]
    async with aiohttp.ClientSession() as session:
        free = await lister(settings(base, FREE_KEY).providers["gemini"], session)
        paid = await lister(settings(base, PAID_KEY).providers["gemini"], session)
    assert [m.id for m in free] == [
        "gemini-2.5-flash",
        "gemini-3-flash-preview",
        "gemini-2.5-flash-preview-tts",
    ]
    assert len(paid) == 5
    # Each key probed its own pro and preview models once; tts is not a coding model.
    assert sorted(b["model"] for b in server.chats) == sorted(
        ["gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3.1-pro-preview"] * 2
    )
    assert all(b["max_tokens"] == 1 for b in server.chats)


# --- the probe ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"choices": []}, Verdict.AVAILABLE),
        (429, [free_tier_error("gemini-2.5-pro")], Verdict.PAID_ONLY),
        (400, [invalid_key_error()], Verdict.KEY_INVALID),
        (400, invalid_key_error(), Verdict.KEY_INVALID),  # the native endpoint: no list
        (429, [rate_limited_error("gemini-3-flash-preview")], Verdict.UNKNOWN),
        (
            429,
            {
                "error": {
                    "code": 429,
                    "message": "Gemini 2.5 Pro Preview doesn't have a free quota tier. Please "
                    "use Gemini 2.5 Pro Experimental (models/gemini-2.5-pro-exp-03-25) instead.",
                    "status": "RESOURCE_EXHAUSTED",
                }
            },
            Verdict.PAID_ONLY,
        ),
        (503, {"error": {"code": 503, "message": "The model is overloaded."}}, Verdict.UNKNOWN),
        (500, "not json", Verdict.UNKNOWN),
    ],
)
def test_verdict_of_each_answer(status: int, body: Any, expected: Verdict) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    assert verdict(status, raw) is expected


@pytest.mark.parametrize(
    ("model", "probed"),
    [
        ("gemini-2.5-pro", True),
        ("gemini-3.1-pro-preview", True),
        ("gemini-3-flash-preview", True),
        ("gemini-2.5-flash", False),
        ("gemini-2.5-flash-preview-tts", False),
        ("gemini-2.5-flash-image-preview", False),
        ("gemma-3-27b-it", False),
        ("gemini-2.5-pro-preview-tts", False),
    ],
)
def test_which_models_are_probed(model: str, probed: bool) -> None:
    assert is_probed(model) is probed


async def test_probe_outcomes_against_the_fake(
    fake: tuple[FakeGemini, str], tmp_path: Path
) -> None:
    server, base = fake
    server.rate_limited = frozenset({"gemini-3-flash-preview"})
    provider = settings(base, FREE_KEY).providers["gemini"]
    book = TierBook.load(book_path(tmp_path, provider))
    async with aiohttp.ClientSession() as session:
        await probe_models(provider, session, book, ["gemini-2.5-flash", *gemini_ids()])
    assert book.fresh("gemini-2.5-pro") is Verdict.PAID_ONLY
    assert book.fresh("gemini-3.1-pro-preview") is Verdict.PAID_ONLY
    assert book.fresh("gemini-3-flash-preview") is None  # a per-day limit says nothing of tiers
    assert "gemini-2.5-flash" not in {b["model"] for b in server.chats}
    assert book.key_problem is None


def gemini_ids() -> list[str]:
    return ["gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3.1-pro-preview"]


async def test_cache_file_is_private_names_no_key_and_expires_after_a_day(
    fake: tuple[FakeGemini, str], tmp_path: Path
) -> None:
    server, base = fake
    provider = settings(base, FREE_KEY).providers["gemini"]
    now = [1_800_000_000.0]
    path = book_path(tmp_path / "cache", provider)
    assert path is not None
    async with aiohttp.ClientSession() as session:
        book = TierBook.load(path, clock=lambda: now[0])
        await probe_models(provider, session, book, gemini_ids())
        assert len(server.chats) == 3
        text = path.read_text()
        assert FREE_KEY not in text and FREE_KEY not in path.name
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert json.loads(text)["models"]["gemini-2.5-pro"]["verdict"] == "paid_only"

        now[0] += TTL - 60  # a fresh book from the file: nothing asked again
        again = TierBook.load(path, clock=lambda: now[0])
        await probe_models(provider, session, again, gemini_ids())
        assert len(server.chats) == 3
        assert again.unavailable() == PAID_ONLY

        now[0] += 120  # past 24 h: every model asked again
        expired = TierBook.load(path, clock=lambda: now[0])
        assert expired.unavailable() == []
        await probe_models(provider, session, expired, gemini_ids())
        assert len(server.chats) == 6
        assert expired.unavailable() == PAID_ONLY


def test_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "gemini-tiers-x.json"
    path.write_text("{not json")
    assert TierBook.load(path).verdicts == {}
    path.write_text(json.dumps({"version": 1, "models": {"a": {"verdict": "odd", "at": 1}}}))
    assert TierBook.load(path).verdicts == {}


# --- the gateway ----------------------------------------------------------------------------

Gateway = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def gateway(aiohttp_client: Any, fake: tuple[FakeGemini, str], tmp_path: Path) -> Gateway:
    async def make(key: str, fallbacks: Any = None) -> TestClient[Any, Any]:
        app = create_app(settings(fake[1], key, fallbacks))
        app[CACHE_DIR] = tmp_path / "cache"
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return client

    return make


async def test_a_paid_only_model_is_refused_at_once_for_a_free_key(
    gateway: Gateway, fake: tuple[FakeGemini, str]
) -> None:
    server = fake[0]
    client = await gateway(FREE_KEY)
    await gemini.wait_checked(client.app)
    assert server.chats_for("gemini-2.5-pro") == 1  # the probe

    for stream in (False, True):
        body = {**message("claude-opus-4-1"), "stream": stream}
        reply = await client.post("/v1/messages", json=body)
        assert reply.status == 403
        error = (await reply.json())["error"]
        assert error["type"] == "permission_error"
        for words in ("gemini/gemini-2.5-pro", "free tier", "billing", "anthroxy models gemini"):
            assert words in error["message"]
        assert reply.headers.get("x-should-retry") == "false"
    assert server.chats_for("gemini-2.5-pro") == 1  # nothing more reached Google

    ok = await client.post("/v1/messages", json=message("claude-sonnet-4-6"))
    assert ok.status == 200, await ok.text()
    assert (await ok.json())["content"][0]["text"] == "Hi"

    health = await (await client.get("/healthz")).json()
    entry = health["providers"]["gemini"]
    assert entry["unavailable"] == PAID_ONLY
    assert FREE_KEY not in json.dumps(health)
    assert "  tier check: free tier; paid-only: gemini-2.5-pro" in render(health)


async def test_a_fallback_chain_moves_past_a_paid_only_model(
    gateway: Gateway, fake: tuple[FakeGemini, str]
) -> None:
    server = fake[0]
    client = await gateway(FREE_KEY, {"gemini/gemini-2.5-pro": ["gemini/gemini-2.5-flash"]})
    await gemini.wait_checked(client.app)
    for _ in range(5):  # the refusals never open gemini's circuit breaker
        reply = await client.post("/v1/messages", json=message("claude-opus-4-1"))
        assert reply.status == 200, await reply.text()
        assert reply.headers["x-anthroxy-route"] == "gemini/gemini-2.5-flash"
    assert server.chats_for("gemini-2.5-pro") == 1  # the probe only
    assert server.chats_for("gemini-2.5-flash") == 5


async def test_a_paid_key_reaches_every_model(
    gateway: Gateway, fake: tuple[FakeGemini, str]
) -> None:
    client = await gateway(PAID_KEY)
    await gemini.wait_checked(client.app)
    reply = await client.post("/v1/messages", json=message("claude-opus-4-1"))
    assert reply.status == 200, await reply.text()
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["gemini"]["tier_check"] == "ok"


async def test_an_invalid_key_is_logged_once_and_shown_by_status(
    gateway: Gateway, fake: tuple[FakeGemini, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bad = "AIzaSyWRONG-k3y-n3v3r-5h0wn-22222222222"
    client = await gateway(bad)
    await gemini.wait_checked(client.app)
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1
    assert "API key not valid" in lines[0] and "aistudio.google.com/apikey" in lines[0]
    assert "check providers.gemini.api_key" in lines[0]  # where this key came from
    assert fake[0].chats == []  # the listing said it: no probe sent
    health = await (await client.get("/healthz")).json()
    status_text = render(health)
    assert "tier check: API key refused: API key not valid. Please pass" in status_text
    assert bad not in caplog.text and bad not in json.dumps(health)


async def test_start_up_does_not_wait_for_the_check(
    gateway: Gateway, fake: tuple[FakeGemini, str]
) -> None:
    fake[0].list_delay = 2.0
    started = time.monotonic()
    client = await gateway(FREE_KEY)
    health = await (await client.get("/healthz")).json()
    assert time.monotonic() - started < 1.5
    assert health["providers"]["gemini"]["tier_check"] == "pending"
    # Until the verdicts come, requests are sent as usual.
    reply = await client.post("/v1/messages", json=message("claude-sonnet-4-6"))
    assert reply.status == 200


async def test_no_cache_directory_no_background_requests(
    aiohttp_client: Any, fake: tuple[FakeGemini, str]
) -> None:
    client = await aiohttp_client(create_app(settings(fake[1], FREE_KEY)))
    await gemini.wait_checked(client.app)
    assert fake[0].listings == [] and fake[0].chats == []
