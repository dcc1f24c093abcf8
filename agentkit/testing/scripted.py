"""An in-process backend that replays scripted replies: test your agent without a server.

Each model turn takes the next item of the script: a string (raw model text, which may contain
``<tool_call>`` blocks), a :class:`ScriptedReply`, an exception to raise (a fault), or a callable
that receives the :class:`ModelRequest` and returns one of those (a "function model").
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from agentkit.backends._base import (
    ModelRequest,
    ModelResponse,
    ServerToolCall,
    StreamItem,
    TextDelta,
)
from agentkit.errors import ProtocolError
from agentkit.messages import Usage

__all__ = ["ScriptedBackend", "ScriptedReply"]


@dataclass
class ScriptedReply:
    """One scripted model turn.

    Attributes:
        text: the raw assistant text.
        tool_calls: calls as a server with a tool parser would return them.
        finish_reason: ``"stop"``, ``"length"``...
        chunk_chars: characters per streamed delta (like tokens).
        delay_s: pause between deltas (to test cancellation and stalls).
        prompt_tokens: reported usage; estimated from the request when None.
    """

    text: str = ""
    tool_calls: list[ServerToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    chunk_chars: int = 4
    delay_s: float = 0.0
    prompt_tokens: int | None = None


Script = str | ScriptedReply | BaseException | Callable[[ModelRequest], "str | ScriptedReply"]


class ScriptedBackend:
    """A :class:`~agentkit.backends.Backend` that replays a script and records every request.

    Args:
        script: the replies, in order. When it runs out, a :class:`ProtocolError` says so.
        model: the model name it reports.

    Attributes:
        requests: every :class:`ModelRequest` received, in order.
    """

    def __init__(self, script: Iterable[Script] = (), *, model: str = "scripted") -> None:
        self._script: list[Script] = list(script)
        self.model = model
        self.requests: list[ModelRequest] = []

    def push(self, *items: Script) -> None:
        self._script.extend(items)

    @property
    def remaining(self) -> int:
        return len(self._script)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        self.requests.append(request)
        t0 = time.monotonic()
        if not self._script:
            raise ProtocolError(
                f"ScriptedBackend: no scripted reply left for request {len(self.requests)}; "
                "add more replies to the script"
            )
        item = self._script.pop(0)
        if callable(item) and not isinstance(item, BaseException):
            item = item(request)
        if isinstance(item, BaseException):
            raise item
        reply = item if isinstance(item, ScriptedReply) else ScriptedReply(text=str(item))
        first: float | None = None
        step = max(1, reply.chunk_chars)
        for i in range(0, len(reply.text), step):
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if first is None:
                first = time.monotonic() - t0
            yield TextDelta(reply.text[i : i + step])
        prompt = reply.prompt_tokens
        if prompt is None:
            from agentkit.vision import estimate_prompt_tokens

            tools = json.dumps(request.tools) if request.tools else ""
            est = estimate_prompt_tokens(
                request.messages, request.mode, request.max_slice_nums, extra_text=tools
            )
            prompt = est.visual + est.text
        yield ModelResponse(
            text=reply.text,
            tool_calls=list(reply.tool_calls),
            finish_reason=reply.finish_reason,
            usage=Usage(prompt, max(1, len(reply.text) // 4)),
            model=self.model,
            first_token_s=first,
            duration_s=time.monotonic() - t0,
        )
