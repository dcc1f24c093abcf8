"""``agentkit run "TASK"``: one task end to end, with live progress and exit codes scripts rely on.

Progress goes to stderr (one line per step, action and result); the final answer goes to stdout
(or a JSON summary with ``--json``), so ``answer=$(agentkit run "...")`` works.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
import traceback
from typing import Any

from agentkit.cli._exit import EXIT_CODES_HELP, ExitCode, error_line, exit_code_for_status

__all__ = ["register", "run_command"]

EPILOG = f"""\
examples:
  agentkit run "Open the settings and turn on dark mode"
  agentkit run "What is on the whiteboard?" --source camera --max-steps 3
  agentkit run "Read the total on this invoice" --image invoice.png --tools none
  agentkit run "Clean up the desktop" --dry-run --max-steps 10 --json > plan.json
  agentkit run "Delete the draft" --tools desktop --yes --base-url http://127.0.0.1:8000/v1

Destructive actions ask for confirmation on the terminal; with --yes they run
without asking; when stdin is not a terminal and --yes is absent they are refused.
Press Ctrl-C once to stop the run cleanly (the trajectory is kept), twice to abort.

{EXIT_CODES_HELP}
"""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from agentkit.cli._app import HelpFormatter, wrap

    p = subparsers.add_parser(
        "run",
        parents=parents,
        help="run one task end to end on the screen, a camera or images",
        description=wrap(
            "Run one task end to end: observe, ask the model, act, until a final answer "
            "or a limit. Prints progress on stderr and the answer on stdout."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("task", metavar="TASK", help="what to do, in plain words")
    add_agent_options(p, tools_default="every installed pack")
    src = p.add_argument_group("what the agent sees")
    src.add_argument(
        "--source",
        choices=("screen", "camera", "image", "none"),
        help="observed at every step (default: screen, or image when --image is given)",
    )
    src.add_argument("--image", metavar="PATH", action="append", help="an image file (repeatable)")
    src.add_argument(
        "--monitor", metavar="N", type=int, help="screen: monitor number (1 = primary, 0 = all)"
    )
    src.add_argument(
        "--region",
        metavar=("X", "Y", "W", "H"),
        nargs=4,
        help="screen: capture only this rectangle",
    )
    src.add_argument("--camera", metavar="DEV", help="camera: device index or path (default 0)")
    lim = p.add_argument_group("limits and safety")
    lim.add_argument(
        "--max-steps", metavar="N", type=int, help="model requests at most (default 20)"
    )
    lim.add_argument(
        "--max-tool-calls", metavar="N", type=int, help="executed tool calls at most (default 50)"
    )
    lim.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        help="wall-clock limit for the run (default 600)",
    )
    lim.add_argument(
        "--dry-run", action="store_true", help="record actions without performing them"
    )
    lim.add_argument(
        "-y", "--yes", action="store_true", help="confirm destructive actions without asking"
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--json", action="store_true", help="print a JSON summary on stdout instead of the answer"
    )
    out.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    out.add_argument(
        "--trajectory-dir", metavar="DIR", help="where run directories go (default ./runs)"
    )
    p.set_defaults(handler=run_command)


def add_agent_options(p: argparse.ArgumentParser, *, tools_default: str) -> None:
    """``--mode``, ``--tools``, ``--instructions``, ``--wait`` (shared by ``run`` and ``chat``)."""
    g = p.add_argument_group("agent")
    g.add_argument(
        "--mode",
        choices=("auto", "16x", "4x"),
        help="visual token compression: 16x (cheap), 4x (detail) or auto (default: AGENTKIT_MODE or auto)",
    )
    g.add_argument(
        "--tools",
        metavar="PACK,...",
        help="tool packs (installed entry points, see `agentkit tools`) or module:attribute; "
        f"'none' for no tools (default: {tools_default})",
    )
    g.add_argument("--instructions", metavar="TEXT", help="the system prompt")
    g.add_argument(
        "--wait",
        metavar="SECONDS",
        type=float,
        default=0.0,
        help="wait this long for a server that is still loading (default: fail at once)",
    )


def _limits(args: argparse.Namespace) -> Any:
    from agentkit import Limits
    from agentkit.errors import ConfigurationError

    kwargs: dict[str, Any] = {}
    if args.max_steps is not None:
        kwargs["max_steps"] = args.max_steps
    if args.max_tool_calls is not None:
        kwargs["max_tool_calls"] = args.max_tool_calls
    if args.timeout is not None:
        kwargs["wall_clock_s"] = args.timeout
    try:
        return Limits(**kwargs)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _terminal_confirmer(console: Any) -> Any:
    """An async confirmer that asks y/N on the terminal (prompt_toolkit; cancellable, so Ctrl-C
    during the question does not leave a thread blocked on stdin). Ctrl-C at the question is a no.
    """
    from rich.text import Text

    from agentkit.cli._terminal import TerminalReader
    from agentkit.cli.render import format_call

    try:
        reader = TerminalReader(None)
    except ImportError:  # no prompt_toolkit: a plain blocking question in SafetyPolicy's thread
        return _plain_confirmer(console)
    lock = asyncio.Lock()

    async def confirm(call: Any) -> bool:
        async with lock:
            console.print(
                Text("destructive action: ", style="bold red")
                + Text(format_call(call.name, call.arguments))
            )
            answer = await reader.ask("Allow it? [y/N] ")
            return answer.strip().lower() in {"y", "yes"}

    return confirm


def _plain_confirmer(console: Any) -> Any:
    from rich.text import Text

    from agentkit.cli.render import format_call

    lock = threading.Lock()

    def confirm(call: Any) -> bool:
        with lock:
            console.print(
                Text("destructive action: ", style="bold red")
                + Text(format_call(call.name, call.arguments))
            )
            try:
                answer = input("Allow it? [y/N] ")
            except EOFError:
                return False
            return answer.strip().lower() in {"y", "yes"}

    return confirm


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from agentkit import Agent, SafetyPolicy
    from agentkit.cli._wiring import (
        load_tools,
        make_backend,
        make_source,
        parse_region,
        resolve_settings,
        split_names,
    )
    from agentkit.cli.render import ProgressRenderer, clean, summary_group

    err = Console(stderr=True, highlight=False)
    settings = resolve_settings(args, mode=args.mode, trajectory_dir=args.trajectory_dir)
    kind = args.source or ("image" if args.image else "screen")
    source = make_source(
        kind,
        monitor=args.monitor,
        region=parse_region(args.region),
        camera=args.camera,
        images=args.image,
    )
    # Images given with another source are attached to the task instead.
    images = list(args.image or []) if kind != "image" else []
    tool_names = split_names(args.tools) if args.tools is not None else None
    if tool_names is None:
        from agentkit.cli._wiring import available_pack_names

        tool_names = available_pack_names()
    toolset = load_tools(tool_names)
    if args.yes:
        confirmer: Any = lambda call: True  # noqa: E731 - the user said yes to everything
    elif sys.stdin.isatty():
        confirmer = _terminal_confirmer(err)
    else:
        confirmer = None
    safety = SafetyPolicy(confirmer=confirmer, dry_run=args.dry_run)
    agent: Agent[Any] = Agent(
        make_backend(settings),
        tools=toolset,
        instructions=args.instructions,
        source=source,
        policy=settings.mode,
        limits=_limits(args),
        safety=safety,
        settings=settings,
    )
    progress = ProgressRenderer(err if not args.quiet else Console(stderr=True, quiet=True))
    result = asyncio.run(_drive(agent, args.task, images, progress, err, args.wait))
    if result is None:  # interrupted before the loop could hand back a result
        err.print("stopped (interrupted)", style="yellow", markup=False)
        if progress.trajectory_dir is not None:
            err.print(f"trajectory: {progress.trajectory_dir}", markup=False, highlight=False)
        return int(ExitCode.INTERRUPTED)

    if args.json:
        sys.stdout.write(json.dumps(_summary(result), indent=2, default=str) + "\n")
    elif result.status == "completed":
        output = result.output
        if hasattr(output, "model_dump_json"):
            output = output.model_dump_json()
        text = str(output)
        # The answer may quote hostile screen text: neutralise escape sequences on a terminal.
        sys.stdout.write((clean(text) if sys.stdout.isatty() else text) + "\n")
        sys.stdout.flush()
    if not args.quiet:
        err.print(summary_group(result), soft_wrap=True)
    code = exit_code_for_status(result.status, result.error)
    if result.error is not None and code != ExitCode.OK:
        if getattr(args, "debug", False):
            traceback.print_exception(type(result.error), result.error, result.error.__traceback__)
        sys.stderr.write(f"error: {error_line(result.error)}\n")
    if result.trajectory_dir is not None:
        err.print(f"trajectory: {result.trajectory_dir}", markup=False, highlight=False)
    return int(code)


def _summary(result: Any) -> dict[str, Any]:
    output = result.output
    if hasattr(output, "model_dump"):
        output = output.model_dump(mode="json")
    return {
        "run_id": result.run_id,
        "status": result.status,
        "output": output,
        "steps": result.steps,
        "tool_calls": result.tool_calls,
        "invalid_calls": result.invalid_calls,
        "usage": result.usage.to_dict(),
        "duration_s": round(result.duration_s, 3),
        "error": error_line(result.error) if result.error is not None else None,
        "trajectory_dir": str(result.trajectory_dir) if result.trajectory_dir else None,
    }


async def _drive(
    agent: Any, task: str, images: list[str], progress: Any, err: Any, wait_s: float = 0.0
) -> Any:
    """Consume the event stream; the first Ctrl-C stops the run cleanly, the second cancels it."""
    from agentkit.events import RunFinished

    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            err.print("[yellow]stopping… (Ctrl-C again to abort)[/]")
            agent.stop("interrupted (Ctrl-C)")
        elif current is not None:
            current.cancel()

    installed = False
    if threading.current_thread() is threading.main_thread():
        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            installed = True
        except (NotImplementedError, RuntimeError):  # not on this platform: KeyboardInterrupt
            pass
    result = None
    try:
        from agentkit.cli._wiring import preflight

        await preflight(agent.backend, agent.settings, wait_s=wait_s)
        async for event in agent.stream(task, images=images):
            progress.handle(event)
            if isinstance(event, RunFinished):
                result = event.result
    except asyncio.CancelledError:
        if presses == 0:
            raise
        # stop() cancelled the run mid-step: the loop recorded the trajectory as "stopped".
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
    if result is None and presses == 0:
        raise KeyboardInterrupt
    return result
