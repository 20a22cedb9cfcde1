"""A provider's request cleaner from the catalogue and its ``[providers.<id>]`` table
(docs/configuration.md, "Cleaning requests").

* ``cleaner``: the catalogue provider whose rules apply. Default: the provider's own id when it
  is in the catalogue and keeps the catalogue's ``api`` (rules are written for one dialect);
  ``"none"`` for no rules at all.
* ``drop_fields``: paths always left out, added to those rules (``tools.*.defer_loading``).
* ``thinking_signatures``: whose thinking signatures the provider makes and verifies. Default:
  the chosen catalogue cleaner's (``anthropic`` for Anthropic, the id for the others), else the
  provider's own id: a provider nobody described can verify only what it signed itself.
"""

from __future__ import annotations

import dataclasses

from anthroxy.cleaning import NO_RULES, Cleaner, parse_path
from anthroxy.routing import catalog

from .schema import PROVIDER_ID, Api, ProviderConfig

NONE = "none"
CONFIGURED = "configuration"  # the source of a rule from drop_fields


def resolve_cleaner(
    pid: str, cfg: ProviderConfig, api: Api | None, problems: list[str]
) -> Cleaner | None:
    """The provider's cleaner; None after adding a line to ``problems`` for each mistake."""
    where = f"providers.{pid}"
    before = len(problems)
    base = _base(where, pid, cfg, api, problems)
    for index, path in enumerate(cfg.drop_fields):
        try:
            parse_path(path)
        except ValueError as exc:
            problems.append(f"{where}.drop_fields[{index}]: {exc}")
    signer = cfg.thinking_signatures
    if signer is not None and not PROVIDER_ID.match(signer):
        problems.append(
            f"{where}.thinking_signatures: a provider id (letters, digits, '-', '_'), got "
            f"{signer!r}"
        )
    if len(problems) > before or base is None:
        return None
    cleaner = base.with_drops(tuple(cfg.drop_fields), CONFIGURED)
    if signer is not None and signer != cleaner.signer:
        cleaner = dataclasses.replace(cleaner, signer=signer)
    return cleaner


def _base(
    where: str, pid: str, cfg: ProviderConfig, api: Api | None, problems: list[str]
) -> Cleaner | None:
    name = cfg.cleaner
    if name == NONE:
        return dataclasses.replace(NO_RULES, signer=pid)
    if name is None:
        own = catalog.CATALOG.get(pid)
        if own is not None and own.api == api:
            return own.cleaner
        return dataclasses.replace(NO_RULES, signer=pid)
    preset = catalog.CATALOG.get(name)
    if preset is None:
        problems.append(
            f"{where}.cleaner: {name!r} is not a catalogue provider (docs/providers.md) "
            f'nor "{NONE}"'
        )
        return None
    if preset.api != api:
        problems.append(
            f"{where}.cleaner: {name!r} cleans {preset.api!r} requests, this provider sends {api!r}"
        )
        return None
    return preset.cleaner
