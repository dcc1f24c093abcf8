"""A multi-turn chat about an image file.

What it shows:
    - an image given to the first turn with ``images=[path]``;
    - the conversation carried to the next turn with ``history=result.messages``, so later
      questions can refer to the image and to earlier answers without sending the image again
      as a new input;
    - plain text answers from a run without tools.

Run it against a real server, with the questions as arguments or one per line on stdin::

    python examples/chat_about_image.py --base-url http://127.0.0.1:8000/v1 photo.jpg \\
        "What is in this picture?" "What colour is the biggest object?"
    python examples/chat_about_image.py --base-url http://127.0.0.1:8000/v1 photo.jpg

``--base-url`` defaults to ``$AGENTKIT_BASE_URL`` (without either, the embedded model is used).
With no questions on the command line, type them one per line; an empty line or end of input
(Ctrl-D) ends the chat.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from agentkit import Agent, Limits, Message, Settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path, help="an image file (PNG, JPEG, WebP...)")
    parser.add_argument("questions", nargs="*", help="questions; none: read them from stdin")
    parser.add_argument(
        "--base-url", help="the server, e.g. http://127.0.0.1:8000/v1 (default: $AGENTKIT_BASE_URL)"
    )
    parser.add_argument("--model", help="the served model name (default: openbmb/MiniCPM-V-4.6)")
    parser.add_argument("--max-steps", type=int, default=2, help="model turns per question")
    parser.add_argument(
        "--mode",
        default="auto",
        choices=["auto", "16x", "4x"],
        help="visual detail: auto (4x for reading questions), 16x or 4x",
    )
    parser.add_argument("--runs", default=None, help="where run directories go (default ./runs)")
    return parser.parse_args(argv)


def questions(args: argparse.Namespace) -> Iterator[str]:
    if args.questions:
        yield from args.questions
        return
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("you> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line.strip():
            return
        yield line.strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.image.is_file():
        print(f"no such image file: {args.image}", file=sys.stderr)
        return 2
    agent: Agent[str] = Agent(
        instructions="You answer questions about the image the user shows you, briefly.",
        policy=args.mode,
        limits=Limits(max_steps=args.max_steps),
        settings=Settings.resolve(
            base_url=args.base_url, model=args.model, trajectory_dir=args.runs
        ),
    )
    history: list[Message] | None = None
    turns = 0
    for question in questions(args):
        # The image goes with the first question only; later turns see it in the history.
        images = [args.image] if history is None else []
        result = agent.run(question, images=images, history=history)
        if result.status != "completed":
            print(f"model: (no answer: {result.status}: {result.error})")
            return 1
        if args.questions or not sys.stdin.isatty():
            print(f"you: {question}")  # echo what was not typed here
        print(f"model: {result.output}")
        sys.stdout.flush()
        history = result.messages
        turns += 1
    print(f"{turns} turns")
    return 0 if turns else 1


if __name__ == "__main__":
    sys.exit(main())
