"""``POST /ui/api/reload``: the reload ``anthroxy reload`` and ``SIGHUP`` do.

In a single process it runs ``gateway/reload.reload`` and answers with its outcome. Under
``--workers`` each worker holds its own configuration, so the supervisor gets the ``SIGHUP``
(it passes it to every worker) and the answer reports this worker's outcome once it has
reloaded, saying that the others reload too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from aiohttp import web

from ..config import fingerprint
from ..gateway import reload as reloading
from ..gateway.live import LIVE
from ..gateway.logs import redact
from ..gateway.supervise import group_info

GROUP_WAIT = 10.0  # seconds this worker waits for its own reload under --workers


async def reload_config(request: web.Request) -> web.Response:
    app = request.app
    live = app[LIVE]
    before = live.current
    group = group_info(os.environ)
    if reloading.LOADER not in app:
        return web.json_response({"reloaded": False, "problems": [
            "this server was started without configuration files to read again "
            "(an embedded app): restart it with the new configuration instead"
        ]})  # fmt: skip
    if group is not None:
        attempts = live.reloads.attempts
        try:
            os.kill(group[0], signal.SIGHUP)
        except OSError as exc:
            problem = f"could not signal the supervisor (pid {group[0]}): {exc.strerror or exc}"
            return web.json_response({"reloaded": False, "problems": [problem]})
        done = await _reloaded_since(app, attempts)
        body = _outcome(app, before, done)
        body["workers"] = group[1]
        body["note"] = (
            f"sent SIGHUP to the supervisor (pid {group[0]}): each of the {group[1]} workers "
            "reloads its files; this answer is the outcome of the worker that took it"
        )
        return web.json_response(body)
    done = await reloading.reload(app)
    return web.json_response(_outcome(app, before, done))


async def _reloaded_since(app: web.Application, attempts: int) -> bool:
    """Whether this worker counted a reload after ``attempts`` within ``GROUP_WAIT``."""
    live = app[LIVE]
    deadline = time.monotonic() + GROUP_WAIT
    while live.reloads.attempts <= attempts and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    async with live.lock:  # a reload under way finishes first
        return live.reloads.attempts > attempts and not live.reloads.problems


def _outcome(app: web.Application, before: Any, done: bool) -> dict[str, Any]:
    live = app[LIVE]
    current = live.current
    if not done:
        problems = live.reloads.problems or ["the reload did not finish in time; see the log"]
        return {"reloaded": False, "problems": [redact(p, current.secrets) for p in problems]}
    return {
        "reloaded": True,
        "fingerprint": current.fingerprint,
        "changed": fingerprint.differences(current.sections, before.sections),
        "restart_needed": [f"server.{key}" for key in live.reloads.restart_needed],
    }
