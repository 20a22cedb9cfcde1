"""Catalogue entries reached with an account rather than an API key alone: subscriptions
(ChatGPT, GitHub Copilot) and cloud platforms (Vertex AI, AWS Bedrock). None is enabled by
discovery; each is named under ``[providers]``."""

from __future__ import annotations

from dataclasses import replace

from ..profile import ProviderProfile
from .preset import ANTHROPIC_COMPAT, CHECKED_ON, GEMINI, ProviderPreset

# The ChatGPT backend Codex CLI uses: Responses API, subscription login (docs/providers/chatgpt.md).
CHATGPT = ProviderPreset(
    id="chatgpt",
    name="ChatGPT subscription (Codex login)",
    api="responses",
    base_url="https://chatgpt.com/backend-api/codex",
    key_env=(),
    auth="codex",
    needs_key=False,
    profile=ProviderProfile(user_field="none"),  # the backend refuses user/safety_identifier
    models=("gpt-5.4", "gpt-5.3-codex", "gpt-5.4-mini"),
    default_model="gpt-5.4",
    auto_enable=False,
)

# GitHub Copilot: a subscription reached with a GitHub login (docs/providers/copilot.md). The
# dialect is chosen per model from Copilot's /models; "chat" is the provider's default (the
# handler then parses every request, which the per-model choice needs). The API base usually
# comes from the token exchange's endpoints.api.
COPILOT = ProviderPreset(
    id="copilot",
    name="GitHub Copilot subscription",
    api="chat",
    base_url="https://api.githubcopilot.com",
    key_env=(),
    auth="copilot",
    needs_key=False,
    profile=ANTHROPIC_COMPAT,  # its /v1/messages is not Anthropic's: unknown betas go
    models=("claude-sonnet-4.5", "gpt-5.4", "gpt-5.3-codex", "gpt-4.1"),
    default_model="claude-sonnet-4.5",
    auto_enable=False,
)
# Google Vertex AI (docs/providers/vertex.md): Application Default Credentials, no key. Claude
# speaks the Anthropic dialect through rawPredict; Gemini and the open models the Chat dialect
# through the OpenAI-compatible endpoint. The project and location complete the URL per request
# (anthroxy_server/providers/vertex.py); the host shown is the "global" location's.
VERTEX_URL = "https://aiplatform.googleapis.com/v1"
VERTEX = ProviderPreset(
    id="vertex",
    name="Google Vertex AI (Claude)",
    api="anthropic",
    base_url=VERTEX_URL,
    key_env=(),
    auth="google",
    needs_key=False,
    # Vertex refuses anthropic-beta values it does not offer (docs/providers/vertex.md), and
    # Claude Code, thinking it talks to Anthropic, sends the newest ones first.
    profile=ANTHROPIC_COMPAT,
    models=(
        "claude-sonnet-4-5@20250929",
        "claude-opus-4-1@20250805",
        "claude-haiku-4-5@20251001",
        "claude-sonnet-4@20250514",
    ),
    default_model="claude-sonnet-4-5@20250929",
    auto_enable=False,
    verified=CHECKED_ON,
    source="https://docs.anthropic.com/en/api/claude-on-vertex-ai",
)
VERTEX_GEMINI = ProviderPreset(
    id="vertex-gemini",
    name="Google Vertex AI (Gemini and open models)",
    api="chat",
    base_url=VERTEX_URL,
    key_env=(),
    auth="google",
    needs_key=False,
    profile=GEMINI,
    models=("google/gemini-2.5-pro", "google/gemini-2.5-flash", "google/gemini-2.0-flash"),
    default_model="google/gemini-2.5-pro",
    auto_enable=False,
    verified=CHECKED_ON,
    source="https://cloud.google.com/vertex-ai/generative-ai/docs/migrate/openai/overview",
)
# AWS Bedrock (docs/providers/bedrock.md): Claude through InvokeModel, the Anthropic dialect with
# Bedrock's differences (anthroxy.bedrock); the open models (gpt-oss, ...) through Bedrock's
# OpenAI-compatible Chat Completions endpoint. A Bedrock API key (AWS_BEARER_TOKEN_BEDROCK), else
# the AWS credential chain: never enabled by discovery, only by naming it under [providers].
# ``{AWS_REGION}`` is the provider's ``region`` (config, AWS_REGION or AWS_DEFAULT_REGION).
BEDROCK_URL = "https://bedrock-runtime.{AWS_REGION}.amazonaws.com"
BEDROCK = ProviderPreset(
    id="bedrock",
    name="AWS Bedrock (Claude)",
    api="anthropic",
    base_url=BEDROCK_URL,
    key_env=("AWS_BEARER_TOKEN_BEDROCK",),
    auth="bedrock",
    needs_key=False,
    models=(
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "us.anthropic.claude-opus-4-1-20250805-v1:0",
    ),
    default_model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    auto_enable=False,
    verified=CHECKED_ON,
    source="https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html",
)
BEDROCK_OPENAI = replace(
    BEDROCK,
    id="bedrock-openai",
    name="AWS Bedrock (OpenAI-compatible)",
    api="chat",
    base_url=BEDROCK_URL + "/openai/v1",
    models=("openai.gpt-oss-120b-1:0", "openai.gpt-oss-20b-1:0"),
    default_model="openai.gpt-oss-120b-1:0",
    source="https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-openai.html",
)
