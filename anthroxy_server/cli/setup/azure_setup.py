"""``anthroxy config init`` for the ``azure`` provider: only what the environment does not say.

The resource (``AZURE_BASE_URL`` or ``AZURE_RESOURCE_NAME``) and a key (``AZURE_API_KEY``,
``AZURE_OPENAI_API_KEY``) are asked for only when they are not exported; an empty key answer
means Microsoft Entra ID (docs/providers/azure.md). The deployments are asked for, because on
Azure the model is a deployment's name, which no catalogue can know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from anthroxy.routing.catalog import CATALOG, find_key

from .prompts import Prompter, ProviderChoice

PROVIDER_ID = "azure"
_RESOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{1,62}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def resource_url(answer: str) -> str:
    """A resource name or a whole ``/openai/v1`` URL -> the base URL."""
    if answer.startswith(("https://", "http://")):
        url = answer.rstrip("/")
        if not url.endswith("/openai/v1"):
            raise ValueError("the URL of the v1 API ends with /openai/v1")
        return url
    if not _RESOURCE.match(answer):
        raise ValueError("a resource name holds letters, digits and '-' (or give the whole URL)")
    return f"https://{answer}.openai.azure.com/openai/v1"


def _deployments(answer: str) -> tuple[str, ...]:
    names = tuple(n for n in (w.strip() for w in answer.split(",")) if n)
    if not names or any(c.isspace() or c in "'\"\\/" for n in names for c in n):
        raise ValueError("name one or more deployments, separated by commas")
    return names


def _key_answer(answer: str) -> str:
    if any(c.isspace() or c in "'\"\\" for c in answer):
        raise ValueError("a key or a variable name holds no spaces or quotes")
    return answer


def ask(p: Prompter, env: Mapping[str, str]) -> ProviderChoice:
    preset = CATALOG[PROVIDER_ID]
    base_url = None
    if not any(env.get(name, "").strip() for name in (preset.base_url_env, *preset.url_vars)):
        question = "Azure: the resource's name (<name>.openai.azure.com) or its /openai/v1 URL"
        base_url = p.ask_until(question, None, resource_url)
    question = "Azure: the deployments to use (their names, comma-separated)"
    models = p.ask_until(question, ",".join(preset.models[:1]), _deployments)
    if find_key(preset, env):
        p.say("  key found in the environment: it goes in the api-key header")
        return ProviderChoice(PROVIDER_ID, base_url=base_url, models=models)
    question = (
        "Azure: paste its API key or the name of the variable holding it; "
        "empty: sign in with Microsoft Entra ID"
    )
    answer = p.ask_until(question, None, _key_answer)
    if answer and _ENV_NAME.match(answer):
        if not env.get(answer):
            p.say(f"  note: {answer} is not set now; export it before `anthroxy start`")
        return ProviderChoice(PROVIDER_ID, key_env=answer, base_url=base_url, models=models)
    if answer:
        return ProviderChoice(PROVIDER_ID, key=answer, base_url=base_url, models=models)
    # Here, not at the top: the provider module brings aiohttp, which the CLI otherwise skips.
    from ...providers.azure import INSTALL_HINT, identity_installed

    p.say("  Microsoft Entra ID: `az login`, a service principal or a managed identity; the")
    p.say("  identity needs the 'Cognitive Services OpenAI User' role on the resource")
    if not identity_installed():
        p.say(f"  note: this needs azure-identity: {INSTALL_HINT}")
    return ProviderChoice(PROVIDER_ID, base_url=base_url, models=models)
