"""Where a cloud platform provider runs: the Vertex AI project, location and credentials file
(``auth = "google"``), from the provider's table, else the environment variables the platform's
own tools and freecc read.

A setting given for a provider that does not use it is reported, not ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import attrs

from .schema import Auth, ProviderConfig

__all__ = ["GooglePlace", "google_place"]

# Variables read when the provider's table leaves a value out, first present wins: freecc's,
# then Claude Code's own Vertex variables, then Google Cloud's.
PROJECT_VARS = ("VERTEX_PROJECT_ID", "ANTHROPIC_VERTEX_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")
LOCATION_VARS = ("VERTEX_LOCATION", "CLOUD_ML_REGION", "GOOGLE_CLOUD_LOCATION")
CREDENTIALS_VARS = ("VERTEX_CREDENTIALS",)
DEFAULT_LOCATION = "global"
_FIELDS = ("project", "location", "credentials_file")
# Both become part of the URL path: nothing that could change its shape.
_URL_PART = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]*$")


@attrs.frozen
class GooglePlace:
    project: str | None = None  # None: the project the credentials belong to
    location: str | None = None
    credentials_file: str | None = None  # None: Application Default Credentials


def _first(names: tuple[str, ...], env: Mapping[str, str]) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value, name
    return None


def google_place(
    where: str, cfg: ProviderConfig, auth: Auth, env: Mapping[str, str], problems: list[str]
) -> GooglePlace:
    if auth != "google":
        for name in _FIELDS:
            if getattr(cfg, name) is not None:
                problems.append(f'{where}.{name}: only used with auth = "google" (Vertex AI)')
        return GooglePlace()
    project = (cfg.project, f"{where}.project") if cfg.project else _first(PROJECT_VARS, env)
    if project is not None and not _PROJECT.match(project[0]):
        problems.append(f"{project[1]}: {project[0]!r} is not a Google Cloud project id")
    location = (
        (cfg.location, f"{where}.location") if cfg.location else _first(LOCATION_VARS, env)
    ) or (DEFAULT_LOCATION, "")
    if not _URL_PART.match(location[0]):
        problems.append(
            f"{location[1]}: {location[0]!r} is not a Vertex AI location "
            '(a region such as "us-east5", or "global")'
        )
    found = (
        (cfg.credentials_file, f"{where}.credentials_file")
        if cfg.credentials_file
        else _first(CREDENTIALS_VARS, env)
    )
    credentials = None
    if found is not None:
        credentials = os.path.expanduser(found[0])
        if found[0].lstrip().startswith("{"):
            problems.append(
                f"{found[1]}: give the path of the credentials JSON file, not its contents"
            )
    return GooglePlace(project and project[0], location[0], credentials)
