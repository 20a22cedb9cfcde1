"""The ``bedrock`` providers (``auth = "bedrock"``): Claude and the open models on AWS Bedrock.

* ``api = "anthropic"`` (the ``bedrock`` preset): Claude through ``InvokeModel``.
  ``POST {base}/model/{model id}/invoke`` for JSON, ``.../invoke-with-response-stream`` for a
  stream; the body is the pass-through's, reshaped by ``anthroxy.bedrock.invoke_body`` (no
  ``model`` or ``stream``, ``anthropic_version: "bedrock-2023-05-31"``, the betas Bedrock takes
  as ``anthropic_beta``). The model id goes into the path with ``/`` percent-encoded and ``:``
  as it is (what Anthropic's own Bedrock SDK sends), so foundation-model ids, inference-profile
  ids (``us.anthropic.…``, ``global.…``) and ARNs all work. The stream comes back in AWS's
  event-stream framing: ``decode_stream`` puts ``anthroxy.bedrock.BedrockStream`` in front of
  the pass-through stream, which then sees plain Anthropic SSE.
* ``api = "chat"`` (the ``bedrock-openai`` preset): Bedrock's OpenAI-compatible Chat
  Completions endpoint (``{base}/openai/v1/chat/completions``), sent as the dialect built it.

Both sign every request (``bedrock_auth``): a Bedrock API key as a bearer token, else SigV4.
Errors are Bedrock's exception names mapped by ``anthroxy.bedrock.bedrock_error``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web

from anthroxy.bedrock import BedrockStream, bedrock_error, error_message, invoke_body
from anthroxy.errors import AnthroxyError
from anthroxy.streams import EventStream
from anthroxy.upstream_errors import error_from_upstream, upstream_object

from ..gateway.call import Call
from ..gateway.dialects import Plan
from ..gateway.upstream import join_url
from . import bedrock_auth
from .base import Outgoing, body_bytes

_COMPACT = (",", ":")
_ERROR_TYPE_HEADER = "x-amzn-errortype"
_JSON = "application/json"


class BedrockAccess:
    """One request to a Bedrock provider."""

    streams_only = False

    def __init__(self, call: Call, signer: bedrock_auth.AwsSigner | None) -> None:
        self._call = call
        self._provider = call.provider
        self._signer = signer

    @property
    def _model(self) -> str:
        return self._call.route.model

    async def outgoing(self, plan: Plan) -> Outgoing:
        provider = self._provider
        if provider.api == "anthropic":
            url, data, headers = self._invoke(plan)
        else:
            url, data = join_url(provider.base_url, plan.path), body_bytes(plan.body)
            headers = dict(plan.headers)
        headers = {**provider.headers, **headers}  # configured extras never replace these
        if provider.api_key:
            headers["authorization"] = f"Bearer {provider.api_key}"
        elif self._signer is not None:
            headers = await self._signer.sign(url, data, headers, provider=provider.id)
        else:
            raise AnthroxyError(
                f"provider '{provider.id}': no region to sign requests for", status=500
            )
        return Outgoing(url, data, headers)

    def _invoke(self, plan: Plan) -> tuple[str, bytes, dict[str, str]]:
        body: Mapping[str, Any]
        if isinstance(plan.body, bytes):
            body = upstream_object(plan.body, provider=self._provider.id, what="the request")
        else:
            body = plan.body
        data = json.dumps(
            invoke_body(body, plan.headers.get("anthropic-beta")), separators=_COMPACT
        ).encode()
        operation = "invoke-with-response-stream" if self._call.stream else "invoke"
        url = join_url(
            self._provider.base_url, f"/model/{quote(self._model, safe=':')}/{operation}"
        )
        return url, data, {"content-type": _JSON, "accept": _JSON}

    def decode_stream(self, stream: EventStream[bytes]) -> EventStream[bytes]:
        """Claude's stream arrives in AWS's event-stream framing; the OpenAI endpoint's is SSE."""
        if self._provider.api != "anthropic":
            return stream
        return BedrockStream(
            stream, provider=self._provider.id, model=self._model, region=self._provider.region
        )

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None:
        return None  # AWS answers a bad signature or key with 403; nothing to retry with

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        kind = _exception_name(headers, body)
        if kind is None and self._provider.api != "anthropic":
            # The OpenAI-compatible endpoint answers its own errors in OpenAI's shape.
            return error_from_upstream(status, body, provider=self._provider.id, headers=headers)
        return bedrock_error(
            kind,
            error_message(body),
            provider=self._provider.id,
            model=self._model,
            region=self._provider.region,
            status=status,
            retry_after=_retry_after(headers),
        )


def _exception_name(headers: Mapping[str, str], body: bytes) -> str | None:
    """``ThrottlingException`` from ``x-amzn-ErrorType: ThrottlingException:http://…``, else
    from the body's ``__type`` (``com.amazon.coral.service#UnrecognizedClientException``)."""
    header = next((v for k, v in headers.items() if k.lower() == _ERROR_TYPE_HEADER), "")
    if header:
        return header.split(":", 1)[0].strip() or None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    kind = value.get("__type") if isinstance(value, Mapping) else None
    return kind.rsplit("#", 1)[-1] if isinstance(kind, str) and kind else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86400 else None


def access(call: Call) -> BedrockAccess:
    provider = call.provider
    signer = None
    if provider.region is not None and not provider.api_key:
        app: web.Application = call.request.app
        signer = bedrock_auth.signer_for(app, provider.aws_profile, provider.region)
    return BedrockAccess(call, signer)


def setup(app: web.Application) -> None:
    bedrock_auth.setup(app)
