"""Loading a new configuration into a running app: on ``SIGHUP`` and ``anthroxy reload``.

``reload(app, load)`` is all or nothing. ``load()`` reads the files again (in a thread: file
I/O stays off the event loop); a configuration that fails its checks is refused with the
problem lines ``anthroxy config check`` prints, they are logged and published on ``/healthz``
(``config.reload``), and the old configuration keeps serving. A good one becomes a new
``Generation`` (``live.py``), swapped in by one assignment: requests already under way finish
on the generation they started with.

What a reload does and does not change (docs/configuration.md, "Reloading"):

* It re-reads the FILES, with the environment the server started with: a process's environment
  cannot be changed from outside, so a key exported in a shell afterwards needs a restart
  (``anthroxy run`` / ``start`` restart a proxy they started when its keys differ).
* The listening address (``server.host``/``port``) needs a restart; the reload applies the rest
  and names those keys in the log and on ``/healthz`` (``config.reload.restart_needed``).
* Upstream sessions are per generation; a provider whose timeouts and ``trust_env`` did not
  change keeps its session (and its open connections).
* A provider's circuit breaker and the fields it refused (``learned.py``) describe the upstream,
  not the file: they survive, except for a provider whose ``api`` or ``base_url`` changed,
  which starts with a closed breaker. The breakers' thresholds take the new values.
* Codex credentials are kept for providers whose ``codex_home`` and ``token_url`` are the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from anthroxy.routing import capabilities

from ..config import fingerprint
from ..config.checks import model_fields
from ..config.schema import ConfigError
from ..live_lists import app as live_lists
from ..providers import chatgpt, vertex
from .breaker import BREAKERS
from .live import LIVE, Generation, Live
from .logs import LOGGER_NAME, settings_secrets
from .state import SESSIONS, SETTINGS
from .upstream import open_session

if TYPE_CHECKING:
    import aiohttp

    from ..config.schema import Settings

log = logging.getLogger(LOGGER_NAME)

PEPPER: web.AppKey[bytes] = web.AppKey("fingerprint_pepper")
# Set by ``enable``: how the server loads its configuration again, and what it does with the
# secrets of every generation so far (serve.py points it at the log redaction).
LOADER: web.AppKey[Callable[[], Settings]] = web.AppKey("config_loader")
ON_SECRETS: web.AppKey[Callable[[Settings, tuple[str, ...]], None]] = web.AppKey("on_secrets")
RESTART_KEYS = ("host", "port", "workers")  # server.* keys only a new process can apply


def build_generation(
    settings: Settings, pepper: bytes, *, previous: Generation | None = None
) -> Generation:
    """Everything derived from ``settings``; sessions of ``previous`` are reused when the
    provider's session parameters did not change. Runs inside the event loop."""
    trust_env = settings.config.server.trust_env
    sessions: dict[str, aiohttp.ClientSession] = {}
    for pid, provider in settings.providers.items():
        reused = _reusable(previous, pid, provider.connect_timeout, provider.read_timeout)
        sessions[pid] = reused or open_session(provider, trust_env=trust_env)
    raw = {name: model_fields(model) for name, model in settings.config.models.items()}
    parts = fingerprint.sections(settings, pepper)
    return Generation(
        settings,
        secrets=settings_secrets(settings),
        sessions=sessions,
        model_limits=capabilities.parse_overrides(raw),
        sections=parts,
        fingerprint=fingerprint.overall(parts),
        number=1 if previous is None else previous.number + 1,
    )


def _reusable(
    previous: Generation | None, pid: str, connect: float, read: float
) -> aiohttp.ClientSession | None:
    if previous is None or pid not in previous.sessions:
        return None
    old = previous.settings.providers[pid]
    same_trust = previous.sessions[pid].trust_env == previous.settings.config.server.trust_env
    if (old.connect_timeout, old.read_timeout) != (connect, read) or not same_trust:
        return None
    return previous.sessions[pid]


async def live_context(app: web.Application) -> AsyncIterator[None]:
    """The first generation at startup (``app[SESSIONS]`` names its sessions); every session
    closed at cleanup."""
    first = build_generation(app[SETTINGS], app.get(PEPPER, b""))
    app[SESSIONS] = first.sessions
    live = Live(first)
    app[LIVE] = live
    yield
    await live.close()


async def reload(app: web.Application, load: Callable[[], Settings] | None = None) -> bool:
    """Load the configuration again (``load``, else the loader ``enable`` set) and swap it in;
    False when it was refused."""
    live = app[LIVE]
    async with live.lock:
        try:
            settings = await asyncio.to_thread(load or app[LOADER])
        except ConfigError as exc:
            _refuse(live, exc.problems)
            return False
        except Exception as exc:  # a file vanishing mid-read, a permission error ...
            _refuse(live, [f"the configuration could not be read: {exc}"])
            return False
        previous = live.current
        new = build_generation(settings, app.get(PEPPER, b""), previous=previous)
        _apply_to_app(app, previous.settings, settings)
        restart = _restart_needed(previous.settings, settings)
        live.reloads.problems = []
        live.reloads.restart_needed = restart
        secrets = _all_secrets(live, new)
        on_secrets = app.get(ON_SECRETS)
        if on_secrets is not None:
            on_secrets(settings, secrets)
        live.swap(new)
        live.reloads.attempts += 1  # counted once the outcome shows: `anthroxy reload` waits
    changed = fingerprint.differences(new.sections, previous.sections)
    log.info(
        "reloaded the configuration (%s; changed: %s)",
        ", ".join(settings.sources) or "no file",
        ", ".join(changed) or "nothing",
    )
    for key in restart:
        log.warning("server.%s changed: it takes effect after a restart", key)
    return True


def _refuse(live: Live, problems: list[str]) -> None:
    live.reloads.refused_at = time.time()
    live.reloads.problems = list(problems)
    live.reloads.attempts += 1
    for problem in problems:
        log.error("config: %s", problem)
    log.error("reload refused: the configuration loaded before keeps serving")


def _all_secrets(live: Live, new: Generation) -> tuple[str, ...]:
    # Requests of retired generations still run with their keys: redact old and new alike.
    values = {*new.secrets, *live.current.secrets}
    for generation in live.retired:
        values.update(generation.secrets)
    return tuple(sorted(values, key=len, reverse=True))


def _restart_needed(old: Settings, new: Settings) -> list[str]:
    return [
        key
        for key in RESTART_KEYS
        if getattr(old.config.server, key) != getattr(new.config.server, key)
    ]


def _apply_to_app(app: web.Application, old: Settings, new: Settings) -> None:
    """The app-wide state that outlives a generation (see the module docstring)."""
    breakers = app[BREAKERS]
    config = new.config.routing.circuit_breaker
    breakers.threshold, breakers.cooldown = config.failures, config.cooldown
    for pid, provider in new.providers.items():
        before = old.providers.get(pid)
        if before is None or (before.api, before.base_url) != (provider.api, provider.base_url):
            breakers.success(pid)  # another upstream: nothing learned about it yet
    live_lists.refresh_used(app, new)
    vertex.reload(app, new.providers)
    credentials = app.get(chatgpt.CODEX_CREDENTIALS)
    if credentials is None:
        return
    fresh = chatgpt.make_credentials(new.providers)
    for pid, made in fresh.items():
        kept = credentials.get(pid)
        if kept is not None and (kept.home, kept.token_url) == (made.home, made.token_url):
            fresh[pid] = kept  # cached tokens stay
    credentials.clear()  # the dict object stays the same: the app is frozen, its keys are not
    credentials.update(fresh)


def enable(
    app: web.Application,
    load: Callable[[], Settings],
    on_secrets: Callable[[Settings, tuple[str, ...]], None],
) -> None:
    """Reload on ``SIGHUP`` (serve.py's app; tests drive ``reload`` directly). A ``serve`` in a
    terminal still stops when its terminal closes: that hangup finds no terminal any more."""
    app[LOADER] = load
    app[ON_SECRETS] = on_secrets
    app.on_startup.append(_install_signal)
    app.on_cleanup.append(_remove_signal)


async def _install_signal(app: web.Application) -> None:
    tasks: set[asyncio.Task[bool]] = set()  # held by the handler's closure until done
    had_terminal = has_terminal()

    def on_hangup() -> None:
        if had_terminal and not has_terminal():
            # The terminal of a foreground `serve` closed: the classic meaning of SIGHUP.
            log.info("the terminal closed: stopping")
            os.kill(os.getpid(), signal.SIGTERM)  # aiohttp's graceful shutdown
            return
        log.info("SIGHUP: reloading the configuration")
        task = asyncio.get_running_loop().create_task(reload(app))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_hangup)


def has_terminal() -> bool:
    """Whether the process has a controlling terminal (``/dev/tty`` opens only then)."""
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError:
        return False
    return True


async def _remove_signal(app: web.Application) -> None:
    asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
