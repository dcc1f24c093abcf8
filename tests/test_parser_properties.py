"""Property tests of the tool-call parser (hypothesis, derandomized, modest example counts).

- Random tool schemas, random valid calls rendered in the model's format: the parser returns
  exactly those typed values, whole and in any chunking.
- Random garbage and random mutations of valid calls: only typed errors, never another exception,
  every accepted call really validates, and streaming equals whole.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from agentkit.backends._base import ServerToolCall  # noqa: E402
from agentkit.errors import ToolCallError  # noqa: E402
from agentkit.parsing import (  # noqa: E402
    ParseResult,
    ToolCallParser,
    parse_tool_calls,
    validate_server_calls,
)
from agentkit.parsing._scanner import _KEYWORDS  # noqa: E402
from agentkit.tools import Tool, ToolSet  # noqa: E402

PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=120,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- schemas and values

KINDS = [
    "integer",
    "number",
    "boolean",
    "enum",
    "string",
    "nullable_string",
    "optional_int",
    "int_array",
    "object",
]


def schema_for(kind: str) -> dict[str, Any]:
    return {
        "integer": {"type": "integer"},
        "number": {"type": "number"},
        "boolean": {"type": "boolean"},
        "enum": {"type": "string", "enum": ["up", "down", "Left", "right now"]},
        "string": {"type": "string"},
        "nullable_string": {"type": ["string", "null"]},
        "optional_int": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "int_array": {"type": "array", "items": {"type": "integer"}},
        "object": {
            "type": "object",
            "properties": {"k": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["k"],
            "additionalProperties": False,
        },
    }[kind]


# Text values: any printable text, newlines, tabs, angle brackets and bits of markup, but no
# complete keyword (a value holding `</parameter>\n</function>` really is the end of the call),
# no NUL or unpaired surrogate (refused by policy) and no CR (CRLF is a format newline).
TEXT_ALPHABET = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\x00\r"
) | st.sampled_from(["<", ">", "/", "=", "\n", "\t", " ", "{", "["])
FRAGMENTS = st.sampled_from(
    ["<tool", "</param", "<think x", "a < b", "</parameter x", "<tool_call x", "\\"]
)


def no_keyword(text: str) -> bool:
    return not any(k in text for k in _KEYWORDS)


texts = (
    st.lists(st.text(TEXT_ALPHABET, max_size=12) | FRAGMENTS, max_size=4)
    .map("".join)
    .filter(no_keyword)
)
ints = st.integers(min_value=-(10**30), max_value=10**30)
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


def value_for(kind: str) -> st.SearchStrategy[Any]:
    return {
        "integer": ints,
        "number": floats | ints,
        "boolean": st.booleans(),
        "enum": st.sampled_from(["up", "down", "Left", "right now"]),
        "string": texts,
        "nullable_string": st.none() | texts.filter(lambda s: s.strip(" \t\n") != "null"),
        "optional_int": st.none() | ints,
        "int_array": st.lists(ints, max_size=5),
        "object": st.fixed_dictionaries({"k": texts}, optional={"n": ints}),
    }[kind]


def render(value: Any, kind: str) -> str:
    if kind in ("string", "enum") or (kind == "nullable_string" and value is not None):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() or "e" in repr(value) else repr(value)
    return json.dumps(value, ensure_ascii=False)


def _noop(arguments: dict[str, Any]) -> None:
    return None


@st.composite
def tool_and_calls(draw: st.DrawFn) -> tuple[ToolSet, str, list[dict[str, Any]]]:
    n_params = draw(st.integers(min_value=0, max_value=6))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(n_params)]
    names = [f"p{i}_{k}" for i, k in enumerate(kinds)]
    required = [n for n in names if draw(st.booleans())]
    schema = {
        "type": "object",
        "properties": {n: schema_for(k) for n, k in zip(names, kinds, strict=True)},
        "required": required,
    }
    toolset = ToolSet([Tool.from_json_schema("act", "Random tool.", schema, _noop)])
    n_calls = draw(st.integers(min_value=1, max_value=3))
    chunks: list[str] = []
    expected: list[dict[str, Any]] = []
    for _ in range(n_calls):
        args: dict[str, Any] = {}
        lines = []
        prose = draw(texts.filter(lambda s: "\\" not in s))
        for name, kind in zip(names, kinds, strict=True):
            if name not in required and draw(st.booleans()):
                continue
            value = draw(value_for(kind))
            args[name] = value
            lines += [f"<parameter={name}>", render(value, kind), "</parameter>"]
        block = "\n".join(["<tool_call>", "<function=act>", *lines, "</function>", "</tool_call>"])
        chunks.append(prose + block)
        expected.append(args)
    return toolset, "".join(chunks), expected


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(text[last:p])
        last = p
    pieces.append(text[last:])
    return pieces


def parse_chunks(
    chunks: list[str], toolset: ToolSet, finish: str | None = "stop", **kw: Any
) -> ParseResult:
    parser = ToolCallParser(toolset, **kw)
    for c in chunks:
        parser.feed(c)
    return parser.finish(finish)


def same_json(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and not isinstance(a, bool)
            and not isinstance(b, bool)
            and math.isclose(a, b, rel_tol=0, abs_tol=0)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@PROFILE
@given(tool_and_calls(), st.lists(st.integers(min_value=0), max_size=12))
def test_rendered_calls_round_trip(
    case: tuple[ToolSet, str, list[dict[str, Any]]], cuts: list[int]
) -> None:
    toolset, text, expected = case
    result = parse_tool_calls(text, toolset)
    assert not result.errors, [e.message for e in result.errors]
    assert len(result.calls) == len(expected)
    for call, args in zip(result.calls, expected, strict=True):
        assert call.name == "act"
        assert same_json(call.arguments, args), (call.arguments, args)
    assert parse_chunks(chunked(text, cuts), toolset).summary() == result.summary()


# --------------------------------------------------------------------------- garbage and mutations

DESKTOP = ToolSet(
    [
        Tool.from_json_schema(
            "click",
            "Click.",
            {
                "type": "object",
                "properties": {
                    "x": {"type": "integer", "minimum": 0},
                    "y": {"type": "integer", "minimum": 0},
                },
                "required": ["x", "y"],
            },
            _noop,
        ),
        Tool.from_json_schema(
            "type_text",
            "Type.",
            {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            _noop,
        ),
        Tool.from_json_schema(
            "opts",
            "Options.",
            {
                "type": "object",
                "properties": {
                    "n": {"type": ["number", "null"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "flag": {"type": "boolean"},
                },
            },
            _noop,
        ),
    ]
)

PIECES = st.sampled_from(
    [
        *_KEYWORDS,
        "<function=click>",
        "<function=type_text>",
        "<function=opts>",
        "<parameter=x>",
        "<parameter=y>",
        "<parameter=text>",
        "<parameter=n>",
        "<parameter=tags>",
        "<parameter=flag>",
        "\n",
        "\r\n",
        " ",
        "5",
        "-1",
        "1e309",
        "NaN",
        "true",
        "null",
        '["a"]',
        "{",
        "}",
        "\\n",
        "<",
        ">",
        "\u200b",
        "\ud800",
        "\x00",
        "\u202e",
        "\uff1c",
        "hello",
        "=",
        "/",
    ]
)
GARBAGE = st.lists(PIECES | st.text(max_size=5), max_size=60).map("".join)


def check_invariants(text: str, cuts: list[int], finish: str | None, max_calls: int | None) -> None:
    kw = {"max_calls": max_calls, "max_call_chars": 200}
    whole = parse_chunks([text], DESKTOP, finish, **kw)
    for err in whole.errors:
        assert isinstance(err, ToolCallError) and err.kind != "tool_call_error" and err.message
    for call in whole.calls:
        call.tool.validate(call.arguments)  # nothing invalid is ever accepted
        json.dumps(call.arguments, allow_nan=False)
    if max_calls is not None:
        assert len(whole.calls) <= max_calls
    assert parse_chunks(chunked(text, cuts), DESKTOP, finish, **kw).summary() == whole.summary()
    assert parse_chunks(list(text), DESKTOP, finish, **kw).summary() == whole.summary()


@PROFILE
@given(
    GARBAGE,
    st.lists(st.integers(min_value=0), max_size=10),
    st.sampled_from(["stop", "length", None]),
    st.sampled_from([None, 1, 2]),
)
def test_garbage_gives_only_typed_errors(
    text: str, cuts: list[int], finish: str | None, max_calls: int | None
) -> None:
    check_invariants(text, cuts, finish, max_calls)


VALID = (
    "Let me click.\n<tool_call>\n<function=click>\n<parameter=x>\n12\n</parameter>\n<parameter=y>\n"
    "34\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=type_text>\n"
    "<parameter=text>\nhi </parameter> there\n</parameter>\n</function>\n</tool_call>\n"
    "<tool_call>\n<function=opts>\n<parameter=n>\nnull\n</parameter>\n<parameter=tags>\n"
    '["a", "b"]\n</parameter>\n</function>\n</tool_call>\ndone'
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "truncate"]))
        i = draw(st.integers(min_value=0, max_value=len(text)))
        j = draw(st.integers(min_value=i, max_value=min(len(text), i + 20)))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(PIECES) + text[i:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "replace":
            text = text[:i] + draw(PIECES) + text[j:]
        else:
            text = text[:i]
    return text


@PROFILE
@given(
    mutated(),
    st.lists(st.integers(min_value=0), max_size=10),
    st.sampled_from(["stop", "length"]),
    st.sampled_from([None, 1]),
)
def test_mutations_give_only_typed_errors(
    text: str, cuts: list[int], finish: str, max_calls: int | None
) -> None:
    check_invariants(text, cuts, finish, max_calls)


JSONISH = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            "]",
            '"x"',
            '"y"',
            '"text"',
            ":",
            ",",
            "1",
            "-0",
            "1e999",
            "NaN",
            "true",
            "null",
            '"\\ud800"',
            '"a"',
            " ",
            "'",
            "Infinity",
            '"\\u0000"',
        ]
    ),
    max_size=25,
).map("".join)


@PROFILE
@given(
    st.lists(
        st.tuples(st.sampled_from(["click", "type_text", "opts", "Click", ""]), JSONISH), max_size=4
    ),
    st.sampled_from(["stop", "length", "tool_calls", None]),
    GARBAGE,
)
def test_server_calls_never_raise(
    calls: list[tuple[str, str]], finish: str | None, content: str
) -> None:
    server_calls = [
        ServerToolCall(id=f"id{i}", name=n, arguments=a) for i, (n, a) in enumerate(calls)
    ]
    result = validate_server_calls(server_calls, DESKTOP, finish_reason=finish, content=content)
    assert all(isinstance(e, ToolCallError) for e in result.errors)
    for call in result.calls:
        call.tool.validate(call.arguments)
    keys = [(c.name, json.dumps(c.arguments, sort_keys=True)) for c in result.calls]
    assert len(keys) == len(set(keys))  # an identical call never runs twice
