"""The ``anthroxy`` command: parser and dispatch, daemon, launcher, wizard, service, MCP."""

from .dispatch import main

__all__ = ["main"]
