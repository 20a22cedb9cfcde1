"""Built-in provider presets: base URL, dialect, key variables and quirks of each known provider.

Pure data plus three lookups over an environment MAPPING the caller passes in (the server passes
``os.environ``; tests pass dicts) — nothing here reads the process environment or the network.

Conventions (docs/providers.md is the human-readable table of the same data):

* ``base_url`` for ``api="anthropic"`` stops before ``/v1/messages``; for ``api="chat"`` it stops
  before ``/chat/completions``.
* ``{NAME}`` inside a ``base_url`` is filled from the environment variable ``NAME`` (Cloudflare's
  account id, Azure's resource name). ``<ID>_BASE_URL`` (``DEEPSEEK_BASE_URL``) replaces the
  whole URL.
* Third-party Anthropic-compatible endpoints get ``drop_betas=("*",)``: Claude Code sends new
  ``anthropic-beta`` values first and an endpoint that does not know one answers 400
  (docs/protocol/anthropic.md §2.1); none of these endpoints documents the betas it accepts, so the
  header is
  dropped for them. Anthropic itself keeps it.
* Each of them also has a ``cleaner`` (``anthroxy.cleaning.presets``): what anthroxy changes in
  the body before that endpoint sees it, rule by rule with its source, and whose thinking
  signatures it verifies. Anthropic's is empty: its requests pass through untouched.
* ``api="responses"`` base URLs stop before ``/responses``. OpenAI's Responses API with a key is
  the ``openai`` preset with ``api = "responses"`` in the config (same URL, same key), not a
  preset of its own: discovery would otherwise enable both for one ``OPENAI_API_KEY``.
* ``chatgpt`` (a ChatGPT Plus/Pro subscription through the Codex CLI's login) has no key: it
  authenticates with ``auth="codex"`` and is never enabled by discovery, only by naming it
  under ``[providers]`` (docs/providers/chatgpt.md).
* A region or plan with an endpoint of its own is a *variant* (``glm-cn``, ``minimax-cn``,
  ``kimi-cn``, ...): ``variant_of`` names the base preset, whose key variables, cleaner and
  profile it shares. Discovery enables a variant only through a key variable of its own
  (``GLM_CN_API_KEY``), never through a shared one: the key a user exported for one region
  must not also enable the other (a key of one region is refused by the other).
* ``verified``/``source``: the day the base URL and dialect were checked against the page
  ``source`` of the provider's own documentation; empty when no such page was at hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from ..cleaning import NO_RULES, Cleaner
from ..cleaning import presets as cleaners
from ..profile import DEFAULT_PROFILE, Dialect, ProviderProfile
from .accounts import BEDROCK, BEDROCK_OPENAI, CHATGPT, COPILOT, VERTEX, VERTEX_GEMINI, VERTEX_URL
from .preset import (
    ANTHROPIC_COMPAT,
    CHECKED_ON,
    GEMINI,
    MISTRAL,
    OPENAI,
    OPENROUTER,
    PLACEHOLDER,
    AuthStyle,
    ProviderPreset,
)

__all__ = [
    "CATALOG",
    "VERTEX_URL",
    "AuthStyle",
    "ProviderPreset",
    "available_presets",
    "base_url_for",
    "find_key",
]

# A value substituted into a URL's host or path must not be able to change the URL's shape.
_SAFE_URL_PART = re.compile(r"^[A-Za-z0-9._-]+$")


def _p(
    id: str,
    name: str,
    api: Dialect,
    base_url: str,
    key_env: tuple[str, ...],
    models: tuple[str, ...],
    *,
    auth: AuthStyle = "bearer",
    profile: ProviderProfile = DEFAULT_PROFILE,
    local: bool = False,
    auto_enable: bool = True,
    cleaner: Cleaner = NO_RULES,
    checked: str = "",
) -> ProviderPreset:
    """A preset whose default model is its first listed model; local ones need no key.

    ``checked`` is the provider's own page that showed ``base_url`` on ``CHECKED_ON``.
    """
    return ProviderPreset(
        id=id,
        name=name,
        api=api,
        base_url=base_url,
        key_env=key_env,
        auth=auth,
        needs_key=not local,
        profile=profile,
        models=models,
        default_model=models[0] if models else None,
        auto_enable=auto_enable,
        local=local,
        cleaner=cleaner,
        verified=CHECKED_ON if checked else "",
        source=checked,
    )


def _variant(
    base: ProviderPreset, id: str, name: str, base_url: str, *, checked: str = ""
) -> ProviderPreset:
    """``base`` at another region's or plan's endpoint: same dialect, models, cleaner and
    profile; its own ``<ID>_API_KEY`` first (the one discovery looks at), then the base's."""
    own_key = f"{id.upper().replace('-', '_')}_API_KEY"
    return replace(
        base,
        id=id,
        name=name,
        base_url=base_url,
        key_env=(own_key, *base.key_env),
        variant_of=base.id,
        verified=CHECKED_ON if checked else "",
        source=checked,
    )


# Presets with a second region or plan (their variants follow them in _PRESETS).
# fmt: off
_GLM = _p(
    "glm", "Z.AI (GLM)", "anthropic", "https://api.z.ai/api/anthropic",
    ("ZAI_API_KEY", "ZHIPU_API_KEY", "GLM_API_KEY"),
    ("glm-4.6", "glm-4.5-air", "glm-5", "glm-4.7", "glm-5.1"),
    profile=ANTHROPIC_COMPAT, cleaner=cleaners.GLM)
_KIMI = _p(
    "kimi", "Kimi (Moonshot)", "anthropic", "https://api.moonshot.ai/anthropic",
    ("MOONSHOT_API_KEY", "KIMI_API_KEY"),
    ("kimi-k2.6", "kimi-k2-thinking", "kimi-k2-turbo-preview"), profile=ANTHROPIC_COMPAT,
    cleaner=cleaners.KIMI)
_MINIMAX = _p(
    "minimax", "MiniMax", "anthropic", "https://api.minimax.io/anthropic", ("MINIMAX_API_KEY",),
    ("MiniMax-M2.7", "MiniMax-M2.5", "MiniMax-M2"), profile=ANTHROPIC_COMPAT,
    cleaner=cleaners.MINIMAX,
    checked="https://platform.minimax.io/docs/api-reference/text-anthropic-api")
_QWEN = _p(
    "qwen", "Qwen (Alibaba DashScope)", "anthropic",
    "https://dashscope-intl.aliyuncs.com/apps/anthropic", ("DASHSCOPE_API_KEY", "QWEN_API_KEY"),
    ("qwen3.5-plus", "qwen3-max", "qwen3-coder-plus", "qwen-flash", "qwen-plus", "qwen-max"),
    auth="x-api-key", profile=ANTHROPIC_COMPAT, cleaner=cleaners.QWEN,
    checked="https://www.alibabacloud.com/help/en/model-studio/base-url")
_ALIBABA_CODING = _p(
    "alibaba-coding", "Alibaba Coding Plan", "chat", "https://coding-intl.dashscope.aliyuncs.com/v1",
    ("ALIBABA_CODING_API_KEY", "MODELSTUDIO_API_KEY"),
    ("qwen3.5-plus", "qwen3-coder-plus", "qwen3-max"))
_SILICONFLOW = _p(
    "siliconflow", "SiliconFlow", "chat", "https://api.siliconflow.com/v1",
    ("SILICONFLOW_API_KEY",),
    ("deepseek-ai/DeepSeek-V3.1", "Qwen/Qwen3-Coder-480B-A35B-Instruct",
     "moonshotai/Kimi-K2-Instruct-0905", "zai-org/GLM-4.6"),
    checked="https://www.siliconflow.com/blog/openai-sdk-siliconflow-compatibility-checks")
_STEPFUN = _p(
    "stepfun", "StepFun", "chat", "https://api.stepfun.ai/v1", ("STEPFUN_API_KEY", "STEP_API_KEY"),
    ("step-3", "step-2-16k"),
    checked="https://platform.stepfun.ai/docs/en/overview/quickstart")
# fmt: on

_PRESETS: tuple[ProviderPreset, ...] = (
    # --- Anthropic Messages API natively: requests pass through -----------------------------
    _p("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",),
       ("claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5", "claude-opus-4-7"),
       auth="x-api-key"),
    _p("deepseek", "DeepSeek", "anthropic", "https://api.deepseek.com/anthropic",
       ("DEEPSEEK_API_KEY",), ("deepseek-v4-pro", "deepseek-v4-flash"),
       profile=ANTHROPIC_COMPAT, cleaner=cleaners.DEEPSEEK),
    _GLM,
    _variant(_GLM, "glm-cn", "Zhipu BigModel (GLM, mainland China)",
             "https://open.bigmodel.cn/api/anthropic",
             checked="https://docs.bigmodel.cn/cn/guide/develop/claude/introduction"),
    _KIMI,
    _variant(_KIMI, "kimi-cn", "Kimi (Moonshot, mainland China)",
             "https://api.moonshot.cn/anthropic"),
    _MINIMAX,
    _variant(_MINIMAX, "minimax-cn", "MiniMax (mainland China)",
             "https://api.minimaxi.com/anthropic",
             checked="https://platform.minimaxi.com/docs/api-reference/text-anthropic-api"),
    _QWEN,
    _variant(_QWEN, "qwen-cn", "Qwen (Alibaba DashScope, Beijing)",
             "https://dashscope.aliyuncs.com/apps/anthropic",
             checked="https://www.alibabacloud.com/help/en/model-studio/base-url"),
    _p("mimo", "Xiaomi MiMo", "anthropic", "https://api.xiaomimimo.com/anthropic",
       ("MIMO_API_KEY", "XIAOMI_API_KEY"),
       ("mimo-v2.5-pro", "mimo-v2-flash", "mimo-v2-pro", "mimo-v2-omni"),
       profile=ANTHROPIC_COMPAT, cleaner=cleaners.MIMO),
    # --- OpenAI Chat Completions: requests are translated ------------------------------------
    _p("ai21", "AI21", "chat", "https://api.ai21.com/studio/v1", ("AI21_API_KEY",),
       ("jamba-large", "jamba-mini")),
    _ALIBABA_CODING,
    _variant(_ALIBABA_CODING, "alibaba-coding-cn", "Alibaba Coding Plan (mainland China)",
             "https://coding.dashscope.aliyuncs.com/v1",
             checked="https://help.aliyun.com/zh/model-studio/other-tools-coding-plan"),
    _p("arcee", "Arcee", "chat", "https://api.arcee.ai/api/v1",
       ("ARCEE_API_KEY", "ARCEEAI_API_KEY"),
       ("trinity-large-thinking", "trinity-large-preview", "trinity-mini")),
    # Per-user resource: set AZURE_BASE_URL, or AZURE_RESOURCE_NAME for the default URL shape.
    # The v1 API: no api-version; the model is the deployment's name; the key goes in the
    # ``api-key`` header, and without a key a Microsoft Entra ID token is sent as a bearer
    # (auth "azure", anthroxy_server.providers.azure). The page shows both headers and both
    # hosts (<resource>.openai.azure.com and <resource>.services.ai.azure.com).
    _p("azure", "Azure AI Foundry", "chat",
       "https://{AZURE_RESOURCE_NAME}.openai.azure.com/openai/v1",
       ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"), ("gpt-5.4", "gpt-5-mini", "gpt-4.1"),
       auth="azure", profile=OPENAI,
       checked="https://learn.microsoft.com/azure/foundry/openai/api-version-lifecycle"),
    _p("cerebras", "Cerebras", "chat", "https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",),
       ("gpt-oss-120b", "qwen-3-coder-480b", "zai-glm-4.6", "llama-3.3-70b")),
    CHATGPT,
    COPILOT,
    VERTEX,
    VERTEX_GEMINI,
    BEDROCK,
    BEDROCK_OPENAI,
    # The account id is part of the path: set CLOUDFLARE_ACCOUNT_ID (or CLOUDFLARE_BASE_URL).
    _p("cloudflare", "Cloudflare Workers AI", "chat",
       "https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/ai/v1",
       ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY"),
       ("@cf/openai/gpt-oss-120b", "@cf/meta/llama-4-scout-17b-16e-instruct",
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
       checked="https://developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility"),
    _p("cohere", "Cohere", "chat", "https://api.cohere.ai/compatibility/v1",
       ("COHERE_API_KEY", "CO_API_KEY"), ("command-a-03-2025", "command-a-reasoning-08-2025"),
       checked="https://docs.cohere.com/docs/compatibility-api"),
    _p("fireworks", "Fireworks AI", "chat", "https://api.fireworks.ai/inference/v1",
       ("FIREWORKS_API_KEY",),
       ("accounts/fireworks/models/kimi-k2-instruct-0905",
        "accounts/fireworks/models/deepseek-v3p1",
        "accounts/fireworks/models/qwen3-coder-480b-a35b-instruct",
        "accounts/fireworks/models/gpt-oss-120b")),
    _p("gemini", "Google Gemini", "chat", "https://generativelanguage.googleapis.com/v1beta/openai",
       ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
       # First (the default model): one a free-tier key may use, so a key alone works at once
       # (docs/providers/gemini.md); name a pro model in [tiers], or "gemini/@auto:pro".
       ("gemini-2.5-flash", "gemini-3.1-pro-preview", "gemini-2.5-pro", "gemini-3-flash-preview",
        "gemini-3.1-flash-lite-preview", "gemini-2.0-flash"),
       profile=GEMINI),
    _p("groq", "Groq", "chat", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",),
       ("openai/gpt-oss-120b", "llama-3.3-70b-versatile", "llama-3.1-8b-instant",
        "meta-llama/llama-4-maverick-17b-128e-instruct", "moonshotai/kimi-k2-instruct-0905")),
    _p("huggingface", "Hugging Face", "chat", "https://router.huggingface.co/v1",
       ("HF_TOKEN", "HUGGINGFACE_API_KEY", "HUGGING_FACE_HUB_TOKEN"),
       ("openai/gpt-oss-120b", "moonshotai/Kimi-K2-Instruct-0905",
        "Qwen/Qwen3-Coder-480B-A35B-Instruct"),
       checked="https://huggingface.co/changelog/inference-providers-openai-compatible"),
    _p("kilocode", "Kilo Code Gateway", "chat", "https://api.kilo.ai/api/gateway",
       ("KILOCODE_API_KEY", "KILO_API_KEY"),
       ("anthropic/claude-sonnet-4.5", "openai/gpt-5.2", "google/gemini-3-pro-preview"),
       profile=OPENROUTER, checked="https://kilo.ai/docs/gateway"),
    _p("lmstudio", "LM Studio", "chat", "http://localhost:1234/v1", (), (), auth="none",
       local=True, auto_enable=False),
    _p("mistral", "Mistral AI", "chat", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",),
       ("mistral-large-latest", "mistral-medium-latest", "devstral-medium-latest",
        "codestral-latest"), profile=MISTRAL),
    _p("nous", "Nous Portal", "chat", "https://inference-api.nousresearch.com/v1",
       ("NOUS_API_KEY",), ("Hermes-4-405B", "Hermes-4-70B")),
    _p("nvidia", "NVIDIA NIM", "chat", "https://integrate.api.nvidia.com/v1",
       ("NVIDIA_API_KEY", "NGC_API_KEY"),
       ("meta/llama-4-maverick-17b-128e-instruct", "openai/gpt-oss-120b",
        "deepseek-ai/deepseek-v3.1", "moonshotai/kimi-k2-instruct-0905")),
    _p("ollama", "Ollama (local)", "chat", "http://localhost:11434/v1", (), (), auth="none",
       local=True),
    _p("ollama-cloud", "Ollama Cloud", "chat", "https://ollama.com/v1", ("OLLAMA_API_KEY",),
       ("gpt-oss:120b", "qwen3-coder:480b", "deepseek-v3.1:671b", "kimi-k2:1t"),
       checked="https://docs.ollama.com/openai"),
    _p("openai", "OpenAI", "chat", "https://api.openai.com/v1", ("OPENAI_API_KEY",),
       ("gpt-5.4", "gpt-5", "gpt-5-mini", "gpt-4.1", "gpt-5.5", "gpt-5.4-mini"),
       profile=OPENAI),
    _p("opencode-zen", "OpenCode Zen", "chat", "https://opencode.ai/zen/v1",
       ("OPENCODE_API_KEY", "OPENCODE_ZEN_API_KEY"), ("kimi-k2", "qwen3-coder", "grok-code")),
    _p("opencode-go", "OpenCode Go", "chat", "https://opencode.ai/zen/go/v1",
       ("OPENCODE_GO_API_KEY", "OPENCODE_API_KEY"), ("glm-5", "kimi-k2.5", "minimax-m2.5")),
    _p("openrouter", "OpenRouter", "chat", "https://openrouter.ai/api/v1",
       ("OPENROUTER_API_KEY",),
       ("deepseek/deepseek-v4-pro", "moonshotai/kimi-k2.6", "google/gemini-3.1-pro-preview",
        "anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "z-ai/glm-4.6"),
       profile=OPENROUTER),
    _p("perplexity", "Perplexity", "chat", "https://api.perplexity.ai",
       ("PERPLEXITY_API_KEY", "PPLX_API_KEY"), ("sonar", "sonar-pro", "sonar-reasoning-pro")),
    _SILICONFLOW,
    _variant(_SILICONFLOW, "siliconflow-cn", "SiliconFlow (mainland China)",
             "https://api.siliconflow.cn/v1",
             checked="https://docs.siliconflow.cn/docs/userguide/quickstart"),
    _STEPFUN,
    _variant(_STEPFUN, "stepfun-cn", "StepFun (mainland China)", "https://api.stepfun.com/v1",
             checked="https://platform.stepfun.com/docs/zh/quickstart/overview"),
    _p("together", "Together AI", "chat", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",),
       ("openai/gpt-oss-120b", "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
        "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "moonshotai/Kimi-K2-Instruct-0905")),
    _p("vercel", "Vercel AI Gateway", "chat", "https://ai-gateway.vercel.sh/v1",
       ("AI_GATEWAY_API_KEY", "VERCEL_AI_GATEWAY_API_KEY"),
       ("anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "google/gemini-3.1-pro-preview",
        "xai/grok-code-fast-1"),
       checked="https://vercel.com/docs/ai-gateway/sdks-and-apis/openai-chat-completions"),
    _p("volcengine", "Volcengine Ark", "chat", "https://ark.cn-beijing.volces.com/api/v3",
       ("ARK_API_KEY", "VOLCENGINE_API_KEY"),
       ("doubao-seed-1-6-250615", "doubao-seed-code-preview-latest", "deepseek-v3-1-250821")),
    _p("xai", "xAI", "chat", "https://api.x.ai/v1", ("XAI_API_KEY",),
       ("grok-4", "grok-code-fast-1", "grok-4-fast-reasoning")),
)  # fmt: skip

CATALOG: Mapping[str, ProviderPreset] = MappingProxyType({p.id: p for p in _PRESETS})


def find_key(preset: ProviderPreset, env: Mapping[str, str]) -> str | None:
    """The first non-empty key variable of ``preset`` in ``env``.

    Surrounding whitespace is removed (a key pasted with its newline would otherwise be sent as
    is and fail as a 401); a value that is only whitespace counts as absent.
    """
    for name in preset.key_env:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def base_url_for(preset: ProviderPreset, env: Mapping[str, str]) -> str:
    """The base URL to use: ``<ID>_BASE_URL`` if set, else the preset's URL with ``{NAME}``
    placeholders filled from ``env``. A trailing ``/`` is removed.

    Raises ``ValueError`` naming the variables to set when a placeholder has no value, or when
    a value is not a plain http(s) URL / URL part.
    """
    override = env.get(preset.base_url_env, "").strip()
    if override:
        if not override.startswith(("https://", "http://")):
            raise ValueError(f"{preset.base_url_env}={override!r} is not an http(s) URL")
        return override.rstrip("/")
    missing = [name for name in preset.url_vars if not env.get(name, "").strip()]
    if missing:
        raise ValueError(
            f"provider {preset.id!r} needs {' and '.join(missing)} (part of its URL "
            f"{preset.base_url}) or {preset.base_url_env}"
        )

    def fill(match: re.Match[str]) -> str:
        value = env[match.group(1)].strip()
        if not _SAFE_URL_PART.match(value):
            raise ValueError(f"{match.group(1)}={value!r} may only hold letters, digits, . _ -")
        return value

    return PLACEHOLDER.sub(fill, preset.base_url).rstrip("/")


def _discovery_keys(preset: ProviderPreset) -> ProviderPreset:
    """``preset`` with only the key variables that may enable it without config."""
    base = CATALOG.get(preset.variant_of) if preset.variant_of else None
    if base is None:
        return preset
    own = tuple(name for name in preset.key_env if name not in base.key_env)
    return replace(preset, key_env=own)


def _url_resolvable(preset: ProviderPreset, env: Mapping[str, str]) -> bool:
    try:
        base_url_for(preset, env)
    except ValueError:
        return False
    return True


def available_presets(env: Mapping[str, str]) -> list[ProviderPreset]:
    """Presets usable with ``env`` without any config, in catalogue order.

    A preset qualifies when its key is present (or it needs none) and its URL can be built.
    Local servers other than Ollama (``auto_enable=False``) qualify only when their
    ``<ID>_BASE_URL`` is set: only Ollama on localhost is enabled by default, nothing else
    (docs/providers.md). A region variant qualifies only by a key variable its base does not
    read (``GLM_CN_API_KEY``), so one exported key never enables both regions.
    """
    usable = []
    for preset in _PRESETS:
        if preset.needs_key and find_key(_discovery_keys(preset), env) is None:
            continue
        if not preset.auto_enable and not env.get(preset.base_url_env, "").strip():
            continue
        if _url_resolvable(preset, env):
            usable.append(preset)
    return usable
