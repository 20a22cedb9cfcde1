"""``config init``: "another OpenAI- or Anthropic-compatible endpoint", beyond the catalogue.

The questions are the ones a provider entry needs (docs/configuration.md, custom providers): an
id, the base URL, the dialect, where the key is. The models are then asked of the endpoint
itself (``GET /models``, with a timeout); when it does not answer, the person names them.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping

from anthroxy.routing.catalog import CATALOG

from ...config.schema import PROVIDER_ID
from .prompts import Prompter, ProviderChoice

MODELS_TIMEOUT = 5.0  # seconds: a local server answers at once, a wrong URL must not hang us
MAX_MODELS = 100  # written into the file; an aggregator's thousands would bury it
DIALECTS = {
    "chat": "chat",
    "openai": "chat",
    "responses": "responses",
    "anthropic": "anthropic",
}
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# The models endpoint of each dialect, below its base URL: OpenAI's is GET {base}/models
# (https://platform.openai.com/docs/api-reference/models/list); Anthropic's base URL stops
# before /v1 (https://docs.anthropic.com/en/api/models-list).
MODELS_PATH = {"chat": "/models", "responses": "/models", "anthropic": "/v1/models"}
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ask_endpoint(p: Prompter, env: Mapping[str, str], taken: Collection[str]) -> ProviderChoice:
    p.say("Another OpenAI- or Anthropic-compatible endpoint:")
    pid = p.ask_until("  Name for it (letters, digits, - and _)", "custom", lambda a: _id(a, taken))
    base_url = p.ask_until("  Base URL", None, _url)
    api = p.choose(
        "  Dialect: chat (OpenAI Chat Completions), responses (OpenAI Responses) "
        "or anthropic (Anthropic Messages)",
        DIALECTS,
        "chat",
    )
    variable = f"{pid.upper().replace('-', '_')}_API_KEY"
    answer = p.ask_until(
        "  Its API key: the variable holding it, the key itself, or none", variable, _key
    )
    key_env = answer if _ENV_NAME.match(answer) else None
    key = None if key_env or answer == "none" else answer
    found = fetch_models(base_url, api, key or (env.get(key_env, "") if key_env else ""))
    if isinstance(found, list) and found:
        shown = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "")
        p.say(f"  it lists {len(found)} model(s): {shown}")
        models = tuple(found[:MAX_MODELS])
    else:
        p.say(f"  could not list its models ({found or 'none listed'}); name them yourself")
        models = p.ask_until("  Model names (comma-separated)", None, _models)
    return ProviderChoice(
        pid,
        key_env=key_env,
        key=key,
        api=api,
        base_url=base_url,
        auth="none" if answer == "none" else None,
        models=models,
    )


def fetch_models(
    base_url: str, api: str, key: str, timeout: float | None = None
) -> list[str] | str:
    """The model ids the endpoint lists, or why it could not be asked (one short phrase)."""
    request = urllib.request.Request(base_url + MODELS_PATH.get(api, "/models"))
    if key and api == "anthropic":
        request.add_header("x-api-key", key)
        request.add_header("anthropic-version", "2023-06-01")
    elif key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with _DIRECT.open(request, timeout=timeout or MODELS_TIMEOUT) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"it answered HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return f"no answer from {request.full_url}: {reason}"
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return "its answer holds no model list"
    return [str(m["id"]) for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _id(answer: str, taken: Collection[str]) -> str:
    if not PROVIDER_ID.match(answer):
        raise ValueError("use letters, digits, '-' and '_' only, starting with a letter or digit")
    if answer in CATALOG:
        raise ValueError(f"{answer!r} is a catalogue provider; pick another name")
    if answer in taken:
        raise ValueError(f"{answer!r} is already chosen")
    return answer


def _url(answer: str) -> str:
    if not answer.startswith(("http://", "https://")) or len(answer) < 10:
        raise ValueError("a base URL starts with http:// or https://")
    return answer.rstrip("/")


def _key(answer: str) -> str:
    if not answer or any(c.isspace() or c in "'\"\\" for c in answer):
        raise ValueError("a key or a variable name holds no spaces or quotes")
    return answer


def _models(answer: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(filter(None, (w.strip() for w in re.split(r"[,\s]+", answer)))))
    if not names:
        raise ValueError("name at least one model")
    return names
