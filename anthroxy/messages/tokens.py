"""A cheap, deterministic local estimate of Anthropic input tokens (for count_tokens).

Non-Anthropic upstreams have no count_tokens endpoint (docs/protocol/anthropic.md §11) and Claude
Code calls it
many times at start-up, so the estimate must be fast (one pass, no tokenizer, images measured from
the first bytes of their data) and stable (same body, same number).

Ratios, and the accuracy to expect:

* ASCII text: 4 characters per token (a real count_tokens on plain English, recorded in
  fixtures/recorded/anthropic/exchange_count_tokens_then_cache_read.json, gave 4.9; code and
  identifiers run denser, so 4 keeps the estimate on the high side, which makes clients compact
  early rather than overflow).
* JSON (tool inputs, tool schemas): 3 characters per token (quotes, braces and keys split finely).
* CJK, kana, Hangul, fullwidth forms and astral-plane symbols: 1 token per character; other
  non-ASCII characters (accented Latin, Cyrillic, Greek, ...): 2 characters per token.
* Images: Anthropic documents tokens ~= width * height / 750 after downscaling so the long edge
  is at most 1568 px and the area at most ~1.2 megapixels (so at most 1600 tokens). PNG, GIF,
  WebP and JPEG dimensions are read from a decoded prefix of the base64 data; images given by URL
  or file id, or whose header cannot be read, count as the cap.
* PDFs: about 2000 tokens per page (Anthropic: 1500-3000 per page, text plus page image), with
  pages guessed from size (one per 50 KB, at least one). Text documents count as text.

Expect roughly +-25% against the real count for English prose and code, worse for unusual
scripts; the estimate errs high rather than low. Structurally wrong input (``messages`` not a list,
a block that is not an object) raises ``InvalidRequest`` with its JSON path; unknown block types
are counted by their JSON size, so new Anthropic block types never break counting.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import struct
from base64 import b64decode
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidRequest, json_path

_CHARS_PER_TOKEN = 4.0
_JSON_CHARS_PER_TOKEN = 3.0
_OTHER_CHARS_PER_TOKEN = 2.0
# CJK radicals..CJK unified ideographs (incl. kana), Yi, Hangul, compatibility ideographs,
# fullwidth forms, and the astral planes (emoji, CJK extensions).
_WIDE = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua000-\ua4cf\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
    "\U00010000-\U0010ffff]"
)

# Framing the API adds around the prompt, each message, each block and each tool (measured
# magnitudes of Anthropic counts; small next to real prompts).
_BASE_OVERHEAD = 4
_MESSAGE_OVERHEAD = 3
_BLOCK_OVERHEAD = 1
_TOOL_OVERHEAD = 8
# Anthropic prepends a tool-use system prompt when tools are present (~350 tokens on Claude 4).
_TOOLS_PROMPT = 350

# Images (Anthropic vision docs): long edge <= 1568 px, tokens = w * h / 750, "about 1.15 MP";
# its table gives 1092x1092 (1.19 MP) as ~1590 tokens, so the cap used is 1600 tokens (1.2 MP).
_IMAGE_MAX_EDGE = 1568
_IMAGE_MAX_PIXELS = 1_200_000
_IMAGE_MAX_TOKENS = math.ceil(_IMAGE_MAX_PIXELS / 750)
_PDF_TOKENS_PER_PAGE = 2000
_PDF_BYTES_PER_PAGE = 50_000
_JPEG_MAX_SCAN = 1 << 20  # give up looking for the frame header after 1 MB of markers


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    """Estimated ``input_tokens`` for a Messages / count_tokens request body."""
    total = float(_BASE_OVERHEAD)
    total += _system_tokens(body.get("system"), "$.system")
    messages = body.get("messages", [])
    if not isinstance(messages, list):
        raise InvalidRequest("messages must be a list", path="$.messages")
    for i, message in enumerate(messages):
        total += _message_tokens(message, json_path("$.messages", i))
    total += _tools_tokens(body.get("tools"), "$.tools")
    return math.ceil(total)


def text_tokens(text: str) -> float:
    """Estimated tokens of plain text (see the module docstring for the ratios)."""
    if text.isascii():
        return len(text) / _CHARS_PER_TOKEN
    ascii_count = len(text.encode("ascii", "ignore"))
    wide = len(_WIDE.findall(text))
    other = len(text) - ascii_count - wide
    return ascii_count / _CHARS_PER_TOKEN + wide + other / _OTHER_CHARS_PER_TOKEN


def _json_tokens(value: Any) -> float:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if text.isascii():
        return len(text) / _JSON_CHARS_PER_TOKEN
    return text_tokens(text) * (_CHARS_PER_TOKEN / _JSON_CHARS_PER_TOKEN)


def _system_tokens(system: Any, path: str) -> float:
    return _text_or_blocks_tokens(system, path, "system must be a string or a list of text blocks")


def _message_tokens(message: Any, path: str) -> float:
    if not isinstance(message, Mapping):
        raise InvalidRequest("message must be an object", path=path)
    return _MESSAGE_OVERHEAD + _content_tokens(message.get("content"), json_path(path, "content"))


def _content_tokens(content: Any, path: str) -> float:
    return _text_or_blocks_tokens(
        content, path, "content must be a string or a list of content blocks"
    )


def _text_or_blocks_tokens(value: Any, path: str, refusal: str) -> float:
    """``system`` and message ``content`` share one shape: absent, a string, or blocks."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        return text_tokens(value)
    if isinstance(value, list):
        return sum(_block_tokens(b, json_path(path, i)) for i, b in enumerate(value))
    raise InvalidRequest(refusal, path=path)


def _block_tokens(block: Any, path: str) -> float:
    if not isinstance(block, Mapping):
        raise InvalidRequest("content block must be an object", path=path)
    kind = block.get("type")
    tokens = float(_BLOCK_OVERHEAD)
    if kind == "text":
        tokens += _str_tokens(block.get("text"))
    elif kind == "thinking":
        tokens += _str_tokens(block.get("thinking"))
    elif kind == "redacted_thinking":
        tokens += _str_tokens(block.get("data"))
    elif kind == "tool_use" or kind == "server_tool_use":
        tokens += _str_tokens(block.get("name")) + _json_tokens(block.get("input", {}))
    elif kind == "tool_result":
        tokens += _content_tokens(block.get("content"), json_path(path, "content"))
    elif kind == "image":
        tokens += _image_tokens(block.get("source"))
    elif kind == "document":
        tokens += _document_tokens(block, path)
    else:  # newer or server-side block types: their JSON size is a fair proxy
        tokens += _json_tokens(block)
    return tokens


def _str_tokens(value: Any) -> float:
    return text_tokens(value) if isinstance(value, str) else 0.0


def _tools_tokens(tools: Any, path: str) -> float:
    if not tools:
        return 0.0
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be a list", path=path)
    total = float(_TOOLS_PROMPT)
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise InvalidRequest("tool must be an object", path=json_path(path, i))
        total += _TOOL_OVERHEAD + _str_tokens(tool.get("name"))
        total += _str_tokens(tool.get("description"))
        schema = tool.get("input_schema")
        if schema is not None:
            total += _json_tokens(schema)
        elif tool.get("type"):  # a server tool (web_search_...): its settings
            total += _json_tokens(tool)
    return total


def _document_tokens(block: Mapping[str, Any], path: str) -> float:
    tokens = _str_tokens(block.get("title")) + _str_tokens(block.get("context"))
    source = block.get("source")
    if not isinstance(source, Mapping):
        return tokens + _PDF_TOKENS_PER_PAGE
    kind = source.get("type")
    if kind == "text":
        return tokens + _str_tokens(source.get("data"))
    if kind == "content":
        return tokens + _content_tokens(source.get("content"), json_path(path, "source.content"))
    data = source.get("data")
    if kind == "base64" and isinstance(data, str):
        pages = max(1, math.ceil(len(data) * 3 // 4 / _PDF_BYTES_PER_PAGE))
        return tokens + pages * _PDF_TOKENS_PER_PAGE
    return tokens + _PDF_TOKENS_PER_PAGE  # by URL or file id: size unknown


def _image_tokens(source: Any) -> float:
    if isinstance(source, Mapping) and source.get("type") == "base64":
        data = source.get("data")
        if isinstance(data, str):
            size = image_size(data)
            if size is not None:
                return image_tokens_for(*size)
    return float(_IMAGE_MAX_TOKENS)


def image_tokens_for(width: int, height: int) -> int:
    """Anthropic's documented estimate for an image of ``width`` x ``height`` pixels."""
    if width <= 0 or height <= 0:
        return _IMAGE_MAX_TOKENS
    scale = min(1.0, _IMAGE_MAX_EDGE / max(width, height))
    pixels = width * height * scale * scale
    if pixels > _IMAGE_MAX_PIXELS:
        pixels = _IMAGE_MAX_PIXELS
    return max(1, min(_IMAGE_MAX_TOKENS, math.ceil(pixels / 750)))


class _Base64Bytes:
    """Random access to the bytes of base64 text, decoding only the 4-character groups asked
    for (a JPEG's frame header can sit after a large EXIF segment)."""

    def __init__(self, data: str) -> None:
        self._data = data
        self.size = len(data) * 3 // 4

    def read(self, offset: int, n: int) -> bytes:
        first = offset // 3
        last = -(-(offset + n) // 3)
        chunk = self._data[first * 4 : last * 4]
        try:
            raw = b64decode(chunk, validate=True)
        except (binascii.Error, ValueError):
            return b""
        return raw[offset - first * 3 : offset - first * 3 + n]


def image_size(data: str) -> tuple[int, int] | None:
    """``(width, height)`` of a base64 PNG, GIF, WebP or JPEG, or ``None`` if unreadable."""
    src = _Base64Bytes(data)
    head = src.read(0, 32)
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return width, height
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_size(head)
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(src)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:  # 24-bit width-1 and height-1 at offset 24
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    # VP8L: signature byte 0x2f, then 14-bit width-1 and 14-bit height-1
    if chunk == b"VP8L" and head[20:21] == b"\x2f" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    # VP8 (lossy): key frame start code 9d 01 2a, then 14-bit width and height
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a" and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


# Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(src: _Base64Bytes) -> tuple[int, int] | None:
    offset = 2
    while offset < min(src.size, _JPEG_MAX_SCAN):
        header = src.read(offset, 9)
        if len(header) < 4 or header[0] != 0xFF:
            return None
        marker = header[1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_SOF:
            if len(header) < 9:
                return None
            height, width = struct.unpack(">HH", header[5:9])
            return width, height
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            offset += 2
            continue
        (length,) = struct.unpack(">H", header[2:4])
        offset += 2 + length
    return None
