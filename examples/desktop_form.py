"""Automate a form in a desktop application with the desktop tool pack.

What it shows:
    - ``ScreenSource`` gives the model a screenshot at the start of every step;
    - ``DesktopTools(...).toolset()`` (the ``desktop`` tool pack) gives it a mouse and a keyboard,
      narrowed to the few tools a form needs;
    - ``SafetyPolicy`` asks you on the terminal before any destructive action (``--yes`` allows
      them all, no answer means no) and ``--dry-run`` records what would happen and does nothing;
    - ``agent.stream(...)`` events print the progress of each step as it happens;
    - the run directory, and how to turn it into an HTML page with ``agentkit report``.

Run it against a real server (``agentkit serve`` on a GPU machine), with the form on screen::

    python examples/desktop_form.py --base-url http://127.0.0.1:8000/v1 \\
        "Type 'Ada Lovelace' into the Name field, 'London' into City, then press Submit."

``--base-url`` defaults to ``$AGENTKIT_BASE_URL`` (without either, the embedded model is used).
Press ctrl+alt+esc on the keyboard, or Ctrl-C in the terminal, to stop the agent at any time:
every held key and mouse button is released. Needs an X11 session (or Xvfb) and the desktop
pack: ``pip install -e tools/agentkit-desktop``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from agentkit import Agent, Limits, RunResult, SafetyPolicy, Settings, ToolCall
from agentkit.errors import AgentkitError
from agentkit.events import (
    RunFinished,
    RunStarted,
    StepStarted,
    ToolCallFinished,
    ToolCallRejected,
    ToolCallStarted,
)
from agentkit.vision import ScreenSource

DEFAULT_TASK = (
    "Fill in the form: type 'Ada Lovelace' into the Name field and 'London' into the City "
    "field, then press the Submit button. Click a field before typing into it."
)
INSTRUCTIONS = (
    "You operate a desktop through tools. Look at the screenshot, then act one step at a time. "
    "Coordinates are 0-1000 across the width and down the height of the screenshot. "
    "When the task is done, answer with a short sentence and no tool call."
)
TOOLS = ["click", "type_text", "press_keys", "scroll", "wait"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default=DEFAULT_TASK, help="what to do on the screen")
    parser.add_argument(
        "--base-url", help="the server, e.g. http://127.0.0.1:8000/v1 (default: $AGENTKIT_BASE_URL)"
    )
    parser.add_argument("--model", help="the served model name (default: openbmb/MiniCPM-V-4.6)")
    parser.add_argument("--max-steps", type=int, default=15, help="stop after this many steps")
    parser.add_argument(
        "--dry-run", action="store_true", help="record what would happen, touch nothing"
    )
    parser.add_argument("--yes", action="store_true", help="allow destructive actions unasked")
    parser.add_argument("--monitor", type=int, default=1, help="which monitor to capture")
    parser.add_argument("--runs", default=None, help="where run directories go (default ./runs)")
    parser.add_argument(
        "--no-kill-key", action="store_true", help="do not listen for ctrl+alt+esc on the keyboard"
    )
    return parser.parse_args(argv)


def ask(call: ToolCall) -> bool:
    """The confirmer: a yes/no question on the terminal; no answer (or no terminal) means no."""
    try:
        answer = input(f"Allow the destructive action {call.name}({call.arguments})? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def describe(call: ToolCall) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
    return f"{call.name}({args})"


def show(event: Any) -> None:
    """One line of progress per event worth seeing."""
    if isinstance(event, RunStarted):
        print(f"run {event.run_id}: {event.task}")
    elif isinstance(event, StepStarted):
        print(
            f"step {event.step}: {event.mode} ({event.mode_reason}), "
            f"{event.visual_tokens} visual tokens"
        )
    elif isinstance(event, ToolCallStarted):
        print(f"  -> {describe(event.call)}")
    elif isinstance(event, ToolCallFinished):
        detail = event.error or event.output
        print(f"  <- {event.status}: {detail}")
    elif isinstance(event, ToolCallRejected):
        print(f"  !! invalid call ({event.error.kind}): the model is asked again")
    sys.stdout.flush()


async def drive(agent: Agent[Any], task: str) -> RunResult | None:
    result = None
    async for event in agent.stream(task):
        show(event)
        if isinstance(event, RunFinished):
            result = event.result
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from agentkit_desktop import DesktopTools
    except ImportError as exc:  # no pack, or no display for pynput
        print(f"the desktop pack is not usable: {exc}", file=sys.stderr)
        print(
            "install it with `pip install -e tools/agentkit-desktop` and run under X11/Xvfb",
            file=sys.stderr,
        )
        return 2

    settings = Settings.resolve(base_url=args.base_url, model=args.model, trajectory_dir=args.runs)
    desktop = DesktopTools(max_text=500)
    agent: Agent[Any] = Agent(
        tools=desktop.toolset().filter(TOOLS),
        source=ScreenSource(monitor=args.monitor),
        instructions=INSTRUCTIONS,
        safety=SafetyPolicy(
            confirmer=(lambda call: True) if args.yes else ask, dry_run=args.dry_run
        ),
        limits=Limits(max_steps=args.max_steps),
        settings=settings,
    )
    try:
        if not args.no_kill_key:
            try:
                switch = desktop.start_kill_listener()
                switch.on_trip(lambda reason: agent.stop(reason))
                print("press ctrl+alt+esc to stop the agent")
            except AgentkitError as exc:
                print(f"(no kill key: {exc})")
        try:
            result = asyncio.run(drive(agent, args.task))
        except KeyboardInterrupt:
            print("interrupted; the run directory records it as stopped")
            return 130
    finally:
        desktop.close()  # releases every held key and button, ends the kill-key listener

    if result is None:
        return 1
    print(f"status: {result.status} after {result.steps} steps, {result.tool_calls} tool calls")
    if result.error is not None:
        print(f"error: {result.error}")
    elif result.output:
        print(f"answer: {result.output}")
    if args.dry_run:
        print("dry run: nothing was clicked or typed")
    print(f"trajectory: {result.trajectory_dir}")
    print(
        f"report: agentkit report {result.trajectory_dir}  "
        f"(writes {result.trajectory_dir}/report.html)"
    )
    return 0 if result.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
