"""What anthroxy changes in a request for a provider that would refuse it as the client sent it.

* ``paths``: field paths (``tools.*.defer_loading``), lookup and removal;
* ``refusals``: the field an upstream's 400 names, so the server can leave it out and retry.
"""

from __future__ import annotations

from .paths import Each, FieldPath, RawPath, format_path, locate, parse_path
from .refusals import refused_fields

__all__ = ["Each", "FieldPath", "RawPath", "format_path", "locate", "parse_path", "refused_fields"]
