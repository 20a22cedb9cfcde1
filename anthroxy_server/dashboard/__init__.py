"""The dashboard: ``GET /ui`` (a page served from ``static/``) and its JSON API under
``/ui/api/`` (docs/dashboard.md). ``setup`` registers it with the app; ``record`` keeps each
finished ``/v1/messages`` request in memory for it (called where the access line is written)."""

from .recent import record
from .routes import setup

__all__ = ["record", "setup"]
