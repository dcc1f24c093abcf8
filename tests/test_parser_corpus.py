"""The hostile-input corpus (tests/corpus/*.jsonl): every case whole, in 50 seeded random chunkings
and character by character, with the same expected outcome each time.

The cases are data; tests/corpus/make_corpus.py writes them (see its docstring).
"""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from agentkit.errors import ToolCallError
from agentkit.parsing import CallParsed, CallRejected, ParseResult, TextChunk, ToolCallParser
from agentkit.tools import Tool, ToolSet

CORPUS = Path(__file__).parent / "corpus"
CHUNKINGS = 50
MIN_CASES = 320


def _load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                cases.append(json.loads(line))
    return cases


CASES = _load_cases()


def _noop(arguments: dict[str, Any]) -> None:
    return None


@cache
def toolset(fixture: str) -> ToolSet:
    specs = json.loads((CORPUS / "tools.json").read_text(encoding="utf-8"))[fixture]
    return ToolSet(
        [Tool.from_json_schema(s["name"], s["description"], s["parameters"], _noop) for s in specs]
    )


def _parser(case: dict[str, Any]) -> ToolCallParser:
    return ToolCallParser(
        toolset(case["tools"]),
        max_call_chars=case.get("max_call_chars", 32768),
        max_calls=case.get("max_calls"),
        start_in_think=case.get("start_in_think", False),
    )


def _run(case: dict[str, Any], chunks: list[str]) -> tuple[ParseResult, list[Any]]:
    parser = _parser(case)
    events: list[Any] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return parser.finish(case["finish_reason"]), events


def _digest(result: ParseResult) -> dict[str, Any]:
    digest = result.summary()
    digest["raw"] = [e.raw for e in result.errors]
    digest["ids"] = [c.id for c in result.calls]
    return digest


def _random_chunks(text: str, rng: random.Random) -> list[str]:
    chunks: list[str] = []
    top = 24 if len(text) < 20_000 else 4096
    i = 0
    while i < len(text):
        n = rng.randint(1, top)
        chunks.append(text[i : i + n])
        i += n
    return chunks


def _check_events(result: ParseResult, events: list[Any]) -> None:
    """Events streamed by feed() are a prefix of the result (finish() settles the rest)."""
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert result.text.startswith(text), "TextChunk events are not a prefix of ParseResult.text"
    calls = [e.call for e in events if isinstance(e, CallParsed)]
    assert calls == result.calls[: len(calls)]
    errors = [e.error for e in events if isinstance(e, CallRejected)]
    assert errors == result.errors[: len(errors)]


def _check_expected(case: dict[str, Any], result: ParseResult) -> None:
    expected = case["expected"]
    got_calls = [{"name": c.name, "arguments": c.arguments} for c in result.calls]
    assert got_calls == expected["calls"], f"{case['id']}: {case['what']}\nerrors: {result.errors}"
    kinds = [e.kind for e in result.errors]
    assert kinds == expected["errors"], f"{case['id']}: {case['what']}\nmessages: {result.errors}"
    for err in result.errors:
        assert isinstance(err, ToolCallError) and err.message
    if "text" in expected:
        assert result.text == expected["text"], case["id"]
    if "reasoning" in expected:
        assert result.reasoning == expected["reasoning"], case["id"]
    if "truncated" in expected:
        assert result.truncated is expected["truncated"], case["id"]
    for call in result.calls:  # every accepted call really validates
        call.tool.validate(call.arguments)


def test_corpus_size() -> None:
    classes = {c["class"] for c in CASES}
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} corpus cases"
    assert {
        "envelope",
        "names",
        "parameters",
        "types",
        "markup",
        "placement",
        "truncation",
        "streaming",
        "size",
        "unicode",
        "dangerous",
        "valid",
    } <= classes
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert case["what"] and case["source"] and case["tools"] in ("desktop", "types", "none")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    text = case["text"]
    whole, events = _run(case, [text])
    _check_expected(case, whole)
    _check_events(whole, events)
    reference = _digest(whole)
    rng = random.Random(case["id"])
    for _ in range(CHUNKINGS):
        result, events = _run(case, _random_chunks(text, rng))
        assert _digest(result) == reference
        _check_events(result, events)
    by_char, events = _run(case, list(text))
    assert _digest(by_char) == reference
    _check_events(by_char, events)
