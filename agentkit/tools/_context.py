"""What a running agent hands to the tools that ask for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from agentkit.vision._frame import Frame, FrameSource

__all__ = ["RunContext"]

DepsT = TypeVar("DepsT")


@dataclass
class RunContext(Generic[DepsT]):
    """The run's state, injected into a tool whose first parameter is annotated ``RunContext``.

    The parameter never appears in the tool's schema: the model cannot see or set it.

    Example:
        ```python
        @tool
        def screenshot_size(ctx: RunContext[MyDeps]) -> str:
            '''Report the size of the current frame.'''
            frame = ctx.frames[-1]
            return f"{frame.width}x{frame.height}"
        ```

    Attributes:
        run_id: the run's id (also the name of its trajectory directory).
        step: the current step number, from 1.
        source: the agent's frame source, when it has one.
        settings: the resolved ``agentkit.settings.Settings``.
        deps: the user object passed as ``Agent(deps=...)``.
        frames: the frames observed at the start of the current step.
        trajectory_dir: the run's directory, when the run records one.
        dry_run: True when side effects must be described, not performed.
    """

    run_id: str = ""
    step: int = 0
    source: FrameSource | None = None
    settings: Any = None
    deps: DepsT = None  # type: ignore[assignment]
    frames: list[Frame] = field(default_factory=list)
    trajectory_dir: Path | None = None
    dry_run: bool = False
