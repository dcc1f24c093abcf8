"""What the parser hands back: streaming events and the final :class:`ParseResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentkit.errors import ToolCallError, TruncatedCallError
from agentkit.tools._call import ToolCall

__all__ = ["CallParsed", "CallRejected", "ParseEvent", "ParseResult", "TextChunk"]


@dataclass(frozen=True)
class TextChunk:
    """Visible prose, safe to show as it streams (calls and ``<think>`` blocks removed)."""

    text: str


@dataclass(frozen=True)
class CallParsed:
    """A call that passed every check (it is not run by the parser)."""

    call: ToolCall


@dataclass(frozen=True)
class CallRejected:
    """A call that failed; ``error.message`` is written for the model."""

    error: ToolCallError


ParseEvent = TextChunk | CallParsed | CallRejected


@dataclass
class ParseResult:
    """The outcome of one model turn.

    Attributes:
        text: the visible prose: everything outside calls and ``<think>`` blocks, with a literal
            backslash-n written by the model turned into a newline. Equal to the concatenation of
            the :class:`TextChunk` events.
        reasoning: the text of the ``<think>`` blocks.
        calls: the valid calls, in order. Nothing here has run.
        errors: one error per rejected call, in order (never raised).
        truncated: the output was cut (``finish_reason == "length"``) inside a call or a
            ``<think>`` block.
    """

    text: str = ""
    reasoning: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[ToolCallError] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when no call was rejected."""
        return not self.errors

    def summary(self) -> dict[str, Any]:
        """A JSON-compatible digest (text, reasoning, calls, errors) for logs and comparisons."""
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.calls],
            "errors": [{"kind": e.kind, "message": e.message} for e in self.errors],
            "truncated": self.truncated,
        }


def has_truncation(errors: list[ToolCallError]) -> bool:
    return any(isinstance(e, TruncatedCallError) for e in errors)
