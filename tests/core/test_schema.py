"""Tool-parameter schema sanitising (anthroxy.schema.sanitize).

Invariants: the input is never mutated; "openai" drops only $schema; "gemini" output holds no
keyword outside Gemini's Schema subset at any depth, every node has a type (or is an anyOf), and
every property name survives — checked on every input_schema Claude Code really sends.
"""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anthroxy.errors import InvalidRequest, UnsupportedFeature
from anthroxy.schema import GEMINI_KEYWORDS, sanitize

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
FORBIDDEN = {
    "$schema", "$id", "$comment", "$ref", "$defs", "definitions", "additionalProperties",
    "propertyNames", "patternProperties", "unevaluatedProperties", "unevaluatedItems", "if",
    "then", "else", "examples", "const", "exclusiveMinimum", "exclusiveMaximum", "oneOf", "allOf",
    "not",
}  # fmt: skip


def _claude_code_schemas() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name in ("turn1_request.json", "turn2_request_with_tool_result.json"):
        for tool in json.loads((FIXTURES / name).read_text())["body"]["tools"]:
            out.append((f"{name}:{tool['name']}", tool["input_schema"]))
    return out


CC_SCHEMAS = _claude_code_schemas()


def _nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema node (not the property-name maps themselves)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for name in schema.get("properties", {}):
        yield from _nodes(schema["properties"][name])
    if isinstance(schema.get("items"), dict):
        yield from _nodes(schema["items"])
    for branch in schema.get("anyOf", ()):
        yield from _nodes(branch)


def _property_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                names.update(value)
                for sub in value.values():
                    names |= _property_names(sub)
            elif key not in ("enum", "const", "default", "example", "examples"):
                names |= _property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            names |= _property_names(item)
    return names


def _assert_gemini_valid(out: dict[str, Any]) -> None:
    for node in _nodes(out):
        assert set(node) <= GEMINI_KEYWORDS, set(node) - GEMINI_KEYWORDS
        assert not set(node) & FORBIDDEN
        assert "type" in node or "anyOf" in node, node
        assert not isinstance(node.get("type"), list)
        if node.get("type") == "array":
            assert "items" in node
        if "enum" in node:
            assert all(isinstance(v, str) for v in node["enum"])


@pytest.mark.parametrize(("name", "schema"), CC_SCHEMAS, ids=[n for n, _ in CC_SCHEMAS])
def test_gemini_accepts_every_claude_code_schema(name: str, schema: dict[str, Any]) -> None:
    before = copy.deepcopy(schema)
    out = sanitize(schema, "gemini")
    assert schema == before
    _assert_gemini_valid(out)
    assert _property_names(out) == _property_names(schema)
    assert out["type"] == "object"


@pytest.mark.parametrize(("name", "schema"), CC_SCHEMAS, ids=[n for n, _ in CC_SCHEMAS])
def test_openai_drops_only_dollar_schema(name: str, schema: dict[str, Any]) -> None:
    before = copy.deepcopy(schema)
    out = sanitize(schema, "openai")
    assert schema == before
    assert out == {k: v for k, v in before.items() if k != "$schema"}
    assert "$schema" in schema and "$schema" not in out


def test_passthrough_is_unchanged_copy() -> None:
    schema = {"$schema": "x", "type": "object", "properties": {"a": {"const": 1}}}
    out = sanitize(schema, "passthrough")
    assert out == schema and out is not schema


GEMINI_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "const becomes enum",
        {"type": "string", "const": "x"},
        {"type": "string", "enum": ["x"]},
    ),
    (
        "exclusive integer bounds become inclusive",
        {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
        {"type": "integer", "minimum": 1, "maximum": 9},
    ),
    (
        "exclusive number bound keeps its value, tighter inclusive bound wins",
        {"type": "number", "exclusiveMinimum": 0.5, "minimum": 2},
        {"type": "number", "minimum": 2},
    ),
    (
        "draft-4 boolean exclusive bound",
        {"type": "integer", "minimum": 3, "exclusiveMinimum": True},
        {"type": "integer", "minimum": 4},
    ),
    (
        "nullable type array",
        {"type": ["string", "null"], "format": "date-time"},
        {"type": "string", "nullable": True, "format": "date-time"},
    ),
    (
        "several types become anyOf",
        {"type": ["string", "integer"]},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    ),
    (
        "anyOf null branch becomes nullable and a single branch is unwrapped",
        {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "d"},
        {"type": "integer", "nullable": True, "description": "d"},
    ),
    (
        "anyOf of string enums merges (Claude Code TaskUpdate.status)",
        {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "string", "const": "c"}]},
        {"type": "string", "enum": ["a", "b", "c"]},
    ),
    (
        "oneOf read as anyOf",
        {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"x": {}}}]},
        {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"x": {"type": "string"}}},
            ]
        },
    ),
    (
        "allOf merged",
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
            ]
        },
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    ),
    (
        "local $ref inlined with sibling description",
        {
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/Point", "description": "where"}},
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        },
        {
            "type": "object",
            "properties": {
                "p": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}},
                    "description": "where",
                }
            },
        },
    ),
    (
        "recursive $ref cut to an object",
        {
            "type": "object",
            "properties": {"node": {"$ref": "#/definitions/N"}},
            "definitions": {
                "N": {"type": "object", "properties": {"child": {"$ref": "#/definitions/N"}}}
            },
        },
        {
            "type": "object",
            "properties": {
                "node": {"type": "object", "properties": {"child": {"type": "object"}}}
            },
        },
    ),
    (
        "untyped nodes get a type; arrays get items",
        {
            "properties": {
                "any": {"description": "x"}, "list": {"type": "array"}, "e": {"enum": ["a"]}
            }
        },
        {
            "type": "object",
            "properties": {
                "any": {"type": "string", "description": "x"},
                "list": {"type": "array", "items": {"type": "string"}},
                "e": {"type": "string", "enum": ["a"]},
            },
        },
    ),
    (
        "non-string enum moves into the description",
        {"type": "integer", "enum": [1, 2], "description": "Level."},
        {"type": "integer", "description": "Level. Allowed values: 1, 2."},
    ),
    (
        "unknown formats and keywords dropped, required filtered, defaults kept",
        {
            "type": "object",
            "properties": {
                "u": {"type": "string", "format": "uri", "default": "x", "examples": ["y"]}
            },
            "required": ["u", "ghost"],
            "additionalProperties": False,
            "propertyNames": {"type": "string"},
            "if": {}, "then": {}, "else": {},
            "$comment": "c", "$id": "i", "unevaluatedProperties": False,
        },
        {
            "type": "object",
            "properties": {"u": {"type": "string", "default": "x"}},
            "required": ["u"],
        },
    ),
    (
        "property names that look like keywords survive",
        {"type": "object", "properties": {"default": {"type": "string"}, "if": {"const": 1}}},
        {
            "type": "object",
            "properties": {
                "default": {"type": "string"},
                "if": {"type": "string", "description": "Allowed values: 1."},
            },
        },
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "schema", "expected"), GEMINI_CASES, ids=[c[0] for c in GEMINI_CASES]
)
def test_gemini_rules(name: str, schema: dict[str, Any], expected: dict[str, Any]) -> None:
    before = copy.deepcopy(schema)
    out = sanitize(schema, "gemini")
    assert out == expected
    assert schema == before
    _assert_gemini_valid(out)


def test_gemini_refuses_remote_ref_with_path() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}
    with pytest.raises(UnsupportedFeature) as info:
        sanitize(schema, "gemini", path="$.tools[2].input_schema")
    assert info.value.path == "$.tools[2].input_schema.properties.a.$ref"


def test_gemini_reports_unresolvable_ref_and_bad_nodes() -> None:
    with pytest.raises(InvalidRequest) as info:
        sanitize({"properties": {"a": {"$ref": "#/$defs/Missing"}}}, "gemini")
    assert info.value.path == "$.properties.a"
    with pytest.raises(InvalidRequest) as info:
        sanitize({"properties": {"a": 5}}, "gemini")
    assert info.value.path == "$.properties.a"
    with pytest.raises(InvalidRequest) as info:
        sanitize({"properties": []}, "gemini")
    assert info.value.path == "$.properties"


# --- property: any schema-shaped input ---------------------------------------------------------

_names = st.text(alphabet="abcdefghij_$", min_size=1, max_size=6)
_leaf_schema = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["string", "integer", "number", "boolean", "null", ["string", "null"]]
        ),
        "const": st.one_of(st.integers(), st.text(max_size=3)),
        "enum": st.lists(st.one_of(st.text(max_size=3), st.integers()), min_size=1, max_size=3),
        "exclusiveMinimum": st.integers(-5, 5),
        "format": st.sampled_from(["uri", "date-time", "int64", "email"]),
        "default": st.integers(),
        "examples": st.just([1]),
        "additionalProperties": st.booleans(),
        "$comment": st.just("c"),
    },
)
_schema = st.recursive(
    _leaf_schema,
    lambda inner: st.one_of(
        st.builds(
            lambda props, req, extra: {
                "type": "object",
                "properties": props,
                "required": req,
                **extra,
            },
            st.dictionaries(_names, inner, max_size=3),
            st.lists(_names, max_size=2),
            st.sampled_from(
                [{}, {"additionalProperties": False}, {"propertyNames": {"type": "string"}}]
            ),
        ),
        st.builds(lambda items: {"type": "array", "items": items}, inner),
        st.builds(lambda bs: {"anyOf": bs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda bs: {"oneOf": bs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda bs: {"allOf": bs}, st.lists(inner, min_size=1, max_size=2)),
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(schema=_schema)
def test_gemini_output_is_always_in_the_subset(schema: dict[str, Any]) -> None:
    before = copy.deepcopy(schema)
    out = sanitize(schema, "gemini")
    assert schema == before
    _assert_gemini_valid(out)
    json.dumps(out)
    assert _property_names(out) == _property_names(schema)


def test_all_of_parts_constraining_the_same_items_are_merged() -> None:
    # Found by hypothesis: the second part's item properties used to be lost.
    schema = {
        "allOf": [
            {"type": "array", "items": {}},
            {"type": "array", "items": {"type": "object", "properties": {"path": {}}}},
        ]
    }
    out = sanitize(schema, "gemini")
    assert out["type"] == "array"
    assert set(out["items"]["properties"]) == {"path"}


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"properties": {"a": {"oneOf": None}}}, "$.properties.a.oneOf"),
        ({"properties": {"a": {"allOf": 1}}}, "$.properties.a.allOf"),
    ],
)
def test_gemini_combinators_that_are_not_arrays_are_invalid(schema: Any, path: str) -> None:
    # Review: these used to crash with a TypeError instead of naming the keyword.
    with pytest.raises(InvalidRequest) as info:
        sanitize(schema, "gemini")
    assert info.value.path == path


def test_gemini_junk_format_and_bounds_do_not_crash() -> None:
    # Review: an unhashable format and a non-number minimum next to exclusiveMinimum used to
    # raise TypeError. A format Gemini does not know is dropped; the exclusive bound wins.
    schema = {"type": "integer", "format": {}, "minimum": [1], "exclusiveMinimum": 3}
    assert sanitize(schema, "gemini") == {"type": "integer", "minimum": 4}


def test_all_of_parts_with_their_own_any_of_keep_every_branch() -> None:
    # Found by hypothesis: only the first part's anyOf survived, losing the second's properties.
    schema = {
        "allOf": [
            {"anyOf": [{"type": "string"}]},
            {"anyOf": [{"type": "object", "properties": {"path": {"type": "string"}}}]},
        ]
    }
    out = sanitize(schema, "gemini")
    branches = out["anyOf"]
    assert {"type": "string"} in branches
    assert any(set(b.get("properties", {})) == {"path"} for b in branches)
