"""Limits and the record a run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentkit.errors import AgentkitError
from agentkit.messages import Message, Usage

__all__ = ["Limits", "RunResult", "RunStatus"]

RunStatus = Literal["completed", "failed", "stopped", "limit"]


@dataclass(frozen=True)
class Limits:
    """Caps on one run.

    Attributes:
        max_steps: model requests per run (a retry after an invalid call counts as a step).
        max_tool_calls: executed calls per run.
        wall_clock_s: seconds for the whole run.
        invalid_call_budget: invalid calls tolerated per run before it stops.
        max_calls_per_step: calls executed per model turn (None: no cap); extra calls are rejected
            and the model is told.
        stream_retries: times an interrupted model turn is repeated (only before any call ran).
    """

    max_steps: int = 20
    max_tool_calls: int = 50
    wall_clock_s: float = 600.0
    invalid_call_budget: int = 5
    max_calls_per_step: int | None = 1
    stream_retries: int = 1

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_tool_calls", "invalid_call_budget", "stream_retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"Limits.{name} must be >= 0, got {getattr(self, name)}")
        if self.wall_clock_s <= 0:
            raise ValueError(f"Limits.wall_clock_s must be > 0, got {self.wall_clock_s}")


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
        status: "completed" (a final answer), "failed" (an error), "stopped" (stop(), SIGINT,
            cancellation) or "limit" (a cap in :class:`Limits` was reached).
        output: the final answer: text, or an instance of the agent's ``output_type``.
        text: the final answer's text as the model wrote it.
        error: the error that ended the run, if any.
        messages: the whole conversation, to pass back as ``history=`` for the next turn.
    """

    run_id: str
    status: RunStatus
    output: Any = None
    text: str = ""
    steps: int = 0
    tool_calls: int = 0
    invalid_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    trajectory_dir: Path | None = None
    error: AgentkitError | None = None
    messages: list[Message] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "completed"
