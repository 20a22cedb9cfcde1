"""A provider's request cleaner, as data: what anthroxy changes in a body before that provider
sees it, and why.

A ``Cleaner`` is an ordered tuple of rules plus what the provider does with thinking signatures
(``anthroxy.cleaning.signatures``). Each rule is one of a few kinds, each implemented once here;
a provider is described by composing them (``anthroxy.cleaning.presets``), never by a code path
of its own. Every rule carries its ``source``: the public page that shows the provider needs it
(docs/providers.md lists them).

``apply(cleaner, body)`` returns ``body`` itself when no rule changes anything, so the common
case costs a few lookups and the caller can keep the client's bytes. Given the raw bytes too, a
rule that walks every block of the conversation first checks that its key occurs in them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .paths import MISSING, FieldPath, drop, get, parse_path, put

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class When:
    """Holds when the value at ``path`` (object keys only) is one of ``values``, or starts with
    one of them when ``prefix``; ``negate`` turns it round. A missing value is none of them."""

    path: str
    values: tuple[Scalar, ...]
    negate: bool = False
    prefix: bool = False

    def holds(self, body: Mapping[str, Any]) -> bool:
        value = get(body, self.path.split("."))
        if self.prefix:
            hit = isinstance(value, str) and value.startswith(tuple(map(str, self.values)))
        else:
            hit = value is not MISSING and _is_one_of(value, self.values)
        return hit != self.negate


def _is_one_of(value: Any, values: tuple[Scalar, ...]) -> bool:
    # 1 == True in Python; JSON tells them apart, and so does this.
    return any(value == v and type(value) is type(v) for v in values)


@dataclass(frozen=True, slots=True)
class Drop:
    """Leave out the field at ``path`` (``*`` for every list item) when all of ``when`` hold."""

    path: str
    when: tuple[When, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Set:
    """Put ``value`` at ``path`` (object keys only) when all of ``when`` hold."""

    path: str
    value: Any = field(hash=False)  # JSON, often an object: a Cleaner stays hashable
    when: tuple[When, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class HashUnless:
    """A string at ``path`` that does not fully match ``pattern`` becomes its SHA-256 hex digest:
    the same input always gives the same value, which an upstream can still group by."""

    path: str
    pattern: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class FoldSystemMessages:
    """``role: "system"`` entries inside ``messages`` become text blocks of a user turn: added
    to the user message before them, else put after the tool results of the user message after
    them, else the entry itself becomes a user message. Order and text are kept; the entry's
    own fields other than ``content`` (Claude Code puts ``output_config`` there) go."""

    source: str = ""


@dataclass(frozen=True, slots=True)
class BlocksToText:
    """Content blocks of ``type`` (in messages and inside ``tool_result`` content) become text
    blocks; ``template`` names the block's string fields in braces: ``"Tool {tool_name}"``."""

    type: str
    template: str
    source: str = ""


Rule = Drop | Set | HashUnless | FoldSystemMessages | BlocksToText
# What becomes of a thinking block whose signature this provider cannot verify
# (anthroxy.cleaning.signatures): "drop" leaves the block out; "unsigned" keeps its text with an
# empty signature, for providers that want the reasoning of earlier turns back (a tool-calling
# turn without any then gets an empty one, unless thinking is disabled).
ForeignThinking = Literal["drop", "unsigned"]
# Whose signatures Anthropic's own servers make and verify; the family of bare signatures.
ANTHROPIC = "anthropic"


@dataclass(frozen=True, slots=True)
class Cleaner:
    """What anthroxy changes in a request before one provider sees it."""

    rules: tuple[Rule, ...] = ()
    # Whose thinking signatures this provider makes and can verify: "anthropic" for Anthropic
    # and for gateways in front of it, else the provider's own id.
    signer: str = ANTHROPIC
    foreign_thinking: ForeignThinking = "drop"
    # Anthropic refuses a tool-loop turn whose thinking went missing while thinking is on
    # (anthroxy.cleaning.signatures); when a foreign block was dropped there, thinking is turned
    # off for that one request.
    tool_turn_needs_thinking: bool = True
    _parsed: dict[str, FieldPath] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        for rule in self.rules:
            if isinstance(rule, Drop):
                self._parsed[rule.path] = parse_path(rule.path)
            elif isinstance(rule, Set | HashUnless):
                _keys_only(rule.path)
            elif isinstance(rule, BlocksToText) and not rule.type:
                raise ValueError("BlocksToText needs a block type")
        for rule in self.rules:
            for when in getattr(rule, "when", ()):
                _keys_only(when.path)
            if isinstance(rule, HashUnless):
                re.compile(rule.pattern)

    def with_drops(self, paths: tuple[str, ...], source: str) -> Cleaner:
        """This cleaner plus unconditional drops of ``paths`` (configured or learned)."""
        known = {rule.path for rule in self.rules if isinstance(rule, Drop) and not rule.when}
        extra = tuple(Drop(path, source=source) for path in paths if path not in known)
        return replace(self, rules=self.rules + extra) if extra else self

    def path(self, rule: Drop) -> FieldPath:
        return self._parsed[rule.path]


def _keys_only(path: str) -> None:
    if any(part in ("", "*") or part.startswith("*[") for part in path.split(".")):
        raise ValueError(f"{path!r}: only object keys here, no '*'")


NO_RULES = Cleaner()


def apply(cleaner: Cleaner, body: Mapping[str, Any], raw: bytes | None = None) -> Any:
    """``body`` with ``cleaner``'s rules applied in order; ``body`` itself when none applies.
    ``raw``, the bytes ``body`` was parsed from, lets a rule skip a body that lacks its key."""
    if not cleaner.rules:
        return body
    out: Mapping[str, Any] = body
    for rule in cleaner.rules:
        if raw is not None and not _may_apply(rule, raw):
            continue
        out = _APPLY[type(rule)](cleaner, rule, out)
    return out


def _may_apply(rule: Rule, raw: bytes) -> bool:
    """False when ``raw`` shows the rule has nothing to do. Only for rules that walk the whole
    conversation: a key lookup costs far less than a search through the bytes (~0.4 us per KB)."""
    if isinstance(rule, Drop) and "*" in rule.path:
        return f'"{rule.path.rsplit(".", 1)[-1]}"'.encode() in raw
    if isinstance(rule, BlocksToText):
        return f'"{rule.type}"'.encode() in raw
    return True


def _drop(cleaner: Cleaner, rule: Any, body: Mapping[str, Any]) -> Any:
    if not all(when.holds(body) for when in rule.when):
        return body
    return drop(body, cleaner.path(rule))


def _set(cleaner: Cleaner, rule: Any, body: Mapping[str, Any]) -> Any:
    keys = rule.path.split(".")
    if not all(when.holds(body) for when in rule.when) or get(body, keys) == rule.value:
        return body
    return put(body, keys, rule.value)


def _hash_unless(cleaner: Cleaner, rule: Any, body: Mapping[str, Any]) -> Any:
    keys = rule.path.split(".")
    value = get(body, keys)
    if not isinstance(value, str) or re.fullmatch(rule.pattern, value):
        return body
    return put(body, keys, hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest())


def _fold_system_messages(cleaner: Cleaner, rule: Any, body: Mapping[str, Any]) -> Any:
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(_is_system(m) for m in messages):
        return body
    out: list[Any] = []
    pending: list[Any] = []  # system blocks waiting for the next user message
    for message in messages:
        if _is_system(message):
            blocks = _text_blocks(message.get("content"))
            if out and _role(out[-1]) == "user":
                out[-1] = {**out[-1], "content": _blocks(out[-1]) + blocks}
            else:
                pending.extend(blocks)
            continue
        if pending and _role(message) == "user":
            message = {**message, "content": _after_tool_results(_blocks(message), pending)}
            pending = []
        elif pending:
            out.append({"role": "user", "content": pending})
            pending = []
        out.append(message)
    if pending:
        out.append({"role": "user", "content": pending})
    return {**body, "messages": out}


def _is_system(message: Any) -> bool:
    return bool(_role(message) == "system")


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, Mapping) else None


def _blocks(message: Mapping[str, Any]) -> list[Any]:
    return _text_blocks(message.get("content"))


def _text_blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _after_tool_results(blocks: list[Any], extra: list[Any]) -> list[Any]:
    # Tool results must lead their user message (docs/protocol/anthropic.md §4.3).
    cut = 0
    while cut < len(blocks) and isinstance(blocks[cut], Mapping):
        if blocks[cut].get("type") != "tool_result":
            break
        cut += 1
    return blocks[:cut] + extra + blocks[cut:]


def _blocks_to_text(cleaner: Cleaner, rule: Any, body: Mapping[str, Any]) -> Any:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    new = [_message_blocks_to_text(message, rule) for message in messages]
    if all(a is b for a, b in zip(new, messages, strict=True)):
        return body
    return {**body, "messages": new}


def _message_blocks_to_text(message: Any, rule: BlocksToText) -> Any:
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, list):
        return message
    new = _replace_blocks(content, rule)
    return message if new is content else {**message, "content": new}


def _replace_blocks(content: list[Any], rule: BlocksToText) -> list[Any]:
    out: list[Any] = []
    changed = False
    for block in content:
        new = block
        if isinstance(block, Mapping) and block.get("type") == rule.type:
            new = {"type": "text", "text": _fill(rule.template, block)}
        elif isinstance(block, Mapping) and isinstance(block.get("content"), list):
            inner = _replace_blocks(block["content"], rule)
            new = block if inner is block["content"] else {**block, "content": inner}
        changed = changed or new is not block
        out.append(new)
    return out if changed else content


_FIELD = re.compile(r"\{([A-Za-z_]+)\}")


def _fill(template: str, block: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = block.get(match.group(1))
        return found if isinstance(found, str) else ""

    return _FIELD.sub(value, template)


_APPLY: Mapping[type, Callable[[Cleaner, Any, Mapping[str, Any]], Any]] = {
    Drop: _drop,
    Set: _set,
    HashUnless: _hash_unless,
    FoldSystemMessages: _fold_system_messages,
    BlocksToText: _blocks_to_text,
}
