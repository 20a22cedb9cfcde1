"""freecc's README, as a migrating user has it: a ``.env`` in the directory the proxy runs from
(its two "Configuration Examples", tests/fixtures/migrating/freecc-example-*.env, verbatim), its
global ``*_API_BASE`` variables and its logging variables.

Example 1 runs the real ``python -m anthroxy_server`` in a directory holding that ``.env``: the
big and the small model keep their own URL and key, each reaching its own fake upstream on
loopback (the README's URL and ``sk-...`` keys replaced by lines appended to the file, since the
two keys must differ to be told apart). Example 2 names Vertex AI's Gemini: the big model goes
to the ``vertex-gemini`` provider (Vertex's OpenAI-compatible endpoint) in the README's project,
reaching a fake Vertex with a token from a fake Google token endpoint."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from anthroxy_server.cli.config_show import show_config_lines
from anthroxy_server.config import ConfigError, Settings, load_settings
from anthroxy_server.gateway.app import create_app

from .conftest import free_port, message_body
from .fake_vertex import FakeTokens, FakeVertex, make_service_account
from .migration_fakes import Recorder, start_recorder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "migrating"
BIG_KEY = "sk-big-model-key-0123456789"
SMALL_KEY = "sk-small-model-key-9876543210"


def example_env(tmp_path: Path, example: int, *extra: str) -> Path:
    """``tmp_path/.env``: the README's example, then ``extra`` lines (later lines win)."""
    text = (FIXTURES / f"freecc-example-{example}.env").read_text()
    path = tmp_path / ".env"
    path.write_text(text + "\n" + "".join(f"{line}\n" for line in extra))
    path.chmod(0o600)
    return path


def load(tmp_path: Path, env: dict[str, str] | None = None) -> Settings:
    return load_settings(
        env=env or {}, cwd=tmp_path, home=tmp_path, managed_path=tmp_path / "managed"
    )


@pytest.fixture
async def fakes(aiohttp_server: Any) -> tuple[Recorder, Recorder]:
    return await start_recorder(aiohttp_server), await start_recorder(aiohttp_server)


def serve(cwd: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "anthroxy_server"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1].decode()
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not answer /healthz")


# By eye from the README: "sonnet" goes to BIG_MODEL_*, "haiku" to SMALL_MODEL_* (its example
# name claude-3-sonnet-20240229, and the names Claude Code sends today).
EXAMPLE_1 = [
    ("claude-3-sonnet-20240229", "big", "gpt-4.1"),
    ("claude-sonnet-4-6", "big", "gpt-4.1"),
    ("claude-3-haiku-20240307", "small", "gpt-4o-mini"),
    ("claude-haiku-4-5", "small", "gpt-4o-mini"),
]


async def test_example_1_from_dotenv_keeps_each_models_url_and_key(
    fakes: tuple[Recorder, Recorder], tmp_path: Path
) -> None:
    big, small = fakes
    port = free_port()
    example_env(
        tmp_path,
        1,
        f'BIG_MODEL_API_KEY="{BIG_KEY}"',
        f'SMALL_MODEL_API_KEY="{SMALL_KEY}"',
        f"SMALL_MODEL_API_BASE={small.url}/v1",
        # freecc's global base: "a fallback for mapped models if a specific ... base URL is not
        # provided above" (BIG has none).
        f"OPENAI_API_BASE={big.url}/v1",
        f"PORT={port}",
    )
    process = serve(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(process, url)
        async with aiohttp.ClientSession() as session:
            for name, size, model in EXAMPLE_1:
                async with session.post(f"{url}/v1/messages", json=message_body(name)) as r:
                    assert r.status == 200, await r.text()
                    assert (await r.json())["content"][0]["text"] == f"answer from {model}"
                fake, key = (big, BIG_KEY) if size == "big" else (small, SMALL_KEY)
                hit = fake.hits[-1]
                assert (hit.path, hit.key, hit.model) == ("/v1/chat/completions", key, model)
        assert len(big.hits) == len(small.hits) == 2
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    assert b"Traceback" not in err
    assert BIG_KEY.encode() not in err and SMALL_KEY.encode() not in err


async def test_example_2_sends_the_big_model_to_vertex(aiohttp_server: Any, tmp_path: Path) -> None:
    """The README's Example 2 as it stands, plus where the fakes are: the Vertex endpoint (its
    ``<ID>_BASE_URL``) and a service-account file whose token endpoint is the fake's (freecc's
    ``VERTEX_CREDENTIALS``)."""
    tokens = FakeTokens()
    fake = FakeVertex(tokens=tokens, project="your-gcp-project-id", location="global")
    app = web.Application()
    app.router.add_post("/token", tokens.handle)
    fake.routes(app)
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    key = tmp_path / "sa.json"
    tokens.public_key = make_service_account(key, base + "/token")
    port = free_port()
    example_env(
        tmp_path,
        2,
        f"VERTEX_GEMINI_BASE_URL={base}/v1",
        f"VERTEX_CREDENTIALS={key}",
        f"PORT={port}",
    )
    process = serve(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(process, url)
        async with aiohttp.ClientSession() as session:
            body = message_body("claude-sonnet-4-6")
            async with session.post(f"{url}/v1/messages", json=body) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["content"][0]["text"] == fake.text
        hit = fake.seen[-1]
        assert hit.path == (
            "/v1/projects/your-gcp-project-id/locations/global/endpoints/openapi/chat/completions"
        )
        assert hit.body["model"] == "google/gemini-1.5-pro-preview-0514"
        assert hit.headers["Authorization"] == f"Bearer {tokens.issued[0]}"
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    assert b"Traceback" not in err
    assert tokens.issued[0].encode() not in err


def test_example_2_in_config_show(tmp_path: Path) -> None:
    example_env(tmp_path, 2)
    settings = load(tmp_path)
    assert settings.config.tiers["sonnet"] == "vertex-gemini/gemini-1.5-pro-preview-0514"
    assert settings.config.tiers["haiku"] == "openai/local-llama-3"
    provider = settings.providers["vertex-gemini"]
    assert (provider.project, provider.location) == ("your-gcp-project-id", "global")


def test_example_1_in_config_show_names_the_env_file(tmp_path: Path) -> None:
    dotenv = example_env(
        tmp_path, 1, f'BIG_MODEL_API_KEY="{BIG_KEY}"', "OPENAI_API_BASE=http://127.0.0.1:8000/v1"
    )
    settings = load(tmp_path)
    shown = "\n".join(show_config_lines(settings, {}))
    assert f"# files read: {dotenv}" in shown
    url_line = 'providers.openai.base_url = "http://127.0.0.1:8000/v1"'
    assert f"{url_line.ljust(60)}  # ./.env:OPENAI_API_BASE" in shown
    assert settings.providers["openai"].key_source == "./.env:BIG_MODEL_API_KEY"
    assert settings.origins["tiers.haiku"] == "./.env:SMALL_MODEL_NAME"
    assert settings.origins["providers.openai-small.base_url"] == "./.env:SMALL_MODEL_API_BASE"
    assert "./.env:BIG_MODEL_API_KEY" in shown
    assert BIG_KEY not in shown


@pytest.mark.parametrize(
    ("provider", "variable", "key_variable", "endpoint", "model"),
    [
        ("openai", "OPENAI_API_BASE", "OPENAI_API_KEY", "/chat/completions", "gpt-4o-mini"),
        ("gemini", "GEMINI_API_BASE", "GEMINI_API_KEY", "/chat/completions", "gemini-2.5-pro"),
        ("xai", "XAI_API_BASE", "XAI_API_KEY", "/chat/completions", "grok-4"),
        ("anthropic", "ANTHROPIC_API_BASE", "ANTHROPIC_API_KEY", "/v1/messages", "claude-x"),
    ],
)
async def test_global_api_bases_are_honoured(
    aiohttp_client: Any,
    fakes: tuple[Recorder, Recorder],
    tmp_path: Path,
    provider: str,
    variable: str,
    key_variable: str,
    endpoint: str,
    model: str,
) -> None:
    # A provider-prefixed request ("openai/gpt-4o-mini", the README's form) goes to the base the
    # README's global variable names, not to the public endpoint.
    fake = fakes[0]
    key = f"sk-{provider}-global-key-0123456789"
    settings = load(tmp_path, {variable: f"{fake.url}/local", key_variable: key})
    assert settings.origins[f"providers.{provider}.base_url"] == f"env:{variable}"
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/v1/messages", json=message_body(f"{provider}/{model}"))
    assert response.status == 200, await response.text()
    assert fake.hits == [type(fake.hits[0])(f"/local{endpoint}", key, model)]


def test_logging_variables(tmp_path: Path) -> None:
    example_env(
        tmp_path,
        1,
        "FILE_LOG_LEVEL=DEBUG",
        "CONSOLE_LOG_LEVEL=WARNING",
        "LOG_REQUEST_BODY=true",
        "LOG_RESPONSE_BODY=true",
    )
    settings = load(tmp_path, {"OPENAI_API_KEY": "sk-openai-0123456789"})
    server = settings.config.server
    assert (server.log_file_level, server.log_level) == ("debug", "warning")
    assert (server.log_request_body, server.log_response_body) == (True, True)
    assert settings.origins["server.log_file_level"] == "./.env:FILE_LOG_LEVEL"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("FILE_LOG_LEVEL=LOUD", "FILE_LOG_LEVEL: expected one of debug, info, warning"),
        ("CONSOLE_LOG_LEVEL=verbose", "CONSOLE_LOG_LEVEL: expected one of"),
        ("LOG_REQUEST_BODY=sure", "LOG_REQUEST_BODY: expected true or false, got 'sure'"),
    ],
)
def test_bad_logging_values_name_the_variable(tmp_path: Path, line: str, expected: str) -> None:
    example_env(tmp_path, 1, line)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"OPENAI_API_KEY": "sk-openai-0123456789"})
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
