"""A digest of the configuration a proxy serves with, safe to publish on ``/healthz``.

``anthroxy run`` and ``start`` compute it for the configuration they would load and compare it
with the running proxy's; ``anthroxy reload`` waits for it to change. It is a map of sections
(``server``, ``tiers``, ``provider.deepseek``, ``key.deepseek`` ...) to short digests, so the
command line can say WHAT differs, plus one digest over all of them.

What it covers: everything that decides how a request is answered, and the anthroxy version
(the catalogue and the translators come with the code). Left out: the listening address (the
command line reaches the proxy there, so it matches by construction; a reload cannot move it)
and the logging settings (they change no answer), and which files were read (the same content
from another path is the same configuration).

Secrets (``server.auth_token``, provider keys, every extra header value): a plain hash of a
weak auth token published on an unauthenticated endpoint could be guessed offline, so each
secret enters as ``blake2b(value, key=pepper)``, where the pepper is 32 random bytes in a 0600
file of the user's state directory (``fingerprint_key``). The command line and the proxy of the
same user read the same file, so their digests compare; whoever only sees ``/healthz`` cannot
test guesses without it. Without a pepper (the file cannot be read or written) a secret enters
only as "set" or "unset": a changed key then goes unnoticed, which the docs say.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from anthroxy import __version__

from .schema import Settings

PEPPER_BYTES = 32
# server.* keys that do not enter the digest (see the module docstring).
UNCOVERED_SERVER_KEYS = frozenset(
    {"host", "port", "log_format", "log_level", "log_request_body", "log_response_body"}
)
KEY_PREFIX = "key."  # sections holding one provider's key digest


def load_pepper(path: Path) -> bytes:
    """The user's fingerprint key, created on first use (0600, never overwritten); b"" when
    the state directory is not usable."""
    try:
        data = path.read_bytes()
        if len(data) == PEPPER_BYTES:
            return data
    except FileNotFoundError:
        pass
    except OSError:
        return b""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(PEPPER_BYTES))
        # link() fails if another process created the file first: both then use that one.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        data = path.read_bytes()
    except OSError:
        return b""
    return data if len(data) == PEPPER_BYTES else b""


def secret_digest(value: str | None, pepper: bytes) -> str:
    if not value:
        return "unset"
    if not pepper:
        return "set"
    digest = hashlib.blake2b(value.encode(), key=pepper, digest_size=16, person=b"anthroxy-fp")
    return digest.hexdigest()


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def sections(settings: Settings, pepper: bytes) -> dict[str, str]:
    """Section name -> digest of what that section decides."""
    config = settings.config
    server = attrs.asdict(config.server)
    for key in UNCOVERED_SERVER_KEYS:
        server.pop(key, None)
    server["auth_token"] = secret_digest(config.server.auth_token, pepper)
    server["metrics_token"] = secret_digest(config.server.metrics_token, pepper)
    out = {
        "version": __version__,
        "server": _digest(server),
        "tiers": _digest(config.tiers),
        "aliases": _digest(config.aliases),
        "routing": _digest([attrs.asdict(config.routing), settings.routing.describe()]),
        "models": _digest(attrs.asdict(config)["models"]),
    }
    for pid, provider in settings.providers.items():
        declared = config.providers.get(pid)
        file_part = attrs.asdict(declared) if declared is not None else {}
        file_part.pop("api_key", None)  # its value is the resolved key below
        file_part.pop("api_keys", None)  # so are these (several keys)
        file_part["headers"] = {k: secret_digest(v, pepper) for k, v in provider.headers.items()}
        resolved = {
            "api": provider.api,
            "base_url": provider.base_url,
            "auth": provider.auth,
            "models": list(provider.models),
            "key_source": provider.key_source,
            "codex_home": provider.codex_home,
            "token_url": provider.token_url,
            "region": provider.region,
            "aws_profile": provider.aws_profile,
        }
        out[f"provider.{pid}"] = _digest([file_part, resolved])
        several = "\n".join(k.secret for k in provider.keys) if len(provider.keys) > 1 else None
        out[f"{KEY_PREFIX}{pid}"] = secret_digest(several or provider.api_key, pepper)
    return out


def overall(parts: Mapping[str, str]) -> str:
    return hashlib.blake2b(
        json.dumps(dict(parts), sort_keys=True).encode(), digest_size=12
    ).hexdigest()


def differences(mine: Mapping[str, str], theirs: Mapping[str, str]) -> list[str]:
    """Sections that differ. A key this side does not have (``unset``) is not a difference: a
    proxy run by a service has keys from its own environment file that a shell may lack."""
    names = sorted(set(mine) | set(theirs))
    return [
        name
        for name in names
        if mine.get(name) != theirs.get(name)
        and not (name.startswith(KEY_PREFIX) and mine.get(name, "unset") == "unset")
    ]


def pepper_file(env: Mapping[str, str], home: Path) -> Path:
    from .paths import state_dir

    return state_dir(env, home) / "fingerprint.key"
