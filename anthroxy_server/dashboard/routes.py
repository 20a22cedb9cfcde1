"""The dashboard's routes, registered by ``gateway/app.create_app`` (``setup``)."""

from __future__ import annotations

from aiohttp import web

from . import events, history, reload_api, routing_api, static, status_api, usage_api
from .access import api, no_store
from .recent import RECENT, Recent


def setup(app: web.Application) -> None:
    app[RECENT] = Recent()
    app.on_startup.append(history.load)  # after the ledger opens (its cleanup_ctx runs first)
    app.on_shutdown.append(events.end_streams)
    app.on_response_prepare.append(no_store)
    add = app.router
    add.add_get("/ui", static.page)
    add.add_get("/ui/", static.page)
    add.add_get("/ui/static/{name}", static.static_file)
    add.add_get("/ui/api/overview", api(status_api.overview))
    add.add_get("/ui/api/health", api(status_api.health))
    add.add_get("/ui/api/requests", api(status_api.requests))
    add.add_get("/ui/api/requests/{id}", api(status_api.request_details))
    add.add_get("/ui/api/events", api(events.events))
    add.add_get("/ui/api/usage", api(usage_api.usage))
    add.add_get("/ui/api/routing", api(routing_api.routing))
    add.add_post("/ui/api/reload", api(reload_api.reload_config))
