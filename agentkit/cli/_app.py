"""The ``agentkit`` command: the argument parser, dispatch, and error-to-exit-code mapping.

Each command lives in its own module with a ``register(subparsers, parents)`` function that adds
its parser and sets ``handler`` (a function ``(args) -> int``). Nothing heavy is imported until a
command runs, so ``agentkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from agentkit.cli._exit import EXIT_CODES_HELP, ExitCode, report_error

__all__ = ["HelpFormatter", "build_parser", "main", "wrap"]

DESCRIPTION = """\
agentkit: agents that look at a screen or a camera and act through tools,
on MiniCPM-V 4.6 served by vLLM (remote OpenAI-compatible server, or embedded)."""

EPILOG = f"""\
examples:
  agentkit serve                                   # start vLLM with the flags the model needs
  agentkit doctor --base-url http://127.0.0.1:8000/v1
  agentkit chat --base-url http://127.0.0.1:8000/v1 --tools desktop
  agentkit run "Open the settings and turn on dark mode" --max-steps 15 --dry-run
  agentkit tools --json

settings come from (first wins): command-line flags, AGENTKIT_* environment
variables (AGENTKIT_BASE_URL, AGENTKIT_MODEL, AGENTKIT_API_KEY...), the config file.

{EXIT_CODES_HELP}
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps epilog examples as written and prints ``-o, --output PATH`` on every Python version."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        default = self._get_default_metavar_for_optional(action)
        args = self._format_args(action, default)
        return ", ".join(action.option_strings) + " " + args


def wrap(text: str, width: int = 79) -> str:
    """A description as one wrapped paragraph (the raw formatter keeps examples as written)."""
    return textwrap.fill(" ".join(text.split()), width)


def _common_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (default: "
        "AGENTKIT_BASE_URL; none: the embedded engine)",
    )
    group.add_argument(
        "--model",
        metavar="NAME",
        help="model name (default: AGENTKIT_MODEL or openbmb/MiniCPM-V-4.6)",
    )
    group.add_argument(
        "--config", metavar="PATH", help="config file (default: AGENTKIT_CONFIG or the user config)"
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and debug logs",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The whole ``agentkit`` parser (also used to generate docs/cli.md)."""
    from agentkit.cli import chat, doctor, misc, run, serve

    parser = argparse.ArgumentParser(
        prog="agentkit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agentkit {_version()}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    parents = [_common_parent()]
    for module in (chat, run, serve, doctor):
        module.register(subparsers, parents)
    misc.register(subparsers, parents)
    return parser


def _version() -> str:
    from agentkit._version import __version__

    return __version__


def _configure_logging(debug: bool) -> None:
    """Without --debug only errors are logged: the CLI reports what matters itself (retries as
    progress lines, failures as one ``error:`` line), so per-attempt warnings would be noise."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if debug:
        # The HTTP stack's own debug chatter drowns agentkit's.
        for name in ("httpcore", "hpack"):
            logging.getLogger(name).setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentkit`` command line and return its exit code (see ``agentkit --help``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors (argparse exits 2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug = bool(getattr(args, "debug", False))
    handler: Any = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)
    _configure_logging(debug)
    try:
        return int(handler(args))
    except KeyboardInterrupt as exc:
        return int(report_error(exc, sys.stderr))
    except BrokenPipeError:  # `agentkit tools --json | head`
        return int(ExitCode.OK)
    except Exception as exc:  # noqa: BLE001 - the CLI is where errors become exit codes
        return int(report_error(exc, sys.stderr, debug=debug))
