"""Each end-to-end test runs once per installed Claude Code release (``claude_cli.CLAUDES``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import claude_cli


@pytest.fixture(
    autouse=True,
    params=claude_cli.CLAUDES or [("none", "")],
    ids=lambda param: f"claude-{param[0]}",
)
def claude_release(request: pytest.FixtureRequest) -> Iterator[str]:
    """Points ``claude_cli.CLAUDE`` at this run's CLI."""
    label, binary = request.param
    previous = claude_cli.CLAUDE
    claude_cli.CLAUDE = binary or None
    yield label
    claude_cli.CLAUDE = previous
