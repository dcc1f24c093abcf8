"""The tool-call grammar: compiled from random tool schemas, it admits every valid call (in the
grammar's canonical form) and rejects invalid ones; the retry policy; xgrammar reads both forms."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from agentkit.grammar import (  # noqa: E402
    GrammarError,
    GrammarPolicy,
    ToolGrammar,
    compile_tool_grammar,
)
from agentkit.grammar._regex import integer_range  # noqa: E402
from agentkit.grammar._tree import render_regex  # noqa: E402
from agentkit.parsing import ToolCallParser, parse_tool_calls, validate_server_calls  # noqa: E402
from agentkit.tools import Tool, ToolSet  # noqa: E402

PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _noop(args: Any) -> None:
    return None


def make_tool(name: str, properties: dict[str, Any], required: list[str]) -> Tool:
    schema = {"type": "object", "properties": properties, "required": required}
    return Tool.from_json_schema(name, f"The {name} tool.", schema, _noop)


def render_call(name: str, params: list[tuple[str, str]]) -> str:
    body = "".join(f"<parameter={p}>\n{text}\n</parameter>\n" for p, text in params)
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


# --------------------------------------------------------------------------- random schemas + values
# Each strategy draws (schema, value strategy, renderer of a value as parameter text).

RAW_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="<\x00\r"), max_size=12
)
JSON_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<"), max_size=8
)


@st.composite
def integer_schema(draw: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    lo = draw(st.none() | st.integers(-2000, 2000))
    hi = draw(st.none() | st.integers(-2000, 5000))
    if lo is not None:
        schema["minimum"] = lo
    if hi is not None:
        schema["maximum"] = max(hi, lo if lo is not None else hi)
    return schema


@st.composite
def number_schema(draw: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if draw(st.booleans()):
        lo = draw(st.integers(-50, 50))
        schema["minimum"] = lo
        schema["maximum"] = lo + draw(st.integers(2, 100))
    return schema


@st.composite
def string_schema(draw: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if draw(st.booleans()):
        lo = draw(st.integers(0, 3))
        schema["minLength"] = lo
        schema["maxLength"] = lo + draw(st.integers(0, 6))
    return schema


def leaf_schema() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        integer_schema(),
        number_schema(),
        string_schema(),
        st.just({"type": "boolean"}),
        st.lists(
            st.text("abcxyz_ ", min_size=1, max_size=5), min_size=1, max_size=4, unique=True
        ).map(lambda v: {"enum": v}),
        st.lists(st.integers(-5, 500), min_size=1, max_size=4, unique=True).map(
            lambda v: {"type": "integer", "enum": v}
        ),
    )


def json_leaf_schema() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(integer_schema(), string_schema(), st.just({"type": "boolean"}))


@st.composite
def param_schema(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["leaf", "leaf", "leaf", "nullable", "array", "object"]))
    if kind == "leaf":
        return draw(leaf_schema())
    if kind == "nullable":
        return {"anyOf": [draw(leaf_schema()), {"type": "null"}]}
    if kind == "array":
        schema: dict[str, Any] = {"type": "array", "items": draw(json_leaf_schema())}
        if draw(st.booleans()):
            lo = draw(st.integers(0, 2))
            schema["minItems"] = lo
            schema["maxItems"] = lo + draw(st.integers(0, 3))
        return schema
    names = draw(
        st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3, unique=True)
    )
    props = {n: draw(json_leaf_schema()) for n in names}
    required = [n for n in names if draw(st.booleans())]
    return {"type": "object", "properties": props, "required": required}


def _text_for(schema: dict[str, Any], lo: int, hi: int | None, alphabet: Any) -> Any:
    return st.text(alphabet, min_size=lo, max_size=hi if hi is not None else lo + 10)


def value_strategy(schema: dict[str, Any], top: bool) -> st.SearchStrategy[Any]:
    """Valid values in the grammar's canonical writing."""
    if "anyOf" in schema:
        return st.one_of(value_strategy(schema["anyOf"][0], top), st.none())
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema["type"]
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        lo = schema.get("minimum", -(10**12))
        return st.integers(lo, schema.get("maximum", 10**12))
    if kind == "number":
        lo, hi = schema.get("minimum", -1000), schema.get("maximum", 1000)
        ints = st.integers(lo, hi)
        decimals = st.tuples(st.integers(lo, hi - 1), st.integers(1, 99)).map(
            lambda t: float(f"{t[0]}.{t[1]:02d}".rstrip("0")) if t[0] >= 0 else None
        )
        return st.one_of(ints, decimals.filter(lambda v: v is not None))
    if kind == "string":
        chars = (
            st.characters(blacklist_categories=("Cs",), blacklist_characters="<\x00\r")
            if top
            else st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<")
        )
        return st.text(
            chars, min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 10)
        )
    if kind == "array":
        return st.lists(
            value_strategy(schema["items"], False),
            min_size=schema.get("minItems", 0),
            max_size=schema.get("maxItems", 3),
        )
    props = schema["properties"]
    required = set(schema["required"])

    @st.composite
    def obj(draw: Any) -> dict[str, Any]:
        out = {}
        for name, sub in props.items():
            if name in required or draw(st.booleans()):
                out[name] = draw(value_strategy(sub, False))
        return out

    return obj()


def render_value(schema: dict[str, Any], value: Any) -> str:
    """The parameter text: raw for string-only schemas, JSON otherwise."""
    if isinstance(value, str) and _string_only(schema):
        return value
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _string_only(schema: dict[str, Any]) -> bool:
    if "anyOf" in schema:
        return _string_only(schema["anyOf"][0])
    if "enum" in schema:
        return all(isinstance(v, str) for v in schema["enum"])
    return schema.get("type") == "string"


@st.composite
def tool_case(draw: Any) -> tuple[ToolSet, str, list[tuple[str, str]], dict[str, Any]]:
    """A random tool set, one tool's valid call (params in schema order) and its arguments."""
    n_tools = draw(st.integers(1, 3))
    tools = []
    for t in range(n_tools):
        names = draw(
            st.lists(
                st.sampled_from(["x", "y", "text", "mode", "items", "opt"]), max_size=4, unique=True
            )
        )
        props = {n: draw(param_schema()) for n in names}
        required = [n for n in names if draw(st.booleans())]
        tools.append(make_tool(f"tool_{t}", props, required))
    toolset = ToolSet(tools)
    tool = draw(st.sampled_from(tools))
    params: list[tuple[str, str]] = []
    arguments: dict[str, Any] = {}
    required = set(tool.parameters["required"])
    for name, schema in tool.parameters["properties"].items():
        if name in required or draw(st.booleans()):
            value = draw(value_strategy(schema, True))
            params.append((name, render_value(schema, value)))
            arguments[name] = value
    return toolset, tool.name, params, arguments


# --------------------------------------------------------------------------- properties


@PROFILE
@given(tool_case(), st.sampled_from(["", "Clicking now.\n\n", "a < b, ok\n"]))
def test_every_valid_call_matches_and_validates(case: Any, prose: str) -> None:
    toolset, name, params, arguments = case
    grammar = compile_tool_grammar(toolset)
    text = prose + render_call(name, params)
    assert re.fullmatch(grammar.regex, text), text
    result = parse_tool_calls(text, toolset)
    assert not result.errors, result.errors
    assert [c.arguments for c in result.calls] == [arguments]
    strict = compile_tool_grammar(toolset, allow_text=False)
    assert bool(re.fullmatch(strict.regex, text)) == (prose == "")


@PROFILE
@given(tool_case(), st.data())
def test_invalid_calls_do_not_match(case: Any, data: Any) -> None:
    toolset, name, params, _ = case
    regex = compile_tool_grammar(toolset).regex
    tool = toolset.get(name)
    assert tool is not None
    # Wrong function name.
    wrong = render_call(name + "x", params)
    assert not re.fullmatch(regex, wrong)
    assert parse_tool_calls(wrong, toolset).errors
    required = [p for p in params if p[0] in tool.parameters["required"]]
    if required:  # a required parameter missing
        drop = data.draw(st.sampled_from(required))
        missing = render_call(name, [p for p in params if p != drop])
        assert not re.fullmatch(regex, missing)
        assert parse_tool_calls(missing, toolset).errors
    if params:  # a parameter given twice
        k = data.draw(st.integers(0, len(params) - 1))
        doubled = render_call(name, params[: k + 1] + [params[k]] + params[k + 1 :])
        assert not re.fullmatch(regex, doubled)
        assert parse_tool_calls(doubled, toolset).errors
        # A value of the wrong type, where the schema admits no text.
        pname, _ = params[k]
        schema = tool.parameters["properties"][pname]
        bad = _wrong_value(schema)
        if bad is not None:
            broken = render_call(name, [(p, bad if p == pname else t) for p, t in params])
            assert not re.fullmatch(regex, broken), broken
            assert parse_tool_calls(broken, toolset).errors
    # An unknown parameter.
    extra = render_call(name, [*params, ("zzz", "1")])
    assert not re.fullmatch(regex, extra)


def _wrong_value(schema: dict[str, Any]) -> str | None:
    if "anyOf" in schema:
        inner = _wrong_value(schema["anyOf"][0])
        return None if inner == "null" else inner
    if "enum" in schema:
        return "not-in-enum!" if all(isinstance(v, str) for v in schema["enum"]) else "99999"
    return {
        "integer": "1.5",
        "number": "abc",
        "boolean": "yes",
        "array": '{"a": 1}',
        "object": "[1]",
        "string": None,
    }[schema["type"]]


@PROFILE
@given(st.integers(-3000, 3000), st.integers(0, 4000), st.integers(-5000, 5000))
def test_integer_ranges_are_exact(lo: int, span: int, probe: int) -> None:
    hi = lo + span
    regex = render_regex(integer_range(lo, hi))  # type: ignore[arg-type]
    assert bool(re.fullmatch(regex, str(probe))) == (lo <= probe <= hi)
    assert re.fullmatch(regex, str(lo)) and re.fullmatch(regex, str(hi))
    assert not re.fullmatch(regex, "0" + str(abs(probe)))  # no leading zeros
    assert not re.fullmatch(regex, "-0")


# --------------------------------------------------------------------------- examples


def _desktop_tools() -> ToolSet:
    return ToolSet(
        [
            make_tool(
                "click",
                {
                    "x": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "y": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "button": {"enum": ["left", "right"]},
                },
                ["x", "y"],
            ),
            make_tool(
                "type_text",
                {"text": {"type": "string", "maxLength": 8}, "enter": {"type": "boolean"}},
                ["text"],
            ),
        ]
    )


def test_structured_outputs_field_forms() -> None:
    tools = _desktop_tools()
    grammar = compile_tool_grammar(tools)
    assert grammar.structured_outputs() == {"regex": grammar.regex}
    ebnf = compile_tool_grammar(tools, form="ebnf")
    assert ebnf.structured_outputs() == {"grammar": ebnf.ebnf}
    assert ebnf.ebnf.startswith("root ::= ")
    assert grammar.tools == ("click", "type_text") and grammar.skipped == ()


def test_prose_cannot_open_a_call_or_a_think_block() -> None:
    regex = compile_tool_grammar(_desktop_tools()).regex
    assert re.fullmatch(regex, "plain text, 3 < 4, <b>bold</b>? no: '</' is refused") is None
    assert re.fullmatch(regex, "plain text, 3 < 4 and x<y")
    for sneaky in ("a <tool_call> b", "<think>x", "<function=click>", "</tool_call>"):
        assert re.fullmatch(regex, sneaky) is None, sneaky


def test_string_values_cannot_close_the_parameter() -> None:
    tools = ToolSet([make_tool("note", {"text": {"type": "string"}}, ["text"])])
    regex = compile_tool_grammar(tools).regex
    ok = render_call("note", [("text", "a <b> c\nd <")])
    assert re.fullmatch(regex, ok)
    for bad in ("x</parameter>\n<parameter=text>\ny", "a <tool_call> b", "a\rb\r", "nul\x00"):
        text = render_call("note", [("text", bad)])
        assert re.fullmatch(regex, text) is None, bad


def test_max_calls_and_require_call() -> None:
    tools = _desktop_tools()
    call = render_call("type_text", [("text", "hi")])
    one = compile_tool_grammar(tools, allow_text=False)
    assert re.fullmatch(one.regex, call)
    assert not re.fullmatch(one.regex, call + "\n" + call)
    assert not re.fullmatch(one.regex, "")
    assert not re.fullmatch(one.regex, "text only")
    two = compile_tool_grammar(tools, allow_text=False, max_calls=2)
    assert re.fullmatch(two.regex, call + "\n" + call)
    result = parse_tool_calls(call + "\n" + call.replace("hi", "ho"), tools)
    assert len(result.calls) == 2 and not result.errors


def test_unwritable_tools_are_left_out() -> None:
    tools = ToolSet(
        [
            make_tool("bad", {"v": {"enum": ["x</parameter>y"]}}, ["v"]),
            make_tool("good", {"v": {"enum": ["x</parameter>y", "fine"]}}, ["v"]),
        ]
    )
    grammar = compile_tool_grammar(tools, allow_text=False)
    assert grammar.tools == ("good",) and grammar.skipped == ("bad",)
    assert re.fullmatch(grammar.regex, render_call("good", [("v", "fine")]))
    with pytest.raises(GrammarError):
        compile_tool_grammar(ToolSet([tools.get("bad")]), allow_text=False)  # type: ignore[list-item]


def test_union_of_string_and_integer_stays_unambiguous() -> None:
    tools = ToolSet(
        [
            make_tool(
                "f", {"v": {"type": ["string", "integer"], "maxLength": 3, "minimum": 10}}, ["v"]
            )
        ]
    )
    regex = compile_tool_grammar(tools).regex
    # "5" would be read as the integer 5 (< minimum): the string branch may not look like a number.
    assert not re.fullmatch(regex, render_call("f", [("v", "5")]))
    for good in ("abc", "12", "Xy"):
        text = render_call("f", [("v", good)])
        assert re.fullmatch(regex, text), good
        assert not parse_tool_calls(text, tools).errors


# --------------------------------------------------------------------------- policy


def test_policy_on_retry_constrains_only_after_an_invalid_call() -> None:
    tools = _desktop_tools()
    policy = GrammarPolicy("on_retry")
    first = policy.request_fields(tools, after_invalid=False)
    assert first == {"structured_outputs": None, "tool_choice": "auto"}
    retry = policy.request_fields(tools, after_invalid=True)
    assert retry["tool_choice"] == "auto"
    assert set(retry["structured_outputs"]) == {"regex"}
    assert re.fullmatch(
        retry["structured_outputs"]["regex"], render_call("click", [("x", "1"), ("y", "2")])
    )


def test_policy_modes_and_require_call() -> None:
    tools = _desktop_tools()
    assert (
        GrammarPolicy("off").request_fields(tools, after_invalid=True)["structured_outputs"] is None
    )
    always = GrammarPolicy("always").request_fields(tools, after_invalid=False)
    assert always["structured_outputs"] is not None
    must = GrammarPolicy("always", require_call=True).request_fields(tools, after_invalid=False)
    # vLLM's "required" would replace the grammar by its JSON schema: the grammar forbids prose.
    assert must["tool_choice"] == "auto"
    assert not re.fullmatch(must["structured_outputs"]["regex"], "no call")
    unconstrained = GrammarPolicy("on_retry", require_call=True)
    assert unconstrained.request_fields(tools, after_invalid=False)["tool_choice"] == "required"
    assert GrammarPolicy("always").request_fields(ToolSet([]), after_invalid=True) == {
        "structured_outputs": None,
        "tool_choice": "none",
    }
    ebnf = GrammarPolicy("always", form="ebnf").request_fields(tools, after_invalid=False)
    assert set(ebnf["structured_outputs"]) == {"grammar"}
    assert GrammarPolicy.coerce(True).mode == "always"
    assert GrammarPolicy.coerce(None).mode == "off"
    assert GrammarPolicy.coerce("on_retry").mode == "on_retry"
    from agentkit.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        GrammarPolicy("sometimes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- streaming content


def test_constrained_output_left_in_content_parses_in_any_chunking() -> None:
    # With a grammar, vLLM may spell <tool_call> as ordinary text tokens, so its streaming tool
    # parser leaves the call in `content`: agentkit's parser takes it from there.
    tools = _desktop_tools()
    grammar = compile_tool_grammar(tools)
    text = "Typing it.\n\n" + render_call("type_text", [("text", "héllo"), ("enter", "true")])
    assert re.fullmatch(grammar.regex, text)
    rng = random.Random(7)
    for _ in range(20):
        parser = ToolCallParser(tools, max_calls=1)
        i = 0
        while i < len(text):
            j = i + rng.randint(1, 9)
            parser.feed(text[i:j])
            i = j
        result = parser.finish("stop")
        assert [c.arguments for c in result.calls] == [{"text": "héllo", "enter": True}]
        assert not result.errors and result.text.strip() == "Typing it."
    merged = validate_server_calls([], tools, finish_reason="stop", content=text)
    assert len(merged.calls) == 1 and not merged.errors


# --------------------------------------------------------------------------- engines


def test_xgrammar_reads_both_forms_like_python_re() -> None:
    xgr = pytest.importorskip("xgrammar")
    tools = _desktop_tools() + ToolSet(
        [
            make_tool(
                "note",
                {
                    "text": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                ["text"],
            )
        ]
    )
    samples = [
        "ok",
        render_call("click", [("x", "10"), ("y", "999"), ("button", "left")]),
        "Hi.\n" + render_call("note", [("text", "a <b>\nc"), ("tags", '["x", "y\\n"]')]),
        render_call("click", [("x", "1001"), ("y", "1")]),
        render_call("note", [("text", "a</parameter>")]),
    ]
    for form in ("regex", "ebnf"):
        grammar: ToolGrammar = compile_tool_grammar(tools, form=form)  # type: ignore[arg-type]
        g = (
            xgr.Grammar.from_regex(grammar.regex)
            if form == "regex"
            else xgr.Grammar.from_ebnf(grammar.ebnf)
        )
        for text in samples:
            expected = re.fullmatch(grammar.regex, text) is not None
            assert xgr.testing._is_grammar_accept_string(g, text) == expected, (form, text)


# --------------------------------------------------------------------------- soundness by sampling


def wide_schema(depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Schemas beyond the canonical cases: unions, nesting, free-key objects, tuples, odd enums."""
    leaves = st.one_of(
        leaf_schema(),
        st.just({"type": "string"}),
        st.just({}),
        st.just({"type": ["string", "integer"]}),
        st.just({"type": ["string", "boolean", "null"], "maxLength": 5}),
        st.just({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5}),
        st.just({"type": "integer", "multipleOf": 5, "minimum": -20, "maximum": 40}),
        st.just({"const": "fixed"}),
        st.just({"enum": ["a</parameter>", "null", "5", 5, None, True, "ok\r", " pad "]}),
        st.just({"type": "string", "enum": ["true", "x"]}),
    )
    if depth >= 2:
        return leaves
    inner = wide_schema(depth + 1)
    return st.one_of(
        leaves,
        inner.map(lambda s: {"type": "array", "items": s}),
        inner.map(lambda s: {"type": "array", "items": s, "minItems": 1, "maxItems": 2}),
        st.tuples(inner, inner).map(
            lambda t: {"type": "array", "prefixItems": list(t), "minItems": 2, "maxItems": 2}
        ),
        st.tuples(inner, inner, st.booleans()).map(
            lambda t: {
                "type": "object",
                "properties": {"p": t[0], "q": t[1]},
                "required": ["p"] if t[2] else [],
            }
        ),
        inner.map(lambda s: {"type": "object", "additionalProperties": s}),
        st.tuples(inner, inner).map(lambda t: {"anyOf": [t[0], t[1]]}),
        inner.map(lambda s: {"anyOf": [s, {"type": "null"}]}),
    )


@PROFILE
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), wide_schema(), max_size=3),
            st.integers(0, 15),
        ),
        min_size=1,
        max_size=3,
    ),
    st.integers(0, 2**32),
)
def test_every_sampled_text_parses_into_valid_calls(specs: Any, seed: int) -> None:
    tools = []
    for i, (props, mask) in enumerate(specs):
        required = [name for k, name in enumerate(props) if mask >> k & 1]
        tools.append(make_tool(f"t{i}", props, required))
    toolset = ToolSet(tools)
    rng = random.Random(seed)
    for allow_text, max_calls in ((True, 1), (False, 2)):
        try:
            grammar = compile_tool_grammar(toolset, allow_text=allow_text, max_calls=max_calls)
        except GrammarError:
            assert not allow_text  # only "calls required" can be impossible
            continue
        for _ in range(6):
            text = grammar.sample(rng)
            assert re.fullmatch(grammar.regex, text), text
            result = parse_tool_calls(text, toolset)
            assert not result.errors, (text, [e.message for e in result.errors])
            if not allow_text:
                assert 1 <= len(result.calls) <= 2 and not result.text.strip()


@settings(PROFILE, max_examples=25)
@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), wide_schema(), min_size=1, max_size=3),
    st.integers(0, 2**32),
)
def test_xgrammar_accepts_sampled_texts_in_both_forms(props: Any, seed: int) -> None:
    xgr = pytest.importorskip("xgrammar")
    toolset = ToolSet([make_tool("f", props, list(props)[:1])])
    grammar = compile_tool_grammar(toolset)
    forms = [xgr.Grammar.from_regex(grammar.regex), xgr.Grammar.from_ebnf(grammar.ebnf)]
    rng = random.Random(seed)
    for _ in range(4):
        text = grammar.sample(rng)
        for g in forms:
            assert xgr.testing._is_grammar_accept_string(g, text), text


def test_public_api_is_sorted_and_imports_no_engine() -> None:
    import subprocess
    import sys

    import agentkit.grammar as grammar_pkg

    assert sorted(grammar_pkg.__all__) == grammar_pkg.__all__
    for name in grammar_pkg.__all__:
        assert getattr(grammar_pkg, name) is not None
    code = "import sys, agentkit.grammar; print(sorted({'xgrammar', 'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
