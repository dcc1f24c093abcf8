"""Unit tests of agentkit.parsing: the streaming API, typed tools, server-parsed calls, bounds."""

from __future__ import annotations

import json
import time
from typing import Literal

import pytest

from agentkit.backends._base import ServerToolCall
from agentkit.errors import ConfigurationError, ToolCallError
from agentkit.parsing import (
    CallParsed,
    CallRejected,
    ParseResult,
    TextChunk,
    ToolCallParser,
    parse_tool_calls,
    validate_server_calls,
)
from agentkit.tools import ToolSet, tool


@tool
def click(x: int, y: int, button: Literal["left", "right"] = "left") -> str:
    """Click at a point.

    Args:
        x: pixels from the left.
        y: pixels from the top.
        button: which button.
    """
    return f"clicked {x},{y}"


@tool
def type_text(text: str) -> str:
    """Type text."""
    return text


@tool
def configure(
    level: int | None = None,
    ratio: float = 1.0,
    verbose: bool = False,
    tags: list[int] | None = None,
) -> str:
    """Set options."""
    return "ok"


@tool
def screenshot() -> str:
    """Take a screenshot."""
    return "png"


TOOLS = ToolSet([click, type_text, configure, screenshot])


def call_text(name: str, **params: str) -> str:
    parts = ["<tool_call>", f"<function={name}>"]
    for key, value in params.items():
        parts += [f"<parameter={key}>", value, "</parameter>"]
    parts += ["</function>", "</tool_call>"]
    return "\n".join(parts)


def feed_all(parser: ToolCallParser, chunks: list[str]) -> list[object]:
    events: list[object] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


# --------------------------------------------------------------------------- streaming API


def test_events_in_order_and_text_streams() -> None:
    parser = ToolCallParser(TOOLS)
    events = feed_all(
        parser, ["Sure, click", "ing now.\n", call_text("click", x="5", y="6"), "\nDone."]
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["TextChunk", "TextChunk", "CallParsed", "TextChunk"]
    result = parser.finish("stop")
    assert result.text == "Sure, clicking now.\n\nDone."
    assert [c.name for c in result.calls] == ["click"]
    assert result.calls[0].arguments == {"x": 5, "y": 6}
    assert result.calls[0].id == "call_0"
    assert result.calls[0].source == "text"


def test_text_is_released_as_soon_as_it_cannot_start_a_tag() -> None:
    parser = ToolCallParser(TOOLS)
    assert parser.feed("Hello <") == [TextChunk("Hello ")]
    assert parser.feed("b") == [TextChunk("<b")]
    assert parser.feed("<tool_ca") == []
    assert parser.feed("t") == [TextChunk("<tool_cat")]
    assert parser.feed("</thi") == []
    assert parser.finish().text == "Hello <b<tool_cat</thi"


def test_partial_tag_cut_at_the_end_of_a_call_is_dropped() -> None:
    result = parse_tool_calls("<tool_call>\n<function=screenshot>\n</func", TOOLS)
    assert [c.name for c in result.calls] == ["screenshot"]


def test_whole_equals_streaming_for_every_split_point() -> None:
    text = "a\\nb " + call_text("click", x="1", y="2") + " <think>t</think> tail\\"
    whole = parse_tool_calls(text, TOOLS).summary()
    for cut in range(len(text) + 1):
        parser = ToolCallParser(TOOLS)
        feed_all(parser, [text[:cut], text[cut:]])
        assert parser.finish().summary() == whole, cut
    assert whole["text"] == "a\nb   tail\\"
    assert whole["reasoning"] == "t"


def test_finish_is_idempotent_and_feed_after_finish_is_an_error() -> None:
    parser = ToolCallParser(TOOLS)
    parser.feed("hi")
    first = parser.finish()
    assert parser.finish() is first
    with pytest.raises(RuntimeError):
        parser.feed("more")


def test_call_ids_use_the_prefix_and_count_accepted_calls() -> None:
    text = call_text("nope") + call_text("screenshot") + call_text("screenshot")
    result = parse_tool_calls(text, TOOLS, call_id_prefix="call_3")
    assert [c.id for c in result.calls] == ["call_3_0", "call_3_1"]
    assert [e.kind for e in result.errors] == ["unknown_tool"]


def test_rejections_are_events_and_errors_carry_context() -> None:
    parser = ToolCallParser(TOOLS)
    events = parser.feed(call_text("click", x="five", y="6"))
    assert len(events) == 1 and isinstance(events[0], CallRejected)
    err = events[0].error
    assert err.kind == "bad_value" and err.tool == "click"
    assert "click(x: integer" in err.message  # the signature tells the model what to write
    assert err.raw.startswith("<tool_call>\n<function=click>")
    assert err.to_dict()["kind"] == "bad_value"


def test_limits_must_be_sane() -> None:
    with pytest.raises(ConfigurationError):
        ToolCallParser(TOOLS, max_call_chars=10)
    with pytest.raises(ConfigurationError):
        ToolCallParser(TOOLS, max_calls=-1)


# --------------------------------------------------------------------------- typed tools


def test_typed_tool_values_and_validated_model() -> None:
    text = call_text("configure", level="null", ratio="2", verbose="true", tags="[1, 2]")
    result = parse_tool_calls(text, TOOLS)
    assert not result.errors
    call = result.calls[0]
    assert call.arguments == {"level": None, "ratio": 2, "verbose": True, "tags": [1, 2]}
    assert call.validated.level is None and call.validated.tags == [1, 2]
    assert call.validated.ratio == 2.0


@pytest.mark.parametrize(
    "params",
    [
        {"level": "1_000"},
        {"level": "\uff13"},
        {"verbose": "1"},
        {"verbose": "True"},
        {"ratio": "nan"},
        {"ratio": "1e999"},
        {"tags": "[1, 2.5]"},
        {"tags": "(1, 2)"},
        {"tags": '"[1]"'},
    ],
)
def test_typed_tool_strictness(params: dict[str, str]) -> None:
    result = parse_tool_calls(call_text("configure", **params), TOOLS)
    assert not result.calls
    assert [e.kind for e in result.errors] == ["bad_value"]


def test_literal_enum_is_exact() -> None:
    result = parse_tool_calls(call_text("click", x="1", y="2", button="Left"), TOOLS)
    assert [e.kind for e in result.errors] == ["bad_value"]
    assert "left" in result.errors[0].message


def test_zero_arg_call_and_string_with_markup() -> None:
    nested = call_text("click", x="1", y="2")
    result = parse_tool_calls(call_text("screenshot") + call_text("type_text", text=nested), TOOLS)
    assert [c.arguments for c in result.calls] == [{}, {"text": nested}]


def test_several_bad_values_are_reported_together() -> None:
    result = parse_tool_calls(call_text("click", x="a", y="b"), TOOLS)
    (err,) = result.errors
    assert '"x"' in err.message and '"y"' in err.message


def test_unknown_tool_lists_the_real_names() -> None:
    (err,) = parse_tool_calls(call_text("cl\u200bick"), TOOLS).errors
    assert err.kind == "unknown_tool"
    assert "click, type_text, configure, screenshot" in err.message
    assert "\\u200b" in err.message  # invisible characters are shown escaped


def test_max_calls() -> None:
    text = call_text("screenshot") * 3
    result = parse_tool_calls(text, TOOLS, max_calls=1)
    assert len(result.calls) == 1
    assert [e.kind for e in result.errors] == ["too_many_calls", "too_many_calls"]


def test_tool_validate_exceptions_become_typed_errors() -> None:
    class Exploding:
        def get(self, name: str) -> object:
            return ExplodingTool() if name == "boom" else None

        def names(self) -> list[str]:
            return ["boom"]

    class ExplodingTool:
        name = "boom"
        parameters = {"type": "object", "properties": {}, "required": []}

        def param_schema(self, name: str) -> None:
            return None

        def signature_text(self) -> str:
            return "boom()"

        def validate(self, arguments: dict[str, object]) -> object:
            raise ZeroDivisionError("bug in a validator")

    result = parse_tool_calls(call_text("boom"), Exploding())  # type: ignore[arg-type]
    assert [e.kind for e in result.errors] == ["bad_value"]


# --------------------------------------------------------------------------- server-parsed calls


def server(name: str, arguments: str, id: str = "") -> ServerToolCall:
    return ServerToolCall(id=id, name=name, arguments=arguments)


def kinds(result: ParseResult) -> list[str]:
    return [e.kind for e in result.errors]


def test_server_calls_valid() -> None:
    result = validate_server_calls(
        [server("click", '{"x": 1, "y": 2}', "abc"), server("screenshot", "")], TOOLS
    )
    assert not result.errors
    assert [(c.id, c.name, c.arguments, c.source) for c in result.calls] == [
        ("abc", "click", {"x": 1, "y": 2}, "server"),
        ("call_1", "screenshot", {}, "server"),
    ]


@pytest.mark.parametrize(
    ("arguments", "kind"),
    [
        ('{"x": "\u0663", "y": 2}', "bad_value"),  # a string gets the strict text rules: not ASCII
        ('{"x": "yes", "y": 2}', "bad_value"),
        ('{"x": 1, "x": 2, "y": 2}', "duplicate_parameter"),
        ('{"x": 1, "y": NaN}', "bad_value"),
        ('{"x": 1, "y": 1e999}', "bad_value"),
        ('{"x": 1, "y": 2, "z": 3}', "unknown_parameter"),
        ('{"x": 1}', "missing_parameter"),
        ('{"x": 1, "y": 2', "malformed"),
        ('"{\\"x\\": 1, \\"y\\": 2}"', "malformed"),  # double-encoded
        ("[1, 2]", "malformed"),
        ("{'x': 1, 'y': 2}", "malformed"),
        ('{"x": true, "y": 2}', "bad_value"),
    ],
)
def test_server_calls_are_strict(arguments: str, kind: str) -> None:
    result = validate_server_calls([server("click", arguments)], TOOLS)
    assert not result.calls
    assert kinds(result) == [kind]


def test_server_strings_for_non_string_parameters_get_the_text_rules() -> None:
    # vLLM's parser leaves anyOf-typed values (Optional[int]) as the text the model wrote
    result = validate_server_calls([server("click", '{"x": "90", "y": 2}')], TOOLS)
    assert [c.arguments for c in result.calls] == [{"x": 90, "y": 2}] and not result.errors


def test_server_nested_duplicate_key_is_a_bad_value() -> None:
    result = validate_server_calls(
        [server("configure", '{"tags": [1], "x": {"a": 1, "a": 2}}')], TOOLS
    )
    assert kinds(result) == ["bad_value"]


def test_server_unknown_and_lookalike_names() -> None:
    result = validate_server_calls(
        [server("Click", '{"x": 1, "y": 2}'), server("\u0441lick", '{"x": 1, "y": 2}')], TOOLS
    )
    assert kinds(result) == ["unknown_tool", "unknown_tool"]


def test_server_unclosed_json_with_length_is_truncated() -> None:
    result = validate_server_calls([server("click", '{"x": 1, "y"')], TOOLS, finish_reason="length")
    assert kinds(result) == ["truncated"]
    assert result.truncated


def test_server_duplicated_identical_call_is_reported() -> None:
    calls = [server("click", '{"x": 1, "y": 2}', "a"), server("click", '{"y": 2, "x": 1}', "b")]
    result = validate_server_calls(calls, TOOLS)
    assert [c.id for c in result.calls] == ["a"]
    assert kinds(result) == ["malformed"]
    assert "repeats call 1" in result.errors[0].message


def test_server_call_left_in_content_is_parsed_and_merged() -> None:
    content = "Clicking.\n" + call_text("type_text", text="hi")
    result = validate_server_calls(
        [server("click", '{"x": 1, "y": 2}', "a")], TOOLS, content=content
    )
    assert [c.name for c in result.calls] == ["click", "type_text"]
    assert result.text == "Clicking.\n"
    # The same call both parsed by the server and left in the content runs once.
    twice = validate_server_calls(
        [server("type_text", '{"text": "hi"}', "a")], TOOLS, content=content
    )
    assert [c.name for c in twice.calls] == ["type_text"]
    assert kinds(twice) == ["malformed"]


def test_server_ids_are_unique_and_max_calls_applies() -> None:
    calls = [
        server("click", '{"x": 1, "y": 2}', "same"),
        server("click", '{"x": 3, "y": 4}', "same"),
    ]
    result = validate_server_calls(calls, TOOLS)
    assert len({c.id for c in result.calls}) == 2
    limited = validate_server_calls(calls, TOOLS, max_calls=1)
    assert len(limited.calls) == 1 and kinds(limited) == ["too_many_calls"]


# --------------------------------------------------------------------------- bounds


def test_buffering_is_bounded_for_prose_and_oversized_values() -> None:
    parser = ToolCallParser(TOOLS, max_call_chars=4096)
    shown = 0
    fed = 0
    for i in range(20_000):
        chunk = "word<" if i % 2 else "s "
        fed += len(chunk)
        shown += sum(len(e.text) for e in parser.feed(chunk) if isinstance(e, TextChunk))
        assert fed - shown <= 11  # at most a possible tag start is held back
    parser.feed("<tool_call>\n<function=type_text>\n<parameter=text>\n")
    for _ in range(2_000):
        parser.feed("x" * 1000)
    stored = sum(len(p) for p in parser._value) + len(parser._tok._hold)  # noqa: SLF001
    assert stored <= 4096
    result = parser.finish("length")
    assert [e.kind for e in result.errors] == ["too_large"]


def _best_time(text: str, *, chunk: int, cap: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        parser = ToolCallParser(TOOLS, max_call_chars=cap)
        for i in range(0, len(text), chunk):
            parser.feed(text[i : i + chunk])
        parser.finish("stop")
        best = min(best, time.perf_counter() - start)
    return best


HOSTILE = {
    "lt-flood": lambda n: "<" * n,
    "near-miss-tags": lambda n: ("<tool_cal<paramete</paramete<think" * (n // 34 + 1))[:n],
    "openers": lambda n: ("<tool_call>" * (n // 11 + 1))[:n],
    "value-close-ws": lambda n: (
        "<tool_call>\n<function=type_text>\n<parameter=text>\n"
        + ("</parameter> \n\t" * (n // 16 + 1))[:n]
    ),
    "value-nested": lambda n: (
        "<tool_call>\n<function=type_text>\n<parameter=text>\n"
        + ("<tool_call></parameter>" * (n // 23 + 1))[:n]
    ),
    "json-depth": lambda n: (
        "<tool_call>\n<function=configure>\n<parameter=tags>\n"
        + "[" * n
        + "\n</parameter>\n</function>\n</tool_call>"
    ),
    "ws-between-tags": lambda n: "<tool_call>\n<function=screenshot>" + " " * n,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_parse_in_linear_time(name: str) -> None:
    make = HOSTILE[name]
    small, large = make(32 * 1024), make(256 * 1024)
    for chunk in (4, 4096):
        t_small = _best_time(small, chunk=chunk, cap=10**7)
        t_large = _best_time(large, chunk=chunk, cap=10**7)
        # Linear: about 8x. Quadratic would be about 64x. Generous bound for a noisy machine.
        assert t_large < 24 * t_small + 0.05, (name, chunk, t_small, t_large)
    result = parse_tool_calls(large, TOOLS)
    assert all(isinstance(e, ToolCallError) for e in result.errors)


def test_char_by_char_long_value_is_linear() -> None:
    def text(n: int) -> str:
        return call_text("type_text", text="v" * n)

    t_small = _best_time(text(16 * 1024), chunk=1, cap=10**7, repeat=2)
    t_large = _best_time(text(128 * 1024), chunk=1, cap=10**7, repeat=2)
    assert t_large < 24 * t_small + 0.05


def test_result_summary_is_json() -> None:
    result = parse_tool_calls("hi " + call_text("screenshot") + call_text("nope"), TOOLS)
    json.dumps(result.summary())
    assert not result.ok
    assert (
        isinstance(result.calls[0], object) and CallParsed(result.calls[0]).call is result.calls[0]
    )
