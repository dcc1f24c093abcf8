"""The Agent: configuration, and the three ways to run it (sync, async, event stream)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel

from agentkit.agent._loop import Run
from agentkit.agent._result import Limits, RunResult
from agentkit.backends._base import Backend
from agentkit.errors import ConfigurationError
from agentkit.events import Event, RunFinished
from agentkit.grammar import GrammarPolicy
from agentkit.messages import Message
from agentkit.safety import KillSwitch, SafetyPolicy
from agentkit.settings import Settings
from agentkit.tools import Risk, Tool, ToolSet
from agentkit.trajectory import TrajectoryWriter, new_run_id
from agentkit.vision import CompressionPolicy, HistoryPolicy, make_policy
from agentkit.vision._frame import FrameSource

__all__ = ["Agent"]

OutputT = TypeVar("OutputT")
T = TypeVar("T")

_DEFAULT = object()


class Agent(Generic[OutputT]):
    """An agent: a model backend, tools, an optional frame source, and the rules of a run.

    ``Agent`` is configuration; :meth:`run`, :meth:`run_async` and :meth:`stream` execute a task
    and return a :class:`RunResult` (or its events). One agent can run many tasks, also
    concurrently from one event loop.

    Args:
        backend: where the model runs. ``None`` resolves one from ``settings``: the
            OpenAI-compatible remote backend when a base URL is set, else the embedded default.
        tools: tools (``Tool`` objects or plain typed functions) or a ``ToolSet``.
        instructions: the system prompt.
        source: a frame source observed at the start of every step (screen, camera, files).
        policy: the visual compression policy: ``"auto"``, ``"16x"``, ``"4x"`` or an object.
        history: what the model sees of older frames; default keeps the newest frames in full.
            Pass ``None`` to send the whole history.
        output_type: a Pydantic model for a structured final answer (via a ``final_result`` tool).
        limits: steps, tool calls, wall clock and invalid-call caps.
        safety: confirmation, dry run, allow/deny lists and secrets.
        settings: resolved settings (``Settings.resolve()`` when omitted).
        trajectory_dir: where run directories go (default: ``settings.trajectory_dir``).
        deps: any object your tools need, handed to them as ``RunContext.deps``.
        kill_switch: an external stop signal (e.g. the desktop pack's key combination); when it
            trips, every run of this agent stops.
        grammar: constrain the model's output to well-formed calls of these tools: ``"off"``
            (default), ``"on_retry"`` (the request after an invalid call), ``"always"``, or a
            :class:`~agentkit.grammar.GrammarPolicy` (``require_call=True`` forbids free text:
            pair it with ``output_type`` or the run can end only at a limit).
        extra_body: more request-body fields for every model request (server-specific, e.g.
            ``{"top_k": 20}``), merged into the body last.
        settle_timeout_s: after an action that changes things, wait up to this long for the
            screen to stop changing before the next observation (0 disables).

    Example:
        >>> agent = Agent(tools=[click], source=ScreenSource())          # doctest: +SKIP
        >>> result = agent.run("Open the settings menu")                  # doctest: +SKIP
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        tools: ToolSet | Iterable[Tool | Callable[..., Any]] = (),
        instructions: str | None = None,
        source: FrameSource | None = None,
        policy: str | CompressionPolicy = "auto",
        history: HistoryPolicy | None | object = _DEFAULT,
        output_type: type[OutputT] | None = None,
        limits: Limits | None = None,
        safety: SafetyPolicy | None = None,
        settings: Settings | None = None,
        trajectory_dir: str | Path | None = None,
        deps: Any = None,
        settle_timeout_s: float = 2.0,
        kill_switch: KillSwitch | None = None,
        extra_body: dict[str, Any] | None = None,
        grammar: GrammarPolicy | str | bool | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings.resolve()
        self._backend = backend
        self.toolset = tools if isinstance(tools, ToolSet) else ToolSet(tools)
        self.instructions = instructions
        if source is not None and not hasattr(source, "grab"):
            raise ConfigurationError(
                f"source= must be a frame source with a grab() method (ScreenSource(), "
                f"ImageSource(path)...), not {type(source).__name__}"
            )
        self.source = source
        self.policy = make_policy(policy)
        if history is _DEFAULT:
            from agentkit.vision import BoundedHistory

            history = BoundedHistory()
        self.history: HistoryPolicy | None = history  # type: ignore[assignment]
        if output_type is not None and not (
            isinstance(output_type, type) and issubclass(output_type, BaseModel)
        ):
            raise ConfigurationError(
                "output_type= must be a Pydantic model class (a BaseModel subclass)"
            )
        self.output_type = output_type
        self.limits = limits or Limits()
        self.safety = safety if safety is not None else SafetyPolicy()
        self.trajectory_dir = Path(trajectory_dir or self.settings.trajectory_dir)
        self.deps = deps
        self.settle_timeout_s = settle_timeout_s
        self.extra_body = dict(extra_body or {})
        self.grammar = dataclasses.replace(
            GrammarPolicy.coerce(grammar), max_calls=self.limits.max_calls_per_step
        )
        if self.grammar.mode != "off":
            self.grammar.grammar(
                self.toolset_for_run()
            )  # a tool the grammar cannot express fails here
        self.kill_switch = kill_switch
        self._active: set[KillSwitch] = set()  # one switch per run in progress

    # -- configuration helpers ---------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        """The backend, resolved from the settings on first use."""
        if self._backend is None:
            from agentkit.backends._select import default_backend

            self._backend = default_backend(self.settings)
        return self._backend

    def toolset_for_run(self) -> ToolSet:
        if self.output_type is None:
            return self.toolset
        output_type = self.output_type

        def final_result(result: Any) -> str:
            return "final result accepted"

        final = Tool.from_model(
            output_type,  # type: ignore[arg-type]
            final_result,
            name="final_result",
            description="Give the final answer of the task as structured data. Call it once, at the end.",
            risk=Risk.READ_ONLY,
            allow_reserved=True,
        )
        return self.toolset + ToolSet([final])

    def redact(self, obj: Any) -> Any:
        return self.safety.redact_obj(obj)

    # -- stopping ----------------------------------------------------------------------------------
    def stop(self, reason: str = "stop() was called") -> None:
        """Stop every run of this agent in progress (thread-safe); each ends within a second.

        Runs started later are not affected.
        """
        for switch in list(self._active):
            switch.trip(reason)

    def _stopped(self, switch: KillSwitch) -> str | None:
        """The reason this run must stop, or None."""
        if switch.tripped:
            return switch.reason or "stopped"
        if self.kill_switch is not None and self.kill_switch.tripped:
            return self.kill_switch.reason or "the kill switch was tripped"
        return None

    # -- running -----------------------------------------------------------------------------------
    async def stream(
        self,
        task: str,
        *,
        images: Sequence[Any] = (),
        history: list[Message] | None = None,
    ) -> AsyncIterator[Event]:
        """Run a task and yield its events; the last one is :class:`RunFinished`.

        Breaking out of the iteration (or cancelling the consuming task) stops the run: the model
        stream is closed and the trajectory records status "stopped".
        """
        if not isinstance(task, str) or not task.strip():
            raise ConfigurationError("the task must be a non-empty string describing what to do")
        switch = KillSwitch()
        queue: asyncio.Queue[Event | None] = asyncio.Queue()

        async def emit(event: Event) -> None:
            queue.put_nowait(event)

        run_id = new_run_id()
        writer = TrajectoryWriter(self.trajectory_dir, run_id, redact=self.redact)
        try:
            backend = self.backend
        except BaseException as exc:
            writer.start(task=self.redact(task), model=self.settings.model)
            writer.finish(status="failed", error=exc)
            raise
        run = Run(
            self,
            backend,
            task,
            history=history,
            images=list(images),
            run_id=run_id,
            writer=writer,
            emit=emit,
            should_stop=lambda: self._stopped(switch),
        )

        async def body() -> None:
            try:
                await run.execute()
            finally:
                queue.put_nowait(None)

        self._active.add(switch)
        task_ = asyncio.ensure_future(body())
        watcher = asyncio.ensure_future(self._watch_stop(task_, switch))
        try:
            while True:
                event = await queue.get()
                if event is None:
                    break
                yield event
            await task_  # surface unexpected errors
        finally:
            watcher.cancel()
            if not task_.done():
                task_.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task_
            self._active.discard(switch)

    async def _watch_stop(self, task: asyncio.Future[None], switch: KillSwitch) -> None:
        """Cancel the run shortly after stop() so a long stream or tool does not delay it."""
        while not task.done():
            if self._stopped(switch) is not None:
                await asyncio.sleep(0.2)  # let the loop stop at a boundary by itself first
                if not task.done():
                    task.cancel()
                return
            await asyncio.sleep(0.05)

    async def run_async(
        self,
        task: str,
        *,
        images: Sequence[Any] = (),
        history: list[Message] | None = None,
    ) -> RunResult:
        """Run a task to the end and return its :class:`RunResult`."""
        result: RunResult | None = None
        stream = cast(
            AsyncGenerator[Event, None], self.stream(task, images=images, history=history)
        )
        try:
            async for event in stream:
                if isinstance(event, RunFinished):
                    result = event.result
        finally:
            await stream.aclose()
        if result is None:  # pragma: no cover - the loop always ends with RunFinished
            raise RuntimeError("the run ended without a result")
        return result

    async def run_many_async(
        self,
        tasks: Iterable[str],
        *,
        concurrency: int = 8,
    ) -> list[RunResult]:
        """Run many tasks concurrently on this agent's backend; results in task order.

        Each task is its own run with its own trajectory; they share the backend (and so one
        HTTP connection pool). At most ``concurrency`` run at once.
        """
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, not {concurrency}")
        gate = asyncio.Semaphore(concurrency)

        async def one(task: str) -> RunResult:
            async with gate:
                return await self.run_async(task)

        return list(await asyncio.gather(*(one(t) for t in tasks)))

    def run_many(self, tasks: Iterable[str], *, concurrency: int = 8) -> list[RunResult]:
        """Blocking :meth:`run_many_async`; SIGINT/SIGTERM stop every run gracefully."""
        task_list = list(tasks)
        return asyncio.run(
            self._with_signals(self.run_many_async(task_list, concurrency=concurrency))
        )

    def run(
        self,
        task: str,
        *,
        images: Sequence[Any] = (),
        history: list[Message] | None = None,
    ) -> RunResult:
        """Run a task to the end (blocking) and return its :class:`RunResult`.

        In the main thread, SIGINT and SIGTERM stop the run gracefully: the result then has
        status "stopped" and the trajectory is complete.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise ConfigurationError(
                "Agent.run() cannot be called from a running event loop; use "
                "`await agent.run_async(...)` there"
            )
        return asyncio.run(self._with_signals(self.run_async(task, images=images, history=history)))

    async def _with_signals(self, work: Awaitable[T]) -> T:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self.stop, f"received {sig.name}")
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass
        try:
            return await work
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await _release_connections(self._backend)


async def _release_connections(backend: Any) -> None:
    """Before a sync call's event loop closes, let the backend drop connections bound to it."""
    release = getattr(backend, "release_connections", None)
    if release is not None:
        await release()
