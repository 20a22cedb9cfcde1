"""The content blocks of a Messages request, parsed once per type into frozen values.

``parse_content(content, path, role, last=...)`` reads one message's ``content`` (a string, or an
array of blocks) and ``parse_system(system)`` the top-level ``system``. Every block is checked
against the rules of its type and of its place, and keeps its JSON path, so a dialect that cannot
carry a valid block (a PDF to a text-only upstream) can still name it in its refusal.

Where each type may appear (the Anthropic API's rules):

* user messages: ``text``, ``image``, ``document``, ``search_result``, ``tool_result``;
* assistant messages: ``text``, ``tool_use``, ``thinking``, ``redacted_thinking`` and the
  transcript blocks of server tools (``server_tool_use``, ``web_search_tool_result``, ...), which
  are kept opaque;
* a system prompt and a ``search_result``'s content: ``text`` only;
* a ``tool_result``'s content and a ``content`` document source: ``text``, ``image``,
  ``document``, ``search_result``.

A string ``content`` is one text block whose path is the content's own. An empty array is
refused except on a final assistant message (an empty prefill). Unknown keys inside a block are
ignored (``cache_control``, ``citations``, new client fields); unknown block types are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from ..errors import InvalidRequest, json_path
from .fields import array, as_object, boolean, choice, describe, mapping, need, string, wrong

# The media types Anthropic accepts for base64 images.
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
PDF_MEDIA_TYPE = "application/pdf"  # the only base64 document type
# How tool inputs go upstream: compact, non-ASCII kept. One encoder: json.dumps with options
# builds a new one per call, which costs more than encoding a small input.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# Transcript blocks of Anthropic's server tools, echoed back in assistant turns. No other API
# has them; each dialect drops them.
SERVER_TOOL_BLOCKS = frozenset(
    {
        "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
        "code_execution_tool_result", "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result", "tool_search_tool_result", "mcp_tool_use",
        "mcp_tool_result", "container_upload",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Base64Source:
    path: str  # of the source object
    media_type: str
    data: str


@dataclass(frozen=True, slots=True)
class UrlSource:
    path: str
    url: str


@dataclass(frozen=True, slots=True)
class FileSource:
    """A Files API id: only Anthropic can read it."""

    path: str
    file_id: str


@dataclass(frozen=True, slots=True)
class TextSource:
    """A plain-text document."""

    path: str
    data: str


@dataclass(frozen=True, slots=True)
class ContentSource:
    """A document given as blocks (a string ``content`` is one text block)."""

    path: str
    content: tuple[Block, ...]


Source = Base64Source | UrlSource | FileSource | TextSource | ContentSource


@dataclass(frozen=True, slots=True)
class TextBlock:
    path: str
    text: str


@dataclass(frozen=True, slots=True)
class ImageBlock:
    path: str
    source: Base64Source | UrlSource | FileSource


@dataclass(frozen=True, slots=True)
class DocumentBlock:
    path: str
    source: Source
    title: str | None
    context: str | None


@dataclass(frozen=True, slots=True)
class SearchResultBlock:
    path: str
    title: str
    source: str  # where the result came from (a URL or any label)
    content: tuple[TextBlock, ...]


@dataclass(frozen=True, slots=True)
class ToolUseBlock:
    path: str
    id: str
    name: str
    input: Mapping[str, Any]
    arguments: str  # ``input`` as compact JSON, non-ASCII kept: what upstreams take


@dataclass(frozen=True, slots=True)
class ToolResultBlock:
    path: str
    tool_use_id: str
    content: str | tuple[Block, ...]  # an absent content is ""
    is_error: bool


@dataclass(frozen=True, slots=True)
class ToolReferenceBlock:
    """Tool search's answer inside a tool_result: the deferred tool ``tool_name`` is loaded (the
    Anthropic API then shows the model its definition; docs/protocol/anthropic.md §5)."""

    path: str
    tool_name: str

    @property
    def text(self) -> str:
        """How an upstream without tool search is told: the tool is in its tool list now."""
        return f"Tool {self.tool_name} is loaded and can be called now."


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    path: str
    thinking: str
    signature: str | None


@dataclass(frozen=True, slots=True)
class RedactedThinkingBlock:
    path: str
    data: str


@dataclass(frozen=True, slots=True)
class ServerToolBlock:
    """A server tool's transcript block, kept as the client sent it."""

    path: str
    type: str
    block: Mapping[str, Any]


Block = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | SearchResultBlock
    | ToolUseBlock
    | ToolResultBlock
    | ToolReferenceBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ServerToolBlock
)

_MEDIA = frozenset({"text", "image", "document", "search_result"})
_TEXT = frozenset({"text"})
# Where a block sits -> (the types allowed there, how an error message names the place).
_PLACES: Mapping[str, tuple[frozenset[str], str]] = {
    "user": (_MEDIA | {"tool_result"}, "a user message"),
    "assistant": (
        frozenset({"text", "tool_use", "thinking", "redacted_thinking"}) | SERVER_TOOL_BLOCKS,
        "an assistant message",
    ),
    "system": (_TEXT, "a system prompt"),
    "tool_result": (_MEDIA | {"tool_reference"}, "a tool_result's content"),
    "document": (_MEDIA, "a document's content"),
    "search_result": (_TEXT, "a search_result's content"),
}


def parse_content(content: object, path: str, role: str, *, last: bool) -> tuple[Block, ...]:
    """The blocks of one message's ``content`` (``path`` is the content's path)."""
    if isinstance(content, str):
        return (TextBlock(path, content),)
    if not isinstance(content, list):
        raise wrong("content", "a string or an array of content blocks", content, path)
    if not content and not (role == "assistant" and last):  # an empty prefill is a no-op
        raise InvalidRequest(
            "'content' must not be empty (only a final assistant message may be)", path=path
        )
    return _blocks(content, path, role)


def parse_system(system: object) -> tuple[TextBlock, ...]:
    """The top-level ``system``: a string or an array of text blocks."""
    if system is None:
        return ()
    if isinstance(system, str):
        return (TextBlock("$.system", system),)
    if not isinstance(system, list):
        raise wrong("system", "a string or an array of text blocks", system, "$.system")
    return _texts(system, "$.system", "system")


def _blocks(items: list[Any], path: str, place: str) -> tuple[Block, ...]:
    allowed, where = _PLACES[place]
    blocks = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        block = item if type(item) is dict else as_object(item, item_path, "a content block")
        kind = block.get("type")
        parser = _PARSERS.get(kind) if type(kind) is str else None
        if parser is None or kind not in allowed:
            _refuse(kind, item_path, where)
        blocks.append(parser(block, item_path))
    return tuple(blocks)


def _refuse(kind: object, path: str, where: str) -> NoReturn:
    """The error for a block of no known type, or of a type its place does not allow."""
    if not isinstance(kind, str):
        raise InvalidRequest(
            f"a content block needs a string 'type', got {describe(kind)}", path=path
        )
    if kind not in _PARSERS:
        raise InvalidRequest(f"unsupported content block type {kind!r}", path=path)
    raise InvalidRequest(f"a {kind!r} block cannot appear in {where}", path=path)


def _texts(items: list[Any], path: str, place: str) -> tuple[TextBlock, ...]:
    blocks = _blocks(items, path, place)
    return tuple(b for b in blocks if isinstance(b, TextBlock))  # all of them: the place says


def _text(block: Mapping[str, Any], path: str) -> TextBlock:
    text = block.get("text")
    if type(text) is not str:  # a plain string needs no call: this runs for every text block
        text = need(string(block, "text", path), "text", path)
    return TextBlock(path, text)


def _image(block: Mapping[str, Any], path: str) -> ImageBlock:
    source = _source(block, path, ("base64", "url", "file"))
    if isinstance(source, Base64Source) and source.media_type not in IMAGE_MEDIA_TYPES:
        raise InvalidRequest(
            f"unsupported image media_type {source.media_type!r}; expected one of "
            + ", ".join(sorted(IMAGE_MEDIA_TYPES)),
            path=json_path(source.path, "media_type"),
        )
    assert not isinstance(source, TextSource | ContentSource)  # not among the allowed types
    return ImageBlock(path, source)


def _document(block: Mapping[str, Any], path: str) -> DocumentBlock:
    source = _source(block, path, ("base64", "url", "text", "content", "file"))
    if isinstance(source, Base64Source) and source.media_type != PDF_MEDIA_TYPE:
        raise InvalidRequest(
            f"a base64 document must have media_type '{PDF_MEDIA_TYPE}', got {source.media_type!r}",
            path=json_path(source.path, "media_type"),
        )
    return DocumentBlock(path, source, string(block, "title", path), string(block, "context", path))


def _source(block: Mapping[str, Any], path: str, kinds: tuple[str, ...]) -> Source:
    where = json_path(path, "source")
    source = need(mapping(block, "source", path), "source", path)
    kind = need(choice(source, "type", where, kinds, name="source type"), "type", where)
    if kind == "base64":
        media_type = need(string(source, "media_type", where), "media_type", where)
        return Base64Source(where, media_type, need(string(source, "data", where), "data", where))
    if kind == "url":
        return UrlSource(where, need(string(source, "url", where), "url", where))
    if kind == "file":
        return FileSource(where, need(string(source, "file_id", where), "file_id", where))
    if kind == "text":
        return TextSource(where, need(string(source, "data", where), "data", where))
    content = source.get("content")
    content_path = json_path(where, "content")
    if isinstance(content, str):
        return ContentSource(where, (TextBlock(content_path, content),))
    if not isinstance(content, list):
        raise wrong("content", "a string or an array of content blocks", content, content_path)
    return ContentSource(where, _blocks(content, content_path, "document"))


def _search_result(block: Mapping[str, Any], path: str) -> SearchResultBlock:
    title = need(string(block, "title", path), "title", path)
    source = need(string(block, "source", path), "source", path)
    content = need(array(block, "content", path), "content", path)
    return SearchResultBlock(
        path, title, source, _texts(content, json_path(path, "content"), "search_result")
    )


def _tool_use(block: Mapping[str, Any], path: str) -> ToolUseBlock:
    tool_id, name, tool_input = block.get("id"), block.get("name"), block.get("input")
    if type(tool_id) is not str or type(name) is not str or type(tool_input) is not dict:
        tool_id = need(string(block, "id", path), "id", path)
        name = need(string(block, "name", path), "name", path)
        tool_input = need(mapping(block, "input", path), "input", path)
    try:
        arguments = _COMPACT_JSON.encode(tool_input)
    except (TypeError, ValueError):  # json.loads reads NaN and Infinity; JSON has neither
        raise InvalidRequest(
            "'input' must hold only JSON values (no NaN or Infinity)", path=json_path(path, "input")
        ) from None
    return ToolUseBlock(path, tool_id, name, tool_input, arguments)


def _tool_result(block: Mapping[str, Any], path: str) -> ToolResultBlock:
    tool_use_id = block.get("tool_use_id")
    if type(tool_use_id) is not str:
        tool_use_id = need(string(block, "tool_use_id", path), "tool_use_id", path)
    raw = block.get("content")
    content: str | tuple[Block, ...]
    if raw is None or type(raw) is str:
        content = raw or ""
    elif type(raw) is list:
        content = _blocks(raw, f"{path}.content", "tool_result")
    else:
        raise wrong("content", "a string or an array of content blocks", raw, f"{path}.content")
    is_error = block.get("is_error")
    if is_error is not None and type(is_error) is not bool:
        is_error = boolean(block, "is_error", path)
    return ToolResultBlock(path, tool_use_id, content, is_error is True)


def _tool_reference(block: Mapping[str, Any], path: str) -> ToolReferenceBlock:
    return ToolReferenceBlock(path, need(string(block, "tool_name", path), "tool_name", path))


def _thinking(block: Mapping[str, Any], path: str) -> ThinkingBlock:
    thinking = need(string(block, "thinking", path), "thinking", path)
    return ThinkingBlock(path, thinking, string(block, "signature", path))


def _redacted_thinking(block: Mapping[str, Any], path: str) -> RedactedThinkingBlock:
    return RedactedThinkingBlock(path, need(string(block, "data", path), "data", path))


def _server_tool(block: Mapping[str, Any], path: str) -> ServerToolBlock:
    return ServerToolBlock(path, block["type"], block)


_PARSERS: Mapping[str, Callable[[Mapping[str, Any], str], Block]] = {
    "text": _text,
    "image": _image,
    "document": _document,
    "search_result": _search_result,
    "tool_use": _tool_use,
    "tool_result": _tool_result,
    "tool_reference": _tool_reference,
    "thinking": _thinking,
    "redacted_thinking": _redacted_thinking,
    **dict.fromkeys(SERVER_TOOL_BLOCKS, _server_tool),
}
