"""``@auto`` targets: which model of a provider's live list a ``provider/@auto[:hint]`` means.

``pick_auto(models, hint)`` is pure and total: it never raises on odd ids, and gives ``None``
when no model fits (the server then uses the provider's default model). The ranking, from the
first criterion to the last tie-break:

1. the hint, as whole words in their order (others may come between): ``@auto:pro`` takes
   ``gemini-2.5-pro``, never ``gemini-prompt``; ``@auto:gemini-pro`` takes
   ``google/gemini-2.5-pro``
   (ids are split into words and numbers at ``-``, ``_``, ``/``, ``:`` and where letters meet
   digits, so ``qwen3-coder`` holds ``qwen``, ``3``, ``coder``). Without a hint, the provider's
   main family: the first word most ids share (``gemini`` over ``gemma``). Models for other jobs
   (embeddings, speech, images, moderation: ``NOT_CHAT``) are left out unless the hint names
   that job;
2. the version, numerically: ``gemini-3.1`` > ``gemini-3`` > ``gemini-2.5``, ``gpt-5.10`` >
   ``gpt-5.9``, ``claude-sonnet-4-5`` is 4.5 (Anthropic writes versions with dashes);
3. stable over ``latest`` over preview (``preview``, ``beta``, ``alpha``, ``rc``) over
   experimental (``exp``, ``experimental``);
4. the provider's own priority where it gives one (lower first);
5. the plain model over its variants: fewest words beyond the family and the hint
   (``gpt-5`` over ``gpt-5-mini``, ``gemini-2.5-flash`` over ``gemini-2.5-flash-lite``);
6. the bigger variant among as many words: ``medium`` over ``small`` over ``mini`` over
   ``nano`` (``WEIGHT``), then the larger size (``gemma-3-27b`` over ``gemma-3-4b``);
7. the newest dated snapshot (``20250929``, ``2024-11-20``, ``09-2025``, Mistral's ``2411``
   as YYMM, OpenAI's ``0125`` as MMDD); an undated id is the provider's alias for its newest
   snapshot, so it ranks above the dated ones; then ``-001`` style revisions, likewise;
8. the id that sorts first, so the pick never depends on the list's order (without a hint,
   ``gemini-2.5-flash`` and ``gemini-2.5-pro`` tie until here: a hint says which you mean).

Sizes (``8b``, ``235b``) are neither versions nor words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .live_models import LiveModel

AUTO = "@auto"
_TOKEN = re.compile(r"\d+(?:\.\d+)*|[a-z]+")
STABILITY: dict[str, int] = {
    "latest": 2,
    "preview": 1, "beta": 1, "alpha": 1, "rc": 1,
    "exp": 0, "experimental": 0,
}  # fmt: skip
_STABLE = 3
# Words naming a job other than chat; a model holding one is skipped unless the hint names it.
NOT_CHAT = frozenset({
    "embedding", "embed", "tts", "whisper", "dall", "moderation", "transcribe", "realtime",
    "audio", "image", "imagen", "veo", "sora", "davinci", "babbage", "ocr", "live", "aqa",
    "computer", "robotics", "research", "voxtral", "generation",
})  # fmt: skip
# Variant words that say "smaller than the plain model"; "large" says bigger.
WEIGHT: dict[str, int] = {"nano": -3, "tiny": -3, "lite": -2, "mini": -2, "small": -1, "large": 1}
_SIZE_SUFFIXES = frozenset({"b", "m", "k"})  # 8b, 235b: parameter counts, not versions
_UNDATED = 99_999_999  # above every YYYYMMDD: an undated id names the newest snapshot


def is_auto(model: str) -> bool:
    """``@auto`` or ``@auto:hint`` (a model named ``@autopilot`` is a model)."""
    return model == AUTO or model.startswith(AUTO + ":")


def auto_hint(model: str) -> str | None:
    """The hint of an ``@auto:hint`` model (``None`` for plain ``@auto`` or an empty hint)."""
    _, colon, hint = model.partition(":")
    return hint.strip().lower() or None if colon else None


def words(model_id: str) -> list[str]:
    """The id's words and numbers, lower case: ``gpt-4o-mini`` -> gpt, 4, o, mini."""
    return _TOKEN.findall(model_id.lower())


@dataclass(frozen=True, slots=True)
class _Parsed:
    words: tuple[str, ...]  # alphabetic tokens, in order
    version: tuple[int, ...]
    stability: int
    snapshot: int  # YYYYMMDD-like; _UNDATED when there is none
    revision: int  # "-001"; _UNDATED when there is none
    size: int  # the largest "<n>b" in the id, 0 without one


def _parse(model_id: str) -> _Parsed:
    tokens = words(model_id)
    alpha: list[str] = []
    version: list[int] = []
    version_done = False
    dates: list[int] = []
    revision = _UNDATED
    size = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if not token[0].isdigit():
            if token not in _SIZE_SUFFIXES or not alpha:
                alpha.append(token)
            if version:
                version_done = True
            i += 1
            continue
        date, used = _date_at(tokens, i)
        if date is not None:
            dates.append(date)
            version_done = version_done or bool(version)
            i += used
            continue
        if following in _SIZE_SUFFIXES:
            if following == "b" and "." not in token:  # parameters; "16k" is a context size
                size = max(size, int(token))
            i += 2  # a size: "8b"
            continue
        if len(token) == 3 and token.isdigit():
            revision = int(token)
        elif not version_done and "." not in token:
            version.append(int(token))
        elif not version_done:
            version.extend(int(part) for part in token.split("."))
            version_done = True  # "2.5" is a whole version; "4-5" needs the next token
        i += 1
    stability = min((STABILITY[w] for w in alpha if w in STABILITY), default=_STABLE)
    return _Parsed(
        tuple(alpha), tuple(version), stability, max(dates, default=_UNDATED), revision, size
    )


def _date_at(tokens: Sequence[str], i: int) -> tuple[int | None, int]:
    """A snapshot date starting at ``tokens[i]``, as YYYYMMDD (year 0 when the id gives none),
    and how many tokens it spans; ``(None, 0)`` when none starts there."""
    token = tokens[i]
    nxt = tokens[i + 1 : i + 3]
    if len(token) == 8 and token.isdigit() and token[:2] in ("19", "20"):
        return int(token), 1
    if len(token) == 4 and token.isdigit() and token[:2] in ("19", "20") and _two(nxt, 2):
        return int(token + nxt[0] + nxt[1]), 3  # 2024-11-20
    if len(token) == 2 and token.isdigit() and nxt[:1] and _year(nxt[0]):
        return int(nxt[0] + token + "01"), 2  # Gemini's 09-2025
    if len(token) == 2 and token.isdigit() and _two(nxt, 1) and _month(token):
        return int(token + nxt[0]), 2  # Gemini's older 05-20 (month-day)
    if len(token) == 4 and token.isdigit():
        if int(token[:2]) >= 20 and _month(token[2:]):
            return int("20" + token + "01"), 1  # Mistral's 2411 (YYMM)
        if _month(token[:2]):
            return int(token), 1  # OpenAI's 0125 (MMDD)
    return None, 0


def _two(tokens: Sequence[str], count: int) -> bool:
    return len(tokens) >= count and all(len(t) == 2 and t.isdigit() for t in tokens[:count])


def _year(token: str) -> bool:
    return len(token) == 4 and token.isdigit() and token[:2] in ("19", "20")


def _month(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 12


def _has_words(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Every word of ``needle`` in ``haystack``, in order (others may come between)."""
    rest = iter(haystack)
    return all(word in rest for word in needle)


def main_family(models: Sequence[LiveModel]) -> str | None:
    """The first word most chat models' ids share (on a tie, the one that sorts first, so the
    list's order never matters)."""
    parsed = [_parse(m.id) for m in models]
    firsts = [p.words[0] for p in parsed if p.words and not NOT_CHAT.intersection(p.words)]
    if not firsts:
        return None
    counts = Counter(firsts)
    best = max(counts.values())
    return min(w for w in counts if counts[w] == best)


def pick_auto(models: Sequence[LiveModel], hint: str | None) -> LiveModel | None:
    """The model ``@auto`` (``hint`` None) or ``@auto:hint`` means in ``models``, or None."""
    wanted = tuple(words(hint)) if hint else ()
    family = None if wanted else main_family(models)
    ranked: list[tuple[tuple[object, ...], LiveModel]] = []
    for model in models:
        parsed = _parse(model.id)
        tokens = words(model.id)
        if wanted and not _has_words(tokens, wanted):
            continue
        if family is not None and (not parsed.words or parsed.words[0] != family):
            continue
        if any(w in NOT_CHAT and w not in wanted for w in parsed.words):
            continue
        extra = [w for w in parsed.words[1:] if w not in wanted and w not in STABILITY]
        key = (
            parsed.version,
            parsed.stability,
            -(model.priority if model.priority is not None else 1 << 30),
            -len(extra),
            sum(WEIGHT.get(w, 0) for w in extra),
            parsed.size,
            parsed.snapshot,
            parsed.revision,
        )
        ranked.append((key, model))
    if not ranked:
        return None
    top = max(key for key, _ in ranked)
    return min((m for key, m in ranked if key == top), key=lambda m: m.id)
