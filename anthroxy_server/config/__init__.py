"""Configuration: the TOML schema (attrs classes), file discovery and layering, checks, the
environment overlay of the tools anthroxy replaces, importers of their files, and paths.

The names below are the package's interface; ``load_settings`` is the one entry point the command
line and the app use.
"""

from .files import find_config_files
from .schema import (
    Config,
    ConfigError,
    ProviderConfig,
    ResolvedProvider,
    RetryConfig,
    ServerConfig,
    Settings,
)
from .settings import load_settings, settings_from_config, structure_config

__all__ = [
    "Config",
    "ConfigError",
    "ProviderConfig",
    "ResolvedProvider",
    "RetryConfig",
    "ServerConfig",
    "Settings",
    "find_config_files",
    "load_settings",
    "settings_from_config",
    "structure_config",
]
