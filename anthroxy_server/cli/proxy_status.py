"""What the MCP tools report about the proxy, and what the start tool does.

Two report shapes over one ``Snapshot``:

* ``anthroxy_report``: anthroxy's own field names (``url``, ``pid``, ``providers`` as a list with
  ``has_key``, ``tiers``, ``aliases``), the answer of the ``anthroxy_status`` tool.
* ``model_proxy_report``: the field names claude-model-proxy's ``model_proxy_status`` tool
  answered with (``listening``, ``error``, ``external``, ``localUrl``, ``baseUrl``,
  ``providers`` keyed by name with ``upstreamBaseUrl``/``hasApiKey``/``format``/``authScheme``,
  ``modelMap``, ``modelAliases``, ``modelRoutes``, ``rewriteResponses``), so prompts and
  automations written for that extension keep working; anthroxy's extra fields ride along.

Neither holds a secret: keys and the proxy token appear only as booleans, and a base URL loses
any ``user:password@`` part.
"""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from anthroxy.errors import AnthroxyError

from ..config import paths
from ..config.paths import CommandError, Locations
from . import daemon, probe, usage

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider, Settings

START_TIMEOUT = 20.0  # seconds the start tool waits for /healthz (daemon.start's default)


@dataclass(frozen=True)
class Options:
    """How `anthroxy mcp` was started: the Desktop extension passes the port and the token."""

    config_path: str | None = None
    port: int | None = None
    token: str = field(default="", repr=False)  # the proxy's auth_token; never reported

    def overrides(self) -> dict[str, object]:
        found: dict[str, object] = {"server.port": self.port, "server.auth_token": self.token}
        return {key: value for key, value in found.items() if value}


@dataclass(frozen=True)
class Snapshot:
    """One look at the proxy: its configuration, its pid file and whether it answers."""

    settings: Settings | None
    config_problems: list[str]
    pid_problem: str | None
    record: daemon.PidRecord | None  # a live server started by `anthroxy start`
    url: str | None
    healthz: dict[str, Any] | None  # its /healthz body when something answers
    port_taken: bool  # nothing answers /healthz, yet the port is held by some program
    usage_today: dict[str, Any] | None = None  # today's ledger totals (cli/usage.py)

    @property
    def listening(self) -> bool:
        return self.healthz is not None

    @property
    def external(self) -> bool:
        """Answering, but not a server `anthroxy start` (or the start tool) launched: a login
        service, a foreground `anthroxy serve`, another user's proxy."""
        return self.listening and (self.record is None or self.record.url != self.url)


def snapshot(loc: Locations, opts: Options) -> Snapshot:
    record, pid_problem = None, None
    try:
        record = daemon.read_record(paths.pid_file(loc.env, loc.home))
    except CommandError as exc:
        pid_problem = exc.message
    if record is not None and daemon.process_state(record.pid) != "running":
        record = None
    settings, problems = None, []
    try:
        settings = daemon.load_settings(loc, opts.config_path, opts.overrides())
    except CommandError as exc:
        problems = exc.message.splitlines()[1:] or [exc.message]
    url, token = None, opts.token
    if settings is not None:
        server = settings.config.server
        url, token = daemon.client_url(server.host, server.port), server.auth_token
    elif opts.port is not None:  # the configuration is broken, but the extension named a port
        url = daemon.client_url("127.0.0.1", opts.port)
    # A server started by `anthroxy start` is where it is, unless the extension asked for a port.
    if record is not None and opts.port in (None, record.port):
        url = record.url
    answer = daemon.health(url, timeout=1.0, token=token.strip()) if url else None
    taken = False
    if answer is None and settings is not None:
        server = settings.config.server
        taken = not probe.port_free(server.host, server.port)
    today = usage.today(loc)
    return Snapshot(settings, problems, pid_problem, record, url, answer, taken, today)


def redact_url(url: str) -> str:
    """``url`` without a ``user:password@`` part (credentials have no business in a report)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def anthroxy_report(snap: Snapshot) -> dict[str, Any]:
    """anthroxy's own status fields (the ``anthroxy_status`` tool)."""
    report: dict[str, Any] = {"listening": snap.listening, "url": snap.url, "pid": None}
    if snap.pid_problem:
        report["pid_file_problem"] = snap.pid_problem
    if snap.config_problems:
        report["config_problems"] = snap.config_problems
    if snap.settings is not None:
        report["config_sources"] = snap.settings.sources
        report["providers"] = [
            {"id": p.id, **_anthroxy_provider(p)} for p in snap.settings.providers.values()
        ]
        report["tiers"] = dict(snap.settings.config.tiers)
        report["aliases"] = dict(snap.settings.config.aliases)
    if snap.record is not None and snap.record.url == snap.url:
        report["pid"] = snap.record.pid
    if snap.healthz is not None:
        report["healthz"] = _redacted_healthz(snap.healthz)
    if snap.usage_today is not None:
        report["usage_today"] = snap.usage_today
    return report


def _redacted_healthz(healthz: dict[str, Any]) -> dict[str, Any]:
    """The /healthz body with each provider's base URL stripped of credentials."""
    providers = healthz.get("providers")
    if not isinstance(providers, dict):
        return healthz
    clean = {
        pid: {**info, "base_url": redact_url(info["base_url"])}
        if isinstance(info, dict) and isinstance(info.get("base_url"), str)
        else info
        for pid, info in providers.items()
    }
    return {**healthz, "providers": clean}


def _anthroxy_provider(p: ResolvedProvider) -> dict[str, Any]:
    return {
        "name": p.name,
        "api": p.api,
        "base_url": redact_url(p.base_url),
        "has_key": p.api_key is not None,
        "key_source": p.key_source,
    }


def model_proxy_report(snap: Snapshot) -> dict[str, Any]:
    """claude-model-proxy's ``model_proxy_status`` fields, plus anthroxy's own."""
    report: dict[str, Any] = {
        "listening": snap.listening,
        "error": _error_text(snap),
        "external": snap.external,
        "localUrl": snap.url,
        "baseUrl": snap.url,  # the gateway base URL to give Claude Desktop
        "providers": {},
        "modelMap": {},
        "modelAliases": {},
        "modelRoutes": {},
        "rewriteResponses": True,
    }
    settings = snap.settings
    if settings is not None:
        report["providers"] = _local_providers(settings)
        report.update(_mappings(settings))
        report["tokenRequired"] = bool(settings.config.server.auth_token)
    running = _running_providers(snap.healthz)
    if running is not None:
        # The proxy that answers knows its own keys (a login service reads keys this process
        # may not see); the local configuration still says how each one authenticates.
        local = report["providers"]
        report["providers"] = {
            pid: {**info, "authScheme": local.get(pid, {}).get("authScheme")}
            for pid, info in running.items()
        }
    if not snap.listening and report["error"] is None:
        report["hint"] = "the proxy is not running; call start_proxy to start it"
    # anthroxy's fields follow; "providers" is the same word in another shape, so ours wins.
    extra = anthroxy_report(snap)
    return {**report, **{k: v for k, v in extra.items() if k not in report}}


def _local_providers(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        p.id: {
            "upstreamBaseUrl": redact_url(p.base_url),
            "hasApiKey": p.api_key is not None,
            "format": p.api,
            "authScheme": p.auth,
            **_anthroxy_provider(p),
        }
        for p in settings.providers.values()
    }


def _running_providers(healthz: dict[str, Any] | None) -> dict[str, dict[str, Any]] | None:
    """The providers of the answering proxy's /healthz in this report's shape, or None when the
    answer does not list them with their key flags."""
    providers = healthz.get("providers") if healthz else None
    if not isinstance(providers, dict) or not providers:
        return None
    if not all(
        isinstance(v, dict) and isinstance(v.get("has_key"), bool) for v in providers.values()
    ):
        return None
    found: dict[str, dict[str, Any]] = {}
    for pid, info in providers.items():
        url = redact_url(str(info.get("base_url", "")))
        found[str(pid)] = {
            "upstreamBaseUrl": url,
            "hasApiKey": info["has_key"],
            "format": info.get("api"),
            "name": info.get("name"),
            "api": info.get("api"),
            "base_url": url,
            "has_key": info["has_key"],
            "key_source": info.get("key_source"),
        }
    return found


def _mappings(settings: Settings) -> dict[str, Any]:
    """Request name -> upstream model, upstream model -> provider, as claude-model-proxy's
    MODEL_MAP and MODEL_ROUTES; MODEL_ALIASES is anthroxy's ``routing.response_names``."""
    model_map: dict[str, str] = {}
    routes: dict[str, str] = {}
    for name in settings.routing.model_names():
        try:
            route = settings.routing.resolve(name)
        except AnthroxyError:  # a listed name that no longer resolves is not a mapping
            continue
        model_map[name] = route.model
        routes.setdefault(route.model, route.provider)
    routing = settings.config.routing
    return {
        "modelMap": model_map,
        "modelAliases": dict(routing.response_names),
        "modelRoutes": routes,
        "rewriteResponses": routing.rewrite_response_model,
    }


def _error_text(snap: Snapshot) -> str | None:
    if snap.config_problems:
        return "invalid configuration: " + "; ".join(snap.config_problems)
    if snap.pid_problem:
        return snap.pid_problem
    if snap.port_taken and snap.settings is not None:
        server = snap.settings.config.server
        return (
            f"port {server.port} on {server.host} is in use by a program that does not answer "
            f"{probe.HEALTH_PATH}; stop it or choose another port"
        )
    return None


Starter = Callable[..., daemon.PidRecord]


def start_proxy(
    loc: Locations, opts: Options, *, start: Starter = daemon.start
) -> tuple[dict[str, Any], bool]:
    """Start the proxy in the background unless something answers already; the
    ``model_proxy_status`` report afterwards and whether the call failed."""
    before = snapshot(loc, opts)
    if before.listening:
        report = model_proxy_report(before)
        report.update(started=False, message=f"the proxy already answers at {before.url}")
        return report, False
    out = io.StringIO()
    try:
        overrides = opts.overrides()
        start(loc, out, config_path=opts.config_path, overrides=overrides, timeout=START_TIMEOUT)
    except CommandError as exc:
        report = model_proxy_report(snapshot(loc, opts))
        report.update(started=False, error=exc.message)
        return report, True
    report = model_proxy_report(snapshot(loc, opts))
    report.update(started=True, message=out.getvalue().strip())
    if opts.token and not _configured_token(loc, opts):
        report["warning"] = (
            "the proxy runs without [server] auth_token, so it accepts any key; set it to the "
            "extension's token in the anthroxy configuration to require it"
        )
    return report, False


def _configured_token(loc: Locations, opts: Options) -> str:
    """The auth_token the started server will require: ``$ANTHROXY_AUTH_TOKEN`` (the extension's
    token, inherited by the server) over the files' ``[server] auth_token``."""
    port = {"server.port": opts.port} if opts.port else None
    try:
        return daemon.load_settings(loc, opts.config_path, port).config.server.auth_token
    except CommandError:
        return ""
