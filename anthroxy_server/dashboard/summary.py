"""A kept request as the API shows it: its summary (the live list) and its details (the route
taken and why, each attempt, the error as the client got it, the bodies when they were logged).
"""

from __future__ import annotations

import json
from typing import Any

from anthroxy.sse import SSEDecoder

from ..gateway import bodylog
from ..ledger.hook import RECORDED_PATH, row_of
from ..ledger.store import Row
from .recent import Entry

COUNT_PATH = "/v1/messages/count_tokens"


def summary(entry: Entry) -> dict[str, Any]:
    """The request summary of the API contract (made once, then kept on the entry): the ledger
    row this request makes, plus what only this process knows of it."""
    if entry.made is not None:
        return entry.made
    access = entry.access
    settings = entry.generation.settings
    row = row_of(
        settings.config, settings.providers, access, entry.status, entry.started, entry.ended,
        entry.request_id,
    )  # fmt: skip
    made = {
        **row_summary(row),
        "time": round(entry.time, 3),
        "method": entry.method,
        "path": entry.path,
        "route": access.route,
        "rule": access.rule,
        "stream": access.stream,
        "tried": list(access.tried),
        # Counting tokens bills nothing; the ledger prices /v1/messages only.
        "cost_usd": 0.0 if entry.path == COUNT_PATH else row.cost_usd,
        "from_ledger": False,  # served by this process
    }
    entry.made = made
    return made


def row_summary(row: Row) -> dict[str, Any]:
    """The request summary from what the ledger holds: for a request of an earlier run of the
    proxy (history.py) the routing rule, the stream flag and the attempts are unknown."""
    route = f"{row.provider}/{row.upstream_model}" if row.provider and row.upstream_model else None
    return {
        "id": row.request_id,
        "time": round(row.time, 3),
        "method": "POST",
        "path": RECORDED_PATH,  # the only path the ledger records
        "client_model": row.client_model,
        "provider": row.provider,
        "upstream_model": row.upstream_model,
        "route": route,
        "rule": None,
        "status": row.status,
        "stream": None,
        "stream_error": row.stream_error,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "ttft_ms": row.ttft_ms,
        "total_ms": row.total_ms,
        "fallback_attempts": row.fallback_attempts,
        "tried": [],
        "credential": row.credential,
        "cost_usd": row.cost_usd,
        "from_ledger": True,
    }


def summary_json(entry: Entry) -> bytes:
    """The summary as compact JSON, encoded once for every list and live stream that sends it."""
    if entry.encoded is None:
        entry.encoded = json.dumps(summary(entry), separators=(",", ":")).encode()
    return entry.encoded


def details(entry: Entry) -> dict[str, Any]:
    """The summary plus why, the attempts, the error and the bodies."""
    return {
        **summary(entry),
        "why": why(entry),
        "attempts": attempts(entry),
        "error": error_of(entry),
        "body_logging": entry.generation.settings.config.server.logs_bodies,
        "bodies": None if entry.bodies is None else _bodies(entry),
    }


# How each routing rule (anthroxy/routing/table.py, Route.rule) reads in a sentence.
_RULES = {
    "alias": "is an alias",
    "target": "names its provider and model",
    "claude-name": "is a Claude model name the tiers map",
    "anthropic": "is a stock Claude name sent to Anthropic as named",
    "provider-models": "is a model a configured provider lists",
    "default": "matched no other rule: the default tier",
}


def why(entry: Entry) -> str:
    access = entry.access
    model = access.model or "(no model)"
    first = access.failed[0].target if access.failed else access.route
    rule = access.rule
    if rule is None and entry.path == COUNT_PATH and entry.status < 400:
        return f"{model}: counted before, answered from the token-count cache"
    if rule is None:
        return f"{model}: refused before routing" if first is None else f"{model} → {first}"
    kind, _, name = rule.partition(":")
    if kind == "tier":
        reason = f"matched the {name} tier"
    elif kind == "scenario":
        reason = f"matched the {name} scenario"
    else:
        reason = _RULES.get(rule, f"matched the rule {rule}")
    text = f"{model} {reason} → {first}"
    if access.failed and access.route != first:
        text += f"; the fallback chain moved on to {access.route}"
    return text


def attempts(entry: Entry) -> list[dict[str, Any]]:
    """Each attempt in order: the failed ones (``AccessInfo.failed``, their messages redacted
    when kept), then the answer."""
    access = entry.access
    found: list[dict[str, Any]] = [
        {
            "target": failed.target,
            "status": failed.status,
            "outcome": f"failed: {failed.status} {failed.error_type}",
            "error_type": failed.error_type,
            "message": failed.message,
        }
        for failed in access.failed
    ]
    if access.route is None or entry.status >= 400:
        return found  # a final error is the last of the attempts tried already
    if access.stream_error is not None:
        outcome = f"failed mid-stream: {access.stream_error}"
    else:
        outcome = "answered"
    # Its error, if a stream failed after its 200, is the details' ``error``.
    found.append(
        {
            "target": access.route,
            "status": entry.status,
            "outcome": outcome,
            "error_type": None,
            "message": None,
        }
    )
    return found


def error_of(entry: Entry) -> dict[str, Any] | None:
    """The error exactly as the client got it: the JSON body, or a stream's error event data."""
    error = entry.access.error
    if error is None:
        return None
    if isinstance(error, dict):
        return {"status": entry.status, "body": error}
    data = event_data(error)
    stream_error = entry.access.stream_error or ""
    status = stream_error.partition(" ")[0]
    return {"status": int(status) if status.isdigit() else entry.status, "body": data}


def event_data(written: bytes) -> Any:
    """The data of the ``error`` event in ``written`` (what went out in the write that carried
    it: forwarded bytes may hold other events before it), parsed when it is JSON."""
    decoder = SSEDecoder()
    found = ""
    for event in decoder.feed(written) + decoder.close():
        if event.event == "error" or '"type":"error"' in event.data:
            found = event.data
    try:
        return json.loads(found)
    except ValueError:
        return found


def _bodies(entry: Entry) -> dict[str, Any]:
    kept = entry.bodies or {}
    secrets = entry.generation.secrets
    return {
        direction: bodylog.masked_body(record, secrets) if record is not None else None
        for direction, record in (("request", kept.get("request")), ("reply", kept.get("response")))
    }
