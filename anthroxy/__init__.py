"""anthroxy: a sans-I/O translation core between the Anthropic Messages API and other LLM APIs.

Standard library only; no sockets, files, clocks, environment or randomness. Callers pass in
everything nondeterministic (message ids, the environment's keys) and do the I/O themselves.
"""

from .errors import (
    AnthroxyError,
    AuthenticationFailed,
    InvalidRequest,
    RequestTooLarge,
    UnknownModel,
    UnsupportedFeature,
    UpstreamError,
    UpstreamProtocolError,
)
from .profile import DEFAULT_PROFILE, ProviderProfile, Target

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PROFILE",
    "AnthroxyError",
    "AuthenticationFailed",
    "InvalidRequest",
    "ProviderProfile",
    "RequestTooLarge",
    "Target",
    "UnknownModel",
    "UnsupportedFeature",
    "UpstreamError",
    "UpstreamProtocolError",
    "__version__",
]
