"""Invariants of the ``bedrock`` providers, against a fake Bedrock runtime on loopback:

* Claude goes to ``/model/{model id}/invoke`` (JSON) or ``/invoke-with-response-stream``
  (stream), model and inference-profile ids alike, with Bedrock's body (no ``model``/``stream``,
  ``anthropic_version``, the betas it takes) and either the Bedrock API key as a bearer token or
  a SigV4 signature that verifies for the service ``bedrock`` in the provider's region;
* the binary event stream reaches the client as a valid Anthropic SSE stream, and an exception
  inside it as an ``error`` event (or as the HTTP error while nothing was sent);
* Bedrock's errors become Anthropic errors that say what to do (model access, region);
* without botocore the server starts, and only a request that needs it fails, naming the extra;
* the open models go through the OpenAI-compatible endpoint.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from anthroxy_server.config import ConfigError, settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app
from tests.anthropic_stream_validator import validate_sse
from tests.eventstream_frames import chunk, claude_events, exception

from .fake_bedrock import (
    FakeBedrock,
    aws_error,
    claude_message,
    json_reply,
    sse_reply,
    stream_reply,
    verify_sigv4,
)

TOKEN = "bedrock-api-key-SECRET-0123456789abcdef"
ACCESS_KEY = "AKIDEXAMPLE0123456789"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION = "session-token-SECRET-abc"
SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
AWS_VARS = (
    "AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
)  # fmt: skip

Gateway = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """botocore reads the real environment and ~/.aws: keep the machine's own out."""
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
async def bedrock(aiohttp_server: Any) -> FakeBedrock:
    fake = FakeBedrock()
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
def gateway(aiohttp_client: Any, bedrock: FakeBedrock) -> Gateway:
    async def make(
        env: dict[str, str] | None = None, model: str = SONNET, **provider: Any
    ) -> TestClient[Any, Any]:
        raw = {
            "providers": {
                "bedrock": {"base_url": bedrock.url, "region": "us-west-2", **provider},
                "bedrock-openai": {"base_url": bedrock.url + "/openai/v1", "region": "us-west-2"},
            },
            "tiers": {"default": f"bedrock/{model}"},
            "aliases": {"oss": "bedrock-openai/openai.gpt-oss-120b-1:0"},
        }
        settings = settings_from_config(structure_config(raw), env or {})
        client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
        return client

    return make


def claude_code_body(**extra: Any) -> dict[str, Any]:
    """What Claude Code sends: stream, system blocks, a tool, metadata."""
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 32000,
        "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "tools": [
            {
                "name": "Bash",
                "description": "run",
                "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}},
            }
        ],
        "metadata": {"user_id": "user_abc_account__session_1234"},
    }
    body.update(extra)
    return body


CLAUDE_CODE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,oauth-2025-04-20",
}


async def post(client: TestClient[Any, Any], body: dict[str, Any]) -> tuple[int, bytes, Any]:
    response = await client.post("/v1/messages", json=body, headers=CLAUDE_CODE_HEADERS)
    return response.status, await response.read(), response.headers


# ---------------------------------------------------------------------------------------------
# The request: URL, credentials, body.


async def test_claude_code_stream_through_bedrock_is_a_valid_anthropic_stream(
    gateway: Gateway, bedrock: FakeBedrock
) -> None:
    bedrock.replies.append(stream_reply(piece=7))
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    status, raw, headers = await post(client, claude_code_body())
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = validate_sse(raw)
    assert events[0]["message"]["model"] == "claude-sonnet-4-6"  # the name the client asked
    assert "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    (seen,) = bedrock.seen
    assert seen.raw_path == f"/model/{SONNET}/invoke-with-response-stream"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    body = seen.body
    assert "model" not in body and "stream" not in body and "metadata" not in body
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert body["system"] == claude_code_body()["system"] and body["max_tokens"] == 32000
    assert TOKEN.encode() not in raw
    health = await (await client.get("/healthz")).text()
    assert "AWS_BEARER_TOKEN_BEDROCK" in health and TOKEN not in health


async def test_json_request_uses_invoke(gateway: Gateway, bedrock: FakeBedrock) -> None:
    bedrock.replies.append(json_reply(claude_message("Hi there")))
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    status, raw, _ = await post(client, claude_code_body(stream=False))
    assert status == 200
    message = json.loads(raw)
    assert message["content"][0]["text"] == "Hi there"
    assert message["model"] == "claude-sonnet-4-6"
    assert bedrock.seen[0].raw_path == f"/model/{SONNET}/invoke"
    assert "stream" not in bedrock.seen[0].body


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0",
         "/model/global.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke"),
        ("anthropic.claude-haiku-4-5-20251001-v1:0",
         "/model/anthropic.claude-haiku-4-5-20251001-v1:0/invoke"),
        ("arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123",
         "/model/arn:aws:bedrock:us-west-2:123456789012:application-inference-profile%2Fabc123"
         "/invoke"),
    ],
)  # fmt: skip
async def test_model_and_profile_ids_go_into_the_path(
    gateway: Gateway, bedrock: FakeBedrock, model: str, path: str
) -> None:
    bedrock.replies.append(json_reply(claude_message()))
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN}, model=model)
    status, _, _ = await post(client, claude_code_body(stream=False))
    assert status == 200
    assert bedrock.seen[0].raw_path == path


@pytest.mark.parametrize("session", [None, SESSION])
async def test_sigv4_signature_verifies(
    gateway: Gateway, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, session: str | None
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    if session:
        monkeypatch.setenv("AWS_SESSION_TOKEN", session)
    bedrock.replies += [stream_reply(), json_reply(claude_message())]
    client = await gateway()
    status, raw, _ = await post(client, claude_code_body())
    assert status == 200
    validate_sse(raw)
    status, _, _ = await post(client, claude_code_body(stream=False))
    assert status == 200
    for seen in bedrock.seen:
        parts = verify_sigv4(
            seen, access_key=ACCESS_KEY, secret_key=SECRET, region="us-west-2", token=session
        )
        assert "content-type" in parts["signed"]
    assert SECRET.encode() not in raw


async def test_a_tampered_body_fails_the_signature_check(
    gateway: Gateway, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The verifier itself can fail: the same request with one byte of body changed does not pass.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    bedrock.replies.append(json_reply(claude_message()))
    client = await gateway()
    await post(client, claude_code_body(stream=False))
    seen = bedrock.seen[0]
    seen.raw = seen.raw.replace(b"hello", b"hellO")
    with pytest.raises(AssertionError):
        verify_sigv4(seen, access_key=ACCESS_KEY, secret_key=SECRET, region="us-west-2")


async def test_named_aws_profile_signs_with_its_keys(
    gateway: Gateway, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    (tmp_path / "aws-credentials").write_text(
        f"[work]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET}\n"
    )
    bedrock.replies.append(json_reply(claude_message()))
    client = await gateway(aws_profile="work")
    status, _, _ = await post(client, claude_code_body(stream=False))
    assert status == 200
    verify_sigv4(bedrock.seen[0], access_key=ACCESS_KEY, secret_key=SECRET, region="us-west-2")


# ---------------------------------------------------------------------------------------------
# Failures: in the stream, as HTTP errors, and of the credentials.


async def test_exception_mid_stream_becomes_an_error_event(
    gateway: Gateway, bedrock: FakeBedrock
) -> None:
    frames = b"".join(chunk(e) for e in claude_events()[:3])
    frames += exception("modelStreamErrorException", "The model stream broke.")
    bedrock.replies.append(stream_reply(frames))
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    status, raw, _ = await post(client, claude_code_body())
    assert status == 200
    events = validate_sse(raw)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "api_error"
    assert "The model stream broke." in events[-1]["error"]["message"]


async def test_throttling_before_any_event_is_a_429(gateway: Gateway, bedrock: FakeBedrock) -> None:
    bedrock.replies.append(stream_reply(exception("throttlingException", "Too many tokens.")))
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    status, raw, _ = await post(client, claude_code_body())
    assert status == 429
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize(
    ("reply", "status", "error_type", "words"),
    [
        (aws_error("ThrottlingException", "Too many requests, please wait before trying again.",
                   429, **{"retry-after": "7"}),
         429, "rate_limit_error", ["Too many requests"]),
        (aws_error("ServiceQuotaExceededException", "Your request exceeds the service quota.",
                   429),
         429, "rate_limit_error", ["service quota"]),
        (aws_error("AccessDeniedException",
                   "You don't have access to the model with the specified model ID.", 403),
         403, "permission_error", [SONNET, "request model access in the Bedrock console"]),
        (aws_error("ValidationException", "The provided model identifier is invalid.", 400),
         404, "not_found_error", [SONNET, "us-west-2"]),
        (aws_error("ResourceNotFoundException", "Model not found.", 404),
         404, "not_found_error", ["us-west-2"]),
        (aws_error("ServiceUnavailableException", "Service unavailable.", 503),
         529, "overloaded_error", ["Service unavailable"]),
        (json_reply({"__type": "com.amazon.coral.service#UnrecognizedClientException",
                     "message": "The security token included in the request is invalid."}, 403),
         401, "authentication_error", ["security token"]),
    ],
)  # fmt: skip
async def test_bedrock_errors_are_anthropic_errors(
    gateway: Gateway,
    bedrock: FakeBedrock,
    reply: Any,
    status: int,
    error_type: str,
    words: list[str],
) -> None:
    bedrock.replies.append(reply)
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    got, raw, headers = await post(client, claude_code_body(stream=False))
    body = json.loads(raw)
    assert got == status and body["type"] == "error"
    assert body["error"]["type"] == error_type
    for word in words:
        assert word in body["error"]["message"]
    if status == 429 and "retry-after" in str(reply):
        assert headers["retry-after"] == "7"
    assert TOKEN not in raw.decode()


async def test_without_botocore_the_server_runs_and_names_the_extra(
    gateway: Gateway, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "botocore" or m.startswith("botocore.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "botocore", None)  # import botocore -> ImportError
    client = await gateway()
    health = await client.get("/healthz")
    assert health.status == 200
    status, raw, _ = await post(client, claude_code_body(stream=False))
    error = json.loads(raw)["error"]
    assert status == 500
    assert 'pip install "anthroxy[bedrock]"' in error["message"]
    assert "AWS_BEARER_TOKEN_BEDROCK" in error["message"]
    assert bedrock.seen == []
    # A Bedrock API key needs no botocore at all.
    bedrock.replies.append(json_reply(claude_message()))
    keyed = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    status, _, _ = await post(keyed, claude_code_body(stream=False))
    assert status == 200


async def test_no_aws_credentials_is_a_clear_401(gateway: Gateway, bedrock: FakeBedrock) -> None:
    client = await gateway()
    status, raw, _ = await post(client, claude_code_body())
    error = json.loads(raw)["error"]
    assert status == 401 and error["type"] == "authentication_error"
    assert "AWS_BEARER_TOKEN_BEDROCK" in error["message"] and "aws sso login" in error["message"]
    assert bedrock.seen == []


# ---------------------------------------------------------------------------------------------
# The open models, and the configuration.


async def test_open_models_use_the_openai_compatible_endpoint(
    gateway: Gateway, bedrock: FakeBedrock
) -> None:
    chunks = [
        {"id": "c1", "object": "chat.completion.chunk", "model": "openai.gpt-oss-120b-1:0",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"id": "c1", "object": "chat.completion.chunk", "model": "openai.gpt-oss-120b-1:0",
         "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
    ]  # fmt: skip
    bedrock.replies.append(sse_reply(chunks))
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    status, raw, _ = await post(client, claude_code_body(model="oss"))
    assert status == 200
    events = validate_sse(raw)
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "Hello"
    (seen,) = bedrock.seen
    assert seen.raw_path == "/openai/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.body["model"] == "openai.gpt-oss-120b-1:0" and seen.body["stream"] is True


def _settings(provider: dict[str, Any], env: dict[str, str]) -> Any:
    raw = {"providers": {"bedrock": provider}, "tiers": {"default": f"bedrock/{SONNET}"}}
    return settings_from_config(structure_config(raw), env)


def test_region_builds_the_endpoint_and_is_required() -> None:
    assert _settings({"region": "eu-central-1"}, {}).providers["bedrock"].base_url == (
        "https://bedrock-runtime.eu-central-1.amazonaws.com"
    )
    from_env = _settings({}, {"AWS_DEFAULT_REGION": "ap-northeast-1"}).providers["bedrock"]
    assert from_env.base_url == "https://bedrock-runtime.ap-northeast-1.amazonaws.com"
    assert from_env.region == "ap-northeast-1" and from_env.api_key is None
    vpc = "https://vpce-0abc.bedrock-runtime.us-east-1.vpce.amazonaws.com"
    overridden = _settings({"region": "us-east-1"}, {"BEDROCK_BASE_URL": vpc})
    assert overridden.providers["bedrock"].base_url == vpc  # a VPC endpoint, signed for us-east-1
    with pytest.raises(ConfigError, match=r"providers\.bedrock\.region: no AWS region") as missing:
        _settings({}, {})
    assert len(missing.value.problems) == 1  # not also the URL that lacks the region
    with pytest.raises(ConfigError, match="is not an AWS region"):
        _settings({"region": "us-east-1/../evil"}, {})


def test_aws_settings_on_another_provider_are_reported() -> None:
    raw = {
        "providers": {"deepseek": {"region": "us-east-1", "aws_profile": "x"}},
        "tiers": {"default": "deepseek/deepseek-chat"},
    }
    with pytest.raises(ConfigError, match=r'deepseek\.region: only used with auth = "bedrock"'):
        settings_from_config(structure_config(raw), {"DEEPSEEK_API_KEY": "k" * 20})


async def test_fallback_from_anthropic_to_bedrock_in_two_regions(
    aiohttp_client: Any, bedrock: FakeBedrock
) -> None:
    """The documented chain: the same Claude model from Anthropic, then Bedrock in one region,
    then another (a custom provider with ``auth = "bedrock"``), on one open client stream."""
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    bedrock.replies += [
        json_reply(overloaded, 529),
        aws_error("ThrottlingException", "Too many requests.", 429),
        stream_reply(),
    ]
    raw = {
        "providers": {
            "anthropic": {"base_url": bedrock.url + "/anthropic", "api_key": "sk-ant-" + "x" * 20},
            "bedrock": {"base_url": bedrock.url + "/use1", "region": "us-east-1"},
            "bedrock-eu": {
                "api": "anthropic",
                "auth": "bedrock",
                "api_key_env": "AWS_BEARER_TOKEN_BEDROCK",
                "base_url": bedrock.url + "/euc1",
                "region": "eu-central-1",
            },
        },
        "tiers": {"default": "anthropic/claude-sonnet-4-6"},
        "routing": {
            "retry": {"backoff": 0.01},
            "fallbacks": {
                "anthropic/claude-sonnet-4-6": [
                    f"bedrock/{SONNET}",
                    "bedrock-eu/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
                ]
            },
        },
    }
    env = {"AWS_BEARER_TOKEN_BEDROCK": TOKEN}
    client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), env)))
    status, body, _ = await post(client, claude_code_body())
    assert status == 200
    validate_sse(body)
    assert [seen.raw_path for seen in bedrock.seen] == [
        "/anthropic/v1/messages",
        f"/use1/model/{SONNET}/invoke-with-response-stream",
        "/euc1/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream",
    ]
    assert "anthropic_version" not in bedrock.seen[0].body  # Anthropic itself: passed through
    assert bedrock.seen[2].body["anthropic_version"] == "bedrock-2023-05-31"


def test_config_shows_where_the_credentials_come_from() -> None:
    keyless = _settings({"region": "us-east-1"}, {}).providers["bedrock"]
    assert keyless.key_source == "aws credential chain"
    keyed = _settings({"region": "us-east-1"}, {"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    assert keyed.providers["bedrock"].key_source == "env:AWS_BEARER_TOKEN_BEDROCK"
    assert TOKEN not in repr(keyed.providers["bedrock"])


async def test_count_tokens_is_estimated_without_calling_bedrock(
    gateway: Gateway, bedrock: FakeBedrock
) -> None:
    client = await gateway({"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    response = await client.post("/v1/messages/count_tokens", json=claude_code_body())
    assert response.status == 200
    assert (await response.json())["input_tokens"] > 0
    assert bedrock.seen == []  # no credentials sent to an endpoint Bedrock does not have


def test_config_check_reports_an_empty_aws_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    from anthroxy_server.cli.config_check import login_problems

    settings = _settings({"region": "us-east-1"}, {})
    (problem,) = login_problems(settings)
    assert problem.startswith("providers.bedrock: ") and "no AWS credentials found" in problem
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    assert "nosuch" in login_problems(settings)[0]
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert login_problems(settings) == []
    # A Bedrock API key needs no chain at all.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    keyed = _settings({"region": "us-east-1"}, {"AWS_BEARER_TOKEN_BEDROCK": TOKEN})
    assert login_problems(keyed) == []
