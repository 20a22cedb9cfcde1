"""Environment variables of the proxies anthroxy replaces, read as an overlay on the TOML table.

Users arriving from claude-code-proxy (and its forks) keep their ``.env``; ``load_settings`` calls
``apply_env_overlay`` on the merged file table (user file + managed file) before structuring, so
the variables below win over the files and the command line wins over them. docs/migrating.md
documents each one with an example.

* ``BIG_MODEL``/``MIDDLE_MODEL``/``SMALL_MODEL`` (a model, bare or ``provider/model``) and the
  split form ``<T>_MODEL_PROVIDER``, ``<T>_MODEL_NAME``, ``<T>_MODEL_API_KEY``,
  ``<T>_MODEL_API_BASE``. BIG feeds ``tiers.opus`` and ``tiers.sonnet``, MIDDLE ``tiers.sonnet``,
  SMALL ``tiers.haiku``. A tier that no variable names keeps the file's value; when the file has
  none either, it goes to the biggest model the variables name (BIG, else MIDDLE, else SMALL).
  A bare model goes to ``PREFERRED_PROVIDER`` (default ``openai``, as in those tools).
* ``MODEL_MAP`` (request name -> upstream model), ``MODEL_ROUTES`` (model -> provider),
  ``MODEL_ALIASES`` (upstream model -> name reported back), each JSON or ``a=b,c=d``: they become
  ``[aliases]``; ``MODEL_ALIASES`` also fills ``routing.response_names``, so replies carry the
  name when ``REWRITE_RESPONSES`` (-> ``routing.rewrite_response_model``) is false.
* ``MODEL_ROUTES`` accepts claude-model-proxy's provider names (``moonshot`` -> kimi, ``xiaomi``
  -> mimo); a name whose provider has no key is left out instead of failing the whole start.
* ``QWEN_BASE_URL`` on DashScope's ``/compatible-mode/`` path switches ``qwen`` to Chat
  Completions (claude-model-proxy's meaning); ``env_server.py`` holds ``PORT``, ``BASE_URL``
  and the logging variables. Other tools' base-URL names (``MOONSHOT_BASE_URL``,
  ``OPENAI_API_BASE``, ...) and the ``.env`` files are resolved before, in ``environment.py``.

Secrets: a key given as ``BIG_MODEL_API_KEY`` never enters the table; the provider gets
``api_key_env = "BIG_MODEL_API_KEY"`` and the key is read from the environment like any other,
so ``config show`` prints it masked with the source ``env:BIG_MODEL_API_KEY``.

Every value is merged as its own layer labelled ``env:<VARIABLE>`` (``./.env:<VARIABLE>`` and
so on for a variable read from a file), so ``Settings.origins`` tells which variable set which
key. Bad values become problem lines naming the variable.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from anthroxy.profile import DEFAULT_PROFILE
from anthroxy.routing import catalog

from .env_server import FALSE, TRUE, server_values
from .environment import base_url_layers, base_url_origins, label_of
from .files import merge_into
from .schema import TIER_PREFERENCE

__all__ = ["apply_env_overlay", "env_layers", "parse_pairs"]

Layer = tuple[str, dict[str, Any]]  # (origin label, TOML-shaped table to merge)

# LiteLLM / claude-code-proxy provider names that differ from catalogue ids.
PROVIDER_NAMES: Mapping[str, str] = {
    "google": "gemini",
    "moonshot": "kimi",
    "moonshotai": "kimi",
    "zai": "glm",
    "zhipu": "glm",
    "zhipuai": "glm",
    "dashscope": "qwen",
    "xiaomi": "mimo",  # claude-model-proxy's MODEL_ROUTES name
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "ollama_chat": "ollama",
    "vertex_ai": "vertex",  # LiteLLM's prefix; Gemini models go on to vertex-gemini (below)
}
# LiteLLM prefixes of backends anthroxy cannot call yet: reported instead of sent to the default.
UNSUPPORTED: Mapping[str, str] = {
    "bedrock": "AWS Bedrock",
    "sagemaker": "AWS SageMaker",
}
_INSTEAD: Mapping[str, str] = {
    "AWS Bedrock": "anthropic with ANTHROPIC_API_KEY serves the same Claude models",
    "AWS SageMaker": "an OpenAI-compatible endpoint in {size}_MODEL_API_BASE",
}
# (variable prefix, tiers it feeds), in the order later ones override earlier ones.
SIZES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("BIG", ("opus", "sonnet")),
    ("MIDDLE", ("sonnet",)),
    ("SMALL", ("haiku",)),
)
ALL_TIERS = ("opus", "sonnet", "haiku", "default")
DISCOVERED_SOURCE = "environment (providers with a key)"


def apply_env_overlay(
    merged: dict[str, Any], env: Mapping[str, str], origins: dict[str, str], problems: list[str]
) -> None:
    """Merge every overlay layer into ``merged`` (the loader's own dict), recording origins
    (``env:<VARIABLE>``, or the file a variable came from: ``environment.label_of``)."""
    for source, layer in env_layers(merged, env, problems):
        merge_into(merged, layer, source, origins)
    for source, layer in base_url_layers(merged, env):
        merge_into(merged, layer, source, origins)
    base_url_origins(env, origins)


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def provider_id(name: str) -> str:
    lowered = name.strip().lower()
    return PROVIDER_NAMES.get(lowered, lowered)


def parse_pairs(var: str, value: str, problems: list[str]) -> dict[str, str]:
    """``{"a": "b"}`` or ``a=b,c=d`` -> dict; each bad item is a problem naming ``var``."""
    text = value.strip()
    if not text:
        return {}
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{var}: not valid JSON ({exc.msg} at column {exc.colno})")
            return {}
        if not isinstance(data, dict):
            problems.append(f'{var}: expected a JSON object like {{"name": "model"}}')
            return {}
        pairs = {}
        for key, item in data.items():
            if not isinstance(item, str) or not item.strip() or not key.strip():
                problems.append(f"{var}: {key!r} must map to a non-empty string")
                continue
            pairs[key.strip()] = item.strip()
        return pairs
    pairs = {}
    for raw in text.split(","):
        if not raw.strip():  # a trailing comma is harmless
            continue
        name, eq, target = (part.strip() for part in raw.partition("="))
        if not eq or not name or not target:
            problems.append(f"{var}: {raw.strip()!r} is not name=value (use JSON or a=b,c=d)")
        elif name in pairs:
            problems.append(f"{var}: {name!r} is given twice")
        else:
            pairs[name] = target
    return pairs


class _Overlay:
    """One pass over the environment; collects layers and problems."""

    def __init__(self, merged: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.env = env
        file_providers = merged.get("providers")
        self.file_providers: Mapping[str, Any] = (
            file_providers if isinstance(file_providers, Mapping) else {}
        )
        file_tiers = merged.get("tiers")
        self.file_tiers: Mapping[str, Any] = file_tiers if isinstance(file_tiers, Mapping) else {}
        self.layers: list[Layer] = []
        self.problems: list[str] = []
        self.needed: dict[str, str] = {}  # provider id -> the variable that needs it
        self.entries: set[str] = set()  # provider ids the overlay configures
        self.claimed: dict[str, tuple[str | None, str | None]] = {}  # id -> (key var, base)

    def known(self, pid: str) -> bool:
        return pid in catalog.CATALOG or pid in self.file_providers or pid in self.entries

    def add(self, var: str, path: tuple[str, ...], value: object) -> None:
        """One layer setting ``path`` to ``value``, labelled with where ``var`` came from."""
        table: dict[str, Any] = {path[-1]: value}
        for part in reversed(path[:-1]):
            table = {part: table}
        self.layers.append((label_of(self.env, var), table))

    # -- BIG / MIDDLE / SMALL -------------------------------------------------------------------

    def sizes(self) -> None:
        targets: dict[str, tuple[str, str]] = {}  # size -> (target, source variable)
        for size, _tiers in SIZES:
            found = self.size_target(size)
            if found is not None:
                targets[size] = found
        set_by_env: dict[str, tuple[str, str]] = {}
        for size, tiers in SIZES:
            if size in targets:
                set_by_env.update(dict.fromkeys(tiers, targets[size]))
        if not targets:
            return
        biggest = next(targets[s] for s, _ in SIZES if s in targets)
        for tier in ALL_TIERS:
            target, source = set_by_env.get(tier) or (
                (None, "") if tier in self.file_tiers else biggest
            )
            if target is not None:
                self.add(source, ("tiers", tier), target)

    def size_target(self, size: str) -> tuple[str, str] | None:
        """``(provider/model, variable)`` for one size, or None when no variable names it."""
        name_var, short_var = f"{size}_MODEL_NAME", f"{size}_MODEL"
        name, short = _get(self.env, name_var), _get(self.env, short_var)
        if name and short and name != short:
            self.problems.append(f"{name_var} and {short_var} disagree ({name!r}, {short!r})")
            return None
        model, source = (name, name_var) if name else (short, short_var)
        provider_var = f"{size}_MODEL_PROVIDER"
        provider = provider_id(_get(self.env, provider_var))
        if not model:
            if provider:
                self.problems.append(f"{provider_var}: set {name_var} too (the model to use)")
            return None
        where = provider_var if provider else source
        if not provider:
            provider, model = self.split(model)
        backend = next((b for b in (provider, model.partition("/")[0]) if b in UNSUPPORTED), None)
        if backend is not None:
            name = UNSUPPORTED[backend]
            instead = _INSTEAD[name].format(size=size)
            self.problems.append(
                f"{where}: {backend!r} ({name}) is not supported by anthroxy yet; choose "
                f"another provider for the {size.lower()} model ({instead})"
            )
            return None
        provider = vertex_preset(provider, model)
        pid = self.size_provider(size, provider, where)
        if pid is None:
            return None
        return f"{pid}/{model}", source

    def split(self, model: str) -> tuple[str, str]:
        """``provider/model`` or ``model@provider`` for a known provider, else the preferred one."""
        head, slash, rest = model.partition("/")
        if slash and rest and self.known(provider_id(head)):
            return provider_id(head), rest
        rest, at, tail = model.rpartition("@")
        if at and rest and self.known(provider_id(tail)):
            return provider_id(tail), rest
        return provider_id(_get(self.env, "PREFERRED_PROVIDER") or "openai"), model

    def size_provider(self, size: str, provider: str, source: str) -> str | None:
        key_var = f"{size}_MODEL_API_KEY" if _get(self.env, f"{size}_MODEL_API_KEY") else None
        base = _get(self.env, f"{size}_MODEL_API_BASE") or None
        preset = catalog.CATALOG.get(provider)
        if preset is None and provider not in self.file_providers and base is None:
            self.problems.append(
                f"{source}: provider {provider!r} is not in the catalogue; set "
                f"{size}_MODEL_API_BASE to its OpenAI-compatible URL (or use a catalogue id "
                "such as openai, gemini, openrouter, deepseek, groq)"
            )
            return None
        if key_var is None and base is None:
            self.needed.setdefault(provider, source)
            return provider
        pid = provider
        if self.claimed.get(provider, (key_var, base)) != (key_var, base):
            pid = f"{provider}-{size.lower()}"  # same provider, other key or URL: a second entry
        self.claimed[pid] = (key_var, base)
        self.entries.add(pid)
        self.provider_entry(size, pid, provider, key_var, base)
        return pid

    def provider_entry(
        self, size: str, pid: str, provider: str, key_var: str | None, base: str | None
    ) -> None:
        preset = catalog.CATALOG.get(provider)
        src = f"{size}_MODEL_PROVIDER"
        if key_var:
            self.add(key_var, ("providers", pid, "api_key_env"), key_var)
        if base:
            self.add(f"{size}_MODEL_API_BASE", ("providers", pid, "base_url"), base)
        if pid == provider and (preset is not None or provider in self.file_providers):
            return  # the catalogue (or the file) knows the rest
        if preset is None:
            # A non-catalogue endpoint in these tools is OpenAI-compatible (LiteLLM "openai/").
            self.add(src, ("providers", pid, "api"), "chat")
            if key_var is None:
                self.add(src, ("providers", pid, "auth"), "none")
            return
        # A second entry for a catalogue provider: copy what the id alone would have supplied.
        self.add(src, ("providers", pid, "api"), preset.api)
        self.add(src, ("providers", pid, "auth"), preset.auth)
        if base is None:
            try:
                url = catalog.base_url_for(preset, self.env)
            except ValueError as exc:
                self.problems.append(f"{size}_MODEL_API_BASE: {exc}")
                return
            self.add(src, ("providers", pid, "base_url"), url)
        if key_var is None and preset.key_env:
            self.add(src, ("providers", pid, "api_key_env"), preset.key_env[0])
        profile = _profile_overrides(preset.profile)
        if profile:
            self.add(src, ("providers", pid, "profile"), profile)
        if preset.api == "anthropic":  # its request rules and thinking signatures, too
            self.add(src, ("providers", pid, "cleaner"), preset.id)

    # -- MODEL_MAP / MODEL_ROUTES / MODEL_ALIASES / REWRITE_RESPONSES ----------------------------

    def models(self) -> None:
        mapping = parse_pairs("MODEL_MAP", self.env.get("MODEL_MAP", ""), self.problems)
        routes = parse_pairs("MODEL_ROUTES", self.env.get("MODEL_ROUTES", ""), self.problems)
        names = parse_pairs("MODEL_ALIASES", self.env.get("MODEL_ALIASES", ""), self.problems)
        routes = {model: provider_id(p) for model, p in routes.items()}
        for model, pid in routes.items():
            if not self.known(pid):
                self.problems.append(
                    f"MODEL_ROUTES: {model!r} routes to provider {pid!r}, which is neither "
                    "configured nor in the catalogue"
                )
        requests: dict[str, tuple[str, str]] = {}  # request name -> (upstream model, variable)
        for name in routes:
            requests[name] = (name, "MODEL_ROUTES")
        for upstream, name in names.items():
            requests[name] = (upstream, "MODEL_ALIASES")
        for name, upstream in mapping.items():
            requests[name] = (upstream, "MODEL_MAP")
        for name, (upstream, var) in requests.items():
            target = self.model_target(var, name, upstream, routes.get(name, routes.get(upstream)))
            if target is None:
                continue
            self.add(var, ("aliases", name), target)
            if var == "MODEL_ALIASES":
                # Keyed by the model as the route names it (a target splits at its first "/"),
                # so replies carry the name even with rewrite_response_model = false.
                model = target.partition("/")[2]
                self.add(var, ("routing", "response_names", model), name)
        rewrite = _get(self.env, "REWRITE_RESPONSES").lower()
        if rewrite in TRUE or rewrite in FALSE:
            value = rewrite in TRUE
            self.add("REWRITE_RESPONSES", ("routing", "rewrite_response_model"), value)
        elif rewrite:
            self.problems.append(f"REWRITE_RESPONSES: expected true or false, got {rewrite!r}")

    def model_target(self, var: str, name: str, upstream: str, pid: str | None) -> str | None:
        """``provider/model`` for one request name, or None (reported, or left out because the
        provider has no key: claude-model-proxy's default tables name eight providers, and a
        user with two keys must still get a proxy; such a name follows the ordinary routing
        rules, see docs/migrating.md)."""
        found = self.find_target(var, name, upstream, pid)
        if found is None or not self.usable(found[0]):
            return None
        self.needed.setdefault(found[0], var)
        return f"{found[0]}/{found[1]}"

    def find_target(
        self, var: str, name: str, upstream: str, pid: str | None
    ) -> tuple[str, str] | None:
        if pid is not None:
            # An unknown provider was already reported under MODEL_ROUTES.
            return (pid, upstream) if self.known(pid) else None
        head, slash, rest = upstream.partition("/")
        if slash and rest and self.known(provider_id(head)):
            return provider_id(head), rest
        owner = self.owner(upstream)
        if owner is None:
            self.problems.append(
                f"{var}: no provider is known for model {upstream!r} (asked for as {name!r}); "
                f"add it to MODEL_ROUTES ({upstream}=provider) or write provider/model"
            )
            return None
        return owner, upstream

    def usable(self, pid: str) -> bool:
        """Configured (file or overlay), or a catalogue provider with its key (or needing none)."""
        if pid in self.file_providers or pid in self.entries:
            return True
        preset = catalog.CATALOG.get(pid)
        return preset is not None and (
            not preset.needs_key or bool(catalog.find_key(preset, self.env))
        )

    def qwen_dialect(self) -> None:
        """claude-model-proxy's ``QWEN_BASE_URL`` is DashScope's OpenAI-compatible endpoint
        (``.../compatible-mode/v1``); the catalogue's ``qwen`` is DashScope's Anthropic one, and
        ``QWEN_BASE_URL`` only replaces its URL. A compatible-mode URL therefore switches qwen to
        Chat Completions with a bearer key; any other URL (``.../apps/anthropic``) keeps the
        catalogue's dialect. A ``[providers.qwen]`` table that sets ``api`` or ``base_url`` decides
        for itself."""
        url = _get(self.env, "QWEN_BASE_URL")
        if not url or "/compatible-mode/" not in urlsplit(url).path + "/":
            return
        table = self.file_providers.get("qwen")
        if isinstance(table, Mapping) and ("api" in table or "base_url" in table):
            return
        if not self.usable("qwen"):
            return  # no key: discovery leaves qwen out, and so does the overlay
        self.entries.add("qwen")
        self.add("QWEN_BASE_URL", ("providers", "qwen", "api"), "chat")
        self.add("QWEN_BASE_URL", ("providers", "qwen", "auth"), "bearer")

    def owner(self, model: str) -> str | None:
        """The provider that lists ``model``: the file's first, then the catalogue's (one with a
        key in the environment preferred)."""
        for pid, table in self.file_providers.items():
            if isinstance(table, Mapping) and model in (table.get("models") or ()):
                return str(pid)
        listing = [p for p in catalog.CATALOG.values() if model in p.models]
        with_key = [p for p in listing if catalog.find_key(p, self.env)]
        chosen = with_key or listing
        return chosen[0].id if chosen else None

    # -- providers the layers refer to -----------------------------------------------------------

    def providers(self) -> list[Layer]:
        """Entries every referenced provider needs, placed BEFORE the other layers.

        Without a ``[providers]`` table, anthroxy offers every catalogue provider with a key.
        Any table the overlay writes switches that off, so it first lists those same providers.
        """
        layers: list[Layer] = []
        present = {*self.file_providers, *self.entries}
        if not self.file_providers:
            discovered = _discovered(self.env)
            missing = [p for p in self.needed if p not in discovered and p not in self.entries]
            if not self.entries and not missing:
                return layers  # discovery still offers every provider the layers name
            layers.append((DISCOVERED_SOURCE, {"providers": {p: {} for p in discovered}}))
            present.update(discovered)
        for pid, var in self.needed.items():
            if pid not in present:
                layers.append((label_of(self.env, var), {"providers": {pid: {}}}))
                present.add(pid)
        return layers


def vertex_preset(provider: str, model: str) -> str:
    """LiteLLM's one Vertex provider is two in anthroxy: Claude speaks the Anthropic dialect
    (``vertex``), everything else the OpenAI-compatible endpoint (``vertex-gemini``)."""
    if provider == "vertex" and not model.startswith("claude"):
        return "vertex-gemini"
    return provider


def _profile_overrides(profile: object) -> dict[str, Any]:
    """A preset's profile as TOML data: only the fields that differ from the default."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(DEFAULT_PROFILE):
        value = getattr(profile, f.name)
        if value != getattr(DEFAULT_PROFILE, f.name):
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _discovered(env: Mapping[str, str]) -> list[str]:
    """Catalogue providers discovery would offer, in the order ``default_tiers`` ranks them."""

    ids = [p.id for p in catalog.available_presets(env)]
    ranked = [*TIER_PREFERENCE, *(p for p in ids if p not in TIER_PREFERENCE and p != "anthropic")]
    ranked.append("anthropic")
    return sorted(ids, key=ranked.index)


def env_layers(
    merged: Mapping[str, Any], env: Mapping[str, str], problems: list[str]
) -> list[Layer]:
    """The overlay as ordered ``(origin, table)`` layers; problems are appended to ``problems``."""
    overlay = _Overlay(merged, env)
    overlay.sizes()
    overlay.models()
    overlay.qwen_dialect()
    server_values(env, overlay.add, overlay.problems)
    problems.extend(overlay.problems)
    return [*overlay.providers(), *overlay.layers]
