"""A grammar-constrained tiny MiniCPM-V 4.6 (random weights, sampling) in the transformers backend
writes only calls that validate; the streamed text parses the same as the whole."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from conftest_tiny import (  # noqa: F401  (the tiny_model_dir fixture)
    require_transformers_backend,
    tiny_model_dir_fixture,
)

from agentkit.backends._base import ModelRequest, ModelResponse, TextDelta
from agentkit.grammar import GrammarLogitsProcessor, GrammarPolicy, compile_tool_grammar
from agentkit.messages import Message
from agentkit.parsing import ToolCallParser, parse_tool_calls
from agentkit.tools import Tool, ToolSet

RUNS = 20
WORDS = ["open", "the", "settings", "click", "button", "type", "answer", "window", "42", "now"]


def _noop(args: object) -> None:
    return None


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    # The tiny model decodes token by token: on a busy 2-core machine one torch thread is ~15x
    # faster than two fighting for the cores.
    require_transformers_backend()
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tools() -> ToolSet:
    # Bounded values: a random model picks tokens at random, so an unbounded string could run
    # to max_new_tokens; bounds let every path of the grammar finish within the token budget.
    def make(name: str, props: dict[str, object], required: list[str]) -> Tool:
        schema = {"type": "object", "properties": props, "required": required}
        return Tool.from_json_schema(name, f"The {name} tool.", schema, _noop)

    return ToolSet(
        [
            make(
                "click",
                {
                    "x": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "y": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "button": {"enum": ["left", "right", "middle"]},
                },
                ["x", "y"],
            ),
            make(
                "type_text",
                {
                    "text": {"type": "string", "minLength": 1, "maxLength": 6},
                    "enter": {"type": "boolean"},
                },
                ["text"],
            ),
            make(
                "scroll",
                {
                    "amount": {"type": "number", "minimum": -10, "maximum": 10},
                    "keys": {"type": "array", "items": {"enum": ["ctrl", "shift"]}, "maxItems": 2},
                    "note": {"anyOf": [{"type": "string", "maxLength": 4}, {"type": "null"}]},
                },
                ["amount"],
            ),
        ]
    )


def test_constrained_tiny_model_only_writes_valid_calls(tiny_model_dir: Path) -> None:
    pytest.importorskip("xgrammar")
    import torch

    from agentkit.backends.transformers_backend import TransformersBackend

    tools = _tools()
    fields = GrammarPolicy("always", require_call=True).request_fields(tools, after_invalid=False)
    # the request carries the grammar as vLLM would get it; the backend applies it while decoding
    backend = TransformersBackend(tiny_model_dir, device="cpu", max_new_tokens=160)
    rng = random.Random(1234)

    async def run(seed: int) -> tuple[list[str], ModelResponse]:
        torch.manual_seed(seed)
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
        request = ModelRequest(
            [Message("user", prompt)],
            tools=tools.openai_schemas(),
            temperature=1.0,
            max_tokens=160,
            tool_choice=fields["tool_choice"],
            structured_outputs=fields["structured_outputs"],
        )
        deltas: list[str] = []
        final = None
        async for item in backend.stream(request):
            if isinstance(item, TextDelta):
                deltas.append(item.text)
            else:
                final = item
        assert final is not None
        return deltas, final

    names = set()
    for seed in range(RUNS):
        deltas, response = asyncio.run(run(seed))
        result = parse_tool_calls(response.text, tools, finish_reason=response.finish_reason)
        assert not result.errors, (response.text, result.errors)
        assert len(result.calls) == 1 and result.text.strip() == "", response.text
        names.add(result.calls[0].name)
        # Streaming: the same text fed as it arrived (the call is in the content) parses the same.
        parser = ToolCallParser(tools)
        for delta in deltas:
            parser.feed(delta)
        streamed = parser.finish(response.finish_reason)
        assert [c.arguments for c in streamed.calls] == [c.arguments for c in result.calls]
    assert len(names) >= 2  # sampling explores the grammar, not one fixed path


def test_unconstrained_tiny_model_writes_no_valid_call(tiny_model_dir: Path) -> None:
    # The control: the same random model without the grammar does not write a valid call.
    import torch

    from agentkit.backends._base import complete
    from agentkit.backends.transformers_backend import TransformersBackend

    tools = _tools()
    backend = TransformersBackend(tiny_model_dir, device="cpu", max_new_tokens=40)
    torch.manual_seed(0)
    request = ModelRequest(
        [Message("user", "click the button")],
        tools=tools.openai_schemas(),
        temperature=1.0,
        max_tokens=40,
    )
    response = asyncio.run(complete(backend, request))
    assert parse_tool_calls(response.text, tools, finish_reason=response.finish_reason).calls == []


def test_processor_restarts_the_grammar_for_each_generation(tiny_model_dir: Path) -> None:
    pytest.importorskip("xgrammar")
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    grammar = compile_tool_grammar(_tools(), allow_text=False)
    processor = GrammarLogitsProcessor(grammar, tokenizer)
    width = 384
    first = torch.tensor([[1, 2, 3]])
    allowed = processor(first, torch.zeros(1, width))
    start = [i for i in range(width) if allowed[0, i] > float("-inf")]
    assert start and all(
        tokenizer.decode([i]) in "<tool_call>" or "<tool_call>".startswith(tokenizer.decode([i]))
        for i in start
    )
    token = start[0]
    processor(torch.tensor([[1, 2, 3, token]]), torch.zeros(1, width))  # continues
    again = processor(torch.tensor([[9, 9]]), torch.zeros(1, width))  # a new prompt: starts over
    assert [i for i in range(width) if again[0, i] > float("-inf")] == start


def test_processor_takes_every_grammar_form_and_reports_bad_ones(tiny_model_dir: Path) -> None:
    pytest.importorskip("xgrammar")
    import torch
    from transformers import AutoTokenizer

    from agentkit.errors import ConfigurationError

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tools = _tools()
    text = "<tool_call>\n<function=type_text>\n<parameter=text>\nab\n</parameter>\n</function>\n</tool_call>"
    ids = tokenizer.encode(text, add_special_tokens=False)
    for source in (
        compile_tool_grammar(tools, allow_text=False),
        compile_tool_grammar(tools, allow_text=False, form="ebnf"),
        compile_tool_grammar(tools, allow_text=False, form="ebnf").structured_outputs(),
        compile_tool_grammar(tools, allow_text=False).regex,
    ):
        processor = GrammarLogitsProcessor(source, tokenizer)
        prompt = [7, 8]
        for k, token in enumerate(ids):  # the text's own tokens are always allowed
            scores = processor(torch.tensor([prompt + ids[:k]]), torch.zeros(1, 384))
            assert scores[0, token] == 0.0, (source, k)
        end = processor(torch.tensor([prompt + ids]), torch.zeros(1, 384))
        allowed = {i for i in range(384) if end[0, i] > float("-inf")}
        stops = {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
        assert allowed == stops  # the call is complete: only the end of the turn
    with pytest.raises(ConfigurationError):
        GrammarLogitsProcessor({"json": {}}, tokenizer)
    with pytest.raises(ConfigurationError):
        GrammarLogitsProcessor("(unclosed", tokenizer)(torch.tensor([[1]]), torch.zeros(1, 384))
