"""Read small text off the screen at 4x, where the model sees four times more visual tokens.

What it shows:
    - the compression policy: with ``policy="auto"`` a reading task ("read", "transcribe",
      "small text", ...) is sent in 4x mode, everything else in 16x;
    - ``--zoom`` instead: the first look is a cheap 16x overview, the model calls the ``zoom``
      tool on the region with the text, and the crop comes back at 4x ("detail requested");
    - the mode, its reason and the visual tokens of every step, from ``StepStarted`` events.

Run it against a real server, with some small text on the screen::

    python examples/read_small_text.py --base-url http://127.0.0.1:8000/v1
    python examples/read_small_text.py --base-url http://127.0.0.1:8000/v1 --zoom \\
        "What does the status bar at the bottom of the window say?"

``--base-url`` defaults to ``$AGENTKIT_BASE_URL`` (without either, the embedded model is used).
``--region LEFT,TOP,WIDTH,HEIGHT`` captures only part of the monitor. Needs a display (``mss``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from agentkit import Agent, Limits, RunResult, Settings
from agentkit.events import RunFinished, StepStarted, ToolCallFinished, ToolCallStarted
from agentkit.vision import AutoPolicy, ScreenSource, zoom_tool

DEFAULT_TASK = "Read the small text on the screen and write it out exactly."
ZOOM_INSTRUCTIONS = (
    "The screenshot is shown at low detail. To read small text, call zoom with the box "
    "(0-1000 coordinates) around it, then answer from the zoomed image."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default=DEFAULT_TASK, help="what to read")
    parser.add_argument(
        "--base-url", help="the server, e.g. http://127.0.0.1:8000/v1 (default: $AGENTKIT_BASE_URL)"
    )
    parser.add_argument("--model", help="the served model name (default: openbmb/MiniCPM-V-4.6)")
    parser.add_argument("--max-steps", type=int, default=4, help="stop after this many steps")
    parser.add_argument(
        "--zoom", action="store_true", help="16x overview first, then the zoom tool's crop at 4x"
    )
    parser.add_argument("--monitor", type=int, default=1, help="which monitor to capture")
    parser.add_argument(
        "--region", type=region, help="LEFT,TOP,WIDTH,HEIGHT of the monitor to capture"
    )
    parser.add_argument("--runs", default=None, help="where run directories go (default ./runs)")
    return parser.parse_args(argv)


def region(text: str) -> tuple[int, int, int, int]:
    """``LEFT,TOP,WIDTH,HEIGHT`` as four integers (an argparse type)."""
    try:
        left, top, width, height = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LEFT,TOP,WIDTH,HEIGHT in pixels, e.g. 0,0,800,200; got {text!r}"
        ) from None
    return left, top, width, height


async def read(agent: Agent[Any], task: str) -> RunResult | None:
    result = None
    async for event in agent.stream(task):
        if isinstance(event, StepStarted):
            print(
                f"step {event.step}: {event.mode}, {event.visual_tokens} visual tokens "
                f"- {event.mode_reason}"
            )
        elif isinstance(event, ToolCallStarted):
            print(f"  -> {event.call.name}({event.call.arguments})")
        elif isinstance(event, ToolCallFinished) and event.error:
            print(f"  <- {event.status}: {event.error}")
        elif isinstance(event, RunFinished):
            result = event.result
        sys.stdout.flush()
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.resolve(base_url=args.base_url, model=args.model, trajectory_dir=args.runs)
    source = ScreenSource(monitor=args.monitor, region=args.region)
    if args.zoom:
        # 16x unless detail was asked for: the zoom call is what switches the next step to 4x.
        agent: Agent[Any] = Agent(
            tools=[zoom_tool()],
            source=source,
            policy=AutoPolicy(read_keywords=False),
            instructions=ZOOM_INSTRUCTIONS,
            limits=Limits(max_steps=args.max_steps),
            settings=settings,
        )
    else:
        # "auto" sees a reading task and sends the screenshot at 4x from the first step.
        agent = Agent(
            source=source, policy="auto", limits=Limits(max_steps=args.max_steps), settings=settings
        )
    result = asyncio.run(read(agent, args.task))
    if result is None:
        return 1
    if result.status != "completed":
        print(f"status: {result.status}: {result.error}")
        return 1
    print(f"text: {result.output}")
    print(
        f"tokens: {result.usage.prompt_tokens} prompt, {result.usage.completion_tokens} "
        f"completion over {result.steps} steps"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
