"""The real Claude Code CLI through the two other upstream dialects and thinking chat upstreams.

Each test plays the Write-tool loop of ``test_claude_code`` against a scripted model speaking one
upstream wire format, then checks the round trip: the file is written (so the streamed tool call
reached Claude Code whole), and the second request, the one carrying the tool result, brings
back what the upstream said on the first turn (thinking, its signature or encrypted reasoning,
the call id) in the form that upstream needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from anthroxy_server.gateway.app import create_app

from . import scripted_anthropic, scripted_responses
from .claude_cli import base_url, claude_writes, needs_claude, settings
from .scripted_model import REQUESTS, Script, make_app

pytestmark = needs_claude

CLIENT_BETAS = web.AppKey("client_betas", list[str])


def _record_client_betas(app: web.Application) -> None:
    """Keep the ``anthropic-beta`` header Claude Code sent on each request the proxy answers."""
    app[CLIENT_BETAS] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        if request.method == "POST":
            app[CLIENT_BETAS].append(request.headers.get("anthropic-beta", ""))

    app.on_response_prepare.append(record)


async def test_claude_code_through_an_anthropic_native_upstream(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    model = await aiohttp_server(scripted_anthropic.make_app())
    dropped = ("context-management", "effort")
    config = settings(
        base_url(model),
        api="anthropic",
        model=scripted_anthropic.MODEL,
        profile={"drop_betas": list(dropped)},
    )
    app = create_app(config)
    _record_client_betas(app)
    proxy = await aiohttp_server(app)
    await claude_writes(proxy, tmp_path, "native.txt", "straight through")
    target = tmp_path / "native.txt"
    seen = model.app[scripted_anthropic.REQUESTS]
    betas: list[str] = app[CLIENT_BETAS]
    assert len(seen) == 2
    for request, client_betas in zip(seen, betas, strict=True):
        assert request.path == "/v1/messages"
        assert request.body["model"] == scripted_anthropic.MODEL  # not Claude Code's model id
        assert request.body["stream"] is True
        assert request.headers["anthropic-version"] == "2023-06-01"
        # auth = "none": Claude Code's own key must not travel on to the upstream.
        assert "placeholder-key" not in json.dumps(request.headers)
        # The betas went through minus the dropped families, in Claude Code's order; the
        # client did send the dropped ones, so the filter really had work to do.
        sent = client_betas.split(",")
        assert any(beta.startswith(dropped) for beta in sent)
        kept = [beta for beta in sent if not beta.startswith(dropped)]
        assert request.headers["anthropic-beta"] == ",".join(kept)
    # Second turn: Claude Code sends the assistant turn back as it was streamed, the foreign
    # signature included (pass-through drops only thinking anthroxy signed), then the result.
    history = seen[1].body["messages"]
    assert history[-2] == {
        "role": "assistant",
        "content": [
            {
                "type": "thinking",
                "thinking": scripted_anthropic.THINKING,
                "signature": scripted_anthropic.SIGNATURE,
            },
            {"type": "text", "text": "I'll write the file."},
            {
                "type": "tool_use",
                "id": scripted_anthropic.TOOL_ID,
                "name": "Write",
                "input": {"file_path": str(target), "content": "straight through\n"},
            },
        ],
    }
    results = [b for b in history[-1]["content"] if b["type"] == "tool_result"]
    assert [r["tool_use_id"] for r in results] == [scripted_anthropic.TOOL_ID]


async def test_claude_code_replays_encrypted_reasoning_through_a_responses_upstream(
    aiohttp_server: Any, tmp_path: Path, claude_release: str
) -> None:
    # 2.1.197 shows thinking; newer releases ask for ``display: "omitted"``: no summary is
    # requested then, and the thinking block Claude Code echoes has no text to replay.
    omitted = claude_release != "2.1.197"
    model = await aiohttp_server(scripted_responses.make_app())
    config = settings(
        base_url(model) + "/v1",
        api="responses",
        model=scripted_responses.MODEL,
        limits={"thinking": True},  # without it anthroxy drops reasoning for an unknown model
    )
    proxy = await aiohttp_server(create_app(config))
    await claude_writes(proxy, tmp_path, "reasoned.txt", "reasoned words")
    target = tmp_path / "reasoned.txt"
    first, second = model.app[scripted_responses.REQUESTS]
    for request in (first, second):
        assert request["model"] == scripted_responses.MODEL
        assert request["stream"] is True
        # Stateless: the reasoning must come back as encrypted content, never by id alone.
        assert request["store"] is False
        assert request["include"] == ["reasoning.encrypted_content"]
        assert request["reasoning"].get("summary") == (None if omitted else "auto")
    assert [i for i in first["input"] if i.get("type") != "message"] == []
    reasoning, call, result = [i for i in second["input"] if i.get("type") != "message"]
    # Claude Code echoed the thinking block with our signature; anthroxy turned it back into the
    # reasoning item, with the FINAL encrypted content (output_item.done), not the provisional.
    assert reasoning == {
        "type": "reasoning",
        "id": scripted_responses.REASONING_ID,
        "summary": []
        if omitted
        else [{"type": "summary_text", "text": "".join(scripted_responses.SUMMARY)}],
        "encrypted_content": scripted_responses.ENCRYPTED_DONE,
    }
    assert call["type"] == "function_call" and call["name"] == "Write"
    assert call["call_id"] == scripted_responses.CALL_ID
    assert json.loads(call["arguments"]) == {
        "file_path": str(target),
        "content": "reasoned words\n",
    }
    assert result["type"] == "function_call_output"
    assert result["call_id"] == scripted_responses.CALL_ID
    assert str(target) in result["output"]


async def test_claude_code_replays_reasoning_content_through_a_deepseek_style_upstream(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    reasoning = "The user wants a file. I should call Write with the path and the text."
    model = await aiohttp_server(make_app(Script(reasoning=reasoning, require_reasoning=True)))
    profile = {"thinking_replay": "reasoning_content", "reasoning_param": "deepseek"}
    config = settings(base_url(model) + "/v1", model="deepseek-reasoner", profile=profile)
    proxy = await aiohttp_server(create_app(config))
    await claude_writes(proxy, tmp_path, "deep.txt", "deep words")
    first, second = model.app[REQUESTS]
    assert first["thinking"] == {"type": "enabled"}  # DeepSeek's switch, not reasoning_effort
    assert "reasoning_effort" not in first
    assert [m for m in first["messages"] if m["role"] == "assistant"] == []
    # DeepSeek refuses a tool loop whose assistant turn lost its reasoning: the streamed
    # reasoning_content went to Claude Code as a thinking block and came back onto the message.
    (assistant,) = [m for m in second["messages"] if m["role"] == "assistant"]
    assert assistant["reasoning_content"] == reasoning
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_scripted_1"]


async def test_claude_code_tool_loop_through_a_thinking_model_under_an_unknown_provider_id(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    """No profile says this upstream wants its reasoning back, but it does (it answers 400
    without it, as DeepSeek does): the thinking block's signature says who produced it."""
    reasoning = "A file to write: call Write with the path and the words from the prompt."
    model = await aiohttp_server(make_app(Script(reasoning=reasoning, require_reasoning=True)))
    config = settings(base_url(model) + "/v1", model="deepseek-reasoner", provider_id="myds")
    proxy = await aiohttp_server(create_app(config))
    await claude_writes(proxy, tmp_path, "unknown.txt", "unknown words")
    first, second = model.app[REQUESTS]
    assert "reasoning_effort" not in first and "thinking" not in first  # no profile: no switch
    (assistant,) = [m for m in second["messages"] if m["role"] == "assistant"]
    assert assistant["reasoning_content"] == reasoning
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_scripted_1"]
