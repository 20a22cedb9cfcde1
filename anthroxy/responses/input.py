"""Parsed Anthropic messages -> Responses API ``input`` items.

``input_items(messages, names, profile)`` keeps the order of blocks within each message:
text-like blocks gather into one ``message`` item; a ``tool_use``, ``tool_result`` or replayed
reasoning block ends that item and becomes an item of its own. A ``system`` message inside
``messages`` becomes a ``developer`` message item at its position. What the Responses API cannot
carry (Files API sources) is refused with the block's path; the rest was validated by the parser.
Used by request.py.
"""

from __future__ import annotations

from typing import Any

from .. import signature
from ..errors import UnsupportedFeature, json_path
from ..ids import upstream_tool_id
from ..messages.blocks import (
    Base64Source,
    Block,
    ContentSource,
    DocumentBlock,
    ImageBlock,
    RedactedThinkingBlock,
    SearchResultBlock,
    ServerToolBlock,
    TextBlock,
    TextSource,
    ThinkingBlock,
    ToolReferenceBlock,
    ToolResultBlock,
    ToolUseBlock,
    UrlSource,
)
from ..messages.request import Message
from ..profile import ProviderProfile
from ..toolnames import ToolNames

# docs/protocol/responses.md §3: ``call_id`` max length 64.
CALL_ID_MAX = 64
# The Responses API has no error flag on a function output (docs/protocol/translation-rules.md §2).
ERROR_PREFIX = "Error: "


def input_items(
    messages: tuple[Message, ...], names: ToolNames, profile: ProviderProfile
) -> list[dict[str, Any]]:
    return _InputBuilder(names, profile).build(messages)


class _InputBuilder:
    def __init__(self, names: ToolNames, profile: ProviderProfile) -> None:
        self._names = names
        self._profile = profile
        self._items: list[dict[str, Any]] = []
        self._parts: list[dict[str, Any]] = []
        self._role = "user"

    def build(self, messages: tuple[Message, ...]) -> list[dict[str, Any]]:
        for message in messages:
            self._message(message)
        return self._items

    def _flush(self) -> None:
        if self._parts:
            self._items.append({"type": "message", "role": self._role, "content": self._parts})
            self._parts = []

    def _message(self, message: Message) -> None:
        if message.role == "system":
            # Claude Code's in-conversation system text (docs/protocol/claude-code.md §4.4) keeps
            # its position.
            text = "\n\n".join(b.text for b in message.content if isinstance(b, TextBlock))
            part = {"type": "input_text", "text": text}
            self._items.append({"type": "message", "role": "developer", "content": [part]})
            return
        self._role = message.role
        block_handler = self._user_block if message.role == "user" else self._assistant_block
        for block in message.content:
            block_handler(block)
        self._flush()

    def _user_block(self, block: Block) -> None:
        if isinstance(block, ToolResultBlock):
            self._flush()
            self._items.append(self._tool_result(block))
        else:
            self._parts.extend(_user_parts(block))

    def _assistant_block(self, block: Block) -> None:
        if isinstance(block, TextBlock):
            self._parts.append({"type": "output_text", "text": block.text})
        elif isinstance(block, ToolUseBlock):
            self._flush()
            self._items.append(self._function_call(block))
        elif isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            item = self._reasoning(block)
            if item is not None:
                self._flush()
                self._items.append(item)
        elif not isinstance(block, ServerToolBlock):  # server tools: no input form
            raise AssertionError(f"{type(block).__name__} in an assistant message")

    def _function_call(self, block: ToolUseBlock) -> dict[str, Any]:
        return {
            "type": "function_call",
            "call_id": upstream_tool_id(block.id, CALL_ID_MAX),
            "name": self._names.to_upstream(block.name),
            "arguments": block.arguments,
        }

    def _reasoning(self, block: ThinkingBlock | RedactedThinkingBlock) -> dict[str, Any] | None:
        """A reasoning item when the block carries anthroxy's signature with the item id (and,
        when the upstream keeps no state, the encrypted reasoning); else None: OpenAI could not
        use a real Anthropic or a foreign signature."""
        if isinstance(block, ThinkingBlock):
            text = block.thinking
            payload = signature.decode(block.signature)
        else:
            text = ""
            payload = signature.decode(block.data)
        if payload is None or not isinstance(payload.get("rid"), str):
            return None
        summary = [{"type": "summary_text", "text": text}] if text else []
        item: dict[str, Any] = {"type": "reasoning", "id": payload["rid"], "summary": summary}
        if isinstance(payload.get("enc"), str):
            item["encrypted_content"] = payload["enc"]
        elif self._profile.responses_stateless:
            return None  # store:false cannot resolve an id alone (docs/protocol/responses.md §3)
        return item

    def _tool_result(self, block: ToolResultBlock) -> dict[str, Any]:
        output = _tool_output(block.content)
        if block.is_error:
            output = _error_prefixed(output)
        return {
            "type": "function_call_output",
            "call_id": upstream_tool_id(block.tool_use_id, CALL_ID_MAX),
            "output": output,
        }


def _error_prefixed(output: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(output, str):
        return ERROR_PREFIX + output
    return [{"type": "input_text", "text": ERROR_PREFIX.rstrip()}, *output]


def _tool_output(content: str | tuple[Block, ...]) -> str | list[dict[str, Any]]:
    """A tool_result's content: one string when it is all text, else a list of input parts."""
    if isinstance(content, str):
        return content
    parts = [part for block in content for part in _user_parts(block)]
    if all(part["type"] == "input_text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def _user_parts(block: Block) -> list[dict[str, Any]]:
    if isinstance(block, TextBlock):
        return [{"type": "input_text", "text": block.text}]
    if isinstance(block, ImageBlock):
        return [_image(block)]
    if isinstance(block, DocumentBlock):
        return _document(block)
    if isinstance(block, SearchResultBlock):
        return [_search_result(block)]
    if isinstance(block, ToolReferenceBlock):
        return [{"type": "input_text", "text": block.text}]
    raise AssertionError(f"{type(block).__name__} is not a user part")  # parse_request's rules


def _image(block: ImageBlock) -> dict[str, Any]:
    source = block.source
    if isinstance(source, Base64Source):
        url = f"data:{source.media_type};base64,{source.data}"
        return {"type": "input_image", "image_url": url}
    if isinstance(source, UrlSource):
        return {"type": "input_image", "image_url": source.url}
    raise UnsupportedFeature(
        "image source type 'file' is not supported by a Responses API upstream",
        path=json_path(source.path, "type"),
    )


def _document(block: DocumentBlock) -> list[dict[str, Any]]:
    source = block.source
    if isinstance(source, Base64Source):
        file_data = f"data:{source.media_type};base64,{source.data}"
        filename = block.title or "document.pdf"
        return [{"type": "input_file", "filename": filename, "file_data": file_data}]
    if isinstance(source, UrlSource):
        return [{"type": "input_file", "file_url": source.url}]
    if isinstance(source, TextSource):
        return [{"type": "input_text", "text": source.data}]
    if isinstance(source, ContentSource):
        return [part for item in source.content for part in _user_parts(item)]
    raise UnsupportedFeature(
        "document source type 'file' is not supported by a Responses API upstream",
        path=json_path(source.path, "type"),
    )


def _search_result(block: SearchResultBlock) -> dict[str, Any]:
    """A search result has no Responses form: flattened into one text part (title, source, text)."""
    texts = [item.text for item in block.content]
    return {"type": "input_text", "text": "\n\n".join([f"{block.title}\n{block.source}", *texts])}
