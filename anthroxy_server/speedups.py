"""The optional speed-ups of the ``fast`` extra (``pip install "anthroxy[fast]"``), used when
installed: ``orjson`` decodes the JSON of upstream stream events, ``uvloop`` runs the event loop.

Both only change how fast the same work is done. The core (``anthroxy``) stays standard-library
only: the server hands it ``json_loads()`` as the decoder to try first, and the core decodes
anything that decoder refuses with the standard library again, so errors and edge cases are
those of ``json.loads`` (see ``anthroxy.streams.SSEStream``). ``disable()`` forces the
standard-library paths (tests of the fallback; the benchmark's side-by-side runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

try:
    import orjson
except ImportError:  # the fast extra is not installed
    orjson = None  # type: ignore[assignment]
try:
    import uvloop
except ImportError:
    uvloop = None  # type: ignore[assignment]

_enabled = True
# Where orjson and json.loads disagree on a value both accept, the event goes to the standard
# library. orjson reads an integer past 64 bits as a float where json.loads keeps an exact int:
# twenty digits in a row (in a number or, rarely, a string) are enough to leave it. orjson
# also reads nesting deeper than json.loads can (about 1,000 levels, less the caller's stack):
# more than 500 brackets of either kind are enough to leave it. One translation maps digits to
# "0" and brackets to "[" for both checks, ~0.4 µs on a 330-byte chunk; the regular expression
# ``[0-9]{20}`` alone took 2.8 µs, more than orjson saves.
_MARKS = bytes(
    0x30 if 0x30 <= byte <= 0x39 else 0x5B if byte in b"[{" else 0x20 for byte in range(256)
)
_LONG_NUMBER = b"0" * 20
_MAX_BRACKETS = 500


def disable() -> None:
    """Use the standard library only, whatever is installed."""
    global _enabled
    _enabled = False


def _orjson_loads(data: bytes) -> Any:
    marks = data.translate(_MARKS)
    if _LONG_NUMBER in marks or (len(data) > _MAX_BRACKETS and marks.count(b"[") > _MAX_BRACKETS):
        raise ValueError("left to the standard library")
    return orjson.loads(data)


def json_loads() -> Callable[[bytes], Any] | None:
    """The decoder for upstream events' JSON to try before ``json.loads``; None: none."""
    return _orjson_loads if _enabled and orjson is not None else None


def new_event_loop() -> asyncio.AbstractEventLoop | None:
    """A uvloop event loop, or None for asyncio's default."""
    return uvloop.new_event_loop() if _enabled and uvloop is not None else None


def active() -> list[str]:
    """The speed-ups in use, for the start-up line."""
    if not _enabled:
        return []
    return [name for name, module in (("orjson", orjson), ("uvloop", uvloop)) if module]
