"""Rich renderers that subscribe to the agent loop's events.

The engine emits typed events (:mod:`agentkit.events`) and never prints; these classes turn them
into terminal output. :class:`ChatRenderer` draws one chat turn (a spinner until the first token,
the answer as live Markdown, tool calls and results as compact panels); :class:`ProgressRenderer`
writes the one-line-per-event progress of ``agentkit run``.

Everything that came from the model, a tool or the screen passes through :func:`clean` first, so
a hostile string cannot move the cursor or recolour the terminal, and it is wrapped in ``Text``
(never parsed as rich markup).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.segment import Segment
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from agentkit.events import (
    ModelTextDelta,
    Retry,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    ToolCallFinished,
    ToolCallRejected,
    ToolCallStarted,
)
from agentkit.messages import Usage

__all__ = [
    "ChatRenderer",
    "ProgressRenderer",
    "clean",
    "format_call",
    "tool_call_panel",
    "tool_result_panel",
    "usage_table",
]

_STATUS_STYLE = {"ok": "green", "error": "red", "refused": "yellow", "dry_run": "blue"}
_STATUS_MARK = {"ok": "✓", "error": "✗", "refused": "⊘", "dry_run": "○"}

# C0 controls except tab and newline, DEL, C1 controls: shown as visible escapes.
_CONTROL = {
    c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))
}
# Bidi overrides and isolates can make text read differently from what it is.
_CONTROL.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def clean(text: str) -> str:
    """Neutralise terminal control characters (escape sequences, bidi overrides) in foreign text."""
    return text.translate(_CONTROL)


def _short(text: str, limit: int) -> str:
    text = clean(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_call(name: str, arguments: dict[str, Any], limit: int = 160) -> str:
    """``click(x=512, y=300)``: a call as one line, values as JSON, capped at ``limit`` characters."""
    parts = []
    for key, value in arguments.items():
        try:
            shown = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            shown = repr(value)
        parts.append(f"{key}={_short(shown, 60)}")
    return _short(f"{name}({', '.join(parts)})", limit)


def tool_call_panel(call: Any) -> Panel:
    """A compact panel announcing a tool call (``call`` is an ``agentkit.tools.ToolCall``)."""
    risk = getattr(getattr(call.tool, "risk", None), "value", "")
    title = "tool call" + (f" · {risk}" if risk and risk != "reversible" else "")
    style = "red" if risk == "destructive" else "cyan"
    return Panel(
        Text(format_call(call.name, call.arguments)),
        title=title,
        title_align="left",
        border_style=style,
        expand=False,
    )


def tool_result_panel(event: ToolCallFinished, max_lines: int = 8, max_chars: int = 600) -> Panel:
    """A compact panel with a call's status, duration and (the start of) its output."""
    body = event.error if event.status == "error" and event.error else event.output
    body = clean(body or "")
    lines = body.splitlines() or [""]
    cut = len(lines) > max_lines or len(body) > max_chars
    shown = "\n".join(lines[:max_lines])[:max_chars]
    if cut:
        shown += "\n…"
    mark = _STATUS_MARK.get(event.status, "•")
    title = f"{mark} {event.call.name} · {event.status.replace('_', ' ')} · {event.duration_s:.2f}s"
    return Panel(
        Text(shown),
        title=title,
        title_align="left",
        border_style=_STATUS_STYLE.get(event.status, "white"),
        expand=False,
    )


def usage_table(usage: Usage, *, seconds: float, turns: int, last: Usage | None = None) -> Table:
    """The ``/usage`` table: tokens the server reported, agentkit's visual tokens, time."""
    table = Table(title="usage", title_justify="left", show_edge=False)
    table.add_column("")
    table.add_column("session", justify="right")
    if last is not None:
        table.add_column("last turn", justify="right")
    rows = [
        ("prompt tokens", usage.prompt_tokens, last.prompt_tokens if last else 0),
        ("completion tokens", usage.completion_tokens, last.completion_tokens if last else 0),
        ("visual tokens (agentkit)", usage.visual_tokens, last.visual_tokens if last else 0),
        ("model requests", usage.requests, last.requests if last else 0),
    ]
    for label, total, last_value in rows:
        cells = [label, f"{total:,}"] + ([f"{last_value:,}"] if last is not None else [])
        table.add_row(*cells)
    table.add_row("turns", str(turns), *(["1"] if last is not None else []))
    table.add_row("time", f"{seconds:.1f} s", *([""] if last is not None else []))
    return table


class _Tail:
    """Renders only the last lines of a renderable that fit the screen (for a streaming answer)."""

    def __init__(self, renderable: RenderableType, reserve: int = 2) -> None:
        self.renderable = renderable
        self.reserve = reserve

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)
        room = max(1, console.height - self.reserve)
        for line in lines[-room:]:
            yield from line
            yield Segment.line()


class ChatRenderer:
    """Draws one chat turn from its events.

    Until the first token a spinner shows the step, mode and visual tokens; the answer then
    streams as Markdown (only its tail while streaming, all of it once the segment ends); a tool
    call closes the current text segment and prints as a panel, its result as another.

    Args:
        console: where to draw.
        refresh_per_second: Live refresh rate.
    """

    def __init__(self, console: Console, *, refresh_per_second: float = 12) -> None:
        self.console = console
        self.refresh_per_second = refresh_per_second
        self.result: Any = None
        self.rejected = 0
        self._text = ""
        self._live: Live | None = None
        self._status = "thinking"
        self._started = time.monotonic()

    # -- the live region --------------------------------------------------------------------------
    def _renderable(self) -> RenderableType:
        if self._text:
            return _Tail(Markdown(clean(self._text)))
        return Spinner("dots", text=Text(self._status, style="dim"))

    def _refresh(self, now: bool = False) -> None:
        """Show the current state; ``now`` redraws at once (else the refresh thread does soon)."""
        if self._live is None:
            self._live = Live(
                self._renderable(),
                console=self.console,
                refresh_per_second=self.refresh_per_second,
                transient=True,
            )
            self._live.start(refresh=True)
        else:
            self._live.update(self._renderable(), refresh=now)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _flush_text(self) -> None:
        """End the current text segment: print it for good (the live copy was transient)."""
        self._stop_live()
        if self._text.strip():
            self.console.print(Markdown(clean(self._text)))
        self._text = ""

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Suspend the live region (to ask the user something), then resume it."""
        self._flush_text()
        try:
            yield
        finally:
            if self.result is None:
                self._refresh()

    # -- events ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._refresh()

    def handle(self, event: Any) -> None:
        """Draw one event of :mod:`agentkit.events`."""
        if isinstance(event, RunStarted):
            self._refresh()
        elif isinstance(event, StepStarted):
            self._status = f"step {event.step} · {event.mode}"
            if event.visual_tokens:
                self._status += f" · {event.visual_tokens:,} visual tokens"
            if not self._text:
                self._refresh(now=True)
        elif isinstance(event, ModelTextDelta):
            self._text += event.text
            self._refresh()
        elif isinstance(event, ToolCallStarted):
            self._flush_text()
            self.console.print(tool_call_panel(event.call))
            self._status = f"running {event.call.name}"
            self._refresh()
        elif isinstance(event, ToolCallFinished):
            self._stop_live()
            self.console.print(tool_result_panel(event))
            self._status = "thinking"
            self._refresh()
        elif isinstance(event, ToolCallRejected):
            self._flush_text()
            self.rejected += 1
            self.console.print(
                Text(f"invalid tool call: {_short(event.error.message, 300)}", style="yellow")
            )
            self._refresh()
        elif isinstance(event, Retry):
            if event.reason != "invalid_tool_call":  # the rejection line already said it
                self._flush_text()
                self.console.print(Text(f"retrying: {_short(event.message, 200)}", style="dim"))
                self._refresh()
        elif isinstance(event, StepFinished):
            pass
        elif isinstance(event, RunFinished):
            self.result = event.result
            self.finish()

    def finish(self, *, cancelled: bool = False) -> None:
        """Close the turn: print what streamed, and a status line unless it completed."""
        self._flush_text()
        if cancelled:
            self.console.print(Text("(answer cancelled)", style="yellow"))
            return
        result = self.result
        if result is None or result.status == "completed":
            return
        reason = ""
        if result.error is not None:
            from agentkit.cli._exit import error_line

            reason = f": {error_line(result.error)}"
        style = "red" if result.status == "failed" else "yellow"
        self.console.print(Text(f"({result.status}{reason})", style=style))


class ProgressRenderer:
    """One line per event for ``agentkit run`` (step, action, mode, tokens), without live regions.

    Args:
        console: where progress goes (stderr, so stdout keeps only the answer).
        verbose: also print the model's narration of each step.
    """

    def __init__(self, console: Console, *, verbose: bool = True) -> None:
        self.console = console
        self.verbose = verbose
        self.result: Any = None
        self.trajectory_dir: Any = None
        self._step_text = ""
        self._held = ""
        self._step_calls = 0
        self._last_usage = Usage()

    def _line(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""), soft_wrap=True)

    def handle(self, event: Any) -> None:
        if isinstance(event, RunStarted):
            self.trajectory_dir = event.trajectory_dir
            self._line(f"run {event.run_id}: {_short(event.task, 200)}", "bold")
        elif isinstance(event, StepStarted):
            self._say(self._held)
            self._held = ""
            self._step_text = ""
            self._step_calls = 0
            reason = event.mode_reason
            shown = reason and not reason.startswith("default")
            detail = f" ({_short(reason, 80)})" if shown else ""
            frames = (
                f" · {len(event.frames)} frame(s), {event.visual_tokens:,} visual tokens"
                if event.frames
                else ""
            )
            self._line(f"step {event.step} · mode {event.mode}{detail}{frames}", "cyan")
        elif isinstance(event, ModelTextDelta):
            self._step_text += event.text
        elif isinstance(event, ToolCallStarted):
            self._say()
            self._step_calls += 1
            self._line(f"  → {format_call(event.call.name, event.call.arguments)}")
        elif isinstance(event, ToolCallFinished):
            output = event.error if event.status == "error" and event.error else event.output
            first = _short(
                (output or "").strip().splitlines()[0] if (output or "").strip() else "", 100
            )
            mark = _STATUS_MARK.get(event.status, "•")
            self._line(
                f"    {mark} {event.status.replace('_', ' ')} ({event.duration_s:.2f}s){': ' + first if first else ''}",
                _STATUS_STYLE.get(event.status),
            )
        elif isinstance(event, ToolCallRejected):
            self._say()
            self._line(f"  ✗ invalid call: {_short(event.error.message, 200)}", "yellow")
        elif isinstance(event, Retry):
            if event.reason != "invalid_tool_call":
                self._line(f"  ↻ retry ({event.reason}): {_short(event.message, 160)}", "yellow")
        elif isinstance(event, StepFinished):
            if self._step_calls:
                self._say()
            else:  # maybe the final answer, which goes to stdout: held until we know
                self._held, self._step_text = self._step_text, ""
            step_usage = Usage(
                event.usage.prompt_tokens - self._last_usage.prompt_tokens,
                event.usage.completion_tokens - self._last_usage.completion_tokens,
            )
            self._last_usage = event.usage
            seconds = event.timings.get("step_s")
            took = f" · {seconds:.1f}s" if seconds is not None else ""
            self._line(
                f"  tokens: {step_usage.prompt_tokens:,} prompt + {step_usage.completion_tokens:,} completion{took}",
                "dim",
            )
        elif isinstance(event, RunFinished):
            self.result = event.result
            if event.result.status != "completed":
                self._say(self._held)
            self._held = ""

    def _say(self, text: str | None = None) -> None:
        said = self._step_text if text is None else text
        if self.verbose and said.strip():
            self._line(f"  model: {_short(' '.join(said.split()), 200)}", "dim")
        if text is None:
            self._step_text = ""


def summary_group(result: Any) -> Group:
    """The end of ``agentkit run``: status, steps, tokens, time (for stderr)."""
    usage = result.usage
    line = (
        f"{result.status} · {result.steps} step(s), {result.tool_calls} tool call(s) · "
        f"{usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion tokens, "
        f"{usage.visual_tokens:,} visual · {result.duration_s:.1f}s"
    )
    style = "green" if result.status == "completed" else "red"
    return Group(Text(line, style=style))
