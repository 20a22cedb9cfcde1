"""Credentials masked out of text bound for the body log (``bodylog.py``).

``mask(text, secrets)`` replaces with ``[REDACTED]``: the configured keys and token wherever they
appear; strings shaped like well-known credentials (``sk-...`` keys of OpenAI, Anthropic's
``sk-ant-``, DeepSeek, OpenRouter's ``sk-or-``; Google's ``AIza...``; Groq's ``gsk_``; GitHub's
``ghp_`` / ``github_pat_`` and kin; Hugging Face's ``hf_``; xAI's ``xai-``; AWS access key ids);
the token after ``Bearer``; and the value of a JSON field named like a credential
(``"api_key"``, ``"apiKey"``, ``"password"``, ...), also in JSON carried inside a string
(``\\"api_key\\": \\"...\\"``, as a tool's arguments are).

Speed matters because a regular expression holds the GIL, the event loop's too, for a whole
``sub`` call: tried at every position of a 300 KB Claude Code body, each pattern cost ~5 ms. Each
shape here starts with a literal, found with ``str.find``, and its pattern is matched only there
(about 1 ms for such a body, all shapes together).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator

from .logs import REDACTED, redact

# A credential does not continue a word: "task-tracking-..." holds "sk-" but is no key.
_WORD = frozenset(string.ascii_letters + string.digits + "_-")

# The literal a credential starts with -> the whole credential from there. ``sk-`` keys must hold
# a digit, so that prose such as "sk-learn-compatible-estimators" survives.
_KEYS: dict[str, re.Pattern[str]] = {
    "sk-": re.compile(r"sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{16,}"),
    "AIza": re.compile(r"AIza[0-9A-Za-z_-]{30,}"),
    "xai-": re.compile(r"xai-[A-Za-z0-9]{20,}"),
    "github_pat_": re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    "AKIA": re.compile(r"AKIA[A-Z0-9]{16}"),
    "ASIA": re.compile(r"ASIA[A-Z0-9]{16}"),
    **{
        prefix: re.compile(re.escape(prefix) + r"[A-Za-z0-9]{20,}")
        for prefix in ("gsk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "hf_")
    },
}
_BEARER = re.compile(r"bearer\s+([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# Field names, lower-case (the text is searched lower-cased), and the stems that find them: one
# ``find`` per stem, not per name.
_FIELDS = frozenset(
    {
        "api_key", "api-key", "apikey", "x-api-key", "secret_key", "secretkey",
        "auth_token", "authtoken", "access_token", "accesstoken", "refresh_token", "refreshtoken",
        "id_token", "token", "client_secret", "clientsecret", "secret", "password", "passwd",
        "authorization",
    }
)  # fmt: skip
_STEMS = ("key", "token", "secret", "passw", "authorization")
_LONGEST = max(len(name) for name in _FIELDS)
# From the field's opening quote (or the backslash escaping it) to the end of its string value.
_FIELD_VALUE = re.compile(r'\\?"[^"\\]+\\?"\s*:\s*\\?"((?:[^"\\]|\\[^"])+)')


def mask(text: str, secret_values: Iterable[str] = ()) -> str:
    """``text`` with configured secrets and anything shaped like a credential masked."""
    text = redact(text, secret_values)
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII letters lower-case to two characters
        lowered = "".join(c.lower() if c.isascii() else c for c in text)
    spans = [*_key_spans(text), *_bearer_spans(text, lowered), *_field_spans(text, lowered)]
    return _replaced(text, spans)


def _found(text: str, literal: str) -> Iterator[int]:
    """Each position of ``literal`` in ``text`` that does not continue a word."""
    pos = text.find(literal)
    while pos != -1:
        if pos == 0 or text[pos - 1] not in _WORD:
            yield pos
        pos = text.find(literal, pos + 1)


def _key_spans(text: str) -> Iterator[tuple[int, int]]:
    for literal, pattern in _KEYS.items():
        for pos in _found(text, literal):
            match = pattern.match(text, pos)
            if match:
                yield match.span()


def _bearer_spans(text: str, lowered: str) -> Iterator[tuple[int, int]]:
    for pos in _found(lowered, "bearer"):
        match = _BEARER.match(text, pos)
        if match:
            yield match.span(1)


def _field_spans(text: str, lowered: str) -> Iterator[tuple[int, int]]:
    for stem in _STEMS:
        pos = lowered.find(stem)
        while pos != -1:
            span = _field_value(text, lowered, pos)
            if span is not None:
                yield span
            pos = lowered.find(stem, pos + 1)


def _field_value(text: str, lowered: str, pos: int) -> tuple[int, int] | None:
    """The value's span if the stem at ``pos`` lies in a credential field's quoted name."""
    opening = lowered.rfind('"', max(0, pos - _LONGEST), pos)
    closing = lowered.find('"', pos, pos + _LONGEST + 1)
    if opening == -1 or closing == -1:
        return None
    end = closing - 1 if lowered[closing - 1] == "\\" else closing
    if lowered[opening + 1 : end] not in _FIELDS:  # exactly the name: "tokenizer" is no "token"
        return None
    start = opening - 1 if opening > 0 and text[opening - 1] == "\\" else opening
    match = _FIELD_VALUE.match(text, start)
    return match.span(1) if match else None


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every span (overlapping ones merged) replaced by ``[REDACTED]``."""
    if not spans:
        return text
    pieces = []
    done = 0
    for start, end in sorted(spans):
        if start < done:  # overlaps the span before: one mask covers both
            done = max(done, end)
            continue
        pieces += [text[done:start], REDACTED]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)
