"""The AnthroxyError family: every failure the core reports, in Anthropic's terms.

Each error carries Anthropic's ``error_type`` and the HTTP status it travels with, and, for errors
about the client's request, the JSON path of the offending value (``@ $.messages[3].content[1]``).
``to_body()`` gives the one Anthropic error shape the server sends
(``{"type":"error","error":{"type":...,"message":...}}``); ``to_event()`` the SSE ``error``
event's payload once a stream has started. Nothing else in anthroxy builds error bodies.
"""

from __future__ import annotations

from typing import Any


def json_path(parent: str, key: str | int) -> str:
    """Extend a JSON path: ``json_path("$.messages", 3) == "$.messages[3]"``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}"


class AnthroxyError(Exception):
    """Base of every error anthroxy reports to a client."""

    error_type: str = "api_error"
    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        self.message = message
        self.path = path
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type
        # Seconds the client should wait before retrying (sent as ``retry-after``).
        self.retry_after = retry_after
        # Sent as ``x-should-retry`` when not None; Claude Code obeys it.
        self.should_retry = should_retry
        super().__init__(self.full_message)

    @property
    def full_message(self) -> str:
        if self.path:
            return f"{self.message} @ {self.path}"
        return self.message

    def to_body(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": self.error_type, "message": self.full_message},
        }

    def to_event(self) -> dict[str, Any]:
        """The payload of an SSE ``error`` event (same shape as the JSON body)."""
        return self.to_body()


class InvalidRequest(AnthroxyError):
    """The client's request is malformed or has a value anthroxy cannot accept."""

    error_type = "invalid_request_error"
    status = 400


class UnsupportedFeature(InvalidRequest):
    """Valid Anthropic input the chosen upstream cannot carry (e.g. a PDF to a text-only API)."""


class RequestTooLarge(AnthroxyError):
    error_type = "request_too_large"
    status = 413


class UnknownModel(AnthroxyError):
    """No route for the requested model name."""

    error_type = "not_found_error"
    status = 404


class AuthenticationFailed(AnthroxyError):
    error_type = "authentication_error"
    status = 401


class TargetUnavailable(AnthroxyError):
    """A target that cannot serve this caller at all (a model the key's tier has no quota for):
    a fallback chain moves on to its next target, the provider's breaker is not told."""

    error_type = "permission_error"
    status = 403


class UpstreamError(AnthroxyError):
    """An upstream answered with an error; status and type are set per instance by the mapping."""


class UpstreamProtocolError(AnthroxyError):
    """The upstream sent something that does not follow its own wire format."""

    error_type = "api_error"
    status = 502
