"""Tool-parameter JSON Schemas, made acceptable to one upstream's schema dialect.

``sanitize(schema, dialect)`` is pure and never mutates its input. The result may share nested,
untouched sub-objects with the input (the "openai" and "passthrough" dialects copy only the top
level, because Claude Code sends ~76 KB of schemas on every call): treat it as read-only.

Dialects (``ProviderProfile.schema_dialect``):
  passthrough  unchanged (a shallow copy).
  openai       drops the top-level ``$schema`` only; OpenAI and most compatible servers accept
               the rest of JSON Schema in non-strict mode.
  gemini       rebuilds the schema inside Gemini's OpenAPI-3.0-style subset
  (docs/protocol/chat-completions.md §7.4,
               and the ``Schema`` object of Google's function-calling docs). It works from an
               allow-list of keywords, so anything Gemini does not know (``$schema``,
               ``additionalProperties``, ``propertyNames``, ``if``/``then``/``else``, ...) cannot
               slip through; on top of that it:
                 * inlines local ``$ref``s (``#/$defs/..``, ``#/definitions/..``); a recursive
                   reference is cut to ``{"type": "object"}`` (Gemini has no recursion);
                 * merges ``allOf`` into its node and reads ``oneOf`` as ``anyOf``;
                 * turns ``const: x`` into ``enum: [x]`` and exclusive bounds into inclusive ones
                   (``+1`` for integers; for numbers the bound itself, the closest it can say);
                 * turns ``type: [T, "null"]`` and ``anyOf`` null branches into ``nullable: true``;
                   several non-null types become an ``anyOf`` of single types;
                 * collapses an ``anyOf`` whose branches are all string enums into one enum
                   (Claude Code's ``TaskUpdate.status``) and unwraps a one-branch ``anyOf``;
                 * keeps ``enum`` only with string values (Gemini enums are STRING-only); other
                   enums move into the description as "Allowed values: ...";
                 * keeps ``format`` only where Gemini knows it (``date-time``/``enum`` on strings,
                   ``int32``/``int64`` on integers, ``float``/``double`` on numbers);
                 * gives every node a ``type`` (inferred from ``properties``/``items``/``enum``,
                   else ``string`` — an untyped "any value" parameter becomes a string, the most
                   general thing a model can fill in) and every array an ``items``;
                 * keeps ``required`` names that exist in ``properties``.
               ``default``, ``title``, ``description``, ``example`` and the numeric/length/item
               bounds are kept: they are part of Gemini's ``Schema``.
Every property name survives every dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidRequest, UnsupportedFeature, json_path
from .profile import SchemaDialect

# Gemini ``Schema`` fields (ai.google.dev function-calling reference). Everything else is dropped.
GEMINI_KEYWORDS = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
        "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
        "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
        "maximum",
    }
)  # fmt: skip

# ``format`` values Gemini documents, per type.
_GEMINI_FORMATS: Mapping[str, frozenset[str]] = {
    "string": frozenset({"date-time", "enum"}),
    "integer": frozenset({"int32", "int64"}),
    "number": frozenset({"float", "double"}),
}

# A recursive $ref is cut here: Gemini has no way to say "a schema like my parent".
_CYCLE_STUB: Mapping[str, Any] = {"type": "object"}


def sanitize(
    schema: Mapping[str, Any], dialect: SchemaDialect, *, path: str = "$"
) -> dict[str, Any]:
    """``schema`` rewritten for ``dialect``; ``path`` names it in errors (e.g. a broken $ref)."""
    if dialect == "openai":
        return {k: v for k, v in schema.items() if k != "$schema"}
    if dialect == "gemini":
        try:
            return _GeminiSchema(schema).convert(schema, path)
        except RecursionError:
            raise InvalidRequest("the schema is nested too deeply", path=path) from None
    return dict(schema)


class _GeminiSchema:
    """One conversion: holds the root (for $ref) and the refs being expanded (cycle guard)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._expanding: list[str] = []  # refs being flattened (allOf/$ref chains)
        self._converting: list[str] = []  # refs whose whole subtree is being converted

    def convert(self, node: object, path: str) -> dict[str, Any]:
        ref = node.get("$ref") if isinstance(node, Mapping) else None
        if not isinstance(ref, str):
            return self._convert(node, path)
        if ref in self._converting:
            return dict(_CYCLE_STUB)
        self._converting.append(ref)
        try:
            return self._convert(node, path)
        finally:
            self._converting.pop()

    def _convert(self, node: object, path: str) -> dict[str, Any]:
        source = self._flatten(node, path)
        out: dict[str, Any] = {}
        for key, value in source.items():
            if key == "properties":
                out[key] = self._properties(value, json_path(path, key))
            elif key == "items":
                out[key] = self._items(value, json_path(path, key))
            elif key in GEMINI_KEYWORDS and key not in ("type", "anyOf", "enum"):
                out[key] = value
        _apply_type(out, source.get("type"))
        if "anyOf" in source:
            self._any_of(out, source["anyOf"], json_path(path, "anyOf"))
        _apply_enum(out, source)
        _apply_bounds(out, source)
        _finish(out)
        return out

    def _flatten(self, node: object, path: str) -> dict[str, Any]:
        """The node with $ref, allOf, oneOf and const resolved into plain keywords."""
        if isinstance(node, bool):
            return {}
        if not isinstance(node, Mapping):
            raise InvalidRequest("a JSON Schema must be an object", path=path)
        flat = dict(node)
        if "$ref" in flat:
            flat = self._resolve(flat, path)
        for part_index, part in enumerate(_array(flat.pop("allOf", None), path, "allOf")):
            part_path = json_path(json_path(path, "allOf"), part_index)
            for key, value in self._flatten(part, part_path).items():
                _merge_keyword(flat, key, value)
        if "oneOf" in flat:
            one_of = _array(flat.pop("oneOf"), path, "oneOf", required=True)
            flat["anyOf"] = [*_array(flat.get("anyOf"), path, "anyOf"), *one_of]
        if "const" in flat:
            flat["enum"] = [flat.pop("const")]
        return flat

    def _resolve(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        ref = node.pop("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise UnsupportedFeature(
                f"only local JSON Schema references ('#/...') can be inlined for this upstream, "
                f"got {ref!r}",
                path=json_path(path, "$ref"),
            )
        if ref in self._expanding:
            return {**_CYCLE_STUB, **node}
        target: Any = self._root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise InvalidRequest(f"unresolvable JSON Schema reference {ref!r}", path=path)
            target = target[part]
        self._expanding.append(ref)
        try:
            resolved = self._flatten(target, path)
        finally:
            self._expanding.pop()
        # Sibling keywords next to $ref (a description, say) refine the referenced schema.
        return {**resolved, **node}

    def _properties(self, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise InvalidRequest("'properties' must be an object", path=path)
        return {name: self.convert(sub, json_path(path, name)) for name, sub in value.items()}

    def _items(self, value: object, path: str) -> dict[str, Any]:
        if isinstance(value, list):  # draft-4 tuple form: any of the listed item schemas
            branches = [self.convert(sub, json_path(path, i)) for i, sub in enumerate(value)]
            return branches[0] if len(branches) == 1 else {"anyOf": branches}
        return self.convert(value, path)

    def _any_of(self, out: dict[str, Any], value: object, path: str) -> None:
        if not isinstance(value, list) or not value:
            raise InvalidRequest("'anyOf' must be a non-empty array", path=path)
        branches = [self.convert(sub, json_path(path, i)) for i, sub in enumerate(value)]
        non_null = [b for b in branches if b.get("type") != "null"]
        if len(non_null) < len(branches):
            out["nullable"] = True
        if not non_null:
            out["type"] = "string"
        elif len(non_null) == 1:
            for key, sub_value in non_null[0].items():
                _merge_keyword(out, key, sub_value)
        elif all(b.get("type") == "string" and "enum" in b for b in non_null):
            merged: list[Any] = []
            for branch in non_null:
                merged.extend(v for v in branch["enum"] if v not in merged)
            out["type"] = "string"
            out["enum"] = merged
        else:
            out.pop("type", None)
            out["anyOf"] = non_null


def _array(value: object, path: str, key: str, *, required: bool = False) -> list[Any]:
    """A combinator's list of sub-schemas (None = none unless ``required``); junk is named."""
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"'{key}' must be an array", path=json_path(path, key))
    return value


def _merge_keyword(flat: dict[str, Any], key: str, value: Any) -> None:
    """Fold one keyword of an ``allOf`` part into its node (properties and required unite)."""
    if key == "properties" and isinstance(flat.get(key), Mapping) and isinstance(value, Mapping):
        flat[key] = {**flat[key], **value}
    elif key == "required" and isinstance(flat.get(key), list) and isinstance(value, list):
        flat[key] = [*flat[key], *(v for v in value if v not in flat[key])]
    elif key in ("anyOf", "oneOf") and isinstance(flat.get(key), list) and isinstance(value, list):
        # Two parts each demand "one of these": the subset has no way to say both at once, so
        # keep every branch. Looser than the original, but no property disappears.
        flat[key] = [*flat[key], *(v for v in value if v not in flat[key])]
    elif isinstance(flat.get(key), Mapping) and isinstance(value, Mapping):
        # Both parts constrain the same sub-schema (e.g. ``items``): allOf means both apply, so
        # fold them together the same way rather than keep only the first part's.
        merged = dict(flat[key])
        for sub_key, sub_value in value.items():
            _merge_keyword(merged, sub_key, sub_value)
        flat[key] = merged
    else:
        flat.setdefault(key, value)


def _apply_type(out: dict[str, Any], declared: object) -> None:
    """``type`` as one string; ``[T, "null"]`` -> T + nullable; several types -> anyOf."""
    if isinstance(declared, str):
        out["type"] = declared
        return
    if not isinstance(declared, list):
        return
    types = [t for t in declared if isinstance(t, str) and t != "null"]
    if len(types) < len(declared):
        out["nullable"] = True
    if len(types) == 1:
        out["type"] = types[0]
    elif len(types) > 1:
        out["anyOf"] = [_finish({"type": t}) for t in types]


def _apply_enum(out: dict[str, Any], source: Mapping[str, Any]) -> None:
    values = source.get("enum")
    if not isinstance(values, list):
        return
    if all(isinstance(v, str) for v in values):
        out["enum"] = list(values)
        out.setdefault("type", "string")
        return
    # Gemini enums are STRING-only; say the allowed values in words instead of losing them.
    allowed = ", ".join(_plain(v) for v in values)
    description = out.get("description")
    note = f"Allowed values: {allowed}."
    out["description"] = f"{description} {note}" if isinstance(description, str) else note


def _plain(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _apply_bounds(out: dict[str, Any], source: Mapping[str, Any]) -> None:
    """Exclusive bounds become inclusive ones (Gemini only has minimum/maximum)."""
    step = 1 if out.get("type") == "integer" else 0
    for exclusive, inclusive, sign in (
        ("exclusiveMinimum", "minimum", 1),
        ("exclusiveMaximum", "maximum", -1),
    ):
        bound = source.get(exclusive)
        if isinstance(bound, bool):  # draft 4: a flag on the inclusive bound
            base = source.get(inclusive)
            if bound and isinstance(base, int | float) and not isinstance(base, bool):
                out[inclusive] = base + sign * step
        elif isinstance(bound, int | float):
            candidate = bound + sign * step
            current = out.get(inclusive)
            tighter = max if sign > 0 else min
            if isinstance(current, int | float) and not isinstance(current, bool):
                candidate = tighter(current, candidate)
            out[inclusive] = candidate  # a non-number inclusive bound is junk: replaced


def _finish(out: dict[str, Any]) -> dict[str, Any]:
    """Every node gets a type (unless it is an anyOf), every array items, valid format/required."""
    if "type" not in out and "anyOf" not in out:
        if "properties" in out:
            out["type"] = "object"
        elif "items" in out:
            out["type"] = "array"
        else:
            out["type"] = "string"
    kind = out.get("type")
    if kind == "array" and "items" not in out:
        out["items"] = {"type": "string"}
    fmt = out.get("format")
    if "format" in out and not (isinstance(fmt, str) and fmt in _GEMINI_FORMATS.get(str(kind), ())):
        del out["format"]
    required = out.get("required")
    if isinstance(required, list):
        names = out.get("properties", {})
        kept = [r for r in required if isinstance(r, str) and r in names]
        if kept:
            out["required"] = kept
        else:
            del out["required"]
    return out


# Anthropic-defined client tools carry a ``type`` and no ``input_schema``; Chat upstreams need a
# schema. These are written from the documented inputs of each tool (Anthropic's bash and text
# editor tool pages), keyed by the ``type`` prefix before the date suffix.
CLIENT_TOOL_SCHEMAS: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    "bash_": (
        "Run a shell command in a persistent bash session. Set restart to true to restart it.",
        {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The bash command to run."},
                "restart": {"type": "boolean", "description": "Restart the bash session."},
            },
        },
    ),
    "text_editor_": (
        "View, create and edit text files: view a file or directory, create a file, replace an "
        "exact string (str_replace), insert text after a line (insert), or undo the last edit.",
        {
            "type": "object",
            "properties": {
                "command": {
                    "type": "string",
                    "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
                },
                "path": {"type": "string", "description": "Absolute path to a file or directory."},
                "file_text": {"type": "string", "description": "Content for 'create'."},
                "old_str": {"type": "string", "description": "Exact text to replace."},
                "new_str": {
                    "type": "string",
                    "description": "Replacement text, or text to insert.",
                },
                "insert_line": {
                    "type": "integer",
                    "description": "Insert new_str after this line.",
                },
                "view_range": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "[start, end] lines to view; end -1 means to the end.",
                },
            },
            "required": ["command", "path"],
        },
    ),
}
