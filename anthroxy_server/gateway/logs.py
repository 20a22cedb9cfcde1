"""Logging for the gateway: a request id on every line, text or JSON lines, secrets redacted.

The request id lives in a context variable set by the request middleware, so any logger used
while serving a request (ours, aiohttp's) tags its lines without being passed the id. Redaction
is a handler filter: whatever a line says, the configured keys and token never reach the output.

The console (stderr) gets ``server.log_level``; with ``server.log_file_level`` set, the same lines
also go to ``server.log`` in the state directory at that level, rotated at ``SERVER_LOG_BYTES``
with ``SERVER_LOG_BACKUPS`` old files kept. That file is not the ``anthroxy.log`` beside it, where
``anthroxy start`` sends the background server's console output: two writers, one of them
rotating, would cut each other's lines.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import logging.handlers
import os
import re
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.schema import Settings

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
LOGGER_NAME = "anthroxy"
ACCESS_LOGGER = "anthroxy.access"
REDACTED = "[REDACTED]"  # what a secret is replaced with, in logs, errors and streams
SERVER_LOG_BYTES = 10 * 1024 * 1024
SERVER_LOG_BACKUPS = 5
# Shorter strings are not redacted: replacing "a" everywhere would mangle every line.
_MIN_SECRET = 8


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


# Secrets obtained while running (ChatGPT OAuth tokens, Copilot and GitHub tokens): redacted
# like the configured ones. Insertion-ordered, the oldest dropped past the cap (tokens renew).
_RUNTIME_SECRETS: dict[str, None] = {}
RUNTIME_SECRETS_CAP = 64


def remember_secrets(*values: str | None) -> None:
    """Add tokens a provider obtained to what every log line, error and stream is cleaned of."""
    for value in usable_secrets(values):
        _RUNTIME_SECRETS.pop(value, None)
        _RUNTIME_SECRETS[value] = None
    while len(_RUNTIME_SECRETS) > RUNTIME_SECRETS_CAP:
        del _RUNTIME_SECRETS[next(iter(_RUNTIME_SECRETS))]


def redact(text: str, secret_values: Iterable[str]) -> str:
    values = tuple(secret_values)
    if _RUNTIME_SECRETS:  # longest first again: a token may contain a shorter secret
        values = usable_secrets((*values, *_RUNTIME_SECRETS))
    for value in values:
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


# Extra upstream headers that carry credentials (Azure's ``api-key``, Google's ``x-goog-api-key``,
# a hand-written ``Authorization``): their values are secrets like any provider key.
_SECRET_HEADER_WORDS = ("key", "token", "auth", "secret", "password", "cookie")


def settings_secrets(settings: Settings) -> tuple[str, ...]:
    """Every configured value that must never appear in a log line, an error or a stream."""
    server = settings.config.server
    values: list[str | None] = [server.auth_token, server.metrics_token]
    for provider in settings.providers.values():
        values.append(provider.api_key)
        values += [key.secret for key in provider.keys]
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
        if self.secrets or _RUNTIME_SECRETS:
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
# What could end a text log line early or rewrite it on a terminal: control characters (the tab
# aside), DEL, C1 controls and the Unicode line separators.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class TextFormatter(logging.Formatter):
    """The text format, one record per line whatever a client put in a model name, a path or
    a header: a line break in a message is written as ``\\n``, so no one can forge a line.
    (A traceback, added after the message, keeps its lines.)"""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _UNSAFE.sub(_escape, record.message)
        return super().formatMessage(record)


def setup_logging(
    *,
    level: str,
    fmt: str,
    secret_values: Iterable[str] = (),
    file_path: Path | None = None,
    file_level: str = "",
) -> None:
    """Send the ``anthroxy`` and ``aiohttp`` loggers to stderr at ``level`` and, given a
    ``file_path`` and a ``file_level``, to that rotating file at its own level.

    Raises OSError when the file cannot be opened."""
    context = ContextFilter(secret_values)
    formatter = JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setLevel(level.upper())
    if file_path is not None and file_level:
        file_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        to_file = PrivateRotatingFileHandler(file_path, SERVER_LOG_BYTES, SERVER_LOG_BACKUPS)
        to_file.setLevel(file_level.upper())
        handlers.append(to_file)
    for handler in handlers:
        handler.addFilter(context)
        handler.setFormatter(formatter)
    # The loggers pass on what the more talkative handler wants; each handler keeps its level.
    lowest = min(handler.level for handler in handlers)
    replaced = list(logging.getLogger(LOGGER_NAME).handlers)  # a reload's: files are closed
    for name in (LOGGER_NAME, "aiohttp"):
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(lowest)
        logger.propagate = False
    for handler in replaced:
        handler.close()


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file created readable by its owner only (logs name models, bodies hold
    prompts and code)."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        # backslashreplace: a lone surrogate a client escaped into its JSON cannot stop a write.
        super().__init__(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8",
            errors="backslashreplace",
        )  # fmt: skip

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)
