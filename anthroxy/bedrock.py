"""Claude on AWS Bedrock: what differs from Anthropic's own API, sans-I/O.

* The request (``invoke_body``): the Anthropic Messages body without ``model`` (it is in the
  URL) and without ``stream`` (the operation says it: ``invoke`` or
  ``invoke-with-response-stream``), with ``anthropic_version: "bedrock-2023-05-31"`` and the
  ``anthropic-beta`` header's values as the body's ``anthropic_beta`` list.
* The stream (``BedrockStream``): AWS event-stream messages (``anthroxy.eventstream``), each
  ``chunk`` event holding ``{"bytes": "<base64 of one Anthropic event>"}``; the events are put
  back into SSE and handed to the pass-through stream, so everything after is unchanged. An
  exception message (``:message-type: exception``) ends the stream with an ``error`` event.
* The errors (``bedrock_error``): Bedrock's exception names mapped to Anthropic's error types,
  with the fix for the common ones (model access, a region without the model).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from .errors import AnthroxyError, UpstreamError, UpstreamProtocolError
from .events import Event, Usage
from .eventstream import EventStreamDecoder, EventStreamError, Message
from .streams import EventStream
from .upstream_errors import upstream_object

ANTHROPIC_VERSION = "bedrock-2023-05-31"
_COMPACT = (",", ":")

# Bedrock exception name (lowercased, as the event stream's ``:exception-type`` or the
# ``x-amzn-errortype`` header names it) -> (status for the client, Anthropic error type).
# Statuses per the Bedrock API reference (InvokeModel, ResponseStream) and its troubleshooting
# page (docs/providers/bedrock.md, "Errors"); 503 and the model's own failures become
# Anthropic's overloaded_error / api_error, which Claude Code retries.
EXCEPTIONS: Mapping[str, tuple[int, str]] = {
    "throttlingexception": (429, "rate_limit_error"),
    "servicequotaexceededexception": (429, "rate_limit_error"),
    "modelnotreadyexception": (429, "rate_limit_error"),
    "accessdeniedexception": (403, "permission_error"),
    "badcscoreexception": (403, "permission_error"),
    "ftuformnotfilled": (403, "permission_error"),  # the Anthropic use-case form, in the console
    # A key or signature AWS does not accept (403/400 on the wire): the credentials' fault.
    "unrecognizedclientexception": (401, "authentication_error"),
    "invalidsignatureexception": (401, "authentication_error"),
    "signaturedoesnotmatch": (401, "authentication_error"),
    "incompletesignature": (401, "authentication_error"),
    "invalidclienttokenid": (401, "authentication_error"),
    "missingauthenticationtoken": (401, "authentication_error"),
    "expiredtokenexception": (401, "authentication_error"),
    "resourcenotfoundexception": (404, "not_found_error"),
    "validationexception": (400, "invalid_request_error"),
    "modeltimeoutexception": (504, "timeout_error"),
    "modelstreamerrorexception": (500, "api_error"),
    "modelerrorexception": (500, "api_error"),
    "internalserverexception": (500, "api_error"),
    "serviceunavailableexception": (529, "overloaded_error"),
}
# Bedrock's words for a model id this region does not serve (ValidationException, HTTP 400).
_NO_SUCH_MODEL = ("model identifier is invalid", "model id is invalid")
_ON_DEMAND = "on-demand throughput isn"


# Top-level Anthropic fields Bedrock's InvokeModel schema refuses (400 "Extra inputs are not
# permitted"); ``model`` is in the URL and ``stream`` in the operation. Bedrock's request body:
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html
# (the others as found by coder/aibridge's Bedrock tests, github.com/coder/aibridge).
NOT_SENT = frozenset({"model", "stream", "metadata", "service_tier", "container", "inference_geo"})
# The betas Bedrock takes (prefixes; a beta it does not know fails the whole request with 400):
# those Claude Code sends to Bedrock itself, under the names it uses there.
BETAS = (
    "interleaved-thinking-",
    "context-1m-",
    "context-management-",
    "effort-",
    "tool-search-tool-",
    "tool-examples-",
    "computer-use-",
    "token-efficient-tools-",
    "output-128k-",
)
# Anthropic's name of a beta -> Bedrock's (Claude Code's constants/betas.ts: the tool search
# beta is ``advanced-tool-use-2025-11-20`` on Anthropic's API, ``tool-search-tool-2025-10-19``
# on Vertex and Bedrock).
RENAMED_BETAS: Mapping[str, str] = {"advanced-tool-use-2025-11-20": "tool-search-tool-2025-10-19"}


def invoke_body(body: Mapping[str, Any], betas: str | None) -> dict[str, Any]:
    """The InvokeModel body for an Anthropic Messages body (the caller's dict is not changed);
    ``betas`` is the ``anthropic-beta`` header, of which Bedrock gets the values it knows."""
    out = {key: value for key, value in body.items() if key not in NOT_SENT}
    out.setdefault("anthropic_version", ANTHROPIC_VERSION)
    kept = bedrock_betas(betas)
    if kept and "anthropic_beta" not in out:
        out["anthropic_beta"] = kept
    return out


def bedrock_betas(header: str | None) -> list[str]:
    """The values of an ``anthropic-beta`` header Bedrock takes, renamed where it names them
    otherwise, in order and without repeats."""
    out: list[str] = []
    for raw in (header or "").split(","):
        beta = RENAMED_BETAS.get(raw.strip(), raw.strip())
        if beta.startswith(BETAS) and beta not in out:
            out.append(beta)
    return out


def bedrock_error(
    kind: str | None,
    message: str,
    *,
    provider: str,
    model: str,
    region: str | None,
    status: int | None = None,
    retry_after: float | None = None,
) -> AnthroxyError:
    """The client's error for Bedrock exception ``kind`` (None: unnamed, then ``status``)."""
    name = (kind or "").lower()
    mapped = EXCEPTIONS.get(name)
    if mapped is None:
        mapped = _by_status(status)
    code, error_type = mapped
    where = f" in region {region}" if region else ""
    text = f"{provider} ({kind or f'HTTP {status}'}): {message}"
    lowered = message.lower()
    if code == 403:
        text += (
            f" - model {model!r}{where}: request model access in the Bedrock console"
            " (Model access), and check that the credentials' IAM policy allows"
            " bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream"
        )
    elif code == 404 or any(phrase in lowered for phrase in _NO_SUCH_MODEL):
        code, error_type = 404, "not_found_error"
        text += (
            f" - model {model!r} is not offered{where}: check the model id, or use a region"
            " (or an inference profile such as us.… / eu.… / global.…) that serves it"
        )
    elif _ON_DEMAND in lowered:
        text += f" - use an inference profile id for {model!r} (us.…, eu.…, apac.… or global.…)"
    # A refused credential or a missing model access does not heal by retrying.
    should_retry = False if code in (401, 403) else None
    return UpstreamError(
        text, status=code, error_type=error_type, retry_after=retry_after, should_retry=should_retry
    )


def _by_status(status: int | None) -> tuple[int, str]:
    if status is None:
        return 500, "api_error"
    for code, error_type in EXCEPTIONS.values():
        if code == status:
            return code, error_type
    return (status, "api_error") if status >= 500 else (400, "invalid_request_error")


def error_message(payload: bytes) -> str:
    """The ``message`` of a Bedrock error body or exception payload (``Message`` in some)."""
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, Mapping):
        nested = value.get("error")  # an Anthropic- or OpenAI-shaped body (a proxy in between)
        for obj in (value, nested if isinstance(nested, Mapping) else {}):
            for key in ("message", "Message"):
                text = obj.get(key)
                if isinstance(text, str) and text:
                    return text
    text = payload.decode("utf-8", errors="replace").strip()
    return text[:200] if text else "no message"


def chunk_sse(payload: bytes, *, provider: str) -> bytes:
    """One ``chunk`` event's payload -> the Anthropic event inside it, as one SSE event."""
    part = upstream_object(payload, provider=provider, what="event stream chunk")
    encoded = part.get("bytes")
    if not isinstance(encoded, str):
        raise UpstreamProtocolError(f"{provider}: event stream chunk has no 'bytes'")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamProtocolError(f"{provider}: event stream chunk is not base64") from exc
    event = upstream_object(raw, provider=provider, what="Anthropic event in a chunk")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind.replace("_", "").isalnum():
        raise UpstreamProtocolError(f"{provider}: Anthropic event in a chunk has no type")
    if b"\n" in raw or b"\r" in raw:  # an SSE data line cannot hold a line break
        raw = json.dumps(event, separators=_COMPACT).encode()
    return b"event: " + kind.encode() + b"\ndata: " + raw + b"\n\n"


class BedrockStream:
    """Bedrock's event stream -> the Anthropic SSE events it carries -> ``inner``.

    ``inner`` is the pass-through's stream (``passthrough.PassthroughStream``), so model names,
    signatures and usage are handled where they are for every Anthropic upstream. ``model`` and
    ``region`` name what an exception is about.
    """

    __slots__ = ("_decoder", "_inner", "_model", "_provider", "_region")

    def __init__(
        self, inner: EventStream[bytes], *, provider: str, model: str, region: str | None
    ) -> None:
        self._decoder = EventStreamDecoder()
        self._inner = inner
        self._provider = provider
        self._model = model
        self._region = region

    @property
    def finished(self) -> bool:
        return self._inner.finished

    @property
    def usage(self) -> Usage:
        return self._inner.usage

    def feed(self, data: bytes) -> list[Event]:
        if self._inner.finished:
            return []
        try:
            messages = self._decoder.feed(data)
        except EventStreamError as error:
            return self._inner.fail(error)
        events: list[Event] = []
        for message in messages:
            try:
                events += self._message(message)
            except AnthroxyError as error:
                return events + self._inner.fail(error)
            if self._inner.finished:
                break
        return events

    def close(self) -> list[Event]:
        if self._inner.finished:
            return []
        try:
            self._decoder.close()
        except EventStreamError as error:
            return self._inner.fail(error)
        return self._inner.close()

    def fail(self, error: AnthroxyError) -> list[Event]:
        return self._inner.fail(error)

    def _message(self, message: Message) -> list[Event]:
        kind = message.text(":message-type")
        if kind == "event":
            if message.text(":event-type") != "chunk":
                return []  # an event type this version does not know carries no Anthropic event
            return self._inner.feed(chunk_sse(message.payload, provider=self._provider))
        if kind == "exception":
            name = message.text(":exception-type")
            text = error_message(message.payload)
        elif kind == "error":
            name = message.text(":error-code")
            text = message.text(":error-message") or error_message(message.payload)
        else:
            raise EventStreamError(f"event stream: unknown message type {kind!r}")
        raise bedrock_error(
            name, text, provider=self._provider, model=self._model, region=self._region
        )
