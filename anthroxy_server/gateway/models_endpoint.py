"""``GET /v1/models`` and ``GET /v1/models/{id}``: the names clients can use, in Anthropic's
shape and pagination (docs/protocol/anthropic.md §12), with each model's limits."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from anthroxy.errors import AnthroxyError, InvalidRequest
from anthroxy.routing import capabilities
from anthroxy.routing.capabilities import ModelLimits

from ..live_lists import app as live_lists
from .live import generation_of, settings_of
from .logs import LOGGER_NAME
from .state import STARTED

if TYPE_CHECKING:
    pass

log = logging.getLogger(LOGGER_NAME)

MODELS_DEFAULT_LIMIT = 20  # Anthropic's default page size (docs/protocol/anthropic.md §12)
MODELS_MAX_LIMIT = 1000


def _model_entry(
    request: web.Request, overrides: capabilities.Overrides, name: str, created_at: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": "model",
        "id": name,
        "display_name": name,
        "created_at": created_at,
    }
    try:
        route = settings_of(request).routing.resolve(name)
        route = live_lists.resolve_routes(request, [route])[0]  # an @auto's model's limits
    except AnthroxyError:
        return entry
    limits = capabilities.lookup(route.model, overrides)
    entry["max_input_tokens"] = limits.context_window
    entry["max_tokens"] = limits.max_output_tokens
    entry["capabilities"] = _capabilities(limits)
    return entry


def _capabilities(limits: ModelLimits) -> dict[str, Any]:
    """Anthropic's ``capabilities`` keys where one exists (``image_input``, ``thinking``), plus
    anthroxy's ``tool_use`` and ``tool_choice``, each ``{"supported": bool}``."""
    return {
        "image_input": {"supported": limits.images},
        "thinking": {"supported": limits.thinking},
        "tool_use": {"supported": limits.tools},
        "tool_choice": {"supported": limits.tool_choice},
    }


def _created_at(request: web.Request) -> str:
    started = datetime.fromtimestamp(request.app[STARTED], tz=UTC)
    return started.strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_params(query: Mapping[str, str]) -> tuple[int, str | None, str | None]:
    text = query.get("limit")
    limit = MODELS_DEFAULT_LIMIT
    if text is not None:
        try:
            limit = int(text)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MODELS_MAX_LIMIT:
            raise InvalidRequest(
                f"limit: must be an integer from 1 to {MODELS_MAX_LIMIT}", path="query.limit"
            )
    return limit, query.get("after_id"), query.get("before_id")


def paginate(
    names: list[str], limit: int, after_id: str | None, before_id: str | None
) -> tuple[list[str], bool]:
    """One page of ``names`` and whether more lie beyond it (in the direction of travel)."""
    if before_id is not None:
        end = names.index(before_id) if before_id in names else 0
        start = max(0, end - limit)
        return names[start:end], start > 0
    start = 0
    if after_id is not None:
        start = names.index(after_id) + 1 if after_id in names else len(names)
    page = names[start : start + limit]
    return page, start + limit < len(names)


async def list_models(request: web.Request) -> web.Response:
    settings = settings_of(request)
    limit, after_id, before_id = _page_params(request.query)
    page, has_more = paginate(settings.routing.model_names(), limit, after_id, before_id)
    created = _created_at(request)
    overrides = generation_of(request).model_limits
    data = [_model_entry(request, overrides, name, created) for name in page]
    return web.json_response(
        {
            "data": data,
            "has_more": has_more,
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
    )


async def get_model(request: web.Request) -> web.Response:
    settings = settings_of(request)
    name = request.match_info["model_id"]
    settings.routing.resolve(name)  # UnknownModel (404) when nothing serves it
    entry = _model_entry(request, generation_of(request).model_limits, name, _created_at(request))
    return web.json_response(entry)
