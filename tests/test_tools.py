"""Typed tools: schemas from signatures, strict validation, invocation, tool sets."""

from __future__ import annotations

import asyncio
import builtins
import datetime
import enum
import threading
from typing import Annotated, Any, Literal, Optional

import jsonschema
import pydantic
import pytest

import agentkit.tools as tools_pkg
from agentkit.errors import (
    BadValueError,
    MissingParameterError,
    ToolCallError,
    ToolDefinitionError,
    UnknownParameterError,
)
from agentkit.tools import RESERVED_NAMES, Risk, RunContext, Tool, ToolCall, ToolSet, tool
from agentkit.tools._docstrings import parse_docstring


class Point(pydantic.BaseModel):
    x: int
    y: int


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@tool
def click(x: int, y: int, button: Literal["left", "right", "middle"] = "left") -> str:
    """Click at a point of the screen.

    Args:
        x: horizontal pixel.
        y: vertical pixel,
            counted from the top.
        button: which mouse button.

    Returns:
        What was clicked.
    """
    return f"{button}@{x},{y}"


@tool(name="paint", description="Paint shapes.", risk=Risk.DESTRUCTIVE, max_calls=3)
async def paint_shapes(
    points: list[Point],
    color: Color,
    sizes: list[int] = [],  # noqa: B006 - never mutated; the default shows in the schema
    label: Optional[str] = None,  # noqa: UP045 - Optional on purpose: the spelling users write
    ratio: float = 1.0,
    visible: bool = True,
    span: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Paint points."""
    return {"n": len(points), "color": color.value, "label": label, "span": span}


# --------------------------------------------------------------------------- schemas


def test_schema_from_signature_and_docstring() -> None:
    assert click.name == "click"
    assert click.description == "Click at a point of the screen."
    assert click.risk is Risk.REVERSIBLE and click.max_calls is None and not click.takes_context
    assert click.parameters == {
        "type": "object",
        "properties": {
            "x": {"type": "integer", "description": "horizontal pixel."},
            "y": {"type": "integer", "description": "vertical pixel, counted from the top."},
            "button": {
                "type": "string",
                "enum": ["left", "right", "middle"],
                "default": "left",
                "description": "which mouse button.",
            },
        },
        "required": ["x", "y"],
        "additionalProperties": False,
    }
    assert (
        click.signature_text()
        == 'click(x: integer, y: integer, button: "left"|"right"|"middle" = "left")'
    )
    jsonschema.Draft202012Validator.check_schema(click.parameters)


def test_schema_types_nested_optional_and_no_refs() -> None:
    p = paint_shapes.parameters
    assert paint_shapes.name == "paint" and paint_shapes.description == "Paint shapes."
    assert paint_shapes.risk is Risk.DESTRUCTIVE and paint_shapes.max_calls == 3
    assert p["required"] == ["points", "color"]
    assert "$defs" not in p and "$ref" not in repr(p) and "title" not in repr(p)
    assert p["properties"]["points"] == {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
            "required": ["x", "y"],
        },
    }
    assert p["properties"]["color"] == {"type": "string", "enum": ["red", "green"]}
    assert p["properties"]["sizes"] == {
        "type": "array",
        "items": {"type": "integer"},
        "default": [],
    }
    assert p["properties"]["label"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "default": None,
    }
    assert p["properties"]["span"]["prefixItems"] == [{"type": "integer"}, {"type": "integer"}]
    assert paint_shapes.param_schema("color") == {"type": "string", "enum": ["red", "green"]}
    assert paint_shapes.param_schema("nope") is None
    sig = paint_shapes.signature_text()
    assert sig.startswith('paint(points: list[{x: integer, y: integer}], color: "red"|"green", ')
    assert "label: string|null = null" in sig and "span: [integer, integer] = [0, 1]" in sig


def test_openai_schema_is_a_copy() -> None:
    schema = click.openai_schema()
    assert schema == {
        "type": "function",
        "function": {
            "name": "click",
            "description": click.description,
            "parameters": click.parameters,
        },
    }
    schema["function"]["parameters"]["properties"].clear()
    assert "x" in click.parameters["properties"]


def test_annotated_field_description_wins_over_docstring() -> None:
    @tool
    def f(a: Annotated[int, pydantic.Field(ge=0, description="from Field")], b: str = "z") -> None:
        """Do it.

        Args:
            a: from docstring.
            b: bee.
        """

    assert f.parameters["properties"]["a"] == {
        "type": "integer",
        "minimum": 0,
        "description": "from Field",
    }
    assert f.parameters["properties"]["b"]["description"] == "bee."
    with pytest.raises(BadValueError) as info:
        f.validate({"a": -1})
    assert "greater than or equal to 0" in info.value.message


def test_parameter_names_that_shadow_basemodel_attributes() -> None:
    @tool
    def g(json: str, model_config: int = 0, _hidden: bool = False) -> str:
        return f"{json}-{model_config}-{_hidden}"

    assert list(g.parameters["properties"]) == ["json", "model_config", "_hidden"]
    v = g.validate({"json": "j", "model_config": 2, "_hidden": True})
    assert g.dump_arguments(v) == {"json": "j", "model_config": 2, "_hidden": True}
    assert asyncio.run(g.invoke(v, None)) == "j-2-True"


def test_docstring_parser() -> None:
    doc = parse_docstring(
        """Summary line.

        More detail.

        Args:
            a (int): first
                continued.
            *rest: others.

        Raises:
            ValueError: never.
        """
    )
    assert doc.description == "Summary line.\n\nMore detail."
    assert doc.params == {"a": "first continued.", "rest": "others."}
    assert parse_docstring(None).description == ""


# --------------------------------------------------------------------------- definition errors


def test_unannotated_parameter_is_refused_with_fix() -> None:
    def f(x, y: int) -> None:  # type: ignore[no-untyped-def]
        pass

    with pytest.raises(ToolDefinitionError, match=r"Parameter 'x' .* no type annotation.*`x: str`"):
        tool(f)


def test_var_args_and_misplaced_context_are_refused() -> None:
    def star(*args: int) -> None:
        pass

    def late(x: int, ctx: RunContext[Any]) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match="named, typed parameters"):
        tool(star)
    with pytest.raises(ToolDefinitionError, match="not the first parameter"):
        tool(late)


@pytest.mark.parametrize("name", ["", "1abc", "-x", "has space", "a" * 65, "dot.ted", "ü"])
def test_invalid_names(name: str) -> None:
    def f(x: int) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match="Invalid tool name"):
        tool(name=name)(f)


def test_valid_names() -> None:
    def f(x: int) -> None:
        pass

    for name in ["a", "_x", "A-b_9", "a" * 64]:
        assert tool(name=name)(f).name == name


def test_reserved_names() -> None:
    assert "final_result" in RESERVED_NAMES

    def final_result(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match=r"reserved.*final_result"):
        tool(final_result)
    internal = tool(allow_reserved=True)(final_result)
    assert ToolSet([internal]).names() == ["final_result"]
    with pytest.raises(ToolDefinitionError, match="reserved"):
        Tool.from_json_schema("final_result", "", {"type": "object"}, lambda d: d)
    with pytest.raises(ToolDefinitionError, match="reserved"):
        click.replace(name="final_result")


def test_unsupported_type_and_bad_risk() -> None:
    class Opaque:
        pass

    def f(x: Opaque) -> None:
        pass

    f.__annotations__["x"] = Opaque
    with pytest.raises(ToolDefinitionError, match="JSON-compatible"):
        tool(f)
    with pytest.raises(ToolDefinitionError, match="Invalid risk"):
        tool(risk="dangerous")(click.function)
    with pytest.raises(ToolDefinitionError, match="max_calls"):
        tool(max_calls=0)(click.function)


# --------------------------------------------------------------------------- validation


def test_validate_returns_model_and_fills_defaults() -> None:
    v = click.validate({"x": 1, "y": 2})
    assert isinstance(v, pydantic.BaseModel)
    assert click.dump_arguments(v) == {"x": 1, "y": 2, "button": "left"}
    v = paint_shapes.validate(
        {"points": [{"x": 1, "y": 2}], "color": "red", "span": [3, 4], "ratio": 2}
    )
    assert v.color is Color.RED and v.span == (3, 4) and v.ratio == 2.0
    assert isinstance(v.points[0], Point)


def test_integral_floats_count_as_integers() -> None:
    # JSON Schema's definition of "integer"; 3.5 is still refused.
    assert click.dump_arguments(click.validate({"x": 512.0, "y": 3})) == {
        "x": 512,
        "y": 3,
        "button": "left",
    }
    with pytest.raises(BadValueError):
        click.validate({"x": 3.5, "y": 3})


@pytest.mark.parametrize(
    ("args", "param", "fragment"),
    [
        ({"x": "3", "y": 1}, "x", 'got "3" (a string), expected integer'),
        ({"x": 1, "y": True}, "y", "got true (a boolean), expected integer"),
        ({"x": 1, "y": 2, "button": "top"}, "button", 'expected "left"|"right"|"middle"'),
        ({"x": 1, "y": 2, "button": 1}, "button", "got 1 (an integer)"),
        ({"x": float("inf"), "y": 2}, "x", "NaN and Infinity are not allowed"),
        ({"x": float("nan"), "y": 2}, "x", "NaN and Infinity are not allowed"),
        ({"x": None, "y": 2}, "x", "got null"),
    ],
)
def test_strict_values_refused(args: dict[str, Any], param: str, fragment: str) -> None:
    with pytest.raises(BadValueError) as info:
        click.validate(args)
    err = info.value
    assert err.tool == "click" and err.parameter == param
    assert f'parameter "{param}"' in err.message and fragment in err.message
    assert err.message.endswith("Call it as: " + click.signature_text())


def _deep_list(depth: int) -> list[Any]:
    root: list[Any] = []
    cur = root
    for _ in range(depth):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    return root


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (_deep_list(100_000), "nested deeper than 32 levels"),
        (10**4400, "integer is too large"),
        ("a\ud800b", "invalid Unicode"),
        ({1: "a"}, "keys must be strings"),
        (object(), "object is not a JSON value"),
        ([1.0, [float("-inf")]], "NaN and Infinity"),
    ],
    ids=["deep", "huge-int", "surrogate", "int-key", "object", "nested-inf"],
)
def test_hostile_values_are_bad_values_not_crashes(value: Any, fragment: str) -> None:
    @tool
    def h(a: Any = None) -> None:
        pass

    with pytest.raises(BadValueError, match=fragment) as info:
        h.validate({"a": value})
    assert info.value.parameter == "a"
    assert h.validate({"a": _deep_list(30)}) is not None
    assert h.validate({"a": "nul \x00 and bidi \u202e are text"}).a.startswith("nul")


def test_strict_bool_and_str() -> None:
    @tool
    def s(flag: bool, text: str) -> None:
        pass

    for bad in ("yes", "1", 1, "true"):
        with pytest.raises(BadValueError, match='parameter "flag"'):
            s.validate({"flag": bad, "text": "t"})
    with pytest.raises(BadValueError, match='parameter "text"'):
        s.validate({"flag": True, "text": 5})
    assert s.validate({"flag": False, "text": ""}).flag is False


def test_nested_error_path() -> None:
    with pytest.raises(BadValueError) as info:
        paint_shapes.validate({"points": [{"x": 1, "y": 2}, {"x": 1, "y": "a"}], "color": "red"})
    assert 'parameter "points[1].y"' in info.value.message
    assert info.value.parameter == "points"


def test_unknown_and_missing_parameters() -> None:
    with pytest.raises(UnknownParameterError) as unknown:
        click.validate({"x": 1, "y": 2, "z": 3})
    assert unknown.value.parameter == "z"
    assert 'unknown parameter "z"; click takes: x, y, button' in unknown.value.message
    with pytest.raises(MissingParameterError) as missing:
        click.validate({"x": 1})
    assert missing.value.parameter == "y"
    assert 'missing required parameter "y" (integer)' in missing.value.message
    assert missing.value.message.endswith(click.signature_text())
    with pytest.raises(MissingParameterError) as both:
        click.validate({})
    assert (
        both.value.parameter is None and '"x"' in both.value.message and '"y"' in both.value.message
    )


def test_several_kinds_of_problem_are_listed_in_one_bad_value_error() -> None:
    with pytest.raises(BadValueError) as info:
        click.validate({"y": "2", "q": 1})
    msg = info.value.message
    assert msg.startswith("Invalid call to click:\n- ")
    assert 'unknown parameter "q"' in msg
    assert 'missing required parameter "x"' in msg
    assert 'parameter "y": ' in msg
    assert info.value.parameter is None


def test_non_dict_arguments_and_non_string_names() -> None:
    with pytest.raises(BadValueError, match="must be an object"):
        click.validate([1, 2])  # type: ignore[arg-type]
    with pytest.raises(BadValueError, match="names must be strings"):
        click.validate({"x": 1, "y": 2, (1, 2): 3})  # type: ignore[dict-item]


def test_errors_are_tool_call_errors_with_dicts() -> None:
    with pytest.raises(ToolCallError) as info:
        click.validate({"x": 1})
    d = info.value.to_dict()
    assert d["kind"] == "missing_parameter" and d["tool"] == "click" and d["parameter"] == "y"


# --------------------------------------------------------------------------- invocation


def test_sync_tool_runs_in_worker_thread() -> None:
    seen: list[str] = []

    @tool
    def where(tag: str) -> str:
        seen.append(threading.current_thread().name)
        return tag * 2

    async def main() -> Any:
        return await where.invoke(where.validate({"tag": "ab"}), None)

    assert asyncio.run(main()) == "abab"
    assert seen and seen[0] != threading.main_thread().name
    assert where("c") == "cc"  # the decorated object still calls the function


def test_async_tool_is_awaited() -> None:
    v = paint_shapes.validate({"points": [{"x": 1, "y": 2}], "color": "green", "label": "L"})
    assert asyncio.run(paint_shapes.invoke(v, None)) == {
        "n": 1,
        "color": "green",
        "label": "L",
        "span": (0, 1),
    }


def test_positional_only_and_keyword_only_parameters() -> None:
    @tool
    def f(a: int, /, b: int, *, c: int = 5) -> tuple[int, int, int]:
        return (a, b, c)

    assert f.parameters["required"] == ["a", "b"]
    assert asyncio.run(f.invoke(f.validate({"a": 1, "b": 2}), None)) == (1, 2, 5)


def test_context_injected_and_hidden() -> None:
    @tool
    async def whoami(ctx: RunContext[dict[str, str]], greeting: str = "hi") -> str:
        return f"{greeting} {ctx.deps['user']} step {ctx.step} run {ctx.run_id}"

    @tool
    def plain_ctx(ctx: RunContext) -> int:  # type: ignore[type-arg]
        return ctx.step

    assert whoami.takes_context and plain_ctx.takes_context
    assert list(whoami.parameters["properties"]) == ["greeting"]
    assert plain_ctx.parameters["properties"] == {} and plain_ctx.signature_text() == "plain_ctx()"
    with pytest.raises(UnknownParameterError):
        whoami.validate({"ctx": {}})
    ctx: RunContext[dict[str, str]] = RunContext(run_id="r1", step=3, deps={"user": "ana"})
    assert asyncio.run(whoami.invoke(whoami.validate({}), ctx)) == "hi ana step 3 run r1"
    assert asyncio.run(plain_ctx.invoke(plain_ctx.validate({}), None)) == 0  # an empty context


def test_union_errors_are_merged_into_one_line() -> None:
    @tool
    def u(n: int | str, when: datetime.date) -> None:
        pass

    assert u.signature_text() == "u(n: integer|string, when: string (date))"
    with pytest.raises(BadValueError) as info:
        u.validate({"n": 1.5, "when": "2024-01-02"})
    assert info.value.message.splitlines()[0] == (
        'Invalid call to u: parameter "n": got 1.5 (a number), expected integer|string.'
    )
    assert u.validate({"n": "x", "when": "2024-01-02"}).when == datetime.date(2024, 1, 2)


def test_bound_methods_and_callable_objects() -> None:
    class Counter:
        def __init__(self) -> None:
            self.total = 0

        def add(self, amount: int) -> int:
            """Add to the counter."""
            self.total += amount
            return self.total

    class Greeter:
        async def __call__(self, name: str) -> str:
            return f"hello {name}"

    counter = Counter()
    add = tool(counter.add)
    assert add.name == "add" and list(add.parameters["properties"]) == ["amount"]
    assert asyncio.run(add.invoke(add.validate({"amount": 2}), None)) == 2 and counter.total == 2
    with pytest.raises(ToolDefinitionError, match="pass name="):
        tool(Greeter())
    greet = tool(name="greet")(Greeter())
    assert asyncio.run(greet.invoke(greet.validate({"name": "bo"}), None)) == "hello bo"


def test_tool_exceptions_propagate() -> None:
    @tool
    def boom(x: int) -> None:
        raise RuntimeError(f"boom {x}")

    with pytest.raises(RuntimeError, match="boom 4"):
        asyncio.run(boom.invoke(boom.validate({"x": 4}), None))


# --------------------------------------------------------------------------- from_model / from_json_schema


class MoveArgs(pydantic.BaseModel):
    """Move the pointer."""

    x: int = pydantic.Field(description="target x")
    y: int = 0
    target: Point | None = None


def test_from_model() -> None:
    def move(args: MoveArgs) -> str:
        return f"{args.x},{args.y}"

    def move_ctx(ctx: RunContext[Any], args: MoveArgs) -> str:
        return f"{ctx.step}:{args.x}"

    t = Tool.from_model(MoveArgs, move, risk="read_only")
    assert t.name == "move" and t.description == "Move the pointer." and t.risk is Risk.READ_ONLY
    assert t.parameters["required"] == ["x"] and t.parameters["additionalProperties"] is False
    assert t.parameters["properties"]["target"]["anyOf"][0]["properties"]["x"] == {
        "type": "integer"
    }
    assert "$ref" not in repr(t.parameters)
    assert not t.takes_context
    v = t.validate({"x": 3})
    assert isinstance(v, MoveArgs)
    assert asyncio.run(t.invoke(v, None)) == "3,0"
    with pytest.raises(UnknownParameterError):
        t.validate({"x": 1, "w": 1})
    with pytest.raises(BadValueError, match='parameter "target.y"'):
        t.validate({"x": 1, "target": {"x": 1, "y": "2"}})
    c = Tool.from_model(MoveArgs, move_ctx, name="move2")
    assert c.takes_context
    assert asyncio.run(c.invoke(c.validate({"x": 9}), RunContext(step=2))) == "2:9"
    with pytest.raises(ToolDefinitionError, match="Pydantic model class"):
        Tool.from_model(dict, move)  # type: ignore[arg-type]


SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "limit": {"$ref": "#/$defs/Limit"},
        "mode": {"enum": ["fast", "deep"]},
    },
    "required": ["query"],
    "$defs": {"Limit": {"type": "integer", "minimum": 1, "maximum": 50}},
}


def test_from_json_schema() -> None:
    calls: list[dict[str, Any]] = []

    async def remote(args: dict[str, Any]) -> str:
        calls.append(args)
        return "ok"

    t = Tool.from_json_schema(
        "search", "Search the web.", SEARCH_SCHEMA, remote, risk=Risk.READ_ONLY
    )
    assert t.parameters["properties"]["limit"] == {"type": "integer", "minimum": 1, "maximum": 50}
    assert "$defs" not in t.parameters and t.parameters["additionalProperties"] is False
    assert "$defs" in SEARCH_SCHEMA  # the caller's schema is not modified
    assert t.signature_text() == 'search(query: string, limit?: integer, mode?: "fast"|"deep")'
    args = {"query": "cats", "limit": 5}
    v = t.validate(args)
    assert v == args and v is not args
    assert asyncio.run(t.invoke(v, None)) == "ok" and calls == [args]
    with pytest.raises(BadValueError, match='parameter "limit"'):
        t.validate({"query": "q", "limit": 51})
    with pytest.raises(BadValueError, match='parameter "limit"'):
        t.validate({"query": "q", "limit": "5"})
    with pytest.raises(BadValueError, match='parameter "mode"'):
        t.validate({"query": "q", "mode": "slow"})
    with pytest.raises(MissingParameterError, match='"query"'):
        t.validate({})
    with pytest.raises(UnknownParameterError, match='"page"'):
        t.validate({"query": "q", "page": 2})
    with pytest.raises(BadValueError, match="NaN and Infinity"):
        t.validate({"query": "q", "limit": float("inf")})


def test_from_json_schema_with_context_and_open_schema() -> None:
    def fn(ctx: RunContext[Any], args: dict[str, Any]) -> Any:
        return (ctx.step, args)

    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "additionalProperties": True,
    }
    t = Tool.from_json_schema("open", "", schema, fn)
    assert t.takes_context
    assert t.validate({"a": 1, "extra": "ok"}) == {"a": 1, "extra": "ok"}
    assert asyncio.run(t.invoke({"a": 1}, RunContext(step=7))) == (7, {"a": 1})


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "array"}, "must be an object schema"),
        ({"properties": {}}, "must be an object schema"),
        (
            {"type": "object", "properties": {"a": {"type": "nope"}}},
            "not a valid JSON schema at properties/a",
        ),
        ({"type": "object", "required": "a"}, "not a valid JSON schema"),
        ({"type": "object", "properties": {"a": {"$ref": "#"}}}, "Recursive schema"),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://x.y/s.json"}}},
            "only local references",
        ),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}, "Unresolvable"),
        ([1], "must be a dict"),
    ],
)
def test_from_json_schema_refuses_bad_schemas(schema: Any, fragment: str) -> None:
    with pytest.raises(ToolDefinitionError, match=fragment):
        Tool.from_json_schema("bad", "", schema, lambda d: d)


def test_recursive_model_refused() -> None:
    class Node(pydantic.BaseModel):
        value: int
        children: list[Node] = []

    Node.model_rebuild()

    with pytest.raises(ToolDefinitionError, match="Recursive schema"):
        Tool.from_model(Node, lambda n: n, name="tree")


# --------------------------------------------------------------------------- ToolSet


def _noop(x: int) -> int:
    """Return x."""
    return x


def test_toolset_basics() -> None:
    ts = ToolSet([click, paint_shapes, _noop], name="desk")
    assert ts.names() == ["click", "paint", "_noop"]
    assert len(ts) == 3 and "click" in ts and click in ts and "nope" not in ts
    assert ts.get("paint") is paint_shapes and ts.get("nope") is None
    assert [t.name for t in ts] == ts.names()
    assert [s["function"]["name"] for s in ts.openai_schemas()] == ts.names()
    assert isinstance(ts.get("_noop"), Tool)
    assert ToolSet(ts).names() == ts.names()
    assert ToolSet(click).names() == ["click"]
    added = ts.add(lambda_free_tool)
    assert ts.names()[-1] == "lambda_free_tool" and added is ts.get("lambda_free_tool")


def lambda_free_tool(flag: bool = False) -> bool:
    return flag


def test_toolset_duplicates_name_both_sources() -> None:
    other = tool(name="click")(_noop)
    with pytest.raises(ToolDefinitionError) as info:
        ToolSet([click, other])
    msg = str(info.value)
    assert "'click'" in msg and "test_tools.click" in msg and "test_tools._noop" in msg
    with pytest.raises(ToolDefinitionError, match=r"tool set 'a'.*tool set 'b'"):
        ToolSet([click], name="a") + ToolSet([other], name="b")
    assert (ToolSet([click]) + ToolSet([click])).names() == ["click"]  # the same tool twice is fine


def test_filter_prefix_merge() -> None:
    ts = ToolSet([click, paint_shapes, _noop])
    assert ts.filter(["paint", "click"]).names() == ["click", "paint"]
    assert ts.filter(lambda t: t.risk is Risk.DESTRUCTIVE).names() == ["paint"]
    with pytest.raises(
        ToolDefinitionError, match=r"No tool named 'zap'.*it has: click, paint, _noop"
    ):
        ts.filter(["zap"])
    pre = ts.prefixed("desk")
    assert pre.names() == ["desk_click", "desk_paint", "desk__noop"]
    assert ts.prefixed("web", sep="-").names()[0] == "web-click"
    renamed = pre.get("desk_click")
    assert renamed is not None and renamed is not click and click.name == "click"
    assert renamed.signature_text().startswith("desk_click(x: integer")
    assert asyncio.run(renamed.invoke(renamed.validate({"x": 1, "y": 2}), None)) == "left@1,2"
    merged = ts + pre
    assert merged.names() == ts.names() + pre.names()
    assert (ToolSet([click]) + [_noop]).names() == ["click", "_noop"]
    assert ([_noop] + ToolSet([click])).names() == ["_noop", "click"]
    with pytest.raises(ToolDefinitionError, match="Invalid tool name"):
        ts.prefixed("x" * 70)


_EXCEPTION_GROUP: Any = builtins.__dict__.get("ExceptionGroup")


@pytest.mark.skipif(_EXCEPTION_GROUP is None, reason="ExceptionGroup needs Python 3.11")
def test_aclose_runs_each_callback_once_per_close_and_collects_errors() -> None:
    log: list[str] = []

    def sync_cb() -> None:
        log.append("sync")

    async def async_cb() -> None:
        log.append("async")

    def failing() -> None:
        log.append("fail")
        raise ValueError("key still held")

    def failing2() -> None:
        log.append("fail2")
        raise OSError("device gone")

    base = ToolSet([click], on_close=[sync_cb, failing])
    extra = ToolSet([_noop], on_close=[async_cb, failing2])
    combined = base.prefixed("a").filter(["a_click"]) + extra

    async def main() -> None:
        with pytest.raises(_EXCEPTION_GROUP) as info:
            await combined.aclose()
        assert [type(e) for e in info.value.exceptions] == [ValueError, OSError]
        assert log == ["sync", "fail", "async", "fail2"]
        log.clear()
        with pytest.raises(ValueError):
            await base.aclose()  # the next run's close releases again
        assert log == ["sync", "fail"]

    asyncio.run(main())


def test_aclose_single_error_and_context_manager() -> None:
    log: list[str] = []
    ts = ToolSet([click])

    @ts.on_close
    def release() -> None:
        log.append("released")
        raise KeyError("shift")

    async def main() -> None:
        with pytest.raises(KeyError):
            async with ts:
                log.append("body")
        ts2 = ToolSet([click], on_close=[lambda: log.append("cm")])
        with pytest.raises(RuntimeError):
            async with ts2:
                raise RuntimeError("tool failed")

    asyncio.run(main())
    assert log == ["body", "released", "cm"]


def test_nested_sets_are_flattened_with_their_callbacks() -> None:
    log: list[str] = []
    inner = ToolSet([click], on_close=[lambda: log.append("inner")])
    outer = ToolSet([inner, _noop], on_close=[lambda: log.append("outer")])
    assert outer.names() == ["click", "_noop"]
    asyncio.run(outer.aclose())
    assert sorted(log) == ["inner", "outer"]


def test_replace_and_alias_collisions() -> None:
    @tool
    def f(json: int, p0_json: str = "") -> str:
        return f"{json}|{p0_json}"

    assert list(f.parameters["properties"]) == ["json", "p0_json"]
    assert asyncio.run(f.invoke(f.validate({"json": 1, "p0_json": "b"}), None)) == "1|b"
    g = f.replace(name="g", risk="destructive", max_calls=2, description="G.")
    assert (g.name, g.risk, g.max_calls, g.description) == ("g", Risk.DESTRUCTIVE, 2, "G.")
    assert (f.name, f.risk, f.max_calls) == ("f", Risk.REVERSIBLE, None)
    assert g.replace(max_calls=None).max_calls is None
    assert g.signature_text().startswith("g(") and repr(g).startswith("Tool(name='g'")


def test_structured_output_tool_pattern() -> None:
    # How the agent builds its reserved final_result tool from an output type.
    def final_result(result: Any) -> str:
        return "accepted"

    final = Tool.from_model(
        MoveArgs, final_result, name="final_result", risk=Risk.READ_ONLY, allow_reserved=True
    )
    assert not final.takes_context
    assert (ToolSet([click]) + ToolSet([final])).names() == ["click", "final_result"]
    assert asyncio.run(final.invoke(final.validate({"x": 1}), None)) == "accepted"


# --------------------------------------------------------------------------- package surface


def test_public_exports() -> None:
    assert sorted(tools_pkg.__all__) == tools_pkg.__all__
    for name in tools_pkg.__all__:
        assert hasattr(tools_pkg, name)
    assert tools_pkg.ENTRY_POINT_GROUP == "agentkit.tools"
    assert ToolCall.__module__ == "agentkit.tools._call"
    assert [r.value for r in Risk] == ["read_only", "reversible", "destructive"]
    assert Risk("read_only") is Risk.READ_ONLY and isinstance(Risk.READ_ONLY, str)
