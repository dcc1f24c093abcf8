"""The tool-call parser: MiniCPM-V 4.6 / Qwen3-Coder ``<tool_call>`` markup, streaming and strict.

```
<tool_call>
<function=click>
<parameter=x>
512
</parameter>
</function>
</tool_call>
```

:class:`ToolCallParser` reads the model's raw output incrementally; :func:`parse_tool_calls` reads
a whole text; :func:`validate_server_calls` checks ``message.tool_calls`` a server parsed itself.
All three return a :class:`ParseResult` whose calls are fully validated and whose errors are
:class:`~agentkit.errors.ToolCallError` values, never raised. Policies: ``docs/parser.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentkit.parsing._result import CallParsed, CallRejected, ParseEvent, ParseResult, TextChunk
from agentkit.parsing._scanner import FORMAT_HINT, ToolCallParser
from agentkit.parsing._validate import validate_server_calls

if TYPE_CHECKING:
    from agentkit.tools._toolset import ToolSet

__all__ = [
    "FORMAT_HINT",
    "CallParsed",
    "CallRejected",
    "ParseEvent",
    "ParseResult",
    "TextChunk",
    "ToolCallParser",
    "parse_tool_calls",
    "validate_server_calls",
]


def parse_tool_calls(
    text: str,
    toolset: ToolSet,
    *,
    finish_reason: str | None = "stop",
    max_call_chars: int = 32768,
    max_calls: int | None = None,
    call_id_prefix: str = "call",
    start_in_think: bool = False,
) -> ParseResult:
    """Parse a whole model output; the same result as feeding it to :class:`ToolCallParser`.

    Args:
        text: the raw assistant text.
        toolset: the tools the model may call.
        finish_reason: the server's finish reason (``"length"``: the output was cut).
        max_call_chars: hard cap on one call's markup.
        max_calls: accept at most this many valid calls.
        call_id_prefix: ids are ``f"{call_id_prefix}_{n}"``.
        start_in_think: the output starts inside a ``<think>`` block.
    """
    parser = ToolCallParser(
        toolset,
        max_call_chars=max_call_chars,
        max_calls=max_calls,
        call_id_prefix=call_id_prefix,
        start_in_think=start_in_think,
    )
    parser.feed(text)
    return parser.finish(finish_reason)
