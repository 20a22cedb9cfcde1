"""The on-disk cache of live model lists: one JSON file per provider and credential.

A file is named ``<provider>-<digest>.json`` under ``<cache dir>/models/``; the digest is a
SHA-256 of the listing URL and the credential (the key, or for a login the account it is: the
GitHub login, the ChatGPT account id), so two keys, two accounts or two hosts of one provider
keep two lists and the key itself is never written. Files are written atomically (a temporary file,
then ``os.replace``) with mode 0600; a file that does not parse is treated as absent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anthroxy.routing.live_models import LiveModel

from ..atomic import write_atomic
from ..config.schema import ResolvedProvider
from ..providers.accounts import login_identity
from ..providers.listing import models_url

TTL = 24 * 3600.0  # seconds a list is fresh
FORMAT = 1


@dataclass(frozen=True, slots=True)
class CachedList:
    models: tuple[LiveModel, ...]
    fetched_at: float  # Unix seconds

    def age(self, now: float) -> float:
        return max(0.0, now - self.fetched_at)


def credential_digest(provider: ResolvedProvider) -> str:
    material = f"{models_url(provider)}\0{provider.api_key or ''}"
    account = login_identity(provider)
    if account:  # a login: its account, not its (renewed) token
        material += f"\0{account}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def cache_file(directory: Path, provider: ResolvedProvider) -> Path:
    return directory / "models" / f"{provider.id}-{credential_digest(provider)}.json"


def read(directory: Path, provider: ResolvedProvider) -> CachedList | None:
    try:
        data = json.loads(cache_file(directory, provider).read_text(encoding="utf-8"))
        return _decode(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write(directory: Path, provider: ResolvedProvider, cached: CachedList) -> Path:
    path = cache_file(directory, provider)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, json.dumps(_encode(provider, cached), indent=1).encode())
    return path


def _encode(provider: ResolvedProvider, cached: CachedList) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "provider": provider.id,
        "fetched_at": cached.fetched_at,
        "models": [
            {
                "id": m.id,
                "created": m.created,
                "priority": m.priority,
                "endpoints": list(m.endpoints),
                "display_name": m.display_name,
            }
            for m in cached.models
        ],
    }


def _decode(data: Any) -> CachedList | None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    fetched_at = data["fetched_at"]
    if not isinstance(fetched_at, (int, float)):
        return None
    models = tuple(
        LiveModel(
            id=str(m["id"]),
            created=m.get("created"),
            priority=m.get("priority"),
            endpoints=tuple(m.get("endpoints") or ()),
            display_name=m.get("display_name"),
        )
        for m in data["models"]
    )
    return CachedList(models, float(fetched_at))
