"""The ``auth = "bedrock"`` settings of a provider: its AWS region and profile.

The region names the endpoint (``catalog.BEDROCK_URL``) and the SigV4 signature's scope, so a
Bedrock provider without one cannot work: it is a configuration problem, named with its fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .schema import ProviderConfig

# Where a provider without a key gets its credentials, for ``config show`` and /healthz.
KEYLESS_SOURCES = {"bedrock": "aws credential chain"}
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$")


def aws_settings(
    where: str, cfg: ProviderConfig, auth: str | None, env: Mapping[str, str], problems: list[str]
) -> dict[str, str | None]:
    """For ``auth = "bedrock"``: the region (config, else ``$AWS_REGION``, else
    ``$AWS_DEFAULT_REGION``, as the AWS CLI reads them) and the AWS profile. Either setting on
    another provider is reported, not ignored."""
    if auth != "bedrock":
        for name in ("region", "aws_profile"):
            if getattr(cfg, name) is not None:
                problems.append(f'{where}.{name}: only used with auth = "bedrock"')
        return {"region": None, "aws_profile": None}
    region = cfg.region or env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "")
    region = region.strip()
    if not region:
        problems.append(
            f'{where}.region: no AWS region: set region = "us-east-1" (for example) under '
            f"[{where}], or AWS_REGION"
        )
    elif not AWS_REGION.match(region):
        problems.append(f"{where}.region: {region!r} is not an AWS region name (us-east-1)")
        region = ""
    return {"region": region or None, "aws_profile": cfg.aws_profile}
