"""The fault suite: every server fault of the robustness table, through the whole agent.

Each test asserts the typed outcome, how long it took, that no action ran from a partial
response, that no executed action was replayed, and that the trajectory is complete and names
the terminal status.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agentkit import Agent, Limits, Settings, tool
from agentkit.backends.openai_compat import OpenAICompatBackend
from agentkit.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BadRequestError,
    CaptureError,
    ContextLengthError,
    ModelNotFoundError,
    OverloadedError,
    ProtocolError,
    ServerError,
    ServerUnavailableError,
    StreamInterruptedError,
)
from agentkit.testing.server import (
    ContextLength,
    Cut,
    Garbage,
    Hang,
    HttpError,
    InBandError,
    Kill,
    LocalServer,
    NoDone,
    NotReady,
    Reply,
    Stall,
)
from tests.helpers import call_text, read_run

FAST = dict(
    first_token_timeout_s=0.6,
    idle_timeout_s=0.6,
    connect_timeout_s=1.0,
    max_retries=2,
    retry_backoff_s=0.05,
    max_retry_after_s=2.0,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    cfg = tmp_path / "agentkit.toml"
    cfg.write_text("")
    return Settings.resolve(env={}, config_path=cfg, trajectory_dir=str(tmp_path / "runs"))


class Actions:
    """A tool that records every execution, to prove nothing ran twice or from a partial reply."""

    def __init__(self) -> None:
        self.runs: list[int] = []

        @tool
        def press(n: int) -> str:
            """Press button number n.

            Args:
                n: the button.
            """
            self.runs.append(n)
            return f"pressed {n}"

        self.tool = press


def run_agent(
    settings: Settings,
    script: list,
    *,
    server_kw: dict | None = None,
    limits: Limits | None = None,
    **backend_kw,
):
    actions = Actions()
    with LocalServer(script, **(server_kw or {})) as srv:
        backend = OpenAICompatBackend(srv.base_url, settings=settings, **{**FAST, **backend_kw})
        agent = Agent(backend, tools=[actions.tool], settings=settings, limits=limits)
        t0 = time.monotonic()
        result = agent.run("press the buttons")
        elapsed = time.monotonic() - t0
        chats = [r for r in srv.requests if r.path.endswith("/chat/completions")]
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == result.status, "run.json names the terminal status"
    assert lines[-1]["type"] == "end" and lines[-1]["status"] == result.status
    return result, actions, chats, elapsed, lines


def test_server_not_ready_then_ready(settings: Settings) -> None:
    with LocalServer(["hi"]) as srv:
        srv.inject(NotReady(seconds=0.6))
        backend = OpenAICompatBackend(srv.base_url, settings=settings, **FAST)
        t0 = time.monotonic()
        models = asyncio.run(backend.wait_until_ready(timeout_s=5, interval_s=0.1))
        assert 0.4 < time.monotonic() - t0 < 3
        assert models == [srv.model]


def test_server_never_ready_names_the_url(settings: Settings) -> None:
    with LocalServer([]) as srv:
        srv.inject(NotReady(seconds=30))
        backend = OpenAICompatBackend(srv.base_url, settings=settings, **FAST)
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailableError, match=srv.base_url):
            asyncio.run(backend.wait_until_ready(timeout_s=0.8, interval_s=0.1))
        assert time.monotonic() - t0 < 2.5


def test_connection_refused(settings: Settings) -> None:
    with LocalServer([]) as srv:
        url = srv.base_url
    actions = Actions()
    agent = Agent(
        OpenAICompatBackend(url, settings=settings, **FAST), tools=[actions.tool], settings=settings
    )
    t0 = time.monotonic()
    result = agent.run("x")
    assert time.monotonic() - t0 < 5
    assert isinstance(result.error, ServerUnavailableError) and url.rsplit("/v1", 1)[0] in str(
        result.error
    )
    assert actions.runs == []


def test_401_is_not_retried_and_hides_the_key(settings: Settings) -> None:
    result, actions, chats, elapsed, _ = run_agent(
        settings, [], server_kw={"api_key": "right-key"}, api_key="sk-wrong-secret-123"
    )
    assert isinstance(result.error, AuthenticationError) and len(chats) == 1
    assert "sk-wrong-secret-123" not in str(result.error)
    files = "".join(p.read_text() for p in result.trajectory_dir.glob("*.json*"))
    assert "sk-wrong-secret-123" not in files
    assert elapsed < 3


def test_404_lists_the_served_models(settings: Settings) -> None:
    result, _, chats, elapsed, _ = run_agent(settings, [], model="no-such-model")
    assert isinstance(result.error, ModelNotFoundError)
    assert "openbmb/MiniCPM-V-4.6" in str(result.error) and len(chats) == 1 and elapsed < 3


def test_context_overflow_recovers_once_then_fails_with_numbers(settings: Settings) -> None:
    ok, *_ = run_agent(settings, [ContextLength(), "fits now"])
    # nothing to drop (no images): the typed error carries the token numbers
    assert ok.status == "failed" and isinstance(ok.error, ContextLengthError)
    assert ok.error.prompt_tokens == 9000 and ok.error.max_model_len == 8192


def test_other_400_is_not_retried(settings: Settings) -> None:
    result, _, chats, elapsed, _ = run_agent(settings, [HttpError(400, "bad field 'foo'"), "never"])
    assert isinstance(result.error, BadRequestError) and "bad field" in str(result.error)
    assert len(chats) == 1 and elapsed < 3


@pytest.mark.parametrize("status", [429, 503])
def test_overload_with_short_retry_after_is_retried(settings: Settings, status: int) -> None:
    result, _, chats, elapsed, _ = run_agent(
        settings, [HttpError(status, "busy", retry_after=0.3), "ok"]
    )
    assert result.status == "completed" and len(chats) == 2 and 0.25 < elapsed < 3


@pytest.mark.parametrize("status", [429, 503])
def test_overload_with_absurd_retry_after_fails_fast(settings: Settings, status: int) -> None:
    result, _, chats, elapsed, _ = run_agent(
        settings, [HttpError(status, "busy", retry_after=999), "ok"]
    )
    assert isinstance(result.error, OverloadedError) and elapsed < 3 and len(chats) == 1


def test_500_then_recovery(settings: Settings) -> None:
    result, actions, chats, _, _ = run_agent(
        settings, [HttpError(500), call_text("press", n=1), HttpError(500), "done"]
    )
    assert result.status == "completed" and actions.runs == [1] and len(chats) == 4


def test_500_forever_is_bounded(settings: Settings) -> None:
    result, _, chats, elapsed, _ = run_agent(
        settings, [HttpError(500)] * 10, limits=Limits(stream_retries=0)
    )
    assert isinstance(result.error, ServerError) and len(chats) == 3 and elapsed < 3


def test_server_killed_mid_run(settings: Settings) -> None:
    result, actions, _, elapsed, lines = run_agent(settings, [call_text("press", n=1), Kill()])
    assert isinstance(result.error, (ServerUnavailableError, StreamInterruptedError, ServerError))
    assert actions.runs == [1] and elapsed < 5
    assert lines[0]["calls"][0]["status"] == "ok"  # saved up to the last completed step


def test_hang_before_first_byte(settings: Settings) -> None:
    result, actions, chats, elapsed, _ = run_agent(
        settings, [Hang(), Hang()], limits=Limits(stream_retries=1), max_retries=0
    )
    assert isinstance(result.error, BackendTimeoutError) and result.error.phase == "first_token"
    assert 1.0 < elapsed < 4 and actions.runs == []


def test_stall_mid_stream_discards_the_partial_call_and_retries(settings: Settings) -> None:
    partial = Reply(call_text("press", n=9), chunk_chars=8)
    result, actions, chats, elapsed, lines = run_agent(
        settings,
        [Stall(reply=partial, after_chunks=3), call_text("press", n=2), "done"],
        max_retries=0,
    )
    assert result.status == "completed" and actions.runs == [2] and elapsed < 4
    assert lines[0]["retries"][0]["reason"] in ("BackendTimeoutError", "StreamInterruptedError")


def test_connection_cut_mid_chunk(settings: Settings) -> None:
    partial = Reply(call_text("press", n=9), chunk_chars=8)
    result, actions, *_ = run_agent(
        settings, [Cut(reply=partial, after_chunks=3), "recovered"], max_retries=0
    )
    assert result.status == "completed" and result.output == "recovered" and actions.runs == []


def test_stream_without_done_is_interrupted_not_completed(settings: Settings) -> None:
    partial = Reply(call_text("press", n=9))
    result, actions, *_ = run_agent(
        settings, [NoDone(reply=partial), NoDone(reply=partial)], max_retries=0
    )
    assert isinstance(result.error, StreamInterruptedError) and actions.runs == []


def test_in_band_error_event(settings: Settings) -> None:
    result, actions, *_ = run_agent(
        settings, [InBandError(), InBandError()], max_retries=0, limits=Limits(stream_retries=0)
    )
    assert isinstance(result.error, BackendError) and "EngineCore" in str(result.error)
    assert actions.runs == []


def test_garbage_body(settings: Settings) -> None:
    result, *_ = run_agent(settings, [Garbage()], max_retries=0, limits=Limits(stream_retries=0))
    assert isinstance(result.error, ProtocolError) and len(str(result.error)) < 600


def test_server_parser_defects_are_validated(settings: Settings) -> None:
    script = [
        Reply(tool_calls=[{"name": "press", "arguments": '{"n": 1'}]),  # invalid JSON
        Reply(
            tool_calls=[{"name": "press", "arguments": {"n": "\u0663"}}]
        ),  # Arabic-Indic 3: int() takes it
        Reply(call_text("press", n=3), parse=False),  # a call the server left in content
        "done",
    ]
    result, actions, chats, _, lines = run_agent(
        settings, script, server_kw={"parse_tool_calls": True}
    )
    assert result.status == "completed" and actions.runs == [3]
    assert [e["kind"] for e in lines[0]["errors"]] == ["malformed"]
    assert [e["kind"] for e in lines[1]["errors"]] == ["bad_value"]


def test_duplicated_server_call_is_rejected(settings: Settings) -> None:
    dup = {"name": "press", "arguments": {"n": 4}}
    result, actions, *_ = run_agent(
        settings,
        [Reply(tool_calls=[dup, dup]), call_text("press", n=4), "done"],
        server_kw={"parse_tool_calls": True},
    )
    assert result.status == "completed" and actions.runs == [4]


def test_slow_but_progressing_stream_completes(settings: Settings) -> None:
    slow = Reply("slow " * 30, chunk_chars=5, delay_s=0.1)  # 3 s in all, 0.1 s between chunks
    result, _, _, elapsed, _ = run_agent(settings, [slow])
    assert result.status == "completed" and elapsed > 2.5


def test_user_stop_mid_stream(settings: Settings) -> None:
    import threading

    actions = Actions()
    slow = Reply(call_text("press", n=5), chunk_chars=1, delay_s=0.05)
    with LocalServer([slow]) as srv:
        agent = Agent(
            OpenAICompatBackend(srv.base_url, settings=settings, **FAST),
            tools=[actions.tool],
            settings=settings,
        )
        threading.Timer(0.4, agent.stop).start()
        t0 = time.monotonic()
        result = agent.run("x")
        assert time.monotonic() - t0 < 1.5
    assert result.status == "stopped" and actions.runs == []
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "stopped" and lines[-1]["status"] == "stopped"


SIGNAL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from agentkit import Agent, Settings, ToolSet, tool
    from agentkit.backends.openai_compat import OpenAICompatBackend
    released = []

    @tool
    def hold(seconds: float) -> str:
        '''Hold a key for a while.

        Args:
            seconds: how long.
        '''
        print("ACTION", flush=True)
        time.sleep(seconds)
        return "held"

    def release():
        with open(sys.argv[3], "w") as f:
            f.write("released")

    settings = Settings.resolve(env={}, config_path=sys.argv[4], trajectory_dir=sys.argv[2])
    agent = Agent(OpenAICompatBackend(sys.argv[1], settings=settings), settings=settings,
                  tools=ToolSet([hold], on_close=[release]))
    result = agent.run("hold")
    print("STATUS", result.status, result.trajectory_dir, flush=True)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_action(settings: Settings, tmp_path: Path, sig: int) -> None:
    script = tmp_path / "agent_script.py"
    script.write_text(SIGNAL_SCRIPT)
    released = tmp_path / "released.txt"
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("")
    with LocalServer([call_text("hold", seconds=0.8), "never reached"]) as srv:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.Popen(
            [
                sys.executable,
                str(script),
                srv.base_url,
                str(tmp_path / "runs"),
                str(released),
                str(cfg),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ACTION", proc.stderr.read() if proc.stderr else ""
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 < 2.0
    assert "STATUS stopped" in out, err
    assert released.read_text() == "released"
    run_dir = Path(out.split("STATUS stopped", 1)[1].strip())
    meta, lines = read_run(run_dir)
    assert meta["status"] == "stopped" and lines[-1]["type"] == "end"


class BrokenScreen:
    def __init__(self) -> None:
        self.calls = 0

    def grab(self):
        self.calls += 1
        raise CaptureError("XGetImage failed after 3 tries: the display went away")


def test_capture_failure_is_typed_and_recorded(settings: Settings) -> None:
    agent = Agent(_NeverCalled(), source=BrokenScreen(), settings=settings)
    result = agent.run("look")
    assert isinstance(result.error, CaptureError) and result.status == "failed"
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "failed" and meta["error"]["type"] == "CaptureError"


class _NeverCalled:
    model = "none"

    async def stream(self, request):  # pragma: no cover - must not be reached
        raise AssertionError("the model must not be called without an observation")
        yield


def test_camera_unplugged(settings: Settings, tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    from agentkit.vision import CameraSource

    missing = tmp_path / "unplugged.mp4"
    try:
        source = CameraSource(str(missing), warmup=0, reconnect=True)
    except CaptureError:
        return  # refusing to open is the typed outcome too
    agent = Agent(_NeverCalled(), source=source, settings=settings)
    t0 = time.monotonic()
    result = agent.run("watch")
    assert isinstance(result.error, CaptureError) and time.monotonic() - t0 < 10
    assert cv2 is not None


@pytest.mark.xvfb
def test_blank_frame_is_a_warning_not_a_failure(settings: Settings, xvfb_display) -> None:
    from agentkit.testing import ScriptedBackend
    from agentkit.vision import BlankFrameWarning, ScreenSource

    # nothing is drawn: the root window of a fresh Xvfb is black
    agent = Agent(
        ScriptedBackend(["nothing to see"]),
        source=ScreenSource(region=(1500, 700, 64, 64)),
        settings=settings,
    )
    with pytest.warns(BlankFrameWarning):
        result = agent.run("look")
    assert result.status == "completed"
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "completed" and len(lines[0]["frames"]) == 1
