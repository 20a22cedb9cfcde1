"""Anthropic content blocks -> Chat Completions message parts (one function per block kind).

``user_parts`` maps one user-side block (text, image, document, search_result) to parts;
``tool_result`` maps one tool_result block to a ``tool`` message plus the media parts that must
travel in the user message after it, since Chat ``tool`` messages carry no images (§2.2, §4.2).
Pure; errors carry the JSON path of the block. Used by chat.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from ..errors import InvalidRequest, UnsupportedFeature, json_path
from ..ids import upstream_tool_id
from ..profile import ProviderProfile

IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})  # §1.3
EMPTY_TOOL_RESULT = "(no output)"  # some servers reject an empty tool message (§4.2)
MEDIA_TOOL_RESULT = "(the output is in the next user message)"
ERROR_PREFIX = "Error: "  # Chat tool messages have no error flag (§4.2)


def content_block(block: object, path: str) -> Mapping[str, Any]:
    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
        raise InvalidRequest("a content block must be an object with a string 'type'", path=path)
    return block


def tool_result(
    block: Mapping[str, Any], path: str, profile: ProviderProfile
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One tool message, plus media parts (images, files) for the user message after it."""
    tool_use_id = str_field(block, "tool_use_id", path)
    texts, media = _tool_result_content(block.get("content"), json_path(path, "content"), profile)
    text = "\n\n".join(texts) or (MEDIA_TOOL_RESULT if media else EMPTY_TOOL_RESULT)
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise InvalidRequest("'is_error' must be a boolean", path=json_path(path, "is_error"))
    if is_error:
        text = ERROR_PREFIX + text
    call_id = upstream_tool_id(tool_use_id, profile.tool_call_id_max, profile.tool_call_id_style)
    if media:
        media = [text_part(f"(output of tool call {call_id}:)"), *media]
    return {"role": "tool", "tool_call_id": call_id, "content": text}, media


def _tool_result_content(
    content: object, path: str, profile: ProviderProfile
) -> tuple[list[str], list[dict[str, Any]]]:
    if content is None:
        return [], []
    if isinstance(content, str):
        return ([content] if content else []), []
    if not isinstance(content, list):
        raise InvalidRequest("tool_result content must be a string or an array", path=path)
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    for index, item in enumerate(content):
        item_path = json_path(path, index)
        for part in user_parts(content_block(item, item_path), item_path, profile):
            if part["type"] == "text":
                texts.append(part["text"])
            else:
                media.append(part)
    return texts, media


def user_parts(
    block: Mapping[str, Any], path: str, profile: ProviderProfile
) -> list[dict[str, Any]]:
    kind = block["type"]
    handler = USER_PARTS.get(kind)
    if handler is not None:
        return handler(block, path, profile)
    if kind in ASSISTANT_ONLY:
        raise InvalidRequest(f"a {kind!r} block may only appear in an assistant message", path=path)
    raise InvalidRequest(f"unsupported content block type {kind!r}", path=path)


def _text_block(block: Mapping[str, Any], path: str, _: ProviderProfile) -> list[dict[str, Any]]:
    return [text_part(text_of(block, path))]


def _image_block(block: Mapping[str, Any], path: str, _: ProviderProfile) -> list[dict[str, Any]]:
    """base64 -> data URL, url -> url (§4.2)."""
    source, source_path = _source(block, path)
    kind = source["type"]
    if kind == "base64":
        media_type = source.get("media_type")
        if not isinstance(media_type, str) or media_type not in IMAGE_MEDIA_TYPES:
            raise InvalidRequest(
                f"unsupported image media_type {media_type!r}; expected one of "
                + ", ".join(sorted(IMAGE_MEDIA_TYPES)),
                path=json_path(source_path, "media_type"),
            )
        url = f"data:{media_type};base64,{str_field(source, 'data', source_path)}"
    elif kind == "url":
        url = str_field(source, "url", source_path)
    else:
        _refuse_source(kind, source_path)
    return [{"type": "image_url", "image_url": {"url": url}}]


def _document_block(
    block: Mapping[str, Any], path: str, profile: ProviderProfile
) -> list[dict[str, Any]]:
    """Text documents become text (title and context first); PDFs a file part (§4.2)."""
    source, source_path = _source(block, path)
    kind = source["type"]
    header = "\n\n".join(
        v for v in (block.get("title"), block.get("context")) if isinstance(v, str) and v
    )
    if kind == "text":
        data = str_field(source, "data", source_path)
        return [text_part(f"{header}\n\n{data}" if header else data)]
    head = [text_part(header)] if header else []
    if kind == "content":
        content = source.get("content")
        if isinstance(content, str):
            return [*head, text_part(content)]
        if not isinstance(content, list):
            raise InvalidRequest("content must be a string or an array", path=source_path)
        inner = json_path(source_path, "content")
        return head + [
            part
            for i, item in enumerate(content)
            for part in user_parts(
                content_block(item, json_path(inner, i)), json_path(inner, i), profile
            )
        ]
    if kind == "base64":
        return [*head, _pdf_part(block, source, source_path, profile)]
    if kind == "url":
        raise UnsupportedFeature(
            "documents by URL cannot be sent to a Chat Completions upstream (anthroxy does not "
            "fetch URLs); send the PDF as a base64 source or its text as a 'text' source",
            path=json_path(source_path, "type"),
        )
    _refuse_source(kind, source_path)


def _pdf_part(
    block: Mapping[str, Any], source: Mapping[str, Any], path: str, profile: ProviderProfile
) -> dict[str, Any]:
    if source.get("media_type") != "application/pdf":
        raise InvalidRequest(
            "a base64 document must have media_type 'application/pdf'",
            path=json_path(path, "media_type"),
        )
    data = str_field(source, "data", path)
    if not profile.accepts_pdf:
        raise UnsupportedFeature(
            "this upstream does not accept PDF documents; send the document's text as a 'text' "
            "source, or route the model to a provider that reads PDFs",
            path=path,
        )
    title = block.get("title")
    filename = title if isinstance(title, str) and title else "document.pdf"
    return {
        "type": "file",
        "file": {"filename": filename, "file_data": f"data:application/pdf;base64,{data}"},
    }


def _search_result_block(
    block: Mapping[str, Any], path: str, _: ProviderProfile
) -> list[dict[str, Any]]:
    """A search result as text: its title and source, then its text blocks."""
    title = str_field(block, "title", path)
    source = str_field(block, "source", path)
    content = block.get("content")
    if not isinstance(content, list):
        raise InvalidRequest("'content' must be an array", path=json_path(path, "content"))
    inner = json_path(path, "content")
    texts = [
        text_of(content_block(b, json_path(inner, i)), json_path(inner, i))
        for i, b in enumerate(content)
    ]
    return [text_part("\n\n".join([f"{title} ({source})", *texts]))]


USER_PARTS: Mapping[
    str, Callable[[Mapping[str, Any], str, ProviderProfile], list[dict[str, Any]]]
] = {
    "text": _text_block,
    "image": _image_block,
    "document": _document_block,
    "search_result": _search_result_block,
}
ASSISTANT_ONLY = frozenset({"tool_use", "thinking", "redacted_thinking"})


def _source(block: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any], str]:
    source_path = json_path(path, "source")
    source = block.get("source")
    if not isinstance(source, Mapping) or not isinstance(source.get("type"), str):
        raise InvalidRequest("'source' must be an object with a string 'type'", path=source_path)
    return source, source_path


def _refuse_source(kind: str, source_path: str) -> NoReturn:
    if kind == "file":
        raise UnsupportedFeature(
            "Files API sources cannot be sent to this upstream (it cannot read Anthropic file "
            "ids); send the content inline as base64",
            path=json_path(source_path, "type"),
        )
    raise InvalidRequest(f"unsupported source type {kind!r}", path=json_path(source_path, "type"))


def text_of(block: Mapping[str, Any], path: str) -> str:
    return str_field(block, "text", path)


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def str_field(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{key}' must be a string", path=json_path(path, key))
    return value
