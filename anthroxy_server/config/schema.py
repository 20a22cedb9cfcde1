"""The configuration's schema: attrs classes mirroring the TOML file, and the resolved values the
app runs on (``ResolvedProvider``, ``Settings``).

Secrets: ``ProviderConfig.api_key``/``api_keys``, ``ResolvedProvider.api_key``/``keys`` and
``ServerConfig.auth_token`` are hidden from ``repr`` so they cannot reach a log line by accident.
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

from anthroxy.cleaning import Cleaner
from anthroxy.profile import ProviderProfile
from anthroxy.routing.table import RoutingTable

Api = Literal["anthropic", "chat", "responses"]
# "codex": the ChatGPT subscription login of the Codex CLI (auth.json), see anthroxy_server.chatgpt.
# "copilot": a GitHub Copilot subscription, `anthroxy login copilot` (docs/providers/copilot.md).
# "azure": the key in Azure's ``api-key`` header, else a Microsoft Entra ID token; "entra": always
# the token (anthroxy_server.providers.azure).
# "google": Google Application Default Credentials (Vertex AI), see providers/vertex.py.
# "bedrock": a Bedrock API key, else AWS SigV4 with the AWS credential chain (providers/bedrock.py).
Auth = Literal[
    "bearer", "x-api-key", "none", "codex", "copilot", "azure", "entra", "google", "bedrock"
]  # fmt: skip
# Auth styles that need no API key: a missing key is not a configuration problem.
KEYLESS_AUTH = frozenset({"none", "codex", "copilot", "azure", "entra", "google", "bedrock"})
# How requests spread over a provider's several keys (providers/credentials.py).
Rotation = Literal["round-robin", "fill-first"]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Provider ids appear in targets as "id/model" and "model@id" and in dotted key paths.
PROVIDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` holds one line per problem, each naming its
    key path (``providers.mock.read_timeout: expected a number, got "soon"``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


@attrs.frozen
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8082
    auth_token: str = attrs.field(default="", repr=False)  # secret
    # Bearer token for GET /metrics alone (a scraper need not hold the proxy token); secret.
    metrics_token: str = attrs.field(default="", repr=False)
    ping_interval: float = 10.0
    log_format: Literal["text", "json"] = "text"
    log_level: str = "info"
    log_file_level: str = ""
    log_request_body: bool = False
    log_response_body: bool = False
    max_body_bytes: int = 32 * 1024 * 1024
    # A non-streamed upstream reply is read whole; past this it is refused (502), so a broken or
    # hostile upstream cannot make the gateway hold gigabytes. Far above any real completion.
    max_reply_bytes: int = 64 * 1024 * 1024
    # Honour HTTP(S)_PROXY / NO_PROXY (and ~/.netrc) for upstream calls. Off by default: looking
    # them up costs ~0.8 ms per request, and most machines reach providers directly.
    trust_env: bool = False
    # The usage ledger (usage.sqlite3 in the state directory) forgets rows older than this.
    usage_retention_days: int = 90
    # Names (and addresses) clients may reach the server by beyond loopback and its own host,
    # and web origins allowed to call it (gateway/guard.py; docs/configuration.md, "Security").
    allowed_hosts: list[str] = attrs.Factory(list)
    allowed_origins: list[str] = attrs.Factory(list)
    # Processes serving the port (SO_REUSEPORT) under one supervisor (gateway/supervise.py).
    workers: int = 1

    @property
    def logs_bodies(self) -> bool:
        """Either direction of the body log is on."""
        return self.log_request_body or self.log_response_body


@attrs.frozen
class ProviderConfig:
    """``[providers.<id>]``; a catalogue id may omit what the catalogue knows."""

    api: Api | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)  # discouraged; file must be 0600
    # Several keys (docs/configuration.md, "Several keys"): variables holding one key each, keys
    # written in the file (0600, like api_key), and how requests spread over them. None: unset
    # (an empty list is a mistake worth naming).
    api_keys_env: list[str] | None = None
    api_keys: list[str] | None = attrs.field(default=None, repr=False)
    rotation: Rotation = "round-robin"
    # Several logins of a subscription (auth = "copilot" or "codex"): the account names given to
    # ``anthroxy login PROVIDER --account NAME``; None: the one unnamed login.
    accounts: list[str] | None = None
    models: list[str] = attrs.Factory(list)
    headers: dict[str, str] = attrs.Factory(dict)  # extra upstream headers
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    auth: Auth | None = None
    profile: dict[str, object] = attrs.Factory(dict)  # ProviderProfile field overrides
    # Request cleaning (docs/configuration.md, "Cleaning requests"): the catalogue provider whose
    # rules apply ("none": no rules; default: this id's own, if it is in the catalogue), fields
    # always left out, whose thinking signatures this provider verifies (default: its own id;
    # "anthropic" for a gateway in front of Anthropic), and whether a field the provider refuses
    # by name is left out of later requests.
    cleaner: str | None = None
    drop_fields: list[str] = attrs.Factory(list)
    thinking_signatures: str | None = None
    learn_fields: bool = True
    # ChatGPT subscription (``api = "responses"`` with Codex credentials): where the Codex CLI's
    # auth.json lives (default ``$CODEX_HOME`` or ``~/.codex``) and the OAuth token endpoint.
    codex_home: str | None = None
    token_url: str | None = None
    # ChatGPT device-code login (``anthroxy login chatgpt``): OpenAI's endpoints that hand out
    # the code and answer the polls, and the page the code is entered on (default: OpenAI's,
    # anthroxy_server.config.codex_login).
    device_auth_url: str | None = None
    device_token_url: str | None = None
    verification_url: str | None = None
    # Where the live model list is read (default: the provider's own; Gemini: the native list).
    models_url: str | None = None
    # GitHub Copilot (auth = "copilot"): the GitHub host (an Enterprise domain), and the URLs of
    # the device login, its token poll, the Copilot token exchange and GitHub's /user (default:
    # from the host).
    github_domain: str | None = None
    device_code_url: str | None = None
    access_token_url: str | None = None
    copilot_token_url: str | None = None
    user_url: str | None = None
    # Cloud platforms (auth = "google": Vertex AI): the project, the location (region or
    # "global") and a credentials file used instead of the platform's own credential chain.
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    # auth = "bedrock": the AWS region (default $AWS_REGION, then $AWS_DEFAULT_REGION) and the
    # named profile of ~/.aws/config the credential chain starts from (default $AWS_PROFILE).
    region: str | None = None
    aws_profile: str | None = None


@attrs.frozen
class CopilotSettings:
    """Where a ``copilot`` provider logs in and exchanges its token, resolved from the host."""

    domain: str  # "github.com" or an Enterprise host
    device_code_url: str
    access_token_url: str
    copilot_token_url: str
    user_url: str  # GitHub's /user: the login name shown by ``anthroxy status``
    credentials_file: str  # the 0600 file ``anthroxy login`` writes
    pinned_api: bool  # base_url was configured: it wins over the exchange's endpoints.api


@attrs.frozen
class CodexLogin:
    """Where a ``codex`` provider's own login lives and how ``anthroxy login`` gets one."""

    login_file: str  # anthroxy's auth.json, read when the Codex CLI's is absent
    device_auth_url: str
    device_token_url: str
    verification_url: str


@attrs.frozen
class ScenarioConfig:
    """``[routing.scenarios]``: targets chosen by what a request carries (docs/configuration.md)."""

    background: str | None = None  # haiku-class requests
    think: str | None = None  # requests with thinking enabled
    long_context: str | None = None  # estimated input above long_context_threshold
    long_context_threshold: int = 60000
    web_search: str | None = None  # requests carrying a web_search tool
    image: str | None = None  # requests carrying images


@attrs.frozen
class RetryConfig:
    """``[routing.retry]``: how fallbacks wait before trying again (docs/configuration.md,
    "Fallback chains")."""

    attempts_per_target: int = 1
    max_retry_after: float = 10.0  # longest upstream retry-after honoured, in seconds
    backoff: float = 0.25  # base of the jittered exponential backoff, in seconds


@attrs.frozen
class BreakerConfig:
    """``[routing.circuit_breaker]``: skip a provider that keeps failing (docs/configuration.md,
    "Fallback chains")."""

    failures: int = 3  # consecutive failures that open the breaker
    cooldown: float = 30.0  # seconds a provider is skipped once open


@attrs.frozen
class RoutingConfig:
    rewrite_response_model: bool = True
    # Upstream model -> the name replies report when rewrite_response_model is false
    # (claude-code-proxy's MODEL_ALIASES); a model not listed reports its upstream name.
    response_names: dict[str, str] = attrs.Factory(dict)
    fallbacks: dict[str, list[str]] = attrs.Factory(dict)  # target -> targets tried next
    scenarios: ScenarioConfig = attrs.Factory(ScenarioConfig)
    retry: RetryConfig = attrs.Factory(RetryConfig)
    circuit_breaker: BreakerConfig = attrs.Factory(BreakerConfig)


@attrs.frozen
class ModelConfig:
    """``[models."<upstream model>"]``: overrides of the built-in capability table
    (docs/configuration.md)."""

    context_window: int | None = None
    max_output_tokens: int | None = None
    tools: bool | None = None
    images: bool | None = None
    thinking: bool | None = None
    tool_choice: bool | None = None


@attrs.frozen
class PriceConfig:
    """``[prices."model-id"]``: USD per million tokens, replacing the catalogue's price
    (``anthroxy/routing/prices.py``); a cache price left out is billed at the input price."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


@attrs.frozen
class Config:
    server: ServerConfig = attrs.Factory(ServerConfig)
    providers: dict[str, ProviderConfig] = attrs.Factory(dict)
    tiers: dict[str, str] = attrs.Factory(dict)
    aliases: dict[str, str] = attrs.Factory(dict)
    routing: RoutingConfig = attrs.Factory(RoutingConfig)
    models: dict[str, ModelConfig] = attrs.Factory(dict)
    prices: dict[str, PriceConfig] = attrs.Factory(dict)


@attrs.frozen
class ApiKey:
    """One of a provider's keys: where it came from (safe to print) and the key itself."""

    label: str  # "env:KEY_A", "./.env:KEY_B", "api_key", "api_keys #2"
    secret: str = attrs.field(repr=False)  # NEVER logged or printed


@attrs.frozen
class ResolvedProvider:
    """A provider ready to call: catalogue preset + config + environment."""

    id: str
    name: str
    api: Api
    base_url: str
    api_key: str | None = attrs.field(repr=False)  # NEVER logged or printed
    auth: Auth
    headers: dict[str, str]
    profile: ProviderProfile
    models: tuple[str, ...]
    connect_timeout: float
    read_timeout: float
    key_source: str | None  # "env:DEEPSEEK_API_KEY", "file" or None — for config show / healthz
    # auth = "codex" only: the directory holding the Codex CLI's auth.json, and the OAuth token
    # endpoint (None: OpenAI's, anthroxy_server.chatgpt_auth.TOKEN_URL).
    codex_home: str | None = None
    token_url: str | None = None
    # What changes in a request before this provider sees it (anthroxy.cleaning), and whether
    # fields it refuses by name are learned (gateway/learned.py).
    cleaner: Cleaner = attrs.field(factory=Cleaner)
    learn_fields: bool = True
    models_url: str | None = None  # the live model list's URL, where it is not the default
    copilot: CopilotSettings | None = None  # auth = "copilot" only
    # Every key, ``api_key`` first; more than one makes a credential pool
    # (providers/credentials.py). Empty for a provider built without them (``api_key`` alone).
    keys: tuple[ApiKey, ...] = attrs.field(default=(), repr=False)
    rotation: Rotation = "round-robin"
    # Named logins (auth = "copilot" or "codex"); any makes a credential pool of accounts.
    accounts: tuple[str, ...] = ()
    codex_login: CodexLogin | None = None  # auth = "codex" only
    # auth = "google" only (config/cloud.py): project (None: the credentials' own), location,
    # and the credentials file (None: Application Default Credentials).
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    # auth = "bedrock" only: the AWS region requests are signed for, and the AWS profile.
    region: str | None = None
    aws_profile: str | None = None


@attrs.frozen
class Settings:
    """Everything the app needs, fully resolved."""

    config: Config
    providers: dict[str, ResolvedProvider]
    routing: RoutingTable
    sources: list[str]  # config files read, in order
    # Dotted key path -> the file (or "command line") that set it, for ``config show``.
    # (Added to the contract with a default; nothing else changes.)
    origins: dict[str, str] = attrs.Factory(dict)


# Which discovered provider serves the tiers when the file names none (docs/configuration.md):
# Anthropic-compatible coding providers first, aggregators next, Anthropic itself last (whoever
# runs anthroxy with ANTHROPIC_API_KEY exported most likely wants the other provider).
TIER_PREFERENCE: tuple[str, ...] = (
    "deepseek", "glm", "kimi", "qwen", "minimax", "mimo", "openrouter",
    "openai", "gemini", "xai", "mistral", "groq", "cerebras", "fireworks", "together",
)  # fmt: skip
TIER_NAMES: tuple[str, ...] = ("opus", "sonnet", "haiku", "default")
