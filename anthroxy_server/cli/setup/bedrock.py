"""`anthroxy config init` for the Bedrock providers: ask only what the AWS chain cannot find.

The credentials are never asked for: a Bedrock API key in ``AWS_BEARER_TOKEN_BEDROCK``, else
whatever the AWS CLI uses (docs/providers/bedrock.md). The wizard says which of the two will
sign, and whether botocore (needed for the second) is installed. Only the region is asked, and
only when neither ``AWS_REGION`` nor ``AWS_DEFAULT_REGION`` holds one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from anthroxy.routing.catalog import ProviderPreset

from ...config.aws import AWS_REGION
from .prompts import Prompter, ProviderChoice

DEFAULT_REGION = "us-east-1"
_INSTALL = 'pip install "anthroxy[bedrock]"'


def ask_bedrock(p: Prompter, preset: ProviderPreset, env: Mapping[str, str]) -> ProviderChoice:
    token = next((name for name in preset.key_env if env.get(name, "").strip()), None)
    if token:
        p.say(f"  {preset.name}: requests use the Bedrock API key in {token}")
    else:
        p.say(
            f"  {preset.name}: no {preset.key_env[0]}, so requests are signed with your AWS "
            "credentials (what `aws configure` or `aws sso login` set up)"
        )
        if importlib.util.find_spec("botocore") is None:
            p.say(f"  note: signing needs botocore, which is not installed: {_INSTALL}")
    region = env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip()
    if region:
        p.say(f"  region {region}, from the environment")
        return ProviderChoice(preset.id)
    answer = p.ask_until(f"{preset.name}: AWS region", DEFAULT_REGION, _region)
    return ProviderChoice(preset.id, region=answer)


def _region(answer: str) -> str:
    if not AWS_REGION.match(answer):
        raise ValueError("an AWS region looks like us-east-1 or eu-central-1")
    return answer
