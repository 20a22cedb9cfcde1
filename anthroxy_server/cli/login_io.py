"""What a login talks to: the terminal, the clock and the clipboard (tests pass fakes)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import TextIO

CLIPBOARD_TOOLS = (
    ("pbcopy",),
    ("wl-copy",),
    ("xclip", "-selection", "clipboard"),
    ("xsel", "--clipboard", "--input"),
    ("clip.exe",),
)


@dataclasses.dataclass(frozen=True)
class LoginIO:
    """What a login talks to: the terminal, the clock, the clipboard (tests pass fakes)."""

    out: TextIO
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.time
    copy: Callable[[str], bool] = lambda text: copy_to_clipboard(text)


def copy_to_clipboard(text: str) -> bool:
    """Put ``text`` on the clipboard with the first tool found; False when there is none."""
    for tool in CLIPBOARD_TOOLS:
        if shutil.which(tool[0]) is None:
            continue
        try:
            subprocess.run(tool, input=text.encode(), check=True, timeout=2, capture_output=True)
        except (OSError, subprocess.SubprocessError):
            continue
        return True
    return False
