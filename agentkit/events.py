"""Typed events emitted by the agent loop.

UIs (the REPL, ``agentkit run``, a web page) subscribe to these through ``Agent.stream``; the engine
itself never prints. Every event carries the step it belongs to (0 before the first step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agentkit.errors import ToolCallError
from agentkit.messages import Usage
from agentkit.tools._call import ToolCall

if TYPE_CHECKING:
    from agentkit.agent._result import RunResult

__all__ = [
    "Event",
    "ModelTextDelta",
    "Retry",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepStarted",
    "ToolCallFinished",
    "ToolCallRejected",
    "ToolCallStarted",
]

CallStatus = Literal["ok", "error", "refused", "dry_run"]


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    task: str
    trajectory_dir: Path
    step: int = 0


@dataclass(frozen=True)
class StepStarted:
    """A model request is about to be sent.

    Attributes:
        mode: the ``downsample_mode`` chosen for this request.
        mode_reason: why the compression policy chose it.
        visual_tokens: agentkit's own count of the visual tokens of the new frames.
        frames: trajectory ids of the frames observed this step.
    """

    step: int
    mode: str
    max_slice_nums: int | None
    mode_reason: str
    visual_tokens: int
    frames: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelTextDelta:
    """Visible model text as it streams (tool-call markup and reasoning are not included)."""

    step: int
    text: str


@dataclass(frozen=True)
class ToolCallStarted:
    step: int
    call: ToolCall


@dataclass(frozen=True)
class ToolCallFinished:
    step: int
    call: ToolCall
    output: str
    error: str | None
    duration_s: float
    status: CallStatus = "ok"


@dataclass(frozen=True)
class ToolCallRejected:
    """The model wrote an invalid call; it was not executed and goes back as a retry message."""

    step: int
    error: ToolCallError


@dataclass(frozen=True)
class Retry:
    """A model turn is repeated: after invalid calls, an interrupted stream or a context overflow."""

    step: int
    reason: str
    message: str


@dataclass(frozen=True)
class StepFinished:
    step: int
    usage: Usage
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFinished:
    result: RunResult
    step: int = 0

    @property
    def status(self) -> str:
        return self.result.status


Event = (
    RunStarted
    | StepStarted
    | ModelTextDelta
    | ToolCallStarted
    | ToolCallFinished
    | ToolCallRejected
    | Retry
    | StepFinished
    | RunFinished
)
