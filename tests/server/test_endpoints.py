"""Invariant: every endpoint answers in Anthropic's shapes, rejects bad input with a 4xx naming
the field, and the chat dialect carries a tool round trip the official SDK accepts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import anthropic
import pytest
from aiohttp import web

from .conftest import fixture_bytes, free_port, message_body


def sse_reply(recorded: bytes):
    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(recorded)
        return response

    return reply


async def test_chat_stream_tool_round_trip_with_sdk(upstream, make_gateway) -> None:
    first = fixture_bytes("chat_stream_tool_call_with_usage.sse")
    second = fixture_bytes("chat_stream_text_after_tool_result.sse")

    async def reply(request: web.Request) -> web.StreamResponse:
        return await sse_reply(first if len(upstream.seen) == 1 else second)(request)

    upstream.handler = reply
    client = await make_gateway()
    api = anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="k", max_retries=0
    )
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]
    messages = [{"role": "user", "content": "weather?"}]
    async with api.messages.stream(
        model="chatty", max_tokens=50, tools=tools, messages=messages
    ) as stream:
        turn = await stream.get_final_message()
    assert turn.model == "chatty" and turn.stop_reason == "tool_use"
    tool = next(b for b in turn.content if b.type == "tool_use")
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in turn.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sun"}],
        },
    ]
    async with api.messages.stream(
        model="chatty", max_tokens=50, tools=tools, messages=messages
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "end_turn" and final.content[0].text
    sent = upstream.seen[1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"].startswith("Bearer ")
    tool_message = sent.body["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "sun"
    assert sent.body["messages"][-2]["tool_calls"][0]["id"] == tool_message["tool_call_id"]


async def test_count_tokens_upstream_then_cache_then_estimate(upstream, make_gateway) -> None:
    async def count(request: web.Request) -> web.Response:
        return web.json_response({"input_tokens": 1114})

    upstream.count_handler = count
    client = await make_gateway()
    body = message_body()
    for _ in range(3):
        response = await client.post("/v1/messages/count_tokens?beta=true", json=body)
        assert await response.json() == {"input_tokens": 1114}
    assert len(upstream.seen) == 1  # cached by body
    assert upstream.seen[0].body["model"] == "up-model"
    chat = await client.post("/v1/messages/count_tokens", json=message_body("chatty"))
    estimate = (await chat.json())["input_tokens"]
    assert isinstance(estimate, int) and estimate > 0
    assert len(upstream.seen) == 1  # chat providers are never asked


async def test_models_list_pagination_and_lookup(make_gateway) -> None:
    client = await make_gateway()
    everything = await (await client.get("/v1/models?limit=1000")).json()
    ids = [m["id"] for m in everything["data"]]
    assert {"chatty", "resp", "fake/up-model"} <= set(ids)
    assert everything["has_more"] is False
    assert all(m["type"] == "model" and m["created_at"] for m in everything["data"])
    page = await (await client.get("/v1/models?limit=1")).json()
    assert page["data"][0]["id"] == ids[0] and page["has_more"] is True
    after = await (await client.get(f"/v1/models?limit=1&after_id={ids[0]}")).json()
    assert after["first_id"] == ids[1]
    before = await (await client.get(f"/v1/models?before_id={ids[1]}")).json()
    assert [m["id"] for m in before["data"]] == [ids[0]]
    one = await client.get("/v1/models/chatty")
    assert (await one.json())["id"] == "chatty"
    bad = await client.get("/v1/models?limit=0")
    assert bad.status == 400 and "limit" in (await bad.json())["error"]["message"]


async def test_healthz_and_root(make_gateway) -> None:
    client = await make_gateway()
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["version"]
    assert health["providers"]["fake"]["has_key"] is True
    assert "routing" in health
    assert (await client.head("/")).status == 200
    assert (await client.get("/")).status == 200


async def test_bad_requests_name_the_field(make_gateway) -> None:
    client = await make_gateway(max_body_bytes=2000)
    cases = [
        (b"{not json", 400, "$"),
        (b"[1]", 400, "$"),
        (json.dumps({"messages": []}).encode(), 400, "$.model"),
        (json.dumps(message_body(stream="yes")).encode(), 400, "$.stream"),
        (json.dumps(message_body(pad="x" * 3000)).encode(), 413, None),
    ]
    for raw, status, path in cases:
        response = await client.post(
            "/v1/messages", data=raw, headers={"content-type": "application/json"}
        )
        assert response.status == status, raw[:40]
        error = (await response.json())["error"]
        if path is not None:
            assert error["message"].endswith(f"@ {path}")
        else:
            assert error["type"] == "request_too_large"
    missing = await client.get("/nowhere")
    assert missing.status == 404 and (await missing.json())["type"] == "error"


async def test_the_proxy_token_is_required_on_messages_but_not_on_health(
    make_gateway, upstream
) -> None:
    async def reply(request):
        return web.json_response(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "up-model",
                "content": [{"type": "text", "text": "ok"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )

    upstream.handler = reply
    client = await make_gateway(auth_token="proxy-token-123456")
    refused = await client.post("/v1/messages", json=message_body())
    assert refused.status == 401
    assert refused.headers["x-should-retry"] == "false"
    assert (await refused.json())["error"]["type"] == "authentication_error"
    for headers in (
        {"x-api-key": "proxy-token-123456"},
        {"authorization": "Bearer proxy-token-123456"},
    ):
        response = await client.post("/v1/messages", json=message_body(), headers=headers)
        assert response.status == 200
        assert (await response.json())["content"] == [{"type": "text", "text": "ok"}]
    # The proxy's own token never travels upstream; the provider's key does.
    assert all("proxy-token-123456" not in str(seen.headers) for seen in upstream.seen)
    assert (await client.get("/healthz")).status == 200  # health needs no token


async def test_deeply_nested_body_is_a_400_not_a_crash(make_gateway) -> None:
    # 100k nested arrays fit in the default body limit but exceed Python's recursion limit.
    client = await make_gateway()
    raw = b"[" * 100_000 + b"]" * 100_000
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        response = await client.post(path, data=raw, headers={"content-type": "application/json"})
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"].endswith("@ $")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_refused_before_any_upstream(make_gateway, upstream, constant):
    client = await make_gateway()
    raw = message_body()
    text = json.dumps(raw)[:-1] + f', "temperature": {constant}}}'
    response = await client.post(
        "/v1/messages", data=text, headers={"content-type": "application/json"}
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert f"{constant} is not a valid JSON number" in error["message"]
    assert upstream.seen == []


async def test_proxy_token_that_is_not_utf8_is_refused_not_a_crash(make_gateway) -> None:
    # aiohttp keeps undecodable header bytes as surrogates; the comparison must survive them.
    client = await make_gateway(auth_token="proxy-token-123456")
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    for header in (b"x-api-key: \xff\xfeabc", b"authorization: Bearer \xff\xfeabc"):
        writer.write(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401 "), head[:40]
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = json.loads(await reader.readexactly(length))
        assert body["error"]["type"] == "authentication_error"
    writer.close()


def test_module_starts_with_no_config_and_no_keys(tmp_path) -> None:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "anthroxy_server", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    health = json.loads(r.read())
            except OSError:
                assert process.poll() is None, process.communicate()[1].decode()
                time.sleep(0.1)
        assert health is not None and health["status"] == "ok"
    finally:
        process.terminate()
        process.wait(10)
