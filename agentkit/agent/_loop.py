"""One run of the agent loop: observe -> request -> parse -> validate -> execute -> record.

The loop is a single coroutine that puts events on a queue; :meth:`Agent.stream` hands them out.
Nothing here prints. Whatever happens (an error, a limit, ``stop()``, cancellation) the trajectory
is finished with the terminal status and the toolset's close hooks run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agentkit.agent._health import RepetitionGuard
from agentkit.agent._observe import Observer, retry_prompt
from agentkit.agent._result import RunResult, RunStatus
from agentkit.agent._turn import stream_turn
from agentkit.backends._base import Backend, ModelRequest, ModelResponse
from agentkit.errors import (
    AgentkitError,
    BackendTimeoutError,
    ContextLengthError,
    LimitExceededError,
    OutputValidationError,
    RunCancelledError,
    StreamInterruptedError,
)
from agentkit.events import (
    Event,
    Retry,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    ToolCallFinished,
    ToolCallRejected,
    ToolCallStarted,
)
from agentkit.messages import FunctionCall, Message, Part, TextPart, Usage
from agentkit.parsing import ParseResult
from agentkit.tools import Risk, RunContext, ToolSet
from agentkit.tools._call import ToolCall
from agentkit.trajectory import TrajectoryWriter
from agentkit.vision import (
    Frame,
    PromptEstimate,
    PromptTokenMonitor,
    ZoomResult,
    estimate_prompt_tokens,
)

if TYPE_CHECKING:
    from agentkit.agent._agent import Agent

__all__ = ["Run"]

log = logging.getLogger("agentkit.agent")

Emit = Callable[[Event], Awaitable[None]]
MAX_OUTPUT_CHARS = 20_000  # a tool result longer than this is cut before it reaches the model


class _StopRun(Exception):
    """Internal: ends the run with a status."""

    def __init__(self, status: RunStatus, error: AgentkitError | None = None) -> None:
        super().__init__(status)
        self.status: RunStatus = status
        self.error = error


@dataclass
class _Totals:
    usage: Usage = field(default_factory=Usage)
    tool_calls: int = 0
    invalid_calls: int = 0
    steps: int = 0


class Run:
    """State of one run. Created by :class:`Agent`; drive it with :meth:`execute`."""

    def __init__(
        self,
        agent: Agent[Any],
        backend: Backend,
        task: str,
        *,
        history: list[Message] | None,
        images: list[Any],
        run_id: str,
        writer: TrajectoryWriter,
        emit: Emit,
        should_stop: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.agent = agent
        self.backend = backend
        self.task = task
        self.run_id = run_id
        self.writer = writer
        self.emit = emit
        self.should_stop = should_stop
        self.toolset: ToolSet = agent.toolset_for_run()
        self.limits = agent.limits
        self.totals = _Totals()
        self.messages: list[Message] = list(history or [])
        self.observer = Observer(agent, writer)
        self._initial_images = images
        self._started = time.monotonic()
        self._final_text = ""
        self._output: Any = None
        self._pending_detail: list[Any] = []  # crops a tool asked the model to look at (zoom)
        self._pending_frames: list[Any] = []  # frames a tool returned (a screenshot)
        self._last_failed = False
        self._after_invalid = False  # the last turn had invalid calls (grammar "on_retry")
        self._token_monitor = PromptTokenMonitor()
        self._token_checks = 0
        self._repetition = RepetitionGuard()

    # -- the whole run -------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        status: RunStatus = "failed"
        error: AgentkitError | None = None
        self.writer.start(
            task=self.agent.redact(self.task),
            model=getattr(self.backend, "model", type(self.backend).__name__),
            tools=self.toolset.names(),
            limits=self.limits.__dict__,
        )
        await self.emit(RunStarted(self.run_id, self.agent.redact(self.task), self.writer.dir))
        try:
            await self._prepare()
            await self._loop()
            status = "completed"
        except _StopRun as stop:
            status, error = stop.status, stop.error
        except asyncio.CancelledError:
            status = "stopped"
            reason = self.should_stop()
            error = RunCancelledError(reason or "the run was cancelled")
            if reason is None:
                # cancelled from outside: record, then let the cancellation propagate
                await self._close(self._result(status, error))
                raise
            # cancelled by stop(): this is the run's normal end
        except AgentkitError as exc:
            status, error = "failed", exc
        except Exception as exc:  # noqa: BLE001 - a bug must still leave a complete trajectory
            status = "failed"
            error = AgentkitError(f"internal error: {type(exc).__name__}: {exc}")
            error.__cause__ = exc
        result = self._result(status, error)
        await self._close(result)
        await self.emit(RunFinished(result, step=self.totals.steps))
        return result

    def _result(self, status: RunStatus, error: AgentkitError | None) -> RunResult:
        return RunResult(
            run_id=self.run_id,
            status=status,
            output=self._output if status == "completed" else None,
            text=self._final_text,
            steps=self.totals.steps,
            tool_calls=self.totals.tool_calls,
            invalid_calls=self.totals.invalid_calls,
            usage=self.totals.usage,
            trajectory_dir=self.writer.dir,
            error=error,
            messages=self.messages,
            duration_s=time.monotonic() - self._started,
        )

    async def _close(self, result: RunResult) -> None:
        close_error: BaseException | None = None
        try:
            await asyncio.shield(self.toolset.aclose())
        except BaseException as exc:  # noqa: BLE001 - recorded, never lost
            close_error = exc
        output = result.output
        if isinstance(output, BaseModel):
            output = output.model_dump(mode="json")
        self.writer.finish(
            status=result.status,
            error=result.error or close_error,
            usage=result.usage.to_dict(),
            steps=result.steps,
            tool_calls=result.tool_calls,
            invalid_calls=result.invalid_calls,
            output=output,
            duration_s=round(result.duration_s, 3),
        )

    # -- set-up ---------------------------------------------------------------------------------
    async def _prepare(self) -> None:
        if self.agent.instructions and not any(m.role == "system" for m in self.messages):
            self.messages.insert(0, Message("system", self.agent.instructions))
        parts: list[Part] = [TextPart(self.agent.redact(self.task))]
        for i, image in enumerate(self._initial_images):
            frame = self.observer.to_frame(image)
            parts.append(await self.observer.attach(frame, f"input-{i}", mode="16x"))
        self.messages.append(Message("user", parts if len(parts) > 1 else parts[0].text))  # type: ignore[union-attr]

    # -- the loop -----------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            self._check_limits()
            self.totals.steps += 1
            step = self.totals.steps
            record: dict[str, Any] = {"step": step, "calls": [], "errors": [], "retry": None}
            timings: dict[str, float] = {}
            t0 = time.monotonic()
            try:
                done = await self._step(step, record, timings)
            finally:
                timings["step_s"] = time.monotonic() - t0
                record["timings"] = {k: round(v, 4) for k, v in timings.items()}
                self.writer.write_step(record)
            await self.emit(StepFinished(step, self.totals.usage, dict(record["timings"])))
            if done:
                return

    def _check_limits(self) -> None:
        lim = self.limits
        reason = self.should_stop()
        if reason is not None:
            raise _StopRun("stopped", RunCancelledError(reason))
        if time.monotonic() - self._started > lim.wall_clock_s:
            raise _StopRun(
                "limit",
                LimitExceededError(
                    f"the run used its wall-clock limit of {lim.wall_clock_s:g} s; raise "
                    "Limits(wall_clock_s=...) to allow more",
                    limit="wall_clock",
                ),
            )
        if self.totals.steps >= lim.max_steps:
            raise _StopRun(
                "limit",
                LimitExceededError(
                    f"the run reached max_steps={lim.max_steps} without a final answer; raise "
                    "Limits(max_steps=...) or simplify the task",
                    limit="max_steps",
                ),
            )

    async def _step(self, step: int, record: dict[str, Any], timings: dict[str, float]) -> bool:
        """One model turn and the calls it made. Returns True when the run is done."""
        # observe
        t = time.monotonic()
        obs = await self.observer.observe(
            step,
            task=self.task,
            detail_frames=self._pending_detail,
            tool_frames=self._pending_frames,
            last_action_failed=self._last_failed,
        )
        self._pending_detail, self._pending_frames = [], []
        timings["observe_s"] = time.monotonic() - t
        if obs.message is not None:
            self.messages.append(obs.message)
        record.update(
            mode=obs.choice.mode,
            max_slice_nums=obs.choice.max_slice_nums,
            mode_reason=obs.choice.reason,
            frames=obs.frame_records,
            visual_tokens=obs.visual_tokens,
        )
        await self.emit(
            StepStarted(
                step,
                obs.choice.mode,
                obs.choice.max_slice_nums,
                obs.choice.reason,
                obs.visual_tokens,
                tuple(f["id"] for f in obs.frame_records),
            )
        )

        # request, with the retries that are safe here: nothing of this turn has run yet
        t = time.monotonic()
        response, parsed, estimate = await self._request(step, obs.choice, record, obs.detail_only)
        timings["model_s"] = time.monotonic() - t
        if response.first_token_s is not None:
            timings["first_token_s"] = response.first_token_s
        usage = Usage(
            response.usage.prompt_tokens,
            response.usage.completion_tokens,
            estimate.visual,
            1,
        )
        if response.usage.prompt_tokens and estimate.images:
            # Step to step, template and tool tokens cancel out: the change in the server's count
            # must match the change in agentkit's visual count. The first check is only recorded.
            first = self._token_checks == 0
            check = self._token_monitor.check(
                estimate.visual, response.usage.prompt_tokens, estimate.text
            )
            self._token_checks += 1
            record["token_check"] = check.to_dict()
            if not check.ok and not first:
                log.warning("step %d: %s", step, check.message)
        self.totals.usage = self.totals.usage + usage
        record["response"] = {
            "text": response.text,
            "reasoning": response.reasoning,
            "server_tool_calls": [c.__dict__ for c in response.tool_calls],
            "finish_reason": response.finish_reason,
            "usage": usage.to_dict(),
            # what the backend itself counted (the embedded backends read it off the input ids)
            "backend_visual_tokens": response.usage.visual_tokens or None,
            "first_token_s": response.first_token_s,
            "duration_s": round(response.duration_s, 4),
            "attempts": response.attempts,
        }
        record["visible_text"] = parsed.text

        # invalid calls: nothing of this turn runs; the model is told and tries again
        self._after_invalid = bool(parsed.errors)
        if parsed.errors:
            await self._reject(step, parsed, record)
            return False

        # calls, or the final answer
        t = time.monotonic()
        calls = parsed.calls
        self.messages.append(
            Message(
                "assistant",
                parsed.text,
                tool_calls=[FunctionCall(c.id, c.name, c.arguments) for c in calls],
            )
        )
        if not calls:
            return self._final_answer(parsed.text, record)
        done = await self._execute_calls(step, calls, record)
        timings["tools_s"] = time.monotonic() - t
        return done

    async def _request(
        self, step: int, choice: Any, record: dict[str, Any], detail_only: bool = False
    ) -> tuple[ModelResponse, ParseResult, PromptEstimate]:
        overflow_recovered = False
        stream_retries = 0
        while True:
            request = await self._build_request(choice, detail_only)
            record["request"] = {
                "messages": len(request.messages),
                "images": sum(len(m.images) for m in request.messages),
                "image_sizes": [[p.width, p.height] for m in request.messages for p in m.images],
                "tools": [t["function"]["name"] for t in request.tools],
                "mode": request.mode,
                "max_tokens": request.max_tokens,
                "tool_choice": request.tool_choice,
                "grammar": next(iter(request.structured_outputs))
                if request.structured_outputs
                else None,
            }
            estimate = estimate_prompt_tokens(
                request.messages,
                request.mode,
                request.max_slice_nums,
                extra_text=json.dumps(request.tools) if request.tools else "",
            )
            record["request"]["visual_tokens"] = estimate.visual
            try:
                response, parsed = await stream_turn(
                    self.backend,
                    request,
                    self.toolset,
                    step=step,
                    max_calls=self.limits.max_calls_per_step,
                    emit=self.emit,
                )
                return response, parsed, estimate
            except ContextLengthError as exc:
                if overflow_recovered or not self.observer.shrink_history(self.messages):
                    raise
                overflow_recovered = True
                reason = "context_length"
                msg = f"the prompt did not fit ({exc}); older frames were dropped"
            except (StreamInterruptedError, BackendTimeoutError) as exc:
                # The backend retries what failed before any output; a turn that broke off
                # midway is repeated here, once, because none of its calls has run.
                if stream_retries >= self.limits.stream_retries:
                    raise
                stream_retries += 1
                reason = type(exc).__name__
                msg = f"the model turn was interrupted ({exc}); nothing ran, so it is repeated"
            record.setdefault("retries", []).append({"reason": reason, "message": msg})
            await self.emit(Retry(step, reason, msg))

    async def _build_request(self, choice: Any, detail_only: bool = False) -> ModelRequest:
        s = self.agent.settings
        # the history policy re-encodes older frames as thumbnails: keep that off the event loop
        messages = await asyncio.to_thread(
            self.observer.history_view, list(self.messages), detail_only=detail_only
        )
        tools = self.toolset.openai_schemas()
        fields = self.agent.grammar.request_fields(self.toolset, after_invalid=self._after_invalid)
        return ModelRequest(
            messages=messages,
            tools=tools,
            mode=choice.mode,
            max_slice_nums=choice.max_slice_nums,
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            tool_choice=fields["tool_choice"],
            structured_outputs=fields["structured_outputs"],
            enable_thinking=s.enable_thinking,
            extra_body=dict(self.agent.extra_body),
        )

    async def _reject(self, step: int, parsed: ParseResult, record: dict[str, Any]) -> None:
        self.totals.invalid_calls += len(parsed.errors)
        record["errors"] = [self.agent.redact(e.to_dict()) for e in parsed.errors]
        for err in parsed.errors:
            await self.emit(ToolCallRejected(step, err))
        # The invalid calls are never written back as if valid: the history gets the prose only.
        if parsed.text.strip():
            self.messages.append(Message("assistant", parsed.text))
        budget = self.limits.invalid_call_budget
        if self.totals.invalid_calls > budget:
            raise _StopRun(
                "limit",
                LimitExceededError(
                    f"the model wrote {self.totals.invalid_calls} invalid tool calls, over the "
                    f"run's budget of {budget}; the last: {parsed.errors[-1].message}",
                    limit="invalid_calls",
                ),
            )
        prompt = retry_prompt(parsed.errors, self.toolset)
        record["retry"] = prompt
        self.messages.append(Message("user", prompt))
        await self.emit(Retry(step, "invalid_tool_call", prompt))

    def _final_answer(self, text: str, record: dict[str, Any]) -> bool:
        output_type = self.agent.output_type
        self._final_text = text
        if output_type is None:
            self._output = text
            record["final"] = text
            return True
        # A structured answer arrives through the final_result tool; plain text that parses is
        # accepted too, anything else is sent back as a retry.
        try:
            self._output = output_type.model_validate_json(text.strip())
        except Exception:  # noqa: BLE001 - pydantic's error goes back to the model
            prompt = (
                "Your answer must be given by calling the `final_result` tool with the fields of "
                "the requested result; plain text is not accepted."
            )
            self.totals.invalid_calls += 1
            if self.totals.invalid_calls > self.limits.invalid_call_budget:
                raise _StopRun(
                    "failed",
                    OutputValidationError(
                        "the model did not produce a valid final_result before the invalid-call "
                        "budget ran out"
                    ),
                ) from None
            record["retry"] = prompt
            self.messages.append(Message("user", prompt))
            return False
        record["final"] = self._output.model_dump(mode="json")
        return True

    async def _execute_calls(
        self, step: int, calls: list[ToolCall], record: dict[str, Any]
    ) -> bool:
        done = False
        self._last_failed = False
        for call in calls:
            reason = self.should_stop()
            if reason is not None:
                raise _StopRun("stopped", RunCancelledError(reason))
            if self.totals.tool_calls >= self.limits.max_tool_calls:
                raise _StopRun(
                    "limit",
                    LimitExceededError(
                        f"the run reached max_tool_calls={self.limits.max_tool_calls}; raise "
                        "Limits(max_tool_calls=...) to allow more",
                        limit="max_tool_calls",
                    ),
                )
            if done:
                # the final answer was given: nothing after it runs
                record["calls"].append(self._skipped_after_final(call))
                continue
            entry, finished = await self._execute_one(step, call)
            record["calls"].append(entry)
            if finished:
                done = True
        return done

    def _skipped_after_final(self, call: ToolCall) -> dict[str, Any]:
        reason = "called after the final answer"
        self.messages.append(
            Message("tool", f"Not run: {reason}.", tool_call_id=call.id, name=call.name)
        )
        return {
            "id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "source": call.source,
            "status": "refused",
            "output": "",
            "error": reason,
            "duration_s": 0.0,
        }

    async def _execute_one(self, step: int, call: ToolCall) -> tuple[dict[str, Any], bool]:
        agent = self.agent
        entry: dict[str, Any] = {
            "id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "source": call.source,
            "risk": str(getattr(call.tool.risk, "value", call.tool.risk)),
        }
        if call.name == "final_result":
            self._output = call.validated
            self._final_text = json.dumps(call.arguments, ensure_ascii=False)
            entry.update(status="ok", output="final result accepted", error=None, duration_s=0.0)
            self.messages.append(
                Message("tool", "final result accepted", tool_call_id=call.id, name=call.name)
            )
            return entry, True

        verdict = await agent.safety.review(call)
        await self.emit(ToolCallStarted(step, call))
        t = time.monotonic()
        error: str | None = None
        output_text: str
        status: str
        if verdict.decision == "refuse":
            status, error = "refused", verdict.reason
            output_text = f"Refused: {verdict.reason}. The action was not performed."
            self._last_failed = True
        else:
            ctx = RunContext(
                run_id=self.run_id,
                step=step,
                source=agent.source,
                settings=agent.settings,
                deps=agent.deps,
                frames=list(self.observer.current_frames),
                trajectory_dir=self.writer.dir,
                dry_run=verdict.decision == "dry_run",
            )
            if verdict.decision == "dry_run":
                status = "dry_run"
                output_text = f"Dry run: {call.name} was recorded, not performed."
            else:
                self.totals.tool_calls += 1
                unchanged = agent.source is None or self.observer.last_changed is False
                try:
                    warning = self._repetition.check(call, unchanged=unchanged)
                except LimitExceededError as exc:
                    raise _StopRun("limit", exc) from None
                try:
                    value = await call.tool.invoke(call.validated, ctx)
                    status = "ok"
                    output_text = self._render_output(value) + warning
                    if call.tool.risk != Risk.READ_ONLY:
                        await self.observer.settle(agent.settle_timeout_s)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a tool's failure goes to the model
                    status, error = "error", f"{type(exc).__name__}: {exc}"
                    output_text = f"Error: {exc}"
                    self._last_failed = True
        output_text = agent.redact(output_text)
        if len(output_text) > MAX_OUTPUT_CHARS:
            output_text = output_text[:MAX_OUTPUT_CHARS] + "\n[output cut]"
        duration = time.monotonic() - t
        entry.update(status=status, output=output_text, error=error, duration_s=round(duration, 4))
        self.messages.append(Message("tool", output_text, tool_call_id=call.id, name=call.name))
        await self.emit(
            ToolCallFinished(step, call, output_text, error, duration, status)  # type: ignore[arg-type]
        )
        return entry, False

    def _render_output(self, value: Any) -> str:
        frame = getattr(value, "frame", None)
        if isinstance(frame, Frame):
            if isinstance(value, ZoomResult):
                self._pending_detail.append(frame)
                return value.text or "The requested region is attached at high detail."
            self._pending_frames.append(frame)
            return str(getattr(value, "text", "") or "The frame is attached.")
        if value is None:
            return "done"
        if isinstance(value, str):
            return value
        if isinstance(value, BaseModel):
            return value.model_dump_json()
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(value)
