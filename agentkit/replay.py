"""Run the recorded actions of a run again, without the model: ``agentkit replay RUN_DIR``.

Only calls recorded with status ``"ok"`` are replayed, in order, by tool name and recorded
arguments, validated again by the tool. By default nothing is executed: the calls are listed. To
execute, pass ``dry_run=False``; each call then goes through a :class:`~agentkit.safety.SafetyPolicy`
(the default policy refuses destructive calls, since no confirmer is configured), and each tool
gets a :class:`~agentkit.tools.RunContext` whose frame is the one recorded for that step, so
coordinates map exactly as they did in the run. The tool set is closed at the end on every path
(releasing held keys and buttons).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentkit.errors import ToolCallError
from agentkit.report import _dict, _safe_frame_path, load_run
from agentkit.safety import SafetyPolicy
from agentkit.tools import RunContext, ToolCall, ToolSet

__all__ = ["ReplayResult", "ReplayedCall", "replay", "replay_async"]

ReplayStatus = Literal["listed", "ok", "error", "refused", "skipped"]


@dataclass(frozen=True)
class ReplayedCall:
    """One recorded call and what happened to it in the replay.

    Attributes:
        step: the step it was recorded in.
        call_id: the recorded call id.
        name: the tool name.
        arguments: the recorded arguments.
        status: ``"listed"`` (dry run: not executed), ``"ok"``, ``"error"`` (the tool failed or
            the arguments no longer validate), ``"refused"`` (by the safety policy) or
            ``"skipped"`` (no such tool in this tool set, or after an earlier error).
        output: the tool's result as text, or a description.
        error: why it failed, was refused or skipped.
    """

    step: int
    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    status: ReplayStatus = "listed"
    output: str = ""
    error: str | None = None

    def describe(self) -> str:
        """``"step 2: click(x=500, y=250)"``."""
        args = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in self.arguments.items()
        )
        return f"step {self.step}: {self.name}({args})"


class ReplayResult(list[ReplayedCall]):
    """The replayed calls, in order (a list), with a summary."""

    @property
    def failed(self) -> bool:
        """True when a call failed or was refused (the replay did not do everything recorded)."""
        return any(item.status in ("error", "refused") for item in self)

    @property
    def executed(self) -> int:
        """How many calls ran."""
        return sum(item.status == "ok" for item in self)


def _recorded_calls(steps: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found = []
    for step in steps:
        for call in step.get("calls") or []:
            if (
                isinstance(call, dict)
                and call.get("status") == "ok"
                and isinstance(call.get("name"), str)
                and call.get("name") != "final_result"
            ):
                found.append((step, call))
    return found


def _step_frame(root: Path, step: dict[str, Any]) -> Any:
    """The last frame recorded for the step, rebuilt with its geometry, or None."""
    frames = [f for f in (step.get("frames") or []) if isinstance(f, dict)]
    if not frames:
        return None
    record = frames[-1]
    path = _safe_frame_path(root, record.get("path"))
    if path is None:
        return None
    from PIL import Image

    from agentkit.vision import Frame, Geometry

    with Image.open(path) as img:
        image = img.convert("RGB")
    g = _dict(record.get("geometry"))
    known = {"left", "top", "scale", "crop_left", "crop_top", "monitor"}
    geometry = Geometry(**{k: v for k, v in g.items() if k in known})
    return Frame(image, str(record.get("source", "")), geometry)


async def replay_async(
    run_dir: str | os.PathLike[str],
    toolset: ToolSet,
    *,
    dry_run: bool = True,
    safety: SafetyPolicy | None = None,
    delay_s: float = 0.5,
    stop_on_error: bool = True,
) -> ReplayResult:
    """Replay a run's successful calls through ``toolset``; see :func:`replay`."""
    root = Path(run_dir)
    meta, steps, _ = load_run(root)
    policy = safety if safety is not None else SafetyPolicy()
    results = ReplayResult()
    failed = False
    try:
        for index, (step, record) in enumerate(_recorded_calls(steps)):
            number = int(step.get("step", 0) or 0)
            name = str(record["name"])
            arguments = _dict(record.get("arguments"))
            base: dict[str, Any] = {
                "step": number,
                "call_id": str(record.get("id", "")),
                "name": name,
                "arguments": arguments,
            }
            tool = toolset.get(name)
            if tool is None:
                results.append(
                    ReplayedCall(
                        **base, status="skipped", error=f"no tool named {name!r} in this tool set"
                    )
                )
                continue
            if failed:
                results.append(
                    ReplayedCall(**base, status="skipped", error="an earlier call failed")
                )
                continue
            try:
                validated = tool.validate(arguments)
            except ToolCallError as exc:
                results.append(ReplayedCall(**base, status="error", error=exc.message))
                failed = stop_on_error
                continue
            if dry_run:
                results.append(
                    ReplayedCall(**base, status="listed", output="not executed (dry run)")
                )
                continue
            call = ToolCall(
                base["call_id"] or f"replay_{index}", name, arguments, validated, tool, "replay"
            )
            verdict = await policy.review(call)
            if verdict.decision == "refuse":
                results.append(ReplayedCall(**base, status="refused", error=verdict.reason))
                continue
            frame = await asyncio.to_thread(_step_frame, root, step)
            ctx: RunContext[Any] = RunContext(
                run_id=f"replay-{meta.get('run_id') or root.name}",
                step=number,
                frames=[frame] if frame is not None else [],
                dry_run=verdict.decision == "dry_run",
            )
            if index and delay_s > 0:
                await asyncio.sleep(delay_s)  # give the application time to react, as the model did
            try:
                value = await tool.invoke(validated, ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported per call
                results.append(
                    ReplayedCall(**base, status="error", error=f"{type(exc).__name__}: {exc}")
                )
                failed = stop_on_error
                continue
            text = (
                getattr(value, "text", None) if getattr(value, "frame", None) is not None else None
            )
            output = (
                text
                if isinstance(text, str)
                else value
                if isinstance(value, str)
                else "done"
                if value is None
                else str(value)
            )
            results.append(ReplayedCall(**base, status="ok", output=policy.redact(output)))
    finally:
        await toolset.aclose()
    return results


def replay(
    run_dir: str | os.PathLike[str],
    toolset: ToolSet,
    *,
    dry_run: bool = True,
    safety: SafetyPolicy | None = None,
    delay_s: float = 0.5,
    stop_on_error: bool = True,
) -> ReplayResult:
    """Re-execute the calls a run recorded as successful, without the model.

    Example:
        ```python
        from agentkit.replay import replay
        from agentkit_desktop import toolset

        for item in replay("runs/20260101-120000-abc123", toolset()):   # lists only
            print(item.describe())
        replay("runs/20260101-120000-abc123", toolset(), dry_run=False)  # acts
        ```

    Args:
        run_dir: the run directory.
        toolset: the tools to call (by the recorded names).
        dry_run: True (default) lists the calls and executes nothing.
        safety: the policy each executed call goes through; the default refuses destructive
            calls (no confirmer). A policy with ``dry_run=True`` makes the tools describe
            instead of act.
        delay_s: pause between two executed calls.
        stop_on_error: after a call fails, skip the rest (the screen is no longer in the state the
            recording assumed).

    Returns:
        One :class:`ReplayedCall` per recorded successful call, in order, as a
        :class:`ReplayResult` (a list with ``failed`` and ``executed``).

    Raises:
        ConfigurationError: ``run_dir`` is not a run directory.
    """
    return asyncio.run(
        replay_async(
            run_dir,
            toolset,
            dry_run=dry_run,
            safety=safety,
            delay_s=delay_s,
            stop_on_error=stop_on_error,
        )
    )
