"""Terminal input for the chat: a prompt_toolkit line editor, a plain reader for pipes, and the
terminal settings used while an answer streams."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["PlainReader", "TerminalReader", "quiet_terminal"]


class PlainReader:
    """Reads lines from a non-terminal stdin (pipes, scripts)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def read_line(self, prompt: str) -> str:
        self.console.print(Text(prompt), end="")
        self.console.file.flush()
        line: str = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            self.console.print()
            raise EOFError
        self.console.print(Text(line.rstrip("\n")), style="dim")
        return line.rstrip("\n")

    async def ask(self, prompt: str) -> str:
        try:
            return await self.read_line(prompt)
        except EOFError:
            return ""


class TerminalReader:
    """prompt_toolkit line editor with a history file; Ctrl-C clears a line or interrupts."""

    def __init__(self, history_path: Path | None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings

        history: Any = InMemoryHistory()
        if history_path is not None:
            try:
                history_path.parent.mkdir(parents=True, exist_ok=True)
                history = FileHistory(str(history_path))
            except OSError:
                pass
        bindings = KeyBindings()

        @bindings.add("c-c")
        def _(event: Any) -> None:
            buffer = event.app.current_buffer
            if buffer.text:
                buffer.reset()  # a non-empty line: Ctrl-C just clears it
            else:
                event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

        self._session: PromptSession[str] = PromptSession(history=history, key_bindings=bindings)
        self._confirm: PromptSession[str] = PromptSession()

    async def read_line(self, prompt: str) -> str:
        return str(await self._session.prompt_async(prompt))

    async def ask(self, prompt: str) -> str:
        try:
            # handle_sigint=False: keep the answer's own SIGINT handler installed (Ctrl-C is a key here).
            return str(await self._confirm.prompt_async(prompt, handle_sigint=False))
        except (KeyboardInterrupt, EOFError):
            return ""


@contextlib.contextmanager
def quiet_terminal() -> Iterator[None]:
    """While an answer streams: no echo of typed keys (they wait for the next prompt), no ``^C``,
    and no discarding of pending output on Ctrl-C (NOFLSH), which would corrupt the live region."""
    try:
        import termios
    except ImportError:  # Windows
        yield
        return
    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        yield
        return
    changed = list(saved)
    changed[3] = (changed[3] & ~(termios.ECHO | getattr(termios, "ECHOCTL", 0))) | getattr(
        termios, "NOFLSH", 0
    )
    try:
        termios.tcsetattr(fd, termios.TCSANOW, changed)
    except termios.error:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
