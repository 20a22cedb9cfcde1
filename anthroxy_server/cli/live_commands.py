"""``anthroxy models PROVIDER``, ``anthroxy refresh [PROVIDER]`` and ``anthroxy set-model TIER
TARGET``: the live model lists and the tiers, from the command line.

``models PROVIDER`` fetches the provider's list now (and caches it), saying how old the cached
one was. ``refresh`` asks the running proxy (``POST /anthroxy/refresh``) so its memory and the
cache agree; with no proxy answering it refreshes the cache files directly. ``set-model`` edits
the user's TOML file with tomlkit, so every other value and every comment stay as written,
checks the result loads, then asks a running proxy to reload.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import tomlkit

from anthroxy.routing.auto import is_auto
from anthroxy.routing.table import TIER_KEYS

from ..atomic import write_atomic
from ..config import paths
from ..config.paths import CommandError, Locations
from . import daemon, running

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider, Settings
    from ..live_lists.store import LiveLists

# (command, help, example) for the parser (dispatch.py).
COMMANDS = (
    ("refresh", "refresh the cached live model lists", "anthroxy refresh gemini"),
    ("set-model", "set a tier in the config file", "anthroxy set-model opus gemini/@auto:pro"),
)
NAMES = tuple(name for name, _, _ in COMMANDS)
FETCH_TIMEOUT = 15.0  # a person is waiting, but a slow provider still deserves an answer


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="configuration file to use")
    if command == "refresh":
        parser.add_argument("provider", nargs="?", help="only this provider (default: every one)")
    else:
        parser.add_argument("tier", help="opus, sonnet, haiku or default")
        parser.add_argument("target", help="provider/model, or provider/@auto[:hint]")


def handle(args: argparse.Namespace, loc: Locations, out: TextIO) -> int:
    if args.command == "refresh":
        return refresh(loc, out, args.provider, args.config)
    return set_model(loc, out, args.tier, args.target, args.config)


def _provider(settings: Settings, name: str) -> ResolvedProvider:
    found = settings.providers.get(name)
    if found is None:
        known = ", ".join(settings.providers) or "none"
        raise CommandError(f"provider {name!r} is not configured (configured: {known})", code=2)
    return found


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def models(loc: Locations, out: TextIO, name: str, config_path: str | None) -> int:
    from ..live_lists.store import LiveLists
    from ..providers import ListingError

    settings = daemon.load_settings(loc, config_path)
    provider = _provider(settings, name)
    trust_env = settings.config.server.trust_env
    lists = LiveLists(
        paths.cache_dir(loc.env, loc.home), timeout=FETCH_TIMEOUT, trust_env=trust_env
    )
    before = lists.cached(provider)
    was = (
        "no cached list"
        if before is None
        else f"cached list was {_age(before.age(time.time()))} old"
    )

    async def fetch() -> Any:
        try:
            return await lists.refresh(provider)
        finally:
            await lists.close()

    try:
        fresh = asyncio.run(fetch())
    except ListingError as exc:
        raise CommandError(f"{exc} ({was})") from exc
    out.write(f"# {provider.id}: {len(fresh.models)} models, fetched now ({was})\n")
    for model in fresh.models:
        when = time.strftime("%Y-%m-%d", time.gmtime(model.created)) if model.created else ""
        out.write(f"{model.id:<48} {when:<10} {model.display_name or ''}".rstrip() + "\n")
    for target, model in auto_targets(settings, lists).items():
        if target.startswith(provider.id + "/"):
            out.write(f"# {target} -> {model}\n")
    return 0


def auto_targets(settings: Settings, lists: LiveLists) -> dict[str, str]:
    """Each configured ``@auto`` target -> the model the cached list gives it."""
    found: dict[str, str] = {}
    for pid, target in settings.routing.targets():
        provider = settings.providers.get(pid)
        if provider is not None and is_auto(target):
            picked = lists.pick(provider, target)
            found[f"{pid}/{target}"] = picked or "(no list yet)"
    return found


def refresh(loc: Locations, out: TextIO, name: str | None, config_path: str | None) -> int:
    proxy = running.find_proxy(loc, config_path)
    answer = _post_refresh(proxy, name)
    if answer is not None:
        out.write(f"# refreshed by the proxy at {proxy.url}\n")
        return _report(out, answer)
    settings = daemon.load_settings(loc, config_path)
    from ..live_lists.store import LiveLists, listable

    chosen = [_provider(settings, name)] if name else [
        p for p in settings.providers.values() if listable(p)
    ]  # fmt: skip
    trust_env = settings.config.server.trust_env
    lists = LiveLists(paths.cache_dir(loc.env, loc.home), trust_env=trust_env)

    async def run_all() -> dict[str, Any]:
        from ..live_lists.app import refresh_one

        try:
            done = await asyncio.gather(*(refresh_one(lists, p) for p in chosen))
        finally:
            await lists.close()
        return {p.id: r for p, r in zip(chosen, done, strict=True)}

    out.write(f"# no proxy answers at {proxy.url}; refreshed the cache directly\n")
    return _report(out, asyncio.run(run_all()))


def _post_refresh(proxy: running.Proxy, name: str | None) -> dict[str, Any] | None:
    path = running.query("/anthroxy/refresh", **({"provider": name} if name else {}))
    request = urllib.request.Request(proxy.url + path, data=b"", method="POST")
    if proxy.token:
        request.add_header("Authorization", f"Bearer {proxy.token}")
    try:
        with running.DIRECT.open(request, timeout=60) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        older = " (a proxy older than this command: `anthroxy restart`)" if exc.code == 404 else ""
        raise CommandError(f"the proxy refused the refresh: HTTP {exc.code}{older}") from exc
    except (OSError, ValueError):
        return None
    found = data.get("refreshed") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else None


def _report(out: TextIO, results: dict[str, Any]) -> int:
    failed = 0
    for pid, result in results.items():
        if result.get("ok"):
            out.write(f"{pid}: {result.get('models')} models\n")
            continue
        failed += 1
        kept = result.get("kept")
        keeping = f"; keeping the cached list of {kept}" if kept else ""
        out.write(f"{pid}: failed: {result.get('error')}{keeping}\n")
    return 1 if failed else 0


def set_model(loc: Locations, out: TextIO, tier: str, target: str, config_path: str | None) -> int:
    if tier not in TIER_KEYS:
        raise CommandError(f"unknown tier {tier!r}; one of opus, sonnet, haiku, default", code=2)
    settings = daemon.load_settings(loc, config_path)
    try:
        settings.routing.parse_target(target)
    except ValueError as exc:
        raise CommandError(str(exc), code=2) from exc
    path = (
        loc.cwd / Path(config_path).expanduser()
        if config_path
        else paths.user_config_file(loc.env, loc.home)
    )
    original = path.read_text(encoding="utf-8") if path.exists() else None
    document = tomlkit.parse(original or "")
    tiers = document.get("tiers")
    if tiers is None:
        tiers = tomlkit.table()
        document["tiers"] = tiers
    tiers[tier] = target
    _write(path, tomlkit.dumps(document))
    try:
        after = daemon.load_settings(loc, config_path)
    except CommandError:
        if original is None:
            path.unlink()
        else:
            _write(path, original)
        raise
    out.write(f"{path}: tiers.{tier} = {target!r}\n")
    winner = after.origins.get(f"tiers.{tier}")
    if winner is not None and Path(winner) != path:
        out.write(f"note: {winner} also sets tiers.{tier}, and it is read later, so it wins\n")
    if daemon.locate(loc, io.StringIO()) is None:
        out.write("no proxy is running; the change applies when it starts\n")
        return 0
    return daemon.reload_proxy(loc, out)


def _write(path: Path, text: str) -> None:
    """Atomically, keeping the file's mode (a config holding a key stays 0600)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    write_atomic(path, text.encode(), mode=mode)
