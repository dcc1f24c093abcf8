"""The ``agentkit`` command line: the only part of agentkit that prints and sets exit codes.

Run ``agentkit --help`` (or ``python -m agentkit --help``); the reference is docs/cli.md.
"""

from __future__ import annotations

from agentkit.cli._app import main
from agentkit.cli._exit import ExitCode

__all__ = ["ExitCode", "main"]
