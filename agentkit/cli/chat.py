"""``agentkit chat``: a terminal REPL over the agent loop.

The answer streams as Markdown (a spinner until the first token); tool calls and results show
as compact panels; destructive actions ask y/N. Ctrl-C during an answer cancels that answer (the
task consuming ``Agent.stream`` is cancelled, which closes the model stream) and keeps the session;
Ctrl-C at an empty prompt only prints a hint (twice in a row quits); Ctrl-D quits.

With a terminal, the line editor is prompt_toolkit (history in ``$XDG_STATE_HOME/agentkit``);
without one (stdin piped), lines are read plainly, which makes the REPL scriptable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agentkit.cli._exit import EXIT_CODES_HELP, ExitCode, error_line
from agentkit.cli._terminal import PlainReader, TerminalReader, quiet_terminal
from agentkit.messages import Message, Usage

__all__ = ["ChatSession", "chat_command", "register"]

EPILOG = f"""\
examples:
  agentkit chat --base-url http://127.0.0.1:8000/v1
  agentkit chat --tools desktop --mode 4x
  agentkit chat --image screenshot.png
  printf 'Describe it\\n/quit\\n' | agentkit chat --image photo.jpg   # scripted

in the chat:
  /screen                attach a screenshot to the next message
  /image receipt.png     attach an image file
  /mode 4x               more visual detail for small text (16x is cheaper)
  /tool click off        disable a tool;  /tools lists them
  /usage                 tokens, visual tokens and time so far
  /save chat.json        save the conversation;  /load chat.json continues it
Ctrl-C cancels the answer being written; Ctrl-D (or /quit) leaves.

{EXIT_CODES_HELP}
"""

HELP = """\
/screen [N]            attach a screenshot (monitor N) to the next message
/region X Y W H        attach a screenshot of a rectangle
/camera [DEV]          attach a camera frame
/image PATH            attach an image file
/mode 16x|4x|auto      visual token compression (now: {mode})
/tools                 list the tools and whether they are on
/tool NAME on|off      switch a tool on or off
/usage                 tokens, visual tokens and time
/save PATH             save the conversation (JSON)
/load PATH             load a saved conversation
/reset                 forget the conversation and attachments
/help                  this list
/quit                  leave (also Ctrl-D)
Ctrl-C cancels the current answer."""

PROMPT = "you › "


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from agentkit.cli._app import HelpFormatter, wrap
    from agentkit.cli.run import add_agent_options

    p = subparsers.add_parser(
        "chat",
        parents=parents,
        help="talk with the model in the terminal; attach the screen, a camera or images",
        description=wrap(
            "A chat REPL: streaming Markdown answers, tool calls as panels, slash commands "
            "to attach the screen, a region, a camera frame or an image, switch the mode, toggle "
            "tools, show usage, save and load the conversation."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    add_agent_options(p, tools_default="none on; the installed packs can be switched on with /tool")
    p.add_argument(
        "--image",
        metavar="PATH",
        action="append",
        help="attach an image to the first message (repeatable)",
    )
    p.add_argument(
        "--max-steps",
        metavar="N",
        type=int,
        default=10,
        help="model requests per answer at most (default 10)",
    )
    p.add_argument(
        "--trajectory-dir",
        metavar="DIR",
        help="where each answer's run directory goes (default: the state directory)",
    )
    p.add_argument(
        "--no-history", action="store_true", help="do not read or write the line-editor history"
    )
    p.set_defaults(handler=chat_command)


# --------------------------------------------------------------------------- the session


class ChatSession:
    """A chat's state and its slash commands; one :class:`~agentkit.Agent` run per answer.

    Args:
        backend: the model backend (shared by every answer).
        settings: resolved settings.
        toolset: every tool the chat knows (on and off).
        enabled: names of the tools that are on.
        console: where to draw.
        reader: the line reader (also used for confirmation prompts).
        mode: ``"auto"``, ``"16x"`` or ``"4x"``.
        instructions: the system prompt.
        max_steps: model requests per answer.
        trajectory_dir: parent directory of each answer's run directory.
        debug: print tracebacks of unexpected errors.
        interactive: stdin is a terminal (typed keys are not echoed while an answer streams).
        wait_s: at start, how long to wait for a server that is still loading.
    """

    def __init__(
        self,
        *,
        backend: Any,
        settings: Any,
        toolset: Any,
        enabled: set[str],
        console: Console,
        reader: Any,
        mode: str = "auto",
        instructions: str | None = None,
        max_steps: int = 10,
        trajectory_dir: Path | None = None,
        debug: bool = False,
        interactive: bool = False,
        wait_s: float = 0.0,
    ) -> None:
        self.backend = backend
        self.interactive = interactive
        self.wait_s = wait_s
        self.settings = settings
        self.toolset = toolset
        self.enabled = set(enabled)
        self.console = console
        self.reader = reader
        self.mode = mode
        self.instructions = instructions
        self.max_steps = max_steps
        self.trajectory_dir = trajectory_dir
        self.debug = debug
        self.history: list[Message] | None = None
        self.attachments: list[Any] = []
        self.usage = Usage()
        self.last_usage: Usage | None = None
        self.seconds = 0.0
        self.turns = 0
        self.renderer: Any = None
        self._commands: dict[str, Callable[[list[str]], bool]] = {
            "/screen": self._cmd_screen,
            "/region": self._cmd_region,
            "/camera": self._cmd_camera,
            "/image": self._cmd_image,
            "/mode": self._cmd_mode,
            "/tools": self._cmd_tools,
            "/tool": self._cmd_tool,
            "/usage": self._cmd_usage,
            "/save": self._cmd_save,
            "/load": self._cmd_load,
            "/reset": self._cmd_reset,
            "/help": self._cmd_help,
            "/quit": self._cmd_quit,
            "/exit": self._cmd_quit,
        }

    # -- output helpers ----------------------------------------------------------------------------
    def info(self, text: str) -> None:
        self.console.print(Text(text, style="dim"))

    def error(self, exc: BaseException | str) -> None:
        if isinstance(exc, BaseException) and self.debug:
            self.console.print(
                Text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            )
        line = exc if isinstance(exc, str) else error_line(exc)
        self.console.print(Text(f"error: {line}", style="red"))

    # -- slash commands ------------------------------------------------------------------------------
    def command(self, line: str) -> bool:
        """Run a slash command; returns False when the chat should end."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.error(f"cannot parse the command: {exc}")
            return True
        name, rest = words[0].lower(), words[1:]
        handler = self._commands.get(name)
        if handler is None:
            known = ", ".join(sorted(self._commands))
            self.error(f"unknown command {name}; the commands are {known} (see /help)")
            return True
        from agentkit.errors import AgentkitError

        try:
            return handler(rest)
        except AgentkitError as exc:
            self.error(exc)
        except Exception as exc:  # noqa: BLE001 - one bad command must not end the chat
            self.error(exc)
        return True

    def attach(self, frame: Any, what: str) -> None:
        from agentkit.vision._tokens import image_tokens

        self.attachments.append(frame)
        cost = image_tokens(frame.width, frame.height, "4x" if self.mode == "4x" else "16x")
        self.info(
            f"attached {what} ({frame.width}x{frame.height}, {cost.total:,} visual tokens at "
            f"{'4x' if self.mode == '4x' else '16x'}); {len(self.attachments)} image(s) go with your next message"
        )

    def _grab(self, source: Any) -> Any:
        from agentkit.cli._wiring import grab_one

        frame, notes = grab_one(source)
        for note in notes:
            self.console.print(Text(f"note: {note}", style="yellow"))
        return frame

    def _cmd_screen(self, args: list[str]) -> bool:
        from agentkit.cli._wiring import make_source

        monitor = int(args[0]) if args else None
        self.attach(self._grab(make_source("screen", monitor=monitor)), "the screen")
        return True

    def _cmd_region(self, args: list[str]) -> bool:
        from agentkit.cli._wiring import make_source, parse_region

        if len(args) != 4:
            self.error("usage: /region X Y W H")
            return True
        region = parse_region(args)
        self.attach(
            self._grab(make_source("screen", region=region)), f"the region {' '.join(args)}"
        )
        return True

    def _cmd_camera(self, args: list[str]) -> bool:
        from agentkit.cli._wiring import make_source

        device: int | str = 0
        if args:
            device = int(args[0]) if args[0].isdigit() else args[0]
        self.attach(self._grab(make_source("camera", camera=device)), f"camera {device}")
        return True

    def _cmd_image(self, args: list[str]) -> bool:
        if len(args) != 1:
            self.error("usage: /image PATH")
            return True
        self.attach(load_image(args[0]), Path(args[0]).name)
        return True

    def _cmd_mode(self, args: list[str]) -> bool:
        if len(args) != 1 or args[0] not in ("16x", "4x", "auto"):
            self.error(f"usage: /mode 16x|4x|auto (now {self.mode})")
            return True
        self.mode = args[0]
        self.info(f"mode: {self.mode}")
        return True

    def _cmd_tools(self, args: list[str]) -> bool:
        if not len(self.toolset):
            self.info("no tools: start with --tools PACK (see `agentkit tools`)")
            return True
        table = Table(show_edge=False, box=None)
        table.add_column("tool")
        table.add_column("on")
        table.add_column("risk")
        table.add_column("description")
        for t in self.toolset:
            on = t.name in self.enabled
            risk = getattr(t.risk, "value", str(t.risk))
            table.add_row(
                t.name,
                Text("on" if on else "off", style="green" if on else "dim"),
                Text(risk, style="red" if risk == "destructive" else ""),
                Text(t.description.split("\n")[0][:60]),
            )
        self.console.print(table)
        return True

    def _cmd_tool(self, args: list[str]) -> bool:
        if len(args) != 2 or args[1] not in ("on", "off"):
            self.error("usage: /tool NAME on|off")
            return True
        name, state = args
        if name not in self.toolset.names():
            self.error(
                f"no tool named {name!r}; the tools are {', '.join(self.toolset.names()) or 'none'}"
            )
            return True
        (self.enabled.add if state == "on" else self.enabled.discard)(name)
        self.info(f"{name}: {state}")
        return True

    def _cmd_usage(self, args: list[str]) -> bool:
        from agentkit.cli.render import usage_table

        self.console.print(
            usage_table(self.usage, seconds=self.seconds, turns=self.turns, last=self.last_usage)
        )
        return True

    def _cmd_save(self, args: list[str]) -> bool:
        from agentkit.cli._transcript import save_transcript

        if len(args) != 1:
            self.error("usage: /save PATH")
            return True
        path = save_transcript(
            args[0], self.history or [], mode=self.mode, model=self.settings.model
        )
        self.info(f"saved {len(self.history or [])} messages to {path}")
        return True

    def _cmd_load(self, args: list[str]) -> bool:
        from agentkit.cli._transcript import load_transcript

        if len(args) != 1:
            self.error("usage: /load PATH")
            return True
        messages, meta = load_transcript(args[0])
        self.history = messages or None
        if meta.get("mode") in ("16x", "4x", "auto"):
            self.mode = str(meta["mode"])
        self.info(f"loaded {len(messages)} messages from {args[0]}")
        return True

    def _cmd_reset(self, args: list[str]) -> bool:
        self.history = None
        self.attachments = []
        self.info("the conversation is empty again")
        return True

    def _cmd_help(self, args: list[str]) -> bool:
        self.console.print(Text(HELP.format(mode=self.mode)))
        return True

    def _cmd_quit(self, args: list[str]) -> bool:
        return False

    # -- answers -----------------------------------------------------------------------------------------
    def make_agent(self) -> Any:
        from agentkit import Agent, Limits, SafetyPolicy

        tools = self.toolset.filter(lambda t: t.name in self.enabled)
        kwargs: dict[str, Any] = {}
        if self.trajectory_dir is not None:
            kwargs["trajectory_dir"] = self.trajectory_dir
        return Agent(
            self.backend,
            tools=tools,
            instructions=self.instructions,
            policy=self.mode,
            limits=Limits(max_steps=self.max_steps),
            safety=SafetyPolicy(confirmer=self.confirm, confirm_timeout_s=300.0),
            settings=self.settings,
            **kwargs,
        )

    async def confirm(self, call: Any) -> bool:
        """The SafetyPolicy confirmer: pause the live answer and ask y/N."""
        from agentkit.cli.render import format_call

        pause = self.renderer.paused() if self.renderer is not None else contextlib.nullcontext()
        with pause:
            self.console.print(
                Panel(
                    Text(format_call(call.name, call.arguments)),
                    title="destructive action: confirm",
                    title_align="left",
                    border_style="red",
                    expand=False,
                )
            )
            answer = await self.reader.ask("Allow it? [y/N] ")
        allowed = answer.strip().lower() in ("y", "yes")
        self.info("allowed" if allowed else "refused")
        return allowed

    async def ask(self, text: str) -> Any:
        """Run one answer with live rendering; Ctrl-C cancels it. Returns the RunResult or None."""
        from agentkit.cli.render import ChatRenderer
        from agentkit.errors import AgentkitError

        agent = self.make_agent()
        renderer = ChatRenderer(self.console)
        self.renderer = renderer
        images, self.attachments = self.attachments, []
        started = time.monotonic()
        task = asyncio.ensure_future(self._consume(agent, text, images, renderer))
        loop = asyncio.get_running_loop()
        installed = False
        if threading.current_thread() is threading.main_thread():
            try:
                loop.add_signal_handler(signal.SIGINT, task.cancel)
                installed = True
            except (NotImplementedError, RuntimeError):
                pass
        result = None
        quiet = quiet_terminal() if self.interactive else contextlib.nullcontext()
        try:
            quiet.__enter__()
            renderer.start()
            result = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # we ourselves are being cancelled
            renderer.finish(cancelled=True)
        except KeyboardInterrupt:  # no signal handler on this platform
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            renderer.finish(cancelled=True)
        except AgentkitError as exc:
            renderer.finish()
            self.error(exc)
        except Exception as exc:  # noqa: BLE001 - the session goes on
            renderer.finish()
            self.error(exc)
        finally:
            quiet.__exit__(None, None, None)
            if installed:
                loop.remove_signal_handler(signal.SIGINT)
            self.renderer = None
            self.seconds += time.monotonic() - started
        if result is not None:
            if self.debug and result.error is not None and result.status == "failed":
                error = result.error
                trace = traceback.format_exception(type(error), error, error.__traceback__)
                self.console.print(Text("".join(trace), style="dim"))
            self.turns += 1
            self.usage = self.usage + result.usage
            self.last_usage = result.usage
            if result.messages:
                self.history = list(result.messages)
        return result

    async def _consume(self, agent: Any, text: str, images: list[Any], renderer: Any) -> Any:
        from agentkit.events import RunFinished

        result = None
        async for event in agent.stream(text, images=images, history=self.history):
            renderer.handle(event)
            if isinstance(event, RunFinished):
                result = event.result
        return result

    async def loop(self) -> None:
        """Read and answer until /quit or Ctrl-D."""
        interrupted = False
        while True:
            try:
                line = await self.reader.read_line(PROMPT)
            except EOFError:
                return
            except KeyboardInterrupt:
                if interrupted:
                    return
                interrupted = True
                self.info(
                    "(Ctrl-C again, Ctrl-D or /quit to leave; Ctrl-C during an answer cancels it)"
                )
                continue
            interrupted = False
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return
                continue
            await self.ask(line)


def load_image(path: str) -> Any:
    """A Frame from an image file (a readable error otherwise)."""
    from PIL import Image, UnidentifiedImageError

    from agentkit.errors import ConfigurationError
    from agentkit.vision._frame import Frame

    p = Path(path).expanduser()
    try:
        with Image.open(p) as im:
            return Frame(im.convert("RGB"), f"file:{p}")
    except (OSError, UnidentifiedImageError) as exc:
        raise ConfigurationError(f"cannot read image {p}: {exc}") from exc


# --------------------------------------------------------------------------- the command


async def _chat_main(session: ChatSession, intro: Callable[[], None]) -> None:
    """The whole chat in one event loop (the backend's HTTP client belongs to it)."""
    try:
        from agentkit.cli._wiring import preflight

        await preflight(session.backend, session.settings, wait_s=session.wait_s)
        intro()
        await session.loop()
    finally:
        close = getattr(session.backend, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


def chat_command(args: argparse.Namespace) -> int:
    from agentkit.cli._wiring import (
        available_pack_names,
        load_tools,
        make_backend,
        resolve_settings,
        split_names,
        state_dir,
    )
    from agentkit.tools import ToolSet

    debug = bool(getattr(args, "debug", False))
    settings = resolve_settings(args, mode=args.mode)
    backend = make_backend(settings)

    wanted = split_names(args.tools)
    toolset = load_tools(wanted) if wanted else ToolSet()
    enabled = set(toolset.names())
    console = Console(highlight=False)
    # Installed packs not asked for are loaded switched off, so /tool NAME on can use them.
    for pack in available_pack_names():
        if pack in wanted:
            continue
        try:
            known = set(toolset.names())
            extra = load_tools([pack])
            toolset = toolset + extra.filter(lambda t, known=known: t.name not in known)
        except Exception as exc:  # noqa: BLE001 - a broken optional pack must not stop the chat
            console.print(
                Text(f"note: tool pack {pack!r} not loaded: {error_line(exc)}", style="yellow")
            )

    if args.trajectory_dir:
        trajectory_dir: Path | None = Path(args.trajectory_dir)
    elif Path(settings.trajectory_dir) != Path("runs"):
        trajectory_dir = Path(settings.trajectory_dir)
    else:
        trajectory_dir = state_dir() / "runs"

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    reader: Any = PlainReader(console)
    if interactive:
        history_path = None if args.no_history else state_dir() / "chat_history"
        try:
            reader = TerminalReader(history_path)
        except ImportError:
            console.print(
                Text(
                    "note: no line editing or history: pip install 'agentkit[cli]' (prompt_toolkit)",
                    style="yellow",
                )
            )
    session = ChatSession(
        backend=backend,
        settings=settings,
        toolset=toolset,
        enabled=enabled,
        console=console,
        reader=reader,
        mode=settings.mode,
        instructions=args.instructions,
        max_steps=args.max_steps,
        trajectory_dir=trajectory_dir,
        debug=debug,
        interactive=interactive,
        wait_s=args.wait,
    )
    for path in args.image or []:
        session.attach(load_image(path), Path(path).name)

    def intro() -> None:
        where = settings.base_url or "embedded engine (loads on the first question)"
        on = ", ".join(sorted(enabled)) or "none"
        console.print(Text(f"agentkit chat · {settings.model} · {where}", style="bold"))
        console.print(
            Text(
                f"mode {session.mode} · tools on: {on} · /help for commands, Ctrl-D to quit",
                style="dim",
            )
        )

    code = ExitCode.OK
    try:
        asyncio.run(_chat_main(session, intro))
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    console.print(Text("bye", style="dim"))
    return int(code)
