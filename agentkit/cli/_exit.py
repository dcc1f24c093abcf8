"""Exit codes, and the one place where an exception becomes a line of text and an exit code.

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      success
1      the task failed (the model gave up, a tool failed the run, an unexpected error)
2      usage, configuration or environment error (bad arguments, missing extra, no display)
3      the model backend is unreachable or refused us (connection, auth, unknown model, 5xx)
4      a limit was reached (steps, tool calls, wall clock, invalid-call budget)
130    interrupted (Ctrl-C, ``stop()``)
=====  ==========================================================================================
"""

from __future__ import annotations

import asyncio
import enum
import traceback
from typing import TextIO

from agentkit.errors import (
    AgentkitError,
    BackendError,
    CaptureError,
    ConfigurationError,
    LimitExceededError,
    RunCancelledError,
)

__all__ = ["ExitCode", "error_line", "exit_code_for", "exit_code_for_status", "report_error"]


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    BACKEND = 3
    LIMIT = 4
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the task failed
  2    usage, configuration or environment error
  3    model backend unreachable, auth or model refused
  4    a limit was reached (steps, tool calls, time, invalid calls)
  130  interrupted (Ctrl-C)"""


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code an exception maps to."""
    if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError, RunCancelledError)):
        return ExitCode.INTERRUPTED
    if isinstance(exc, LimitExceededError):
        return ExitCode.LIMIT
    if isinstance(exc, BackendError):
        return ExitCode.BACKEND
    if isinstance(exc, (ConfigurationError, CaptureError)):
        return ExitCode.USAGE
    return ExitCode.FAILED


def exit_code_for_status(status: str, error: BaseException | None = None) -> ExitCode:
    """The exit code of a finished run (``RunResult.status`` and ``RunResult.error``)."""
    if status == "completed":
        return ExitCode.OK
    if status == "limit":
        return ExitCode.LIMIT
    if status == "stopped":
        return ExitCode.INTERRUPTED
    if error is not None:
        code = exit_code_for(error)
        return code if code != ExitCode.OK else ExitCode.FAILED
    return ExitCode.FAILED


def error_line(exc: BaseException) -> str:
    """One readable line for an error: its message, plus the URL when a backend error omits it."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, BackendError) and exc.url and exc.url not in message:
        message = f"{message} ({exc.url})"
    if not isinstance(exc, AgentkitError):
        message = f"{type(exc).__name__}: {message} (run again with --debug for the traceback)"
    return message


def report_error(exc: BaseException, stream: TextIO, *, debug: bool = False) -> ExitCode:
    """Write ``error: <one line>`` (and the traceback with ``debug``) and return the exit code."""
    if debug and not isinstance(exc, KeyboardInterrupt):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
    stream.write(f"error: {error_line(exc)}\n")
    stream.flush()
    return exit_code_for(exc)
