"""The agent loop against the in-process scripted backend (no HTTP)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from pydantic import BaseModel

from agentkit import Agent, Limits, SafetyPolicy, Settings, tool
from agentkit.errors import (
    ConfigurationError,
    ContextLengthError,
    LimitExceededError,
    ServerError,
    StreamInterruptedError,
)
from agentkit.events import (
    ModelTextDelta,
    Retry,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    ToolCallFinished,
    ToolCallRejected,
)
from agentkit.messages import ImagePart
from agentkit.testing import ScriptedBackend, ScriptedReply
from agentkit.tools import Risk
from agentkit.vision import Frame
from tests.helpers import call_text, read_run


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    cfg = tmp_path / "agentkit.toml"
    cfg.write_text("")
    return Settings.resolve(env={}, config_path=cfg, trajectory_dir=str(tmp_path / "runs"))


class Notes:
    def __init__(self) -> None:
        self.typed: list[str] = []
        self.clicks: list[tuple[int, int]] = []


def make_tools(notes: Notes) -> list:
    @tool
    def type_text(text: str) -> str:
        """Type text into the focused field.

        Args:
            text: the text to type.
        """
        notes.typed.append(text)
        return f"typed {len(text)} characters"

    @tool
    async def click(x: int, y: int) -> str:
        """Click a point.

        Args:
            x: horizontal position, 0-1000.
            y: vertical position, 0-1000.
        """
        notes.clicks.append((x, y))
        return "clicked"

    return [type_text, click]


def test_final_text_answer_writes_complete_trajectory(settings: Settings) -> None:
    backend = ScriptedBackend(["All done.\\nNothing to click."])
    agent = Agent(backend, settings=settings)
    result = agent.run("Say hello")
    assert result.status == "completed"
    assert (
        result.output == "All done.\nNothing to click."
    )  # literal backslash-n normalised in prose
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "completed"
    assert [x["type"] for x in lines] == ["step", "end"]
    assert lines[-1]["status"] == "completed"
    # the conversation keeps a real user message with the task
    assert backend.requests[0].messages[-1].role == "user"
    assert backend.requests[0].messages[-1].text == "Say hello"


def test_malformed_call_is_retried_and_never_runs(settings: Settings) -> None:
    notes = Notes()
    backend = ScriptedBackend(
        [
            "I will type the name.\n" + call_text("type_text", text="Ada"),
            # malformed: the integer parameter is prose, and the close tags are missing
            "<tool_call>\n<function=click>\n<parameter=x>\nleft side\n</parameter>\n",
            call_text("click", x=500, y=300),
            "The form is filled.",
        ]
    )
    agent = Agent(backend, tools=make_tools(notes), settings=settings)
    events = []

    async def go() -> None:
        async for ev in agent.stream("Fill the form"):
            events.append(ev)

    asyncio.run(go())
    result = events[-1].result
    assert result.status == "completed", result.error
    assert notes.typed == ["Ada"] and notes.clicks == [(500, 300)]
    assert result.steps == 4 and result.tool_calls == 2 and result.invalid_calls == 1
    # the retry message reached the model, listing what was wrong
    third = backend.requests[2].messages
    assert third[-1].role == "user"
    assert "not valid" in third[-1].text and "click" in third[-1].text
    # the invalid call was never written back into the history as a call
    assert all(c.name != "click" for m in third for c in m.tool_calls)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert any(isinstance(e, ToolCallRejected) for e in events)
    assert any(isinstance(e, Retry) and e.reason == "invalid_tool_call" for e in events)
    assert sum(isinstance(e, ToolCallFinished) for e in events) == 2
    text = "".join(e.text for e in events if isinstance(e, ModelTextDelta))
    assert "I will type the name." in text and "<tool_call>" not in text
    meta, lines = read_run(result.trajectory_dir)
    steps = [x for x in lines if x["type"] == "step"]
    assert [len(s["calls"]) for s in steps] == [1, 0, 1, 0]
    assert steps[1]["errors"] and steps[1]["retry"]
    assert steps[0]["calls"][0]["arguments"] == {"text": "Ada"}
    assert meta["tool_calls"] == 2


def test_invalid_call_budget_ends_the_run(settings: Settings) -> None:
    notes = Notes()
    bad = call_text("klick", x=1, y=2)
    backend = ScriptedBackend([bad] * 3)
    agent = Agent(
        backend, tools=make_tools(notes), settings=settings, limits=Limits(invalid_call_budget=2)
    )
    result = agent.run("click")
    assert result.status == "limit"
    assert isinstance(result.error, LimitExceededError) and result.error.limit == "invalid_calls"
    assert notes.clicks == []
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "limit" and lines[-1]["type"] == "end"


def test_max_steps(settings: Settings) -> None:
    notes = Notes()
    backend = ScriptedBackend([call_text("click", x=i, y=1) for i in range(5)])
    agent = Agent(backend, tools=make_tools(notes), settings=settings, limits=Limits(max_steps=3))
    result = agent.run("loop forever")
    assert result.status == "limit" and result.steps == 3
    assert result.error.limit == "max_steps"


def test_backend_failure_keeps_trajectory(settings: Settings) -> None:
    notes = Notes()
    backend = ScriptedBackend(
        [call_text("click", x=5, y=5), ServerError("engine died", status=500)]
    )
    agent = Agent(
        backend, tools=make_tools(notes), settings=settings, limits=Limits(stream_retries=0)
    )
    result = agent.run("click once")
    assert result.status == "failed" and isinstance(result.error, ServerError)
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "failed" and meta["error"]["type"] == "ServerError"
    assert lines[0]["calls"][0]["status"] == "ok"
    assert lines[-1] == {**lines[-1], "type": "end", "status": "failed"}


def test_interrupted_stream_is_retried_once(settings: Settings) -> None:
    backend = ScriptedBackend([StreamInterruptedError("cut"), "fine"])
    result = Agent(backend, settings=settings).run("hi")
    assert result.status == "completed" and result.output == "fine"
    _, lines = read_run(result.trajectory_dir)
    assert lines[0]["retries"][0]["reason"] == "StreamInterruptedError"


def test_context_overflow_drops_old_frames_once(settings: Settings) -> None:
    img = Image.new("RGB", (64, 48), "white")
    backend = ScriptedBackend(
        [ContextLengthError("too long", prompt_tokens=9000, max_model_len=8192), "ok"]
    )
    result = Agent(backend, settings=settings).run("look", images=[img, img])
    assert result.status == "completed"
    retried = backend.requests[1].messages
    assert sum(len(m.images) for m in retried) == 1
    backend2 = ScriptedBackend([ContextLengthError("too long")] * 2)
    result2 = Agent(backend2, settings=settings).run("look", images=[img, img])
    assert result2.status == "failed" and isinstance(result2.error, ContextLengthError)


def test_stop_during_a_slow_stream(settings: Settings) -> None:
    backend = ScriptedBackend([ScriptedReply("x" * 2000, chunk_chars=1, delay_s=0.01)])
    agent = Agent(backend, settings=settings)
    threading.Timer(0.3, agent.stop).start()
    t0 = time.monotonic()
    result = agent.run("write a lot")
    assert time.monotonic() - t0 < 2.0
    assert result.status == "stopped"
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "stopped" and lines[-1]["status"] == "stopped"


def test_destructive_tool_needs_a_confirmer(settings: Settings) -> None:
    deleted: list[str] = []

    @tool(risk=Risk.DESTRUCTIVE)
    def delete_file(path: str) -> str:
        """Delete a file.

        Args:
            path: the file.
        """
        deleted.append(path)
        return "deleted"

    script = [call_text("delete_file", path="/tmp/x"), "ok"]
    refused = Agent(ScriptedBackend(script), tools=[delete_file], settings=settings).run("clean")
    assert deleted == [] and refused.status == "completed"
    _, lines = read_run(refused.trajectory_dir)
    assert lines[0]["calls"][0]["status"] == "refused"
    asked: list[str] = []
    approve = SafetyPolicy(confirmer=lambda call: asked.append(call.name) or True)
    Agent(ScriptedBackend(script), tools=[delete_file], safety=approve, settings=settings).run(
        "clean"
    )
    assert deleted == ["/tmp/x"] and asked == ["delete_file"]


def test_dry_run_executes_nothing(settings: Settings) -> None:
    notes = Notes()
    backend = ScriptedBackend([call_text("type_text", text="secret plan"), "done"])
    result = Agent(
        backend, tools=make_tools(notes), safety=SafetyPolicy(dry_run=True), settings=settings
    ).run("type")
    assert notes.typed == []
    _, lines = read_run(result.trajectory_dir)
    assert lines[0]["calls"][0]["status"] == "dry_run"


def test_secrets_never_reach_trajectory_or_model(settings: Settings) -> None:
    @tool
    def read_token() -> str:
        """Read the API token."""
        return "token is hunter2-XYZ"

    backend = ScriptedBackend([call_text("read_token"), "fine"])
    safety = SafetyPolicy(secrets=["hunter2-XYZ"])
    result = Agent(backend, tools=[read_token], safety=safety, settings=settings).run(
        "use hunter2-XYZ"
    )
    files = [p.read_text() for p in result.trajectory_dir.glob("*.json*")]
    assert files and all("hunter2-XYZ" not in f for f in files)
    for req in backend.requests:
        assert all("hunter2-XYZ" not in m.text for m in req.messages)


class Answer(BaseModel):
    name: str
    count: int


def test_structured_output_through_final_result(settings: Settings) -> None:
    backend = ScriptedBackend(
        ["The answer is 3", call_text("final_result", name="buttons", count=3)]
    )
    agent = Agent(backend, output_type=Answer, settings=settings)
    result = agent.run("count the buttons")
    assert result.status == "completed"
    assert result.output == Answer(name="buttons", count=3)
    assert "final_result" in [t["function"]["name"] for t in backend.requests[0].tools]


class StubSource:
    def __init__(self) -> None:
        self.n = 0

    def grab(self) -> Frame:
        self.n += 1
        return Frame(Image.new("RGB", (640, 480), (self.n * 40, 0, 0)), "stub")


def test_frames_are_observed_each_step_with_the_mode(settings: Settings) -> None:
    notes = Notes()
    src = StubSource()
    backend = ScriptedBackend([call_text("click", x=10, y=10), "done"])
    agent = Agent(
        backend,
        tools=make_tools(notes),
        source=src,
        policy="4x",
        settings=settings,
        settle_timeout_s=0,
    )
    events: list = []

    async def go() -> None:
        async for ev in agent.stream("click the red thing"):
            events.append(ev)

    asyncio.run(go())
    assert src.n == 2
    assert [r.mode for r in backend.requests] == ["4x", "4x"]
    last = backend.requests[-1].messages[-1]
    assert isinstance(last.content[-1], ImagePart)
    started = [e for e in events if isinstance(e, StepStarted)]
    assert started[0].visual_tokens == 812 + 9  # 640x480 at 4x, from the reference table
    result = events[-1].result
    _, lines = read_run(result.trajectory_dir)
    frame = lines[0]["frames"][0]
    assert (result.trajectory_dir / frame["path"]).exists()
    assert lines[0]["mode"] == "4x" and result.usage.visual_tokens == 3 * (
        812 + 9
    )  # step 2 sends both frames
    assert any(isinstance(e, StepFinished) for e in events)


def test_run_inside_event_loop_is_a_clear_error(settings: Settings) -> None:
    agent = Agent(ScriptedBackend(["x"]), settings=settings)

    async def go() -> None:
        with pytest.raises(ConfigurationError, match="run_async"):
            agent.run("x")

    asyncio.run(go())


def test_closing_the_event_stream_stops_the_run(settings: Settings) -> None:
    backend = ScriptedBackend([ScriptedReply("y" * 1000, chunk_chars=1, delay_s=0.005)])
    agent = Agent(backend, settings=settings)

    async def go() -> Path:
        run_dir = None
        async for ev in agent.stream("long"):
            if isinstance(ev, RunStarted):
                run_dir = ev.trajectory_dir
            if isinstance(ev, ModelTextDelta):
                break
        return run_dir

    run_dir = asyncio.run(go())
    meta, _ = read_run(run_dir)
    assert meta["status"] == "stopped"


def test_run_finished_is_last_and_concurrent_runs_are_independent(settings: Settings) -> None:
    agent = Agent(ScriptedBackend(["a", "b", "c"]), settings=settings)

    async def go() -> list:
        return await asyncio.gather(*(agent.run_async(f"task {i}") for i in range(3)))

    results = asyncio.run(go())
    assert sorted(r.output for r in results) == ["a", "b", "c"]
    assert len({r.trajectory_dir for r in results}) == 3
    assert isinstance(RunFinished, type)


class StillSource:
    """A screen that never changes."""

    def __init__(self) -> None:
        self.grabs = 0

    def grab(self) -> Frame:
        self.grabs += 1
        return Frame(Image.new("RGB", (320, 200), "gray"), "still")


def test_same_action_on_unchanged_screen_warns_then_stops(settings: Settings) -> None:
    notes = Notes()
    backend = ScriptedBackend([call_text("click", x=7, y=7)] * 4)
    agent = Agent(backend, tools=make_tools(notes), source=StillSource(), settings=settings)
    result = agent.run("press the dead button")
    assert result.status == "limit" and result.error.limit == "repetition"
    assert notes.clicks == [(7, 7), (7, 7)]  # the third identical click never ran
    warned = backend.requests[2].messages
    tool_msgs = [m for m in warned if m.role == "tool"]
    assert "repeated the same action" in tool_msgs[-1].text
    assert "unchanged since your last action" in warned[-1].text


def test_action_waits_for_the_screen_to_settle(settings: Settings) -> None:
    notes = Notes()
    src = StillSource()
    backend = ScriptedBackend([call_text("click", x=1, y=2), "done"])
    Agent(backend, tools=make_tools(notes), source=src, settings=settings).run("click")
    # step 1 grab, then at least two grabs to see the screen settle; step 2 reuses the settled frame
    assert src.grabs == 3


def test_token_mismatch_with_the_server_is_detected(settings: Settings) -> None:
    notes = Notes()
    src = StubSource()
    honest = ScriptedBackend([call_text("click", x=1, y=1), "done"])
    agent = Agent(
        honest, tools=make_tools(notes), source=src, settings=settings, settle_timeout_s=0
    )
    _, lines = read_run(agent.run("click").trajectory_dir)
    assert [x["token_check"]["ok"] for x in lines if x["type"] == "step"] == [True, True]

    def lying(request):
        # a server that counts each image 300 tokens higher than agentkit does (another version)
        from agentkit.vision import estimate_prompt_tokens

        est = estimate_prompt_tokens(
            request.messages, request.mode, extra_text=json.dumps(request.tools)
        )
        first = not any(m.role == "tool" for m in request.messages)
        text = call_text("click", x=2, y=2) if first else "done"
        return ScriptedReply(text, prompt_tokens=est.total + 300 * est.images)

    liar = ScriptedBackend([lying, lying])
    agent2 = Agent(
        liar, tools=make_tools(notes), source=StubSource(), settings=settings, settle_timeout_s=0
    )
    _, lines2 = read_run(agent2.run("click").trajectory_dir)
    checks = [x["token_check"] for x in lines2 if x["type"] == "step"]
    assert checks[1]["ok"] is False and "expected" in checks[1]["message"]


def test_zoom_sends_only_the_crop_at_4x(settings: Settings) -> None:
    from agentkit.vision import zoom_tool

    src = StubSource()
    backend = ScriptedBackend(
        [call_text("zoom", x1=0, y1=0, x2=250, y2=250), "The small text says hello."]
    )
    agent = Agent(
        backend,
        tools=[zoom_tool()],
        source=src,
        policy="16x",
        settings=settings,
        settle_timeout_s=0,
    )
    result = agent.run("Read the small text in the corner")
    assert result.status == "completed"
    first, second = backend.requests
    assert first.mode == "16x" and second.mode == "4x"
    assert src.n == 1  # the zoom step reuses what was seen; no new capture
    images = [p for m in second.messages for p in m.images]
    assert len(images) == 1 and images[0].width <= 320  # only the crop, not the full 640x480
    _, lines = read_run(result.trajectory_dir)
    assert lines[1]["mode"] == "4x" and "zoom" in lines[1]["frames"][0]["id"]


def test_a_few_typed_characters_count_as_a_change(settings: Settings) -> None:
    class Typing:
        def __init__(self) -> None:
            self.n = 0

        def grab(self) -> Frame:
            self.n += 1
            img = Image.new("RGB", (1920, 1080), "white")
            for i in range(self.n):  # one more 6x9 "character" per grab
                img.paste((0, 0, 0), (100 + 7 * i, 100, 106 + 7 * i, 109))
            return Frame(img, "typing")

    notes = Notes()
    backend = ScriptedBackend([call_text("type_text", text="a"), "done"])
    Agent(
        backend, tools=make_tools(notes), source=Typing(), settings=settings, settle_timeout_s=0
    ).run("type a")
    assert "unchanged" not in backend.requests[1].messages[-1].text


def test_calls_after_the_final_answer_do_not_run(settings: Settings) -> None:
    notes = Notes()
    turn = call_text("final_result", name="x", count=1) + "\n" + call_text("click", x=1, y=1)
    agent = Agent(
        ScriptedBackend([turn]),
        tools=make_tools(notes),
        output_type=Answer,
        settings=settings,
        limits=Limits(max_calls_per_step=None),
    )
    result = agent.run("answer, then click")
    assert result.status == "completed" and result.output == Answer(name="x", count=1)
    assert notes.clicks == []
    _, lines = read_run(result.trajectory_dir)
    assert [c["status"] for c in lines[0]["calls"]] == ["ok", "refused"]
