"""The body log: ``[server] log_request_body`` / ``log_response_body`` write each ``/v1/messages``
body to its own rotating file, one JSON object per line, secrets masked.

A record: ``time`` (UTC), ``request_id``, ``direction`` (``request`` / ``response``), ``model``
(as the client named it), ``route`` (``provider/model``), ``provider``, ``stream``, and ``body``.
A request's ``body`` is the JSON the client sent, before any translation, with the headers that
say how to read it (``headers``: an allow-list, so no credential ever reaches the file). A
response's ``body`` is the JSON the client got, or for a stream the message its events
assemble to (``anthroxy.messages.assemble``); a stream that failed records the error as well
(``error``), with the part that came through before it, if any.

Logging a body costs the request nothing but handing references to a queue: the records are
assembled, serialised, masked and written by the ``QueueListener``'s thread. The same records
stay on the request (``kept_bodies``) for the dashboard, which masks them the same way when a
person opens the request's details. Nothing is queued,
kept, copied or encoded while both settings are off (each entry point checks its setting first).

Each line is masked (``masking.py``) before it is written: the configured keys and token
(``logs.settings_secrets``), strings shaped like credentials, ``Bearer`` tokens, and the values of
JSON fields named like credentials.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import queue
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anthroxy.errors import AnthroxyError
from anthroxy.events import Error, Event, MessageStop, Raw
from anthroxy.messages.assemble import assemble_message

from .live import settings_of
from .logs import PrivateRotatingFileHandler
from .loop import HOP_HEADER
from .masking import mask
from .state import access_of, request_id_of

if TYPE_CHECKING:
    from aiohttp import web

    from anthroxy.routing.table import Route

BODY_LOGGER = "anthroxy.bodies"
BODY_LOG_NAME = "bodies.jsonl"  # in the state directory
# Claude Code's requests are 50-300 KB each: 20 MiB holds a working session's worth, and five
# backups bound the whole log to 120 MiB.
BODY_LOG_BYTES = 20 * 1024 * 1024
BODY_LOG_BACKUPS = 5
# Request headers that say how to read a body; everything else (keys, tokens, cookies) stays out.
LOGGED_HEADERS = (
    "anthropic-version",
    "anthropic-beta",
    "content-type",
    "user-agent",
    "x-app",
    HOP_HEADER,
)

BODIES_KEY = "anthroxy.bodies"  # request key: direction -> its _Record (kept_bodies)

# Bodies go to their own file only: never to the console or the server log.
_log = logging.getLogger(BODY_LOGGER)
_log.propagate = False


def log_request(request: web.Request, body: Mapping[str, Any], route: Route) -> None:
    """The client's body as received, if ``log_request_body`` is on."""
    if not settings_of(request).config.server.log_request_body:
        return
    headers = {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers}
    fields = {
        "direction": "request",
        "request_id": request_id_of(request),
        "model": body.get("model"),
        "route": f"{route.provider}/{route.model}",
        "rule": route.rule,
        "provider": route.provider,
        "stream": body.get("stream") is True,
        "headers": headers,
    }
    _log.info("request body", extra={"body_record": _keep(request, _Record(fields, body=body))})


def log_reply(request: web.Request, status: int, body: Mapping[str, Any] | bytes) -> None:
    """A JSON reply as the client gets it, if ``log_response_body`` is on."""
    if wants_response(request):
        fields = _response_fields(request, status)
        record = _keep(request, _Record(fields, body=body))
        _log.info("response body", extra={"body_record": record})


def log_error(request: web.Request, exc: Exception) -> None:
    """The error a request ends in, as its JSON reply (unexpected failures are logged as such
    by the app, which answers them with a generic error)."""
    if isinstance(exc, AnthroxyError) and wants_response(request):
        log_reply(request, exc.status, exc.to_body())


def log_stream(request: web.Request, events: Sequence[Event]) -> None:
    """A stream, as the message its events assemble to; ``events`` are those a ``Downstream``
    kept, which it does only while ``log_response_body`` is on."""
    fields = _response_fields(request, 200)
    record = _keep(request, _Record(fields, events=events))
    _log.info("response body", extra={"body_record": record})


def wants_response(request: web.Request) -> bool:
    return settings_of(request).config.server.log_response_body


def _response_fields(request: web.Request, status: int) -> dict[str, Any]:
    access = access_of(request)
    route = access.route
    return {
        "direction": "response",
        "request_id": request_id_of(request),
        "model": access.model,
        "route": route,
        "provider": route.partition("/")[0] if route else None,
        "stream": access.stream,
        "status": status,
    }


def _keep(request: web.Request, record: _Record) -> _Record:
    """``record`` kept on the request too, for the dashboard's details (``kept_bodies``)."""
    request.setdefault(BODIES_KEY, {})[record.fields["direction"]] = record
    return record


def kept_bodies(request: web.Request) -> dict[str, _Record] | None:
    """The records of the request's bodies, by direction, when body logging kept any."""
    found = request.get(BODIES_KEY)
    return found if isinstance(found, dict) else None


def masked_body(record: _Record, secrets: Iterable[str]) -> Any:
    """A kept body as the body log writes it: assembled, then masked (``masking.py``)."""
    entry = record.entry()
    line = mask(json.dumps(entry, ensure_ascii=False, default=str), tuple(secrets))
    try:
        masked = json.loads(line)
    except ValueError:  # masking cut through JSON syntax: the masked text as it is
        return line
    if "error" in masked:  # a stream that failed: what came before the error, and the error
        return {"partial": masked.get("body"), "error": masked["error"]}
    return masked.get("body")


class _Record:
    """What the caller hands over: references only, turned into JSON in the writer's thread."""

    __slots__ = ("body", "events", "fields", "line")

    def __init__(
        self,
        fields: dict[str, Any],
        *,
        body: Mapping[str, Any] | bytes | None = None,
        events: Sequence[Event] | None = None,
    ) -> None:
        self.fields = fields
        self.body = body
        self.events = events
        self.line: str | None = None  # the masked JSON line, once the writer has made it

    def entry(self) -> dict[str, Any]:
        entry = dict(self.fields)
        if self.events is not None:
            entry.update(_assembled(self.events))
        elif isinstance(self.body, bytes):
            entry["body"] = _decoded(self.body)
        else:
            entry["body"] = self.body
        return entry


def _decoded(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data


# What folding events the client already got can still raise: an upstream's pass-through events
# that break the grammar (a delta without its block), a tool input cut mid-JSON.
_UNFOLDABLE = (AnthroxyError, LookupError, TypeError, ValueError)


def _assembled(events: Sequence[Event]) -> dict[str, Any]:
    """``{"body": message}``, or for a failed stream the error and what came before it."""
    cut = next((i for i, event in enumerate(events) if _is_error(event)), None)
    if cut is None:
        try:
            return {"body": assemble_message(events)}
        except _UNFOLDABLE as exc:  # cut short without an error event (the client went away)
            return {"body": _partial(events), "error": _describe(exc)}
    failed = events[cut]
    error = failed.error.to_body() if isinstance(failed, Error) else _raw_error(failed)
    return {"body": _partial(events[:cut]), "error": error}


def _partial(events: Sequence[Event]) -> dict[str, Any] | None:
    """The message so far: the events closed by a ``message_stop`` (no stop reason yet)."""
    try:
        return assemble_message([*events, MessageStop()])
    except _UNFOLDABLE:
        return None  # nothing before message_start, or the events break the stream's grammar


def _describe(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, AnthroxyError):
        return exc.to_body()
    return {"type": "error", "error": {"type": "api_error", "message": f"unreadable: {exc!r}"}}


def _is_error(event: Event) -> bool:
    return isinstance(event, Error) or (isinstance(event, Raw) and event.is_error)


def _raw_error(event: Event) -> Any:
    for sse in event.sse_events() if isinstance(event, Raw) else ():
        return _decoded(sse.data)
    return None


class BodyFormatter(logging.Formatter):
    """One JSON line per record, masked."""

    def __init__(self, secret_values: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(secret_values)

    def format(self, record: logging.LogRecord) -> str:
        found = getattr(record, "body_record", None)
        if not isinstance(found, _Record):
            return super().format(record)
        # RotatingFileHandler formats each record twice (once to measure it for rotation).
        if found.line is None:
            when = datetime.fromtimestamp(record.created, tz=UTC)
            entry = {"time": when.isoformat(timespec="milliseconds"), **found.entry()}
            found.line = mask(json.dumps(entry, ensure_ascii=False, default=str), self.secrets)
        return found.line


class BodyLogFile:
    """The body log's file and writer thread, from ``open`` to ``close``."""

    def __init__(self, path: Path, secret_values: Iterable[str]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._file = PrivateRotatingFileHandler(path, BODY_LOG_BYTES, BODY_LOG_BACKUPS)
        self._file.setFormatter(BodyFormatter(secret_values))
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._queue = logging.handlers.QueueHandler(records)
        self._listener = logging.handlers.QueueListener(records, self._file)
        self._listener.start()
        _log.handlers[:] = [self._queue]
        _log.setLevel(logging.INFO)

    def close(self) -> None:
        """Write what is queued, then detach the file."""
        if self._queue in _log.handlers:
            _log.removeHandler(self._queue)
        self._listener.stop()
        self._file.close()
