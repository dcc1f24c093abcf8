"""The backend protocol: one async method that streams one model turn.

A backend turns a :class:`ModelRequest` into a stream of :class:`TextDelta` items ending with exactly
one :class:`ModelResponse`. It does not parse tool calls (the loop does, with agentkit's own parser)
but passes on calls a server already parsed as :class:`ServerToolCall` (untrusted).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from agentkit.messages import Message, Usage

__all__ = [
    "DEFAULT_STOP_TOKEN_IDS",
    "Backend",
    "Mode",
    "ModelRequest",
    "ModelResponse",
    "ServerToolCall",
    "StreamItem",
    "TextDelta",
    "complete",
]

Mode = Literal["16x", "4x"]

# <|endoftext|>, <|im_end|> of MiniCPM-V 4.6 (Qwen3.5 vocabulary): stop runaway generations.
DEFAULT_STOP_TOKEN_IDS: tuple[int, ...] = (248044, 248046)


@dataclass
class ModelRequest:
    """One model turn to run.

    Attributes:
        messages: the conversation, newest last; at least one user message.
        tools: OpenAI-style function tool schemas (``{"type": "function", "function": {...}}``).
        mode: MiniCPM-V ``downsample_mode``, exactly ``"16x"`` or ``"4x"``.
        max_slice_nums: sent only when not None (never to vLLM 0.22: it kills the engine).
        tool_choice: ``"auto"``, ``"required"`` or ``"none"``.
        structured_outputs: vLLM's ``structured_outputs`` body field (e.g. ``{"regex": ...}``).
        extra_body: more body fields, merged last.
    """

    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)
    mode: Mode = "16x"
    max_slice_nums: int | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    tool_choice: str = "auto"
    structured_outputs: dict[str, Any] | None = None
    stop_token_ids: tuple[int, ...] = DEFAULT_STOP_TOKEN_IDS
    enable_thinking: bool = False
    skip_special_tokens: bool = True
    extra_body: dict[str, Any] = field(default_factory=dict)

    def mm_processor_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"downsample_mode": self.mode}
        if self.max_slice_nums is not None:
            kw["max_slice_nums"] = self.max_slice_nums
        return kw


@dataclass(frozen=True)
class ServerToolCall:
    """A call the server parsed itself (``message.tool_calls``); validated like any model text."""

    id: str
    name: str
    arguments: str  # the JSON text exactly as received


@dataclass(frozen=True)
class TextDelta:
    """A piece of the model's raw output text, as it streams."""

    text: str


@dataclass
class ModelResponse:
    """The whole turn, after the stream finished.

    Attributes:
        text: the raw assistant content (may contain ``<tool_call>`` blocks).
        reasoning: reasoning text the server filed separately, if any.
        tool_calls: calls the server parsed, if it ran a tool parser.
        finish_reason: ``"stop"``, ``"length"``, ``"tool_calls"``...
        first_token_s: seconds from request to the first content byte (None when not streamed).
        duration_s: seconds for the whole turn.
    """

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ServerToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    first_token_s: float | None = None
    duration_s: float = 0.0
    attempts: int = 1


StreamItem = TextDelta | ModelResponse


@runtime_checkable
class Backend(Protocol):
    """What the agent loop needs from a model: stream one turn.

    Implementations raise only :class:`agentkit.errors.BackendError` subclasses, and must close the
    underlying stream when the iterator is closed early (cancellation).
    """

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]: ...


async def complete(backend: Backend, request: ModelRequest) -> ModelResponse:
    """Run one turn to the end and return its :class:`ModelResponse`."""
    final: ModelResponse | None = None
    async for item in backend.stream(request):
        if isinstance(item, ModelResponse):
            final = item
    if final is None:
        from agentkit.errors import ProtocolError

        raise ProtocolError("the backend's stream ended without a final response")
    return final
