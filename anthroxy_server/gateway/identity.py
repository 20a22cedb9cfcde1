"""What ``/healthz`` says about the process itself, so the command line can find and manage the
proxy however it was started (``anthroxy start``, ``serve``, ``python -m anthroxy_server``, a
login service).

* ``service: "anthroxy"``: an unambiguous mark that this answer comes from anthroxy.
* ``pid``: for ``anthroxy reload`` (SIGHUP) and ``anthroxy stop`` (SIGTERM): with ``--workers``
  the supervisor's, which passes the signal to every worker; ``worker_pid`` is the process that
  answered and ``workers`` how many there are.
* ``config``: the fingerprint of the configuration in use (``config/fingerprint.py``), its
  sections, the files read, the generation number and when it was loaded, and the outcome of the
  last reload (its refusal's problem lines; keys that need a restart).
* ``managed_by``: the login service that runs this process, if any, so ``anthroxy stop`` asks
  the service manager instead of killing a process the manager would restart. Only anthroxy's
  own units count (a proxy that some other service happened to spawn is not that service).
* ``log``: the file the process writes its log to, when it can tell (Linux: where stderr goes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from ..config.paths import APP, LAUNCH_AGENT_LABEL
from .live import LIVE
from .logs import redact
from .supervise import group_info


def healthz_fields(app: web.Application) -> dict[str, Any]:
    live = app[LIVE]
    current = live.current
    reloads = live.reloads
    group = group_info(os.environ)
    return {
        "service": APP,
        "pid": group[0] if group else os.getpid(),
        "worker_pid": os.getpid(),
        "workers": group[1] if group else 1,
        "config": {
            "fingerprint": current.fingerprint,
            "sections": current.sections,
            "sources": list(current.settings.sources),
            "generation": current.number,
            "loaded_at": round(current.loaded_at, 3),
            "reload": {
                "attempts": reloads.attempts,
                "refused_at": reloads.refused_at,
                "problems": [redact(p, current.secrets) for p in reloads.problems],
                "restart_needed": [f"server.{key}" for key in reloads.restart_needed],
            },
        },
        "managed_by": service_manager(os.environ, Path("/proc/self/cgroup")),
        "log": log_path(Path("/proc/self/fd/2")),
    }


def service_manager(env: Mapping[str, str], cgroup: Path) -> dict[str, str] | None:
    """``{"manager": "systemd", "unit": ..., "scope": "user"|"system"}``, ``{"manager":
    "launchd", "label": ...}`` or None."""
    if env.get("XPC_SERVICE_NAME") == LAUNCH_AGENT_LABEL:
        return {"manager": "launchd", "label": LAUNCH_AGENT_LABEL}
    try:
        lines = cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        # cgroup v2: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/anthroxy.service"
        parts = line.rsplit(":", 1)[-1].strip("/").split("/")
        unit = parts[-1] if parts else ""
        if unit.endswith(".service") and APP in unit:
            scope = "user" if any(p.startswith("user@") for p in parts[:-1]) else "system"
            return {"manager": "systemd", "unit": unit, "scope": scope}
    return None


def log_path(stderr_link: Path) -> str | None:
    try:
        target = Path(os.readlink(stderr_link))
    except OSError:
        return None
    return str(target) if target.is_absolute() and target.is_file() else None
