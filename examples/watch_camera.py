"""Watch a camera and report: every N seconds, ask the model whether something is in view.

What it shows:
    - ``CameraSource`` (a webcam index or a stream URL) or, with ``--video PATH``, a recording
      replayed through ``VideoSource`` (one frame every N seconds of video time, no waiting);
    - a frame handed to a run with ``images=[frame]``;
    - a structured answer: ``output_type=Sighting`` (a Pydantic model) makes the model answer
      through a ``final_result`` tool whose arguments are validated into a ``Sighting``.

Run it against a real server::

    python examples/watch_camera.py --base-url http://127.0.0.1:8000/v1 --what "a person" \\
        --every 5
    python examples/watch_camera.py --base-url http://127.0.0.1:8000/v1 --what "a red car" \\
        --video parking.mp4 --every 2

``--base-url`` defaults to ``$AGENTKIT_BASE_URL`` (without either, the embedded model is used).
Stop with Ctrl-C, or give ``--checks K``. Needs OpenCV: ``pip install 'agentkit[camera]'``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from pydantic import BaseModel, Field

from agentkit import Agent, Limits, Settings
from agentkit.errors import CaptureError, ConfigurationError
from agentkit.vision import CameraSource, Frame, VideoSource


class Sighting(BaseModel):
    """What the model reports about one frame."""

    present: bool = Field(description="true if the thing asked about is in view")
    count: int = Field(ge=0, description="how many of them are in view (0 if none)")
    description: str = Field(description="one short sentence about what is seen")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", default="a person", help="what to look for")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between checks")
    parser.add_argument("--checks", type=int, default=0, help="stop after K checks (0: never)")
    parser.add_argument("--camera", default="0", help="camera index or stream URL (default 0)")
    parser.add_argument("--video", help="replay a video file instead of a camera")
    parser.add_argument(
        "--base-url", help="the server, e.g. http://127.0.0.1:8000/v1 (default: $AGENTKIT_BASE_URL)"
    )
    parser.add_argument("--model", help="the served model name (default: openbmb/MiniCPM-V-4.6)")
    parser.add_argument("--max-steps", type=int, default=3, help="model turns per check")
    parser.add_argument("--runs", default=None, help="where run directories go (default ./runs)")
    return parser.parse_args(argv)


def open_source(args: argparse.Namespace) -> tuple[Any, bool]:
    """The frame source, and whether to wait between checks (a live camera) or not (a file)."""
    if args.video:
        return VideoSource(args.video, fps=1.0 / args.every), False
    device: int | str = int(args.camera) if args.camera.isdigit() else args.camera
    return CameraSource(device), True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.every > 0:
        print("--every must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        source, live = open_source(args)
    except ConfigurationError as exc:  # OpenCV missing, or no such file
        print(exc, file=sys.stderr)
        return 2
    agent: Agent[Sighting] = Agent(
        output_type=Sighting,
        policy="16x",
        instructions="You watch a camera. Answer only about what is visible in the image.",
        limits=Limits(max_steps=args.max_steps),
        settings=Settings.resolve(
            base_url=args.base_url, model=args.model, trajectory_dir=args.runs
        ),
    )
    question = (
        f"Is there {args.what} in view? Answer with final_result: present, how many, "
        "and one short sentence."
    )
    checks = 0
    try:
        while args.checks == 0 or checks < args.checks:
            started = time.monotonic()
            try:
                frame = source.grab()
            except CaptureError as exc:
                print(f"no more frames: {exc}" if not live else f"camera error: {exc}")
                break
            assert isinstance(frame, Frame)
            checks += 1
            when = (
                time.strftime("%H:%M:%S")
                if live
                else f"{(checks - 1) * args.every:.1f}s into the video"
            )
            result = agent.run(question, images=[frame])
            if isinstance(result.output, Sighting):
                print(f"check {checks} at {when}: {result.output.model_dump_json()}")
            else:
                print(f"check {checks} at {when}: no answer ({result.status}: {result.error})")
            sys.stdout.flush()
            if live:
                time.sleep(max(0.0, args.every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    print(f"{checks} checks")
    return 0 if checks else 1


if __name__ == "__main__":
    sys.exit(main())
