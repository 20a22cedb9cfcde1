"""Azure OpenAI / AI Foundry's v1 API: what reaches the endpoint and what the client gets back.

A fake Azure resource on loopback (``fake_azure.py``) answers as the v1 API does; Entra ID
tokens come from a fake credential with azure-identity's ``get_token`` contract, injected
through ``EntraTokens``. Nothing here needs azure-identity or an Azure account.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import sys
import time
import types
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from anthroxy_server.cli.status_view import provider_lines
from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from anthroxy_server.providers import azure
from anthroxy_server.providers.azure import SCOPE, EntraTokens

from .conftest import message_body, sse_events
from .fake_azure import (
    AZURE_KEY,
    DEPLOYMENT,
    RESOURCE_PATH,
    FakeAzure,
    FakeClock,
    FakeCredential,
)


@pytest.fixture
async def fake_azure(aiohttp_server: Any) -> tuple[FakeAzure, str]:
    fake = FakeAzure()
    app = web.Application()
    app.router.add_post(RESOURCE_PATH + "/chat/completions", fake.handle)
    app.router.add_post(RESOURCE_PATH + "/responses", fake.handle)
    server = await aiohttp_server(app)
    return fake, str(server.make_url(RESOURCE_PATH))


def azure_settings(
    base_url: str, env: dict[str, str], provider: dict[str, Any] | None = None, **extra: Any
) -> Any:
    """The catalogue's ``azure`` provider, its URL from AZURE_BASE_URL (as a user sets it)."""
    raw: dict[str, Any] = {
        "providers": {"azure": provider or {}, **extra.pop("providers", {})},
        "tiers": {"default": f"azure/{DEPLOYMENT}"},
        **extra,
    }
    return settings_from_config(structure_config(raw), {"AZURE_BASE_URL": base_url, **env})


Gateway = Callable[..., Awaitable[Any]]


@pytest.fixture
def gateway(aiohttp_client: Any) -> Gateway:
    async def make(settings: Any, tokens: EntraTokens | None = None) -> Any:
        app = create_app(settings)
        if tokens is not None:
            app[azure.ENTRA_TOKENS] = tokens
        return await aiohttp_client(app)

    return make


async def post(client: Any, **extra: Any) -> Any:
    return await client.post("/v1/messages", json=message_body(**extra))


# ---------------------------------------------------------------------------------------------
# A key: the api-key header, the v1 URL, the deployment as model.


async def test_key_goes_in_the_api_key_header_to_the_v1_url(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    settings = azure_settings(url, {"AZURE_API_KEY": AZURE_KEY})
    assert settings.providers["azure"].auth == "azure"
    client = await gateway(settings)
    response = await post(client)
    assert response.status == 200, await response.text()
    reply = await response.json()
    assert reply["content"] == [{"type": "text", "text": "hello from azure"}]
    (seen,) = fake.seen
    assert seen.path == "/openai/v1/chat/completions"
    assert seen.query_string == ""  # the v1 API takes no api-version
    assert seen.headers["api-key"] == AZURE_KEY
    assert "authorization" not in {name.lower() for name in seen.headers}
    assert fake.bodies[0]["model"] == DEPLOYMENT


async def test_azure_openai_api_key_variable_and_a_stream(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    client = await gateway(azure_settings(url, {"AZURE_OPENAI_API_KEY": AZURE_KEY}))
    response = await post(client, stream=True)
    assert response.status == 200
    events = sse_events(await response.read())
    text = "".join(
        e["delta"].get("text", "") for name, e in events if name == "content_block_delta"
    )
    assert text == "streamed"
    assert events[-1][0] == "message_stop"
    assert fake.seen[0].headers["api-key"] == AZURE_KEY


async def test_responses_api_on_the_same_resource(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    settings = azure_settings(url, {"AZURE_API_KEY": AZURE_KEY}, {"api": "responses"})
    client = await gateway(settings)
    response = await post(client)
    assert response.status == 200, await response.text()
    assert (await response.json())["content"][0]["text"] == "hello via responses"
    assert fake.seen[0].path == "/openai/v1/responses"
    assert fake.seen[0].headers["api-key"] == AZURE_KEY


async def test_a_refused_key_is_not_retried(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    client = await gateway(azure_settings(url, {"AZURE_API_KEY": "wrong-key-123456"}))
    response = await post(client)
    assert response.status == 401
    error = (await response.json())["error"]
    assert error["type"] == "authentication_error"
    assert "Access denied" in error["message"]
    assert "wrong-key-123456" not in await response.text()
    assert len(fake.seen) == 1


# ---------------------------------------------------------------------------------------------
# No key: a Microsoft Entra ID token.


async def test_no_key_sends_an_entra_token_cached_until_five_minutes_before_expiry(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock)
    fake.valid_tokens = {"entra-token-1", "entra-token-2"}
    settings = azure_settings(url, {})
    assert settings.providers["azure"].key_source == "entra id"
    client = await gateway(settings, EntraTokens(lambda: credential, clock=clock))
    for _ in range(2):
        assert (await post(client)).status == 200
    assert credential.issued == ["entra-token-1"]
    assert credential.scopes == [(SCOPE,)]
    assert [r.headers["authorization"] for r in fake.seen] == ["Bearer entra-token-1"] * 2
    assert all("api-key" not in r.headers for r in fake.seen)
    clock.now += 3600 - 301  # still valid for more than 5 minutes
    assert (await post(client)).status == 200
    assert len(credential.issued) == 1
    clock.now += 2  # now within 5 minutes of expiry
    assert (await post(client)).status == 200
    assert credential.issued == ["entra-token-1", "entra-token-2"]
    assert fake.seen[-1].headers["authorization"] == "Bearer entra-token-2"


async def test_concurrent_requests_share_one_token_fetch(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock, delay=0.2)
    fake.valid_tokens = {"entra-token-1"}
    client = await gateway(azure_settings(url, {}), EntraTokens(lambda: credential, clock=clock))
    responses = await asyncio.gather(*(post(client) for _ in range(5)))
    assert [r.status for r in responses] == [200] * 5
    assert credential.issued == ["entra-token-1"]  # the other four waited for it


async def test_token_fetch_does_not_block_the_event_loop(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock, delay=0.3)
    fake.valid_tokens = {"entra-token-1"}
    client = await gateway(azure_settings(url, {}), EntraTokens(lambda: credential, clock=clock))
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        for _ in range(15):
            await asyncio.sleep(0.02)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    request = asyncio.ensure_future(post(client))
    await tick()
    assert (await request).status == 200
    # The credential blocks for 0.3 s; on the loop it would stall every other request.
    assert max(gaps) < 0.2
    assert credential.issued == ["entra-token-1"]


async def test_a_refused_token_is_fetched_again_once(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock)
    fake.valid_tokens = {"entra-token-2"}  # the first token was revoked
    client = await gateway(azure_settings(url, {}), EntraTokens(lambda: credential, clock=clock))
    response = await post(client)
    assert response.status == 200, await response.text()
    assert [r.headers["authorization"] for r in fake.seen] == [
        "Bearer entra-token-1",
        "Bearer entra-token-2",
    ]


async def test_a_token_refused_twice_names_the_role(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock)
    client = await gateway(azure_settings(url, {}), EntraTokens(lambda: credential, clock=clock))
    response = await post(client)
    assert response.status == 401
    error = (await response.json())["error"]
    assert error["type"] == "authentication_error"
    assert "Cognitive Services OpenAI User" in error["message"]
    assert "refused the Microsoft Entra ID token" in error["message"]
    assert len(fake.seen) == 2  # the first token, then one fresh one: no loop
    assert "entra-token" not in await response.text()


async def test_entra_auth_ignores_a_key_in_the_environment(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock)
    fake.valid_tokens = {"entra-token-1"}
    settings = azure_settings(url, {"AZURE_API_KEY": AZURE_KEY}, {"auth": "entra"})
    assert settings.providers["azure"].api_key is None
    client = await gateway(settings, EntraTokens(lambda: credential, clock=clock))
    assert (await post(client)).status == 200
    assert fake.seen[0].headers["authorization"] == "Bearer entra-token-1"
    assert "api-key" not in fake.seen[0].headers


async def test_a_custom_provider_with_entra_auth(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock)
    fake.valid_tokens = {"entra-token-1"}
    raw = {
        "providers": {"foundry-eu": {"api": "chat", "base_url": url, "auth": "entra"}},
        "tiers": {"default": f"foundry-eu/{DEPLOYMENT}"},
    }
    settings = settings_from_config(structure_config(raw), {})
    client = await gateway(settings, EntraTokens(lambda: credential, clock=clock))
    assert (await post(client)).status == 200
    assert fake.seen[0].headers["authorization"] == "Bearer entra-token-1"


async def test_no_credential_in_the_chain_says_how_to_sign_in(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    said = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n\tEnvironmentCredential: EnvironmentCredential authentication "
        "unavailable. Environment variables are not fully configured."
    )
    credential = FakeCredential(clock, failure=RuntimeError(said))
    client = await gateway(azure_settings(url, {}), EntraTokens(lambda: credential, clock=clock))
    response = await post(client)
    assert response.status == 401
    assert response.headers.get("x-should-retry") == "false"
    message = (await response.json())["error"]["message"]
    assert "DefaultAzureCredential failed to retrieve a token" in message
    assert "az login" in message and "AZURE_CLIENT_SECRET" in message
    assert fake.seen == []


# ---------------------------------------------------------------------------------------------
# The extra absent: the server starts; an Entra provider is refused with the install command.


@pytest.fixture
def no_azure_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes ``import azure.identity`` fail and find_spec report it missing.
    monkeypatch.setitem(sys.modules, "azure.identity", None)


@pytest.mark.usefixtures("no_azure_identity")
async def test_without_azure_identity_the_server_starts_and_names_the_extra(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    client = await gateway(azure_settings(url, {}))
    health = await (await client.get("/healthz")).json()
    assert health["providers"]["azure"]["entra_id"] == (
        'azure-identity missing: pip install "anthroxy[azure]"'
    )
    shown = provider_lines("azure", health["providers"]["azure"])  # `anthroxy status`
    assert "key from entra id" in shown[0]
    assert '  entra id: azure-identity missing: pip install "anthroxy[azure]"' in shown
    response = await post(client)
    assert response.status == 500
    error = (await response.json())["error"]
    assert 'pip install "anthroxy[azure]"' in error["message"]
    assert "azure" in error["message"]
    assert fake.seen == []


@pytest.mark.usefixtures("no_azure_identity")
async def test_without_azure_identity_a_key_still_works(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    client = await gateway(azure_settings(url, {"AZURE_API_KEY": AZURE_KEY}))
    assert (await post(client)).status == 200
    assert fake.seen[0].headers["api-key"] == AZURE_KEY


@pytest.mark.usefixtures("no_azure_identity")
async def test_without_azure_identity_a_fallback_chain_moves_on(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    spare = {"api": "chat", "base_url": url, "api_key": "spare-key-0123456789"}
    fake.answer = None
    settings = azure_settings(
        url,
        {},
        providers={"spare": {**spare, "headers": {"api-key": AZURE_KEY}}},
        routing={"fallbacks": {f"azure/{DEPLOYMENT}": [f"spare/{DEPLOYMENT}"]}},
    )
    client = await gateway(settings)
    response = await post(client)
    assert response.status == 200, await response.text()
    assert response.headers["x-anthroxy-route"] == f"spare/{DEPLOYMENT}"
    assert len(fake.seen) == 1


# ---------------------------------------------------------------------------------------------
# Azure's errors in Anthropic's terms.


def answering(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)

    return answer


async def keyed_client(fake_azure: tuple[FakeAzure, str], gateway: Gateway) -> Any:
    return await gateway(azure_settings(fake_azure[1], {"AZURE_API_KEY": AZURE_KEY}))


THROTTLED = {
    "error": {
        "code": "429",
        "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
        "version v1 have exceeded token rate limit of your current AIServices S0 pricing tier. "
        "Please retry after 37 seconds.",
    }
}


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "6", "x-ratelimit-reset-tokens": "40"}, "6"),
        ({"retry-after-ms": "1500"}, "1.5"),
        ({"x-ratelimit-reset-tokens": "12", "x-ratelimit-reset-requests": "3"}, "12"),
        ({"x-ratelimit-reset-tokens": "0", "x-ratelimit-remaining-tokens": "-1"}, "37"),
        ({}, "37"),
    ],
)
async def test_throttling_is_a_429_with_retry_after(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway, headers: dict[str, str], wait: str
) -> None:
    fake_azure[0].answer = answering(429, THROTTLED, headers)
    client = await keyed_client(fake_azure, gateway)
    response = await post(client)
    assert response.status == 429
    assert (await response.json())["error"]["type"] == "rate_limit_error"
    assert response.headers["retry-after"] == wait


async def test_content_filter_is_a_400_with_azure_words(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    filtered = {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
            "content management policy. Please modify your prompt and retry.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {"violence": {"filtered": True, "severity": "medium"}},
            },
        }
    }
    fake_azure[0].answer = answering(400, filtered)
    client = await keyed_client(fake_azure, gateway)
    response = await post(client)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert "content management policy" in error["message"]
    assert len(fake_azure[0].seen) == 1  # a filtered prompt is not sent again


async def test_an_unknown_deployment_is_a_404_naming_it(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway
) -> None:
    fake, url = fake_azure
    settings = azure_settings(url, {"AZURE_API_KEY": AZURE_KEY}, aliases={"typo": "azure/gpt41"})
    client = await gateway(settings)
    response = await post(client, model="typo")
    assert fake.bodies[0]["model"] == "gpt41"
    assert response.status == 404
    error = (await response.json())["error"]
    assert error["type"] == "not_found_error"
    assert "no deployment named 'gpt41'" in error["message"]
    assert "does not exist" in error["message"]


def test_wait_hint_ignores_what_says_nothing() -> None:
    assert azure.wait_hint({"x-ratelimit-reset-tokens": "soon"}, b"not json") is None
    assert azure.wait_hint({"X-RateLimit-Reset-Requests": "2"}, b"") == 2.0
    assert azure.wait_hint({}, b'{"error":{"message":"Please retry after 1 second."}}') == 1.0


async def test_the_default_chain_is_azure_identity_default_credential(
    fake_azure: tuple[FakeAzure, str], gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = fake_azure
    clock = FakeClock()
    credential = FakeCredential(clock)
    made: list[FakeCredential] = []

    def default_azure_credential() -> FakeCredential:
        made.append(credential)
        return credential

    identity = types.ModuleType("azure.identity")
    identity.__spec__ = importlib.machinery.ModuleSpec("azure.identity", None)
    identity.DefaultAzureCredential = default_azure_credential  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    fake.valid_tokens = {"entra-token-1"}
    client = await gateway(azure_settings(url, {}), EntraTokens(clock=clock))
    for _ in range(2):
        assert (await post(client)).status == 200
    assert made == [credential]  # one credential for the app's life
    assert fake.seen[0].headers["authorization"] == "Bearer entra-token-1"
