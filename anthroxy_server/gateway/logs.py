"""Logging for the gateway: a request id on every line, text or JSON lines, secrets redacted.

The request id lives in a context variable set by the request middleware, so any logger used
while serving a request (ours, aiohttp's) tags its lines without being passed the id. Redaction
is a handler filter: whatever a line says, the configured keys and token never reach the output.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.schema import Settings

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
LOGGER_NAME = "anthroxy"
ACCESS_LOGGER = "anthroxy.access"
REDACTED = "[REDACTED]"  # what a secret is replaced with, in logs, errors and streams
# Shorter strings are not redacted: replacing "a" everywhere would mangle every line.
_MIN_SECRET = 8


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def redact(text: str, secret_values: Iterable[str]) -> str:
    for value in secret_values:
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


# Extra upstream headers that carry credentials (Azure's ``api-key``, Google's ``x-goog-api-key``,
# a hand-written ``Authorization``): their values are secrets like any provider key.
_SECRET_HEADER_WORDS = ("key", "token", "auth", "secret", "password", "cookie")


def settings_secrets(settings: Settings) -> tuple[str, ...]:
    """Every configured value that must never appear in a log line, an error or a stream."""
    values: list[str | None] = [settings.config.server.auth_token]
    for provider in settings.providers.values():
        values.append(provider.api_key)
        values += [
            value
            for name, value in provider.headers.items()
            if any(word in name.lower() for word in _SECRET_HEADER_WORDS)
        ]
    return usable_secrets(values)


def usable_secrets(values: Iterable[str | None]) -> tuple[str, ...]:
    """The secrets worth redacting, longest first (a key may contain a shorter one)."""
    kept = {v for v in values if v and len(v) >= _MIN_SECRET}
    return tuple(sorted(kept, key=len, reverse=True))


class ContextFilter(logging.Filter):
    """Adds ``request_id`` to every record and redacts secrets from its message."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret_values)

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if self.secrets:
            message = record.getMessage()
            cleaned = redact(message, self.secrets)
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text, self.secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message, extra ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(request_id)s %(name)s: %(message)s"


def setup_logging(*, level: str, fmt: str, secret_values: Iterable[str] = ()) -> None:
    """Send the ``anthroxy`` and ``aiohttp`` loggers to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(secret_values))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    for name in (LOGGER_NAME, "aiohttp"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
