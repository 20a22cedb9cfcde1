"""The field an upstream's 400 names, read from its body: a table of the shapes validators write,
each copied from the public report given next to it, then found in the body that was sent."""

from __future__ import annotations

import json

import pytest

from anthroxy.cleaning import Each, format_path, locate, refused_fields

# (error body as the upstream sent it, the raw paths it names, source)
CASES = [
    # Anthropic's pydantic, flattened; the whole body.
    (
        '{"type":"error","error":{"type":"invalid_request_error","message":"context_management: '
        'Extra inputs are not permitted"},"request_id":"req_011CW9z9GbtaQWp24SzDDZCp"}',
        [("context_management",)],
        "https://github.com/anthropics/claude-code/issues/14135",
    ),
    (
        "tools.0.custom.defer_loading: Extra inputs are not permitted",
        [("tools", 0, "custom", "defer_loading")],
        "https://github.com/anthropics/claude-code/issues/31033",
    ),
    (
        '{"message": "system.1.cache_control.ephemeral.scope: Extra inputs are not permitted"}',
        [("system", 1, "cache_control", "ephemeral", "scope")],
        "https://github.com/caozhiyuan/copilot-api/issues/145",
    ),
    (
        "messages.65.content.1.tool_use.text: Extra inputs are not permitted",
        [("messages", 65, "content", 1, "tool_use", "text")],
        "https://github.com/anthropics/claude-code/issues/4378",
    ),
    (
        "thinking.adaptive.effort: Extra inputs are not permitted",
        [("thinking", "adaptive", "effort")],
        "https://github.com/Wei-Shaw/sub2api/issues/1619",
    ),
    (
        "tools.3.custom.input_examples: Extra inputs are not permitted",
        [("tools", 3, "custom", "input_examples")],
        "https://github.com/anthropics/claude-code/issues/11678",
    ),
    # Two on one line, as pydantic joins them (the two messages of #11678 and #31033).
    (
        "tools.3.custom.input_examples: Extra inputs are not permitted, "
        "tools.0.custom.defer_loading: Extra inputs are not permitted",
        [("tools", 3, "custom", "input_examples"), ("tools", 0, "custom", "defer_loading")],
        "https://github.com/anthropics/claude-code/issues/11678",
    ),
    # Bedrock's prefix.
    (
        '{"message":"The model returned the following errors: reasoning: Extra inputs are not '
        'permitted"}',
        [("reasoning",)],
        "https://github.com/BerriAI/litellm/issues/13609",
    ),
    # LiteLLM nests the upstream's body as an escaped string with text after it (the report's
    # terminal line wrapping undone).
    (
        '{"error":{"message":"{\\"message\\":\\"tools.0.custom.defer_loading: Extra inputs are '
        'not permitted\\"}. Received Model Group=claude-sonnet-4-6\\nAvailable Model Group '
        'Fallbacks=None","type":"None","param":"None","code":"400"}}',
        [("tools", 0, "custom", "defer_loading")],
        "https://github.com/anthropics/claude-code/issues/31063",
    ),
    # pydantic's list as JSON (Mistral), "body" first.
    (
        '{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body",'
        '"messages",0,"user","name"],"msg":"Extra inputs are not permitted","input":null}]},'
        '"type":"invalid_request_error","param":null,"code":null}',
        [("messages", 0, "user", "name")],
        "https://github.com/nomtek/mistralai_client_dart/issues/44",
    ),
    # The list as a Python repr inside a message string (older vLLM).
    (
        "{'object': 'error', 'message': \"[{'type': 'extra_forbidden', 'loc': ('body', "
        "'stream_options'), 'msg': 'Extra inputs are not permitted', 'input': {}}]\", 'type': "
        "'BadRequestError', 'param': None, 'code': 400}",
        [("stream_options",)],
        "https://github.com/modelscope/ms-agent/issues/489",
    ),
    # pydantic v2 text (newer vLLM).
    (
        "1 validation error for ChatCompletionRequest\nmessages.0.user.name\n  Extra inputs are "
        "not permitted [type=extra_forbidden, input_value='bob', input_type=str]",
        [("messages", 0, "user", "name")],
        "https://github.com/vllm-project/vllm/issues/12864",
    ),
    # A JSON pointer (Azure's validator, via Semantic Kernel).
    (
        "Validation error at #/stream_options: Extra inputs are not permitted",
        [("stream_options",)],
        "https://github.com/microsoft/semantic-kernel/issues/10510",
    ),
    # OpenAI.
    (
        '{"error":{"message":"Unknown parameter: \'reasoning\'.","type":"invalid_request_error",'
        '"param":"reasoning","code":"unknown_parameter"}}',
        [("reasoning",)],
        "https://github.com/teabranch/open-responses-server/issues/41",
    ),
    (
        "Unknown parameter: 'messages[1].tool_calls[0].index'.",
        [("messages", 1, "tool_calls", 0, "index")],
        "https://github.com/songquanpeng/one-api/issues/1319",
    ),
    # Azure OpenAI, older API versions.
    (
        "{'error': {'message': 'Unrecognized request argument supplied: tools', 'type': "
        "'invalid_request_error', 'param': None, 'code': None}}",
        [("tools",)],
        "https://github.com/langchain-ai/opengpts/issues/166",
    ),
    # Google, native and OpenAI-compatible (which wraps the body in an array).
    (
        '[{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name '
        '\\"reasoning\\": Cannot find field.","status":"INVALID_ARGUMENT"}}]',
        [("reasoning",)],
        "https://github.com/SuzumiyaAkizuki/ComfyUI-NewBie-LLM-Formatter/issues/3",
    ),
    (
        'Invalid JSON payload received. Unknown name "cache_control" at '
        "'request.system_instruction.parts[1]': Cannot find field.",
        [("request", "system_instruction", "parts", 1, "cache_control")],
        "https://github.com/MinLL/SkyrimNet-GamePlugin/issues/77",
    ),
]

# Refusals that name no field to leave out: a value, a block type, a limit.
NOT_FIELDS = [
    # DeepSeek (serde): the role value.
    '{"error":{"message":"Failed to deserialize the JSON body into the target type: messages[0]'
    '.role: unknown variant `system`, expected `user` or `assistant` at line 1 column 29","type":'
    '"invalid_request_error","param":null,"code":"invalid_request_error"}}',
    # DeepSeek: two values that do not go together.
    '{"error":{"message":"thinking options type cannot be disabled when reasoning_effort is set",'
    '"type":"invalid_request_error","param":null,"code":"invalid_request_error"}}',
    # Kimi: nothing named at all.
    '{"error":{"type":"invalid_request_error","message":"Invalid request Error"},"type":"error"}',
    # Anthropic: a value's length, not an unknown field.
    "tools.46.custom.name: String should have at most 64 characters",
    "prompt is too long: 210000 tokens > 200000 maximum",
    "",
    "<html><body>Bad Request</body></html>",
]


@pytest.mark.parametrize(("body", "expected", "source"), CASES)
def test_refused_fields_are_read_in_every_shape(body: str, expected: list, source: str) -> None:
    assert list(refused_fields(body)) == expected, source
    assert list(refused_fields(body.encode())) == expected


@pytest.mark.parametrize("body", NOT_FIELDS)
def test_refusals_without_a_field_name_none(body: str) -> None:
    assert refused_fields(body) == ()


SENT = {
    "model": "m",
    "thinking": {"type": "adaptive", "effort": "high"},
    "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "scope": "x"}}],
    "tools": [
        {"name": "a", "input_schema": {}, "defer_loading": True},
        {"name": "b", "input_schema": {}},
        {"name": "c", "input_schema": {}, "strict": True},
    ],
    "messages": [
        {"role": "user", "content": "hi", "name": "bob"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "t", "signature": "s", "cache_control": {}},
                {"type": "tool_use", "id": "t1", "name": "a", "input": {}, "text": "x"},
            ],
        },
    ],
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (("tools", 0, "custom", "defer_loading"), "tools.*.defer_loading"),
        (("tools", 2, "custom", "strict"), "tools.*.strict"),
        (("thinking", "adaptive", "effort"), "thinking.effort"),
        (("system", 0, "cache_control", "ephemeral", "scope"), "system.*.cache_control.scope"),
        (
            ("messages", 1, "content", 0, "thinking", "cache_control"),
            "messages.*.content.*[type=thinking].cache_control",
        ),
        (
            ("messages", 1, "content", 1, "tool_use", "text"),
            "messages.*.content.*[type=tool_use].text",
        ),
        (("messages", 0, "user", "name"), "messages.*.name"),
        (("messages", 0, "typed-dict", "name"), "messages.*.name"),
        (("model",), "model"),
    ],
)
def test_a_named_field_is_found_in_the_body_that_was_sent(raw: tuple, expected: str) -> None:
    path = locate(raw, SENT)
    assert path is not None and format_path(path) == expected


@pytest.mark.parametrize(
    "raw",
    [
        ("reasoning",),  # not sent
        ("tools", 5, "custom", "strict"),  # no such tool
        ("tools", 1, "custom", "strict"),  # that tool has none
        ("request", "system_instruction", "parts", 1, "cache_control"),  # another API's names
        ("tools", 0),  # an item, not a field
        ("tools",) + ("x",) * 3,
    ],
)
def test_a_field_not_in_the_body_is_not_found(raw: tuple) -> None:
    assert locate(raw, SENT) is None


def test_every_case_has_a_public_source() -> None:
    assert all(source.startswith("https://") for _, _, source in CASES)
    assert json.loads(CASES[0][0])["error"]["type"] == "invalid_request_error"
    assert Each() == Each(None)
