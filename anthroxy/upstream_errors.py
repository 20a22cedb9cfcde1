"""Upstream failures in Anthropic's terms: one pure mapping from what a provider answered to an
AnthroxyError the server sends on (status, ``error.type``, message, retry-after).

Two entry points: ``error_from_upstream`` for an HTTP error response (status + raw body bytes +
headers) and ``error_from_payload`` for an error object that arrives inside a 200 stream
(OpenRouter's in-band chunk, an Anthropic ``error`` event, a Responses ``error`` /
``response.failed`` event). Bodies are read in every shape providers send (docs/protocol/
chat-completions.md §1, §7; anthropic.md §10.1): OpenAI ``{"error":{message,type,param,code}}``,
OpenRouter's numeric ``code``, Gemini's
``[{"error":{...}}]`` array, Anthropic ``{"type":"error","error":{type,message}}``,
``{"error":"text"}`` / ``{"detail":...}`` / ``{"message":...}`` and HTML or other non-JSON text.

The tables follow docs/protocol/translation-rules.md §7 and claude-code.md §5: context-window
overflow becomes 400 with
``prompt is too long`` (Claude Code compacts on that wording), 503/overloaded becomes 529.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import AnthroxyError, UpstreamError, UpstreamProtocolError

# Upstream HTTP status -> (status sent to the client, Anthropic error type);
# docs/protocol/translation-rules.md §7.1.
STATUS_MAP: Mapping[int, tuple[int, str]] = {
    400: (400, "invalid_request_error"),
    401: (401, "authentication_error"),
    402: (402, "billing_error"),
    403: (403, "permission_error"),
    404: (404, "not_found_error"),
    408: (504, "timeout_error"),
    413: (413, "request_too_large"),
    422: (400, "invalid_request_error"),
    429: (429, "rate_limit_error"),
    500: (500, "api_error"),
    502: (502, "api_error"),
    503: (529, "overloaded_error"),
    504: (504, "timeout_error"),
    529: (529, "overloaded_error"),
}

# Anthropic error type -> status (docs/protocol/anthropic.md §10.1); used for Anthropic bodies and
# in-stream events.
TYPE_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# Provider error codes / types that decide the mapping whatever the HTTP status says.
CODE_MAP: Mapping[str, tuple[int, str]] = {
    "insufficient_quota": (402, "billing_error"),
    "billing_hard_limit_reached": (402, "billing_error"),
    "rate_limit_exceeded": (429, "rate_limit_error"),
    "invalid_api_key": (401, "authentication_error"),
    "overloaded": (529, "overloaded_error"),
    "server_error": (500, "api_error"),
    "resource_exhausted": (429, "rate_limit_error"),  # Gemini's status word
    "unauthenticated": (401, "authentication_error"),
    "permission_denied": (403, "permission_error"),
    # ChatGPT's Codex backend: the plan's allowance is spent (sent as 429, 404 or in
    # ``response.failed``, with ``resets_in_seconds``), or the plan does not include Codex.
    "usage_limit_reached": (429, "rate_limit_error"),
    "usage_not_included": (403, "permission_error"),
}

# Codes that only restate a class of failure: they decide only when the HTTP status says nothing
# more specific (an in-stream error, or a status outside STATUS_MAP). OpenAI answers an overloaded
# 503 with type "server_error"; the 503 (-> 529, retried by clients) is the real news there.
GENERIC_CODES = frozenset(
    {
        "server_error",
        "rate_limit_exceeded",
        "invalid_api_key",
        "unauthenticated",
        "permission_denied",
    }
)

CONTEXT_CODES = frozenset({"context_length_exceeded", "model_max_prompt_tokens_exceeded"})
# Lower-cased phrases providers use for a prompt that does not fit the model's window.
CONTEXT_PHRASES = (
    "prompt is too long",
    "maximum context length",
    "context length exceeded",
    "exceeds the context window",
    "exceed context limit",
    "context window exceeded",
    "input is too long",
    "too many input tokens",
    "reduce the length of the messages",
)
_CONTEXT_STATUSES = frozenset({400, 413, 422})

_WINDOW = re.compile(r"(?:maximum context length|context (?:window|limit)) (?:is|of) (\d+)", re.I)
_ASKED = re.compile(r"(?:resulted in|requested|you requested|prompt (?:has|contains)) (\d+)", re.I)
_TAGS = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_SPACES = re.compile(r"\s+")
_SNIPPET = 200


def error_from_upstream(
    status: int,
    body: bytes,
    *,
    provider: str,
    headers: Mapping[str, str] | None = None,
) -> AnthroxyError:
    """The error to send the client for an upstream HTTP error response."""
    fields = _fields_from_body(body)
    message = fields.message or _describe_text(body, status)
    mapped_status, error_type = _classify(status, fields)
    retry_after = _retry_after(headers) if headers is not None else None
    if retry_after is None:
        retry_after = fields.resets_in
    return _build(mapped_status, error_type, message, fields, provider, status, retry_after)


def error_from_payload(payload: Any, *, provider: str) -> AnthroxyError:
    """The error for an error object received inside a 200 stream (status unknown)."""
    fields = _fields_from_json(payload)
    status = fields.status if fields.status is not None else 0
    if fields.anthropic_type is not None and status == 0:
        status = TYPE_STATUS.get(fields.anthropic_type, 500)
    mapped_status, error_type = _classify(status, fields)
    message = fields.message or "the upstream reported an error in the stream"
    return _build(mapped_status, error_type, message, fields, provider, None, fields.resets_in)


def upstream_object(data: bytes | str, *, provider: str, what: str) -> dict[str, Any]:
    """``data`` as the JSON object an upstream must send (a reply, a stream chunk or event).

    Anything else is the upstream breaking its own wire format: ``UpstreamProtocolError``
    naming the provider and ``what``. Nesting deep enough to exhaust the parser counts too.
    """
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UpstreamProtocolError(f"{provider}: {what} is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise UpstreamProtocolError(f"{provider}: {what} is not a JSON object")
    return value


def connection_error(provider: str, url: str, reason: str) -> AnthroxyError:
    """Connection refused, DNS failure, TLS or socket error before any answer."""
    return UpstreamError(
        f"cannot reach provider '{provider}' at {url}: {reason}", status=502, error_type="api_error"
    )


def reply_too_large(provider: str, url: str, limit: int) -> AnthroxyError:
    """The upstream's non-streamed reply passed the gateway's cap (``server.max_reply_bytes``)."""
    return UpstreamError(
        f"provider '{provider}' at {url} sent a reply larger than server.max_reply_bytes "
        f"({limit} bytes); the reply was dropped. Raise the limit in the [server] table if the "
        "provider's answers are really this large",
        status=502,
        error_type="api_error",
    )


def timeout_error(provider: str, url: str, seconds: float) -> AnthroxyError:
    """The upstream stayed silent longer than its read timeout."""
    return UpstreamError(
        f"provider '{provider}' at {url} sent nothing for {seconds:g} s (read timeout)",
        status=504,
        error_type="timeout_error",
    )


class _Fields:
    """What could be read from an error body; every field may be missing."""

    __slots__ = ("anthropic_type", "code", "kind", "message", "resets_in", "status")

    def __init__(self) -> None:
        self.message: str | None = None
        self.code: str | None = None  # string code or status word, lower-cased
        self.kind: str | None = None  # OpenAI-style ``type``
        self.anthropic_type: str | None = None
        self.status: int | None = None  # a numeric code inside the body (OpenRouter, Gemini)
        self.resets_in: float | None = None  # ChatGPT backend: seconds until the limit resets


def _fields_from_body(body: bytes) -> _Fields:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _Fields()
    return _fields_from_json(payload)


def _fields_from_json(payload: Any) -> _Fields:
    fields = _Fields()
    # Gemini wraps the error object in a one-element array.
    if isinstance(payload, list) and payload:
        payload = payload[0]
    if not isinstance(payload, Mapping):
        return fields
    if payload.get("type") == "error" and isinstance(payload.get("error"), Mapping):
        inner = payload["error"]
        kind = inner.get("type")
        if isinstance(kind, str) and kind in TYPE_STATUS:
            fields.anthropic_type = kind
        _read_object(inner, fields)
        return fields
    # Responses API ``response.failed``: {"response": {"error": {code, message}}}.
    response = payload.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("error"), Mapping):
        _read_object(response["error"], fields)
        return fields
    error = payload.get("error")
    if isinstance(error, Mapping):
        _read_object(error, fields)
    elif isinstance(error, str):
        fields.message = error
    else:
        _read_object(payload, fields)
    if fields.message is None and isinstance(payload.get("detail"), str):
        fields.message = payload["detail"]
    return fields


def _read_object(obj: Mapping[str, Any], fields: _Fields) -> None:
    message = obj.get("message")
    if isinstance(message, str) and message:
        fields.message = message
    code = obj.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        fields.status = code
    elif isinstance(code, str) and code:
        fields.code = code.lower()
    kind = obj.get("type")
    if isinstance(kind, str) and kind:
        fields.kind = kind.lower()
    resets = obj.get("resets_in_seconds")
    if isinstance(resets, int | float) and not isinstance(resets, bool) and resets >= 0:
        fields.resets_in = float(resets)
    status_word = obj.get("status")  # Gemini: "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"
    if fields.code is None and isinstance(status_word, str):
        fields.code = status_word.lower()


def _classify(status: int, fields: _Fields) -> tuple[int, str]:
    if _is_context_overflow(status, fields):
        return 400, "invalid_request_error"
    for word in (fields.code, fields.kind):
        if word is None or word not in CODE_MAP:
            continue
        if word not in GENERIC_CODES or status not in STATUS_MAP:
            return CODE_MAP[word]
    if status == 200 and fields.status is not None:
        status = fields.status
    if status in STATUS_MAP:
        return STATUS_MAP[status]
    if fields.anthropic_type is not None:
        return TYPE_STATUS[fields.anthropic_type], fields.anthropic_type
    if 400 <= status < 500:
        # Other 4xx keep their status (409 stays retryable for Claude Code);
        # docs/protocol/anthropic.md §10.1.
        return status, "invalid_request_error"
    if 500 <= status < 600:
        return status, "api_error"
    # 0: an in-stream error without any status; anything else is not an HTTP error status.
    return (500 if status == 0 else 502), "api_error"


def _is_context_overflow(status: int, fields: _Fields) -> bool:
    if fields.code in CONTEXT_CODES or fields.kind in CONTEXT_CODES:
        return True
    if status not in _CONTEXT_STATUSES and status != 0:
        return False
    text = (fields.message or "").lower()
    return any(phrase in text for phrase in CONTEXT_PHRASES)


def _build(
    status: int,
    error_type: str,
    message: str,
    fields: _Fields,
    provider: str,
    upstream_status: int | None,
    retry_after: float | None,
) -> AnthroxyError:
    via = f"HTTP {upstream_status}" if upstream_status is not None else "in-stream error"
    if _is_context_overflow(upstream_status or 0, fields):
        text = f"{_too_long_prefix(message)} ({provider}: {message})"
    elif status == 401:
        text = f"provider '{provider}' refused the API key ({via}): {message}"
    elif status == 403:
        text = f"provider '{provider}' denied permission ({via}): {message}"
    else:
        text = f"{provider} ({via}): {message}"
    # A refused provider key does not heal by retrying; tell Claude Code so
    # (docs/protocol/claude-code.md §5).
    should_retry = False if status in (401, 403) else None
    return UpstreamError(
        text,
        status=status,
        error_type=error_type,
        retry_after=retry_after,
        should_retry=should_retry,
    )


def _too_long_prefix(message: str) -> str:
    """Claude Code's phrase, ``prompt is too long: N tokens > M maximum`` when N, M are known."""
    window = _WINDOW.search(message)
    asked = _ASKED.search(message)
    if window and asked:
        return f"prompt is too long: {asked.group(1)} tokens > {window.group(1)} maximum"
    return "prompt is too long"


def _describe_text(body: bytes, status: int) -> str:
    text = body.decode("utf-8", errors="replace")
    title = _TITLE.search(text)
    if title:
        text = title.group(1)
    text = _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", text))).strip()
    if not text:
        return f"empty body with HTTP {status}"
    if len(text) > _SNIPPET:
        text = text[:_SNIPPET] + "…"
    return f"non-JSON body: {text}"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after`` (or OpenAI's ``retry-after-ms``); HTTP dates are ignored."""
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value is not None:
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if seconds >= 0:
            return seconds
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            return None
    return None
