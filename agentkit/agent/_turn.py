"""One model turn: stream it, show the visible text as it comes, parse and validate its calls."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from agentkit.backends._base import Backend, ModelRequest, ModelResponse, TextDelta
from agentkit.errors import ProtocolError
from agentkit.events import Event, ModelTextDelta
from agentkit.parsing import ParseResult, TextChunk, ToolCallParser, validate_server_calls
from agentkit.tools import ToolSet

__all__ = ["stream_turn"]


async def stream_turn(
    backend: Backend,
    request: ModelRequest,
    toolset: ToolSet,
    *,
    step: int,
    max_calls: int | None,
    emit: Callable[[Event], Awaitable[None]],
) -> tuple[ModelResponse, ParseResult]:
    """Run one turn to its end and validate what it asked for.

    Text is parsed as it streams (so the visible prose is emitted without the call markup), but
    nothing is decided until the turn is whole: calls the server parsed itself are validated like
    the model's own text, and a turn that breaks off raises before any call is returned.
    """
    parser = ToolCallParser(toolset, max_calls=max_calls, call_id_prefix=f"call_{step}")
    response: ModelResponse | None = None
    async with contextlib.aclosing(backend.stream(request)) as stream:  # type: ignore[type-var]
        async for item in stream:
            if isinstance(item, TextDelta):
                for ev in parser.feed(item.text):
                    if isinstance(ev, TextChunk) and ev.text:
                        await emit(ModelTextDelta(step, ev.text))
            elif isinstance(item, ModelResponse):
                response = item
    if response is None:
        raise ProtocolError("the backend's stream ended without a final response")
    if response.tool_calls:
        parsed = validate_server_calls(
            response.tool_calls,
            toolset,
            finish_reason=response.finish_reason,
            content=response.text,
            max_calls=max_calls,
        )
    else:
        parsed = parser.finish(response.finish_reason)
    return response, parsed
