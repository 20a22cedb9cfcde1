"""Parsed Anthropic content blocks -> Chat Completions message parts (one function per kind).

``user_parts`` maps one user-side block (text, image, document, search_result) to parts;
``tool_result`` maps one tool_result block to a ``tool`` message plus the media parts that must
travel in the user message after it, since Chat ``tool`` messages carry no images
(docs/protocol/chat-completions.md §3, translation-rules.md §2).
The blocks come from ``messages.request.parse_request``, already valid; what is refused here is
what a Chat upstream cannot carry (UnsupportedFeature, with the block's path). Used by request.py.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ..errors import UnsupportedFeature, json_path
from ..ids import upstream_tool_id
from ..messages.blocks import (
    Base64Source,
    Block,
    ContentSource,
    DocumentBlock,
    FileSource,
    ImageBlock,
    SearchResultBlock,
    TextBlock,
    TextSource,
    ToolReferenceBlock,
    ToolResultBlock,
    UrlSource,
)
from ..profile import ProviderProfile

# some servers reject an empty tool message (docs/protocol/translation-rules.md §2)
EMPTY_TOOL_RESULT = "(no output)"
MEDIA_TOOL_RESULT = "(the output is in the next user message)"
ERROR_PREFIX = (
    "Error: "  # Chat tool messages have no error flag (docs/protocol/translation-rules.md §2)
)


def tool_result(
    block: ToolResultBlock, profile: ProviderProfile
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One tool message, plus media parts (images, files) for the user message after it."""
    texts, media = _tool_result_content(block.content, profile)
    text = "\n\n".join(texts) or (MEDIA_TOOL_RESULT if media else EMPTY_TOOL_RESULT)
    if block.is_error:
        text = ERROR_PREFIX + text
    call_id = upstream_tool_id(
        block.tool_use_id, profile.tool_call_id_max, profile.tool_call_id_style
    )
    if media:
        media = [text_part(f"(output of tool call {call_id}:)"), *media]
    return {"role": "tool", "tool_call_id": call_id, "content": text}, media


def _tool_result_content(
    content: str | tuple[Block, ...], profile: ProviderProfile
) -> tuple[list[str], list[dict[str, Any]]]:
    if isinstance(content, str):
        return ([content] if content else []), []
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    for block in content:
        for part in user_parts(block, profile):
            if part["type"] == "text":
                texts.append(part["text"])
            else:
                media.append(part)
    return texts, media


def user_parts(block: Block, profile: ProviderProfile) -> list[dict[str, Any]]:
    """The parts of a text, image, document or search_result block."""
    if isinstance(block, TextBlock):
        return [text_part(block.text)]
    if isinstance(block, ImageBlock):
        return [_image_part(block)]
    if isinstance(block, DocumentBlock):
        return _document_parts(block, profile)
    if isinstance(block, SearchResultBlock):
        return [_search_result_part(block)]
    if isinstance(block, ToolReferenceBlock):
        return [text_part(block.text)]
    raise AssertionError(f"{type(block).__name__} is not a user part")  # parse_request's rules


def _image_part(block: ImageBlock) -> dict[str, Any]:
    """base64 -> data URL, url -> url (docs/protocol/translation-rules.md §2)."""
    source = block.source
    if isinstance(source, Base64Source):
        url = f"data:{source.media_type};base64,{source.data}"
    elif isinstance(source, UrlSource):
        url = source.url
    else:
        _refuse_file(source)
    return {"type": "image_url", "image_url": {"url": url}}


def _document_parts(block: DocumentBlock, profile: ProviderProfile) -> list[dict[str, Any]]:
    """Text documents become text (title and context first); PDFs a file part
    (docs/protocol/translation-rules.md §2)."""
    source = block.source
    header = "\n\n".join(v for v in (block.title, block.context) if v)
    if isinstance(source, TextSource):
        return [text_part(f"{header}\n\n{source.data}" if header else source.data)]
    head = [text_part(header)] if header else []
    if isinstance(source, ContentSource):
        return head + [part for item in source.content for part in user_parts(item, profile)]
    if isinstance(source, Base64Source):
        return [*head, _pdf_part(block, source, profile)]
    if isinstance(source, UrlSource):
        raise UnsupportedFeature(
            "documents by URL cannot be sent to a Chat Completions upstream (anthroxy does not "
            "fetch URLs); send the PDF as a base64 source or its text as a 'text' source",
            path=json_path(source.path, "type"),
        )
    _refuse_file(source)


def _pdf_part(
    block: DocumentBlock, source: Base64Source, profile: ProviderProfile
) -> dict[str, Any]:
    if not profile.accepts_pdf:
        raise UnsupportedFeature(
            "this upstream does not accept PDF documents; send the document's text as a 'text' "
            "source, or route the model to a provider that reads PDFs",
            path=source.path,
        )
    filename = block.title or "document.pdf"
    return {
        "type": "file",
        "file": {"filename": filename, "file_data": f"data:application/pdf;base64,{source.data}"},
    }


def _search_result_part(block: SearchResultBlock) -> dict[str, Any]:
    """A search result as text: its title and source, then its text blocks."""
    texts = [item.text for item in block.content]
    return text_part("\n\n".join([f"{block.title} ({block.source})", *texts]))


def _refuse_file(source: FileSource) -> NoReturn:
    raise UnsupportedFeature(
        "Files API sources cannot be sent to this upstream (it cannot read Anthropic file "
        "ids); send the content inline as base64",
        path=json_path(source.path, "type"),
    )


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}
