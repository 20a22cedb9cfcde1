"""Which Gemini models an API key may use: the tier probe and its 24-hour cache.

A key of a project without billing is on the Gemini API's free tier, and several models
(the pro and many preview models) have no free quota: every request to them is refused with
``429 RESOURCE_EXHAUSTED`` naming a ``free_tier`` quota with ``limit: 0``
(docs/providers/gemini.md quotes the answers). To say so before a session fails half-way, one
minimal request (``max_tokens: 1``) goes to each pro or preview model the key could route to,
and the verdicts are kept in anthroxy's cache directory for 24 hours, in a file named by a
digest of the endpoint and the key (never the key itself).

``verdict`` reads one probe answer; ``TierBook`` holds the verdicts of one key (and writes
them atomically); ``probe_models`` asks the models the book has no fresh verdict for.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ..atomic import write_atomic
from ..config.schema import ResolvedProvider
from ..gateway.logs import LOGGER_NAME
from ..gateway.upstream import credential_headers, join_url

log = logging.getLogger(LOGGER_NAME)

TTL = 24 * 3600.0  # seconds a verdict is trusted
PROBE_TIMEOUT = 5.0  # seconds per probe request
CACHE_VERSION = 1
# A probe is a real request: only the models a coding client could be routed to are asked,
# not the speech, image, audio or embedding variants the list also holds.
_SKIPPED_WORDS = frozenset({"tts", "image", "audio", "live", "embedding", "robotics", "computer"})
_WORDS = re.compile(r"[a-z0-9.]+")
_KEY_REFUSED = re.compile(r"API key not (valid|found)", re.IGNORECASE)
_PROBE_PROMPT = [{"role": "user", "content": "Reply with one word."}]


class Verdict(enum.Enum):
    AVAILABLE = "available"
    PAID_ONLY = "paid_only"  # the key's tier has no quota for the model
    KEY_INVALID = "key_invalid"
    UNKNOWN = "unknown"  # timeout, a per-minute rate limit, an error that says nothing of tiers


def is_probed(model: str) -> bool:
    """A pro or preview Gemini model a client could be routed to."""
    words = set(_WORDS.findall(model.lower()))
    return (
        model.startswith("gemini-")
        and bool(words & {"pro", "preview"})
        and not words & _SKIPPED_WORDS
    )


def error_object(body: bytes) -> Mapping[str, Any]:
    """Gemini's ``error`` object; its OpenAI-compatible endpoint wraps it in a one-element list."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    error = parsed.get("error") if isinstance(parsed, Mapping) else None
    return error if isinstance(error, Mapping) else {}


def _reasons(error: Mapping[str, Any]) -> set[str]:
    details = error.get("details")
    if not isinstance(details, list):
        return set()
    return {str(d.get("reason")) for d in details if isinstance(d, Mapping) and "reason" in d}


def _free_quota_is_zero(error: Mapping[str, Any]) -> bool:
    message = str(error.get("message", ""))
    if "free quota tier" in message:  # "Gemini 2.5 Pro Preview doesn't have a free quota tier."
        return True
    if re.search(r"free_tier\S*, limit: 0\b", message):
        return True
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        violations = detail.get("violations") if isinstance(detail, Mapping) else None
        for v in violations if isinstance(violations, list) else ():
            if (
                isinstance(v, Mapping)
                and "FreeTier" in str(v.get("quotaId", ""))
                and str(v.get("quotaValue")) == "0"
            ):
                return True
    return False


def verdict(status: int, body: bytes) -> Verdict:
    """What one probe answer says about the key and the model."""
    if status == 200:
        return Verdict.AVAILABLE
    error = error_object(body)
    message = str(error.get("message", ""))
    if "API_KEY_INVALID" in _reasons(error) or _KEY_REFUSED.search(message):
        return Verdict.KEY_INVALID
    if status == 429 and _free_quota_is_zero(error):
        return Verdict.PAID_ONLY
    return Verdict.UNKNOWN


def key_digest(provider: ResolvedProvider) -> str:
    """Names the cache file: the endpoint and the key, hashed (the key never reaches the disk)."""
    seed = f"anthroxy gemini tiers\0{provider.base_url}\0{provider.api_key or ''}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


@dataclass
class TierBook:
    """The verdicts for one key: model -> (verdict, when it was reached, Unix seconds)."""

    path: Path | None  # None: kept in memory only
    clock: Callable[[], float] = time.time
    verdicts: dict[str, tuple[Verdict, float]] = field(default_factory=dict)
    key_problem: str | None = None  # the provider's words when the key was refused

    @classmethod
    def load(cls, path: Path | None, clock: Callable[[], float] = time.time) -> TierBook:
        book = cls(path, clock)
        if path is None:
            return book
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return book  # none yet, or unreadable: probe again
        models = data.get("models") if isinstance(data, dict) else None
        if data.get("version") != CACHE_VERSION or not isinstance(models, dict):
            return book
        for model, entry in models.items():
            try:
                book.verdicts[model] = (Verdict(entry["verdict"]), float(entry["at"]))
            except (KeyError, TypeError, ValueError):
                continue
        return book

    def fresh(self, model: str) -> Verdict | None:
        entry = self.verdicts.get(model)
        if entry is None or self.clock() - entry[1] >= TTL:
            return None
        return entry[0]

    def unavailable(self) -> list[str]:
        return sorted(m for m in self.verdicts if self.fresh(m) is Verdict.PAID_ONLY)

    def checked_at(self, model: str) -> float | None:
        entry = self.verdicts.get(model)
        return entry[1] if entry is not None else None

    def record(self, model: str, found: Verdict) -> None:
        if found in (Verdict.AVAILABLE, Verdict.PAID_ONLY):  # only a clear answer is kept
            self.verdicts[model] = (found, self.clock())

    def save(self) -> None:
        if self.path is None:
            return
        models = {m: {"verdict": v.value, "at": at} for m, (v, at) in self.verdicts.items()}
        data = json.dumps({"version": CACHE_VERSION, "models": models}, indent=1).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.path, data)
        except OSError as exc:  # a read-only cache costs one probe per start, nothing more
            log.warning("cannot write the Gemini tier cache %s: %s", self.path, exc.strerror)


def book_path(cache_dir: Path | None, provider: ResolvedProvider) -> Path | None:
    if cache_dir is None:
        return None
    return cache_dir / f"gemini-tiers-{key_digest(provider)}.json"


async def probe_one(
    provider: ResolvedProvider, session: aiohttp.ClientSession, model: str
) -> tuple[Verdict, str]:
    """One minimal request to ``model``; the verdict and the provider's message (for a log)."""
    body = {"model": model, "messages": _PROBE_PROMPT, "max_tokens": 1}
    headers = {**credential_headers(provider), "content-type": "application/json"}
    url = join_url(provider.base_url, "/chat/completions")
    try:
        async with session.post(
            url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
        ) as response:
            raw = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Verdict.UNKNOWN, f"no answer ({type(exc).__name__})"
    return verdict(status, raw), str(error_object(raw).get("message", ""))


async def probe_models(
    provider: ResolvedProvider,
    session: aiohttp.ClientSession,
    book: TierBook,
    models: Iterable[str],
) -> None:
    """Probe, side by side, each pro or preview model without a fresh verdict; save the book."""
    todo = sorted({m for m in models if is_probed(m) and book.fresh(m) is None})
    if not todo or not provider.api_key:
        return
    results = await asyncio.gather(*(probe_one(provider, session, m) for m in todo))
    for model, (found, message) in zip(todo, results, strict=True):
        if found is Verdict.KEY_INVALID:
            book.key_problem = message or "API key not valid"
        book.record(model, found)
    if any(found is Verdict.AVAILABLE for found, _ in results):
        book.key_problem = None
    book.save()
