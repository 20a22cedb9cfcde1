# ruff: noqa: E501  (one table row per line reads best)
"""The upstream error mapping as a table (docs/protocol/translation-rules.md §7, claude-code.md §5); expected values are
written by hand from those documents."""

from __future__ import annotations

import pytest

from anthroxy.errors import UpstreamProtocolError
from anthroxy.upstream_errors import error_from_payload, error_from_upstream, upstream_object

OPENAI = b'{"error":{"message":"%s","type":"%s","param":null,"code":%s}}'

TABLE = [
    # status, body, headers, want status, want type, substring of message
    (400, OPENAI % (b"bad param", b"invalid_request_error", b'"x"'), {}, 400, "invalid_request_error", "bad param"),
    (422, b'{"detail":"unprocessable"}', {}, 400, "invalid_request_error", "unprocessable"),
    (401, OPENAI % (b"Incorrect API key", b"invalid_request_error", b'"invalid_api_key"'), {}, 401, "authentication_error", "provider 'p' refused the API key"),
    (402, b'{"error":{"message":"pay up"}}', {}, 402, "billing_error", "pay up"),
    (429, OPENAI % (b"quota", b"insufficient_quota", b'"insufficient_quota"'), {}, 402, "billing_error", "quota"),
    (403, b'[{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}]', {}, 403, "permission_error", "denied"),
    (404, b'{"type":"error","error":{"type":"not_found_error","message":"model: x"}}', {}, 404, "not_found_error", "model: x"),
    (408, b"", {}, 504, "timeout_error", "empty body"),
    (504, b"gateway timeout", {}, 504, "timeout_error", "gateway timeout"),
    (413, b'{"error":"too big"}', {}, 413, "request_too_large", "too big"),
    (429, b'{"error":{"code":429,"message":"slow","metadata":{}},"user_id":"u"}', {"Retry-After": "3"}, 429, "rate_limit_error", "slow"),
    (500, b'{"error":{"message":"oops"}}', {}, 500, "api_error", "oops"),
    (502, b"<html><title>Bad Gateway</title></html>", {}, 502, "api_error", "Bad Gateway"),
    (503, b'{"error":{"message":"busy"}}', {}, 529, "overloaded_error", "busy"),
    # OpenAI's overloaded answer: the type restates the class; the 503 decides.
    (503, OPENAI % (b"The server is overloaded or not ready yet.", b"server_error", b"null"), {}, 529, "overloaded_error", "overloaded"),
    (500, OPENAI % (b"internal", b"server_error", b"null"), {}, 500, "api_error", "internal"),
    (529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', {}, 529, "overloaded_error", "Overloaded"),
    (507, b"x", {}, 507, "api_error", "x"),
    (409, b'{"message":"conflict"}', {}, 409, "invalid_request_error", "conflict"),
    (400, b'[{"error":{"code":400,"message":"The input token count (2000000) exceeds the maximum number of tokens allowed","status":"INVALID_ARGUMENT"}}]', {}, 400, "invalid_request_error", "input token count"),
    (400, OPENAI % (b"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", b"invalid_request_error", b'"context_length_exceeded"'), {}, 400, "invalid_request_error", "prompt is too long: 9000 tokens > 8192 maximum"),
    (400, b'{"error":{"message":"Input exceeds the context window of this model"}}', {}, 400, "invalid_request_error", "prompt is too long"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "headers", "want_status", "want_type", "text"), TABLE)
def test_http_error_table(status, body, headers, want_status, want_type, text) -> None:
    error = error_from_upstream(status, body, provider="p", headers=headers)
    assert (error.status, error.error_type) == (want_status, want_type)
    assert text in error.message


def test_retry_after_and_should_retry() -> None:
    limited = error_from_upstream(429, b"{}", provider="p", headers={"retry-after": "12"})
    assert limited.retry_after == 12.0
    millis = error_from_upstream(429, b"{}", provider="p", headers={"retry-after-ms": "1500"})
    assert millis.retry_after == 1.5
    refused = error_from_upstream(401, b"{}", provider="p")
    assert (
        refused.should_retry is False
        and refused.to_body()["error"]["type"] == "authentication_error"
    )


PAYLOADS = [
    ({"error": {"code": 429, "message": "rate"}}, 429, "rate_limit_error"),  # OpenRouter in-band
    ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 529, "overloaded_error"),
    ({"type": "error", "code": "insufficient_quota", "message": "quota"}, 402, "billing_error"),
    ({"type": "response.failed", "response": {"error": {"code": "server_error", "message": "x"}}}, 500, "api_error"),
    ({"error": {"message": "maximum context length is 10 tokens"}}, 400, "invalid_request_error"),
    ("garbage", 500, "api_error"),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "want_status", "want_type"), PAYLOADS)
def test_in_stream_error_table(payload, want_status, want_type) -> None:
    error = error_from_payload(payload, provider="p")
    assert (error.status, error.error_type) == (want_status, want_type)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"<html>bad gateway</html>", "the reply is not JSON"),
        (b"[1, 2]", "the reply is not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "the reply is not JSON"),  # nesting beyond the parser
    ],
)
def test_an_upstream_body_that_is_not_a_json_object_is_a_protocol_error(
    data: bytes, complaint: str
) -> None:
    with pytest.raises(UpstreamProtocolError) as info:
        upstream_object(data, provider="groq", what="the reply")
    assert info.value.message.startswith(f"groq: {complaint}")
    assert info.value.status == 502


def test_an_upstream_json_object_is_returned_as_parsed() -> None:
    assert upstream_object('{"a": [1]}', provider="p", what="stream chunk") == {"a": [1]}
