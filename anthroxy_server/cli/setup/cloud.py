"""``config init`` for cloud platforms: ask only what the platform's own credential chain and
environment cannot tell (for Vertex AI: the project and the location, when no variable names
them; the credentials themselves come from Google's chain, docs/providers/vertex.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from anthroxy.routing.catalog import ProviderPreset

from ...config.cloud import DEFAULT_LOCATION, LOCATION_VARS, PROJECT_VARS
from .prompts import Prompter

_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")  # Google's project id rules
_LOCATION = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _parse(pattern: re.Pattern[str], what: str, *, blank: bool) -> Callable[[str], str]:
    def parse(answer: str) -> str:
        answer = answer.strip()
        if (blank and not answer) or pattern.match(answer):
            return answer
        raise ValueError(f"{answer!r} is not {what}")

    return parse


def ask_place(p: Prompter, preset: ProviderPreset, env: Mapping[str, str]) -> dict[str, str]:
    """The provider table's ``project`` / ``location`` for a Google provider; {} otherwise."""
    if preset.auth != "google":
        return {}
    settings: dict[str, str] = {}
    if not any(env.get(name, "").strip() for name in PROJECT_VARS):
        project = p.ask_until(
            f"{preset.name}: Google Cloud project id (blank: the credentials' own project)",
            None,
            _parse(_PROJECT, "a Google Cloud project id", blank=True),
        )
        if project:
            settings["project"] = project
    if not any(env.get(name, "").strip() for name in LOCATION_VARS):
        location = p.ask_until(
            f"{preset.name}: location (a region such as us-east5, or global)",
            DEFAULT_LOCATION,
            _parse(_LOCATION, "a Vertex AI location", blank=False),
        )
        if location != DEFAULT_LOCATION:
            settings["location"] = location
    return settings
