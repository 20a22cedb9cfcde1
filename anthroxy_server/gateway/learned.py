"""Fields a provider refused by name, learned while the process runs.

A new Claude Code release can add a request field before anthroxy's cleaners know it, and an
endpoint that validates strictly then answers 400 naming it (``context_management: Extra inputs
are not permitted``). Such an answer arrives before the stream starts (the client has seen pings
at most), so ``open_learning`` reads it, finds the named field in the body that was sent
(``anthroxy.cleaning.refused_fields`` and ``locate``), leaves it out and sends once more (once
per refused field: an endpoint may name one field per answer). The
field stays out of every later request to that provider until the process ends; the first time,
a warning says so, and how to make it permanent (``drop_fields``). ``learn_fields = false`` in a
provider's table turns this off.

Only fields: a refused value (``unknown variant `system```) names nothing to leave out, and the
fields that carry the conversation itself (``PROTECTED``) are never dropped; an upstream that
refuses those gets its 400 passed on. The store hangs off the app (``LEARNED``), one per app.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from anthroxy.cleaning import Cleaner, Drop, FieldPath, format_path, locate, refused_fields

from .dialects import DIALECTS, Plan
from .live import settings_of
from .logs import LOGGER_NAME
from .upstream import ReplyTooLarge, read_capped

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider
    from ..providers import Access, Outgoing
    from .call import Call
    from .streaming import Downstream

log = logging.getLogger(LOGGER_NAME)

# Statuses validators answer a refused field with (FastAPI/pydantic: 422).
REFUSAL_STATUSES = frozenset({400, 422})
# Retries of one request, each after a refusal naming a field the body still held.
MAX_RETRIES = 3
SOURCE = "learned"
# Never left out, whatever an upstream says: without them the request is another request. Paths
# as ``format_path`` writes them, with any ``[type=…]`` removed; Anthropic, Chat Completions and
# Responses names alike.
PROTECTED = frozenset(
    {
        "model", "messages", "input", "instructions", "system", "tools", "stream",
        "max_tokens", "max_completion_tokens", "max_output_tokens",
        "messages.*.role", "messages.*.content", "messages.*.tool_calls",
        "messages.*.tool_call_id", "messages.*.content.*.type", "messages.*.content.*.text",
        "messages.*.content.*.content", "messages.*.content.*.id",
        "messages.*.content.*.tool_use_id", "messages.*.content.*.name",
        "messages.*.content.*.input", "tools.*.name", "tools.*.type", "tools.*.input_schema",
        "tools.*.function", "tools.*.function.name", "tools.*.function.parameters",
        "input.*.type", "input.*.role", "input.*.content", "input.*.call_id",
    }
)  # fmt: skip

Opener = Callable[
    ["Call", "Outgoing", "Access", "Downstream | None"], Awaitable[aiohttp.ClientResponse]
]


class LearnedFields:
    """Per provider, the field paths it refused, in the order learned."""

    def __init__(self) -> None:
        self._paths: dict[str, tuple[str, ...]] = {}
        self._cleaners: dict[str, tuple[Cleaner, Cleaner]] = {}  # base -> with the learned

    def paths(self, provider: str) -> tuple[str, ...]:
        return self._paths.get(provider, ())

    def cleaner(self, provider: ResolvedProvider) -> Cleaner:
        """The provider's configured cleaner plus the fields it refused so far."""
        learned = self._paths.get(provider.id)
        if not learned:
            return provider.cleaner
        cached = self._cleaners.get(provider.id)
        if cached is None or cached[0] is not provider.cleaner:
            cached = (provider.cleaner, provider.cleaner.with_drops(learned, SOURCE))
            self._cleaners[provider.id] = cached
        return cached[1]

    def learn(self, provider: str, paths: list[str]) -> list[str]:
        """Remember ``paths`` for ``provider``; the ones it did not know yet."""
        known = self._paths.get(provider, ())
        new = [path for path in dict.fromkeys(paths) if path not in known]
        if new:
            self._paths[provider] = known + tuple(new)
            self._cleaners.pop(provider, None)
        return new


LEARNED: web.AppKey[LearnedFields] = web.AppKey("learned_fields")


def setup(app: web.Application) -> None:
    app[LEARNED] = LearnedFields()


async def open_learning(
    call: Call, plan: Plan, access: Access, downstream: Downstream | None, open_: Opener
) -> tuple[Plan, aiohttp.ClientResponse]:
    """Send ``plan``; after a 400 that names fields of the body sent, leave them out and send
    once more. An endpoint that names one field per answer gets one retry per field, at most
    ``MAX_RETRIES``: each retry leaves out a field the last one still had, so this ends. The
    plan the answer belongs to, and the answer."""
    outgoing = await access.outgoing(plan)
    upstream = await open_(call, outgoing, access, downstream)
    for _ in range(MAX_RETRIES):
        if upstream.status not in REFUSAL_STATUSES or not call.provider.learn_fields:
            break
        refused = await _refused(upstream, outgoing.data, call.request)
        if not refused or set(refused) <= _dropped(call.cleaner):
            break  # nothing named, or this body was already meant to be without it
        store = call.request.app[LEARNED]
        for path in store.learn(call.provider.id, refused):
            log.warning(
                "provider %s refused the field %s; it is left out of every request to %s from "
                "now on (drop_fields = [%r] under [providers.%s] keeps it out after a restart)",
                call.provider.id, path, call.provider.id, path, call.provider.id,
            )  # fmt: skip
        upstream.release()
        call.cleaner = store.cleaner(call.provider)
        plan = DIALECTS[call.dialect](call)
        outgoing = await access.outgoing(plan)
        upstream = await open_(call, outgoing, access, downstream)
    return plan, upstream


async def _refused(
    upstream: aiohttp.ClientResponse, sent: bytes, request: web.Request
) -> list[str]:
    """The learnable fields the refusal names that the sent body holds. The body read here
    stays readable (``read_capped`` keeps it), so the relay still reports the error as it came."""
    limit = settings_of(request).config.server.max_reply_bytes
    try:
        answer = await read_capped(upstream, limit)
    except (aiohttp.ClientError, TimeoutError, OSError, ReplyTooLarge):
        return []
    named = refused_fields(answer)
    if not named:
        return []
    try:
        body = json.loads(sent)
    except ValueError:
        return []
    paths = [locate(raw, body) for raw in named]
    return [format_path(path) for path in paths if path is not None and learnable(path)]


def _dropped(cleaner: Cleaner) -> set[str]:
    return {rule.path for rule in cleaner.rules if isinstance(rule, Drop) and not rule.when}


def learnable(path: FieldPath) -> bool:
    return ".".join(part if isinstance(part, str) else "*" for part in path) not in PROTECTED
