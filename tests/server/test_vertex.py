"""Google Vertex AI through the app, against a fake Vertex and a fake OAuth token endpoint on
loopback (``fake_vertex``):

* Claude goes to ``:rawPredict`` / ``:streamRawPredict`` with the model in the URL, not in the
  body, and ``anthropic_version: "vertex-2023-10-16"``; Gemini goes to the OpenAI-compatible
  endpoint with Google's publisher prefix;
* the token comes from a service-account file through google-auth (the JWT grant, signed with a
  key made for the test), is refreshed before it expires, once for concurrent requests, and
  once more after a 401;
* Google's errors become Anthropic's, saying what to do; the token never shows;
* without google-auth the app starts and a Vertex request says which extra to install.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import logging
import tomllib
from pathlib import Path
from typing import Any

import anthropic
import pytest
from aiohttp import web

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.cli.config_check import login_problems
from anthroxy_server.config import (
    ConfigError,
    load_settings,
    settings_from_config,
    structure_config,
)
from anthroxy_server.config.paths import Locations
from anthroxy_server.config.schema import ResolvedProvider
from anthroxy_server.gateway import reload
from anthroxy_server.gateway.app import create_app
from anthroxy_server.providers import vertex, vertex_auth

from .fake_vertex import PROJECT, FakeTokens, FakeVertex, make_service_account

CLAUDE = "claude-sonnet-4-5@20250929"
LLAMA = "meta/llama-3.3-70b-instruct-maas"


class Rig:
    def __init__(self, tokens: FakeTokens, vertex: FakeVertex, base: str, key: Path) -> None:
        self.tokens, self.vertex, self.base, self.key = tokens, vertex, base, key
        self.client: Any = None

    def sdk(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            base_url=str(self.client.server.make_url("")), api_key="client", max_retries=0
        )

    def provider(self, **extra: Any) -> dict[str, Any]:
        return {
            "base_url": self.base + "/v1",
            "project": PROJECT,
            "location": "us-east5",
            "credentials_file": str(self.key),
            "read_timeout": 5.0,
            **extra,
        }


@pytest.fixture
async def rig(aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path) -> Rig:
    tokens = FakeTokens()
    fake = FakeVertex(tokens=tokens)
    app = web.Application()
    app.router.add_post("/token", tokens.handle)
    fake.routes(app)
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    key = tmp_path / "service-account.json"
    tokens.public_key = make_service_account(key, base + "/token")
    rig = Rig(tokens, fake, base, key)
    raw = {
        "providers": {"vertex": rig.provider(), "vertex-gemini": rig.provider()},
        "tiers": {"sonnet": f"vertex/{CLAUDE}", "haiku": "vertex-gemini/gemini-2.5-flash"},
    }
    settings = settings_from_config(structure_config(raw), {})
    rig.client = await aiohttp_client(create_app(settings))
    return rig


def ask(model: str = "claude-sonnet-4-6", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


async def post(rig: Rig, body: dict[str, Any], **headers: str) -> tuple[int, Any, Any]:
    response = await rig.client.post(
        "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01", **headers}
    )
    return response.status, response.headers, await response.json()


# ---------------------------------------------------------------------------------------------
# Claude: rawPredict and streamRawPredict.


async def test_claude_json_goes_to_raw_predict_with_the_model_in_the_url(rig: Rig) -> None:
    reply = await rig.sdk().messages.create(**ask())
    assert reply.content[0].text == "Hello from Vertex"  # type: ignore[union-attr]
    assert reply.model == "claude-sonnet-4-6"  # the name the client asked for
    seen = rig.vertex.seen[-1]
    assert seen.path == (
        f"/v1/projects/{PROJECT}/locations/us-east5/publishers/anthropic/models/{CLAUDE}:rawPredict"
    )
    assert seen.headers["Authorization"] == f"Bearer {rig.tokens.issued[0]}"
    assert "model" not in seen.body
    assert seen.body["anthropic_version"] == "vertex-2023-10-16"
    assert seen.body["messages"] == [{"role": "user", "content": "hi"}]
    assert "anthropic-version" not in {k.lower() for k in seen.headers}


async def test_claude_stream_goes_to_stream_raw_predict(rig: Rig) -> None:
    async with rig.sdk().messages.stream(**ask()) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "Hello from Vertex"
    assert final.usage.output_tokens == 3
    seen = rig.vertex.seen[-1]
    assert seen.path.endswith(f"/models/{CLAUDE}:streamRawPredict")
    assert seen.body["stream"] is True and "model" not in seen.body


async def test_betas_are_left_out_unless_the_profile_keeps_them(
    rig: Rig, aiohttp_client: Any
) -> None:
    beta = {"anthropic-beta": "interleaved-thinking-2025-05-14"}
    status, _headers, _body = await post(rig, ask(), **beta)
    assert status == 200
    assert "anthropic-beta" not in rig.vertex.seen[-1].headers
    raw = {
        "providers": {"vertex": rig.provider(profile={"drop_betas": []})},
        "tiers": {"default": f"vertex/{CLAUDE}"},
    }
    rig.client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))
    status, _headers, _body = await post(rig, ask(), **beta)
    assert status == 200
    assert rig.vertex.seen[-1].headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


# ---------------------------------------------------------------------------------------------
# Gemini and open models: the OpenAI-compatible endpoint.


async def test_gemini_goes_to_the_openai_compatible_endpoint(rig: Rig) -> None:
    reply = await rig.sdk().messages.create(**ask("claude-haiku-4-5"))
    assert reply.content[0].text == "Hello from Vertex"  # type: ignore[union-attr]
    seen = rig.vertex.seen[-1]
    assert (
        seen.path == f"/v1/projects/{PROJECT}/locations/us-east5/endpoints/openapi/chat/completions"
    )
    assert seen.body["model"] == "google/gemini-2.5-flash"  # Google's publisher added
    assert seen.headers["Authorization"] == f"Bearer {rig.tokens.issued[0]}"
    async with rig.sdk().messages.stream(**ask("claude-haiku-4-5")) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
    assert text == "Hello from Vertex"
    assert rig.vertex.seen[-1].body["stream"] is True


async def test_an_open_model_keeps_its_publisher(rig: Rig) -> None:
    status, _h, body = await post(rig, ask("vertex-gemini/meta/llama-3.3-70b-instruct-maas"))
    assert status == 200, body
    assert rig.vertex.seen[-1].body["model"] == "meta/llama-3.3-70b-instruct-maas"


# ---------------------------------------------------------------------------------------------
# Tokens.


async def test_one_token_serves_requests_until_close_to_expiry(rig: Rig) -> None:
    await post(rig, ask())
    await post(rig, ask())
    assert rig.tokens.refreshes == 1
    # Two minutes left: still valid, but a long stream could outlive it, so it is replaced.
    held = rig.client.server.app[vertex.GOOGLE_TOKENS]["vertex"]
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # google-auth's naive UTC
    held._credentials.expiry = now + datetime.timedelta(seconds=120)
    status, _h, _b = await post(rig, ask())
    assert status == 200
    assert rig.tokens.refreshes == 2
    assert rig.vertex.seen[-1].headers["Authorization"] == f"Bearer {rig.tokens.issued[1]}"


async def test_concurrent_requests_wait_for_one_refresh(rig: Rig) -> None:
    rig.tokens.delay = 0.3
    api = rig.sdk()
    replies = await asyncio.gather(*(api.messages.create(**ask()) for _ in range(4)))
    assert [r.content[0].text for r in replies] == ["Hello from Vertex"] * 4  # type: ignore[union-attr]
    assert rig.tokens.refreshes == 1


async def test_the_two_providers_share_one_token_for_one_credentials_file(rig: Rig) -> None:
    await post(rig, ask())
    await post(rig, ask("claude-haiku-4-5"))
    assert rig.tokens.refreshes == 1


async def test_a_refused_token_is_refreshed_once_and_the_request_sent_again(rig: Rig) -> None:
    await post(rig, ask())
    rig.tokens.issued.append("ya29.revoked-elsewhere")  # the fake now expects another token
    status, _h, _b = await post(rig, ask())
    assert status == 200
    assert rig.tokens.refreshes == 3  # the first, the fake's, and the one after the 401
    assert rig.vertex.seen[-1].headers["Authorization"] == f"Bearer {rig.tokens.issued[-1]}"


async def test_a_credentials_file_the_token_endpoint_refuses_is_a_clear_401(
    rig: Rig, tmp_path: Path
) -> None:
    make_service_account(rig.key, rig.base + "/token")  # another key: its signature fails
    status, headers, body = await post(rig, ask())
    assert status == 401
    assert body["error"]["type"] == "authentication_error"
    assert str(rig.key) in body["error"]["message"]
    assert headers.get("x-should-retry") == "false"


# ---------------------------------------------------------------------------------------------
# Errors.


def retry_info(seconds: int) -> dict[str, Any]:
    return {
        "details": [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{seconds}s"}
        ]
    }


async def test_resource_exhausted_is_a_429_with_retry_after(rig: Rig) -> None:
    message = (
        "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model"
    )
    rig.vertex.errors.append((429, "RESOURCE_EXHAUSTED", message, retry_info(7)))
    status, headers, body = await post(rig, ask())
    assert status == 429
    assert body["error"]["type"] == "rate_limit_error"
    assert message in body["error"]["message"]
    assert headers["retry-after"] == "7"


async def test_permission_denied_names_the_model_access_to_enable(rig: Rig) -> None:
    message = f"Permission denied on resource project {PROJECT}."
    rig.vertex.errors.append((403, "PERMISSION_DENIED", message, {}))
    status, _h, body = await post(rig, ask())
    assert status == 403
    assert body["error"]["type"] == "permission_error"
    text = body["error"]["message"]
    assert message in text and CLAUDE in text and "Model Garden" in text


async def test_a_location_without_the_model_is_a_404_naming_the_location(rig: Rig) -> None:
    rig.vertex.location = "europe-west1"  # the fake serves another location only
    status, _h, body = await post(rig, ask())
    assert status == 404
    assert body["error"]["type"] == "not_found_error"
    text = body["error"]["message"]
    assert "us-east5" in text and CLAUDE in text and "[providers.vertex]" in text


async def test_no_token_in_replies_healthz_or_logs(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.vertex.errors.append((500, "INTERNAL", "Internal error encountered.", {}))
    await post(rig, ask())
    await post(rig, ask())
    health = await (await rig.client.get("/healthz")).text()
    token = rig.tokens.issued[0]
    assert token not in health and token not in caplog.text
    shown = json.loads(health)["providers"]["vertex"]
    assert (shown["project"], shown["location"]) == (PROJECT, "us-east5")
    assert shown["credentials"] == str(rig.key) and shown["token_refreshes"] == 1


# ---------------------------------------------------------------------------------------------
# URLs, configuration, the extra.


def resolved(**cfg: Any) -> ResolvedProvider:
    settings = settings_from_config(structure_config({"providers": {"vertex": cfg}}), {})
    return settings.providers["vertex"]


def test_the_host_follows_the_location_unless_base_url_is_set() -> None:
    assert vertex.base_url(resolved(project="p")) == "https://aiplatform.googleapis.com/v1"
    regional = resolved(project="p", location="us-east5")
    assert vertex.base_url(regional) == "https://us-east5-aiplatform.googleapis.com/v1"
    vpc = resolved(project="p", location="us-east5", base_url="https://vertex.internal.example/v1")
    assert vertex.base_url(vpc) == "https://vertex.internal.example/v1"


def test_project_location_and_credentials_come_from_freecc_variables() -> None:
    env = {"VERTEX_PROJECT_ID": "my-proj", "VERTEX_LOCATION": "europe-west1",
           "VERTEX_CREDENTIALS": "/keys/sa.json"}  # fmt: skip
    raw = structure_config({"providers": {"vertex": {}}})
    provider = settings_from_config(raw, env).providers["vertex"]
    assert (provider.project, provider.location) == ("my-proj", "europe-west1")
    assert provider.credentials_file == "/keys/sa.json"
    assert provider.api_key is None and provider.key_source == "google"


def test_bad_vertex_settings_are_problems_naming_the_key() -> None:
    raw = {
        "providers": {
            "vertex": {"location": "us-east5/../x"},
            "deepseek": {"api_key": "k", "project": "p"},
        }
    }
    with pytest.raises(ConfigError) as err:
        settings_from_config(structure_config(raw), {})
    text = "\n".join(err.value.problems)
    assert "providers.vertex.location: 'us-east5/../x' is not a Vertex AI location" in text
    assert 'providers.deepseek.project: only used with auth = "google"' in text


async def test_without_google_auth_the_app_starts_and_the_request_names_the_extra(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(vertex_auth, "google_auth_installed", lambda: False)
    monkeypatch.setattr(vertex, "google_auth_installed", lambda: False)
    settings = rig.client.server.app[vertex.SETTINGS]
    with caplog.at_level(logging.WARNING):
        create_app(settings)  # starts
    assert 'pip install "anthroxy[vertex]"' in caplog.text
    status, _h, body = await post(rig, ask())
    assert status == 500
    assert body["error"]["type"] == "api_error"
    assert 'pip install "anthroxy[vertex]"' in body["error"]["message"]
    assert rig.vertex.seen == []


@pytest.mark.parametrize(
    ("env", "target"),
    [
        ({"BIG_MODEL": "vertex_ai/gemini-2.5-pro"}, "vertex-gemini/gemini-2.5-pro"),
        ({"BIG_MODEL_PROVIDER": "vertex", "BIG_MODEL_NAME": CLAUDE}, f"vertex/{CLAUDE}"),
        (
            {
                "BIG_MODEL_PROVIDER": "vertex_ai",
                "BIG_MODEL_NAME": "meta/llama-3.3-70b-instruct-maas",
            },
            "vertex-gemini/meta/llama-3.3-70b-instruct-maas",
        ),
    ],
)
def test_litellm_vertex_names_pick_the_provider_by_model(
    tmp_path: Path, env: dict[str, str], target: str
) -> None:
    settings = load_settings(
        env={**env, "VERTEX_PROJECT_ID": "p"}, cwd=tmp_path, home=tmp_path,
        managed_path=tmp_path / "managed",
    )  # fmt: skip
    assert settings.config.tiers["sonnet"] == target


def test_config_check_names_the_extra_when_google_auth_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = structure_config(
        {"providers": {"vertex": {"project": "p"}, "deepseek": {"api_key": "k"}}}
    )
    settings = settings_from_config(raw, {})
    assert login_problems(settings) == []
    monkeypatch.setattr(vertex_auth, "google_auth_installed", lambda: False)
    assert login_problems(settings) == [
        'providers.vertex: needs the google-auth package: pip install "anthroxy[vertex]"'
    ]


async def test_a_reload_keeps_the_token_and_serves_a_provider_it_adds(rig: Rig) -> None:
    await post(rig, ask())
    raw = {
        "providers": {
            "vertex": rig.provider(),
            "vertex-gemini": rig.provider(),
            "gemini-eu": rig.provider(api="chat", auth="google", location="us-east5"),
        },
        "tiers": {"sonnet": f"vertex/{CLAUDE}", "haiku": "gemini-eu/gemini-2.5-flash"},
    }
    new = settings_from_config(structure_config(raw), {})
    assert await reload.reload(rig.client.server.app, lambda: new)
    status, _h, _b = await post(rig, ask("claude-haiku-4-5"))
    assert status == 200
    assert rig.tokens.refreshes == 1  # the new provider uses the token already held
    assert rig.client.server.app[vertex.GOOGLE_TOKENS]["gemini-eu"].refreshes == 1


def run_init(tmp_path: Path, env: dict[str, str], answers: list[str]) -> tuple[int, str, Path]:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(parents=True)
    work.mkdir()
    loc = Locations(env={"HOME": str(home), **env}, home=home, cwd=work)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["config", "init"], loc, io.StringIO("\n".join(answers) + "\n"), out, err)
    return code, out.getvalue() + err.getvalue(), home / ".config" / "anthroxy" / "config.toml"


def test_config_init_asks_vertex_only_what_the_environment_lacks(tmp_path: Path) -> None:
    answers = ["u", "vertex", "My Project!", "my-project", "us-east5", "", "", "", "", ""]
    code, out, path = run_init(tmp_path, {}, answers)
    assert code == 0, out
    assert "'My Project!' is not a Google Cloud project id; try again" in out
    table = tomllib.loads(path.read_text())["providers"]["vertex"]
    assert table == {"project": "my-project", "location": "us-east5"}
    settings = load_settings(cli_path=str(path), env={}, cwd=tmp_path, home=tmp_path)
    assert settings.config.tiers["sonnet"] == f"vertex/{CLAUDE}"
    # With freecc's variables set, nothing is asked: the table stays empty.
    env = {"VERTEX_PROJECT_ID": "p-from-env", "VERTEX_LOCATION": "europe-west1"}
    code, out, path = run_init(tmp_path / "second", env, ["u", "vertex", "", "", "", "", ""])
    assert code == 0, out
    assert "Google Cloud project id" not in out and "location (a region" not in out
    assert tomllib.loads(path.read_text())["providers"]["vertex"] == {}
