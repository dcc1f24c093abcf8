"""The chat session in-process: slash commands, answers, confirmation, cancellation, history."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from pathlib import Path

import pytest
from rich.console import Console

from agentkit import Risk, Settings, tool
from agentkit.cli.chat import ChatSession
from agentkit.testing import ScriptedBackend, ScriptedReply
from agentkit.tools import ToolSet


@tool(risk=Risk.DESTRUCTIVE)
def delete_file(path: str) -> str:
    """Delete a file.

    Args:
        path: the file to delete.
    """
    return f"deleted {path}"


@tool(risk=Risk.READ_ONLY)
def read_note(name: str) -> str:
    """Read a note.

    Args:
        name: the note.
    """
    return f"note {name}: buy milk"


def call_text(name: str, /, **params: str) -> str:
    lines = ["<tool_call>", f"<function={name}>"]
    for key, value in params.items():
        lines += [f"<parameter={key}>", value, "</parameter>"]
    return "\n".join([*lines, "</function>", "</tool_call>"])


class FakeReader:
    """Answers confirmation prompts from a list and records what was asked."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.answers = list(answers or [])
        self.asked: list[str] = []

    async def read_line(self, prompt: str) -> str:
        raise EOFError

    async def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        return self.answers.pop(0) if self.answers else ""


def make_session(
    tmp_path: Path, script: list[object], answers: list[str] | None = None
) -> ChatSession:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    return ChatSession(
        backend=ScriptedBackend(script),  # type: ignore[arg-type]
        settings=Settings(trajectory_dir=tmp_path / "runs"),
        toolset=ToolSet([delete_file, read_note]),
        enabled={"delete_file", "read_note"},
        console=console,
        reader=FakeReader(answers),
        trajectory_dir=tmp_path / "runs",
    )


def output(session: ChatSession) -> str:
    return session.console.file.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def png(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "pic.png"
    Image.new("RGB", (448, 448), (10, 200, 10)).save(path)
    return path


def test_slash_commands(tmp_path: Path, png: Path) -> None:
    s = make_session(tmp_path, [])
    assert s.command("/mode 4x") and s.mode == "4x"
    assert s.command("/mode 8x") and s.mode == "4x"
    assert s.command("/tool delete_file off") and s.enabled == {"read_note"}
    assert s.command("/tool nope on")
    assert s.command("/tools")
    assert s.command(f"/image {png}") and len(s.attachments) == 1
    assert s.command("/image /no/such/file.png") and len(s.attachments) == 1
    assert s.command('/image "unterminated')
    assert s.command("/frobnicate")
    assert s.command("/usage")
    assert s.command("/help")
    assert s.command("/reset") and s.attachments == []
    assert s.command("/quit") is False and s.command("/exit") is False
    out = output(s)
    assert "mode: 4x" in out and "usage: /mode 16x|4x|auto (now 4x)" in out
    assert "delete_file: off" in out
    assert "no tool named 'nope'" in out
    assert "read_note" in out and "off" in out
    assert "attached pic.png (448x448, 261 visual tokens at 4x)" in out
    assert "error: cannot read image /no/such/file.png" in out
    assert "error: cannot parse the command" in out
    assert "error: unknown command /frobnicate" in out
    assert "prompt tokens" in out
    assert "/region X Y W H" in out
    assert "the conversation is empty again" in out


async def test_answers_keep_history_and_usage(tmp_path: Path, png: Path) -> None:
    s = make_session(
        tmp_path, ["It is **green**.", ScriptedReply(text="Green, as I said.", prompt_tokens=120)]
    )
    s.command(f"/image {png}")
    first = await s.ask("What colour is it?")
    assert first is not None and first.status == "completed"
    second = await s.ask("Again?")
    assert second is not None and second.output == "Green, as I said."
    backend = s.backend
    sent = backend.requests[1].messages
    assert any(m.role == "user" and "What colour is it?" in m.text for m in sent)
    assert any(m.role == "assistant" and "green" in m.text for m in sent)
    assert sum(len(m.images) for m in backend.requests[0].messages) == 1
    assert s.turns == 2 and s.usage.requests == 2 and s.usage.prompt_tokens >= 120
    assert s.attachments == []  # attachments go with one message only
    out = output(s)
    assert "It is green." in out and "Green, as I said." in out


async def test_save_and_load_continue_a_conversation(tmp_path: Path) -> None:
    s = make_session(tmp_path, ["First answer."])
    await s.ask("First question")
    s.command(f"/save {tmp_path / 'c.json'}")
    t = make_session(tmp_path, ["Second answer."])
    t.command(f"/load {tmp_path / 'c.json'}")
    await t.ask("Second question")
    sent = t.backend.requests[0].messages
    assert [m.text for m in sent if m.role == "user"][:1] == ["First question"]
    assert (
        json.loads((tmp_path / "c.json").read_text())["messages"][0]["content"] == "First question"
    )


@pytest.mark.parametrize(("answer", "status"), [("y", "ok"), ("n", "refused"), ("", "refused")])
async def test_destructive_call_asks(tmp_path: Path, answer: str, status: str) -> None:
    s = make_session(
        tmp_path, [call_text("delete_file", path="a.txt"), "Finished."], answers=[answer]
    )
    result = await s.ask("Delete a.txt")
    assert result is not None and result.status == "completed"
    assert s.reader.asked == ["Allow it? [y/N] "]
    out = output(s)
    assert "destructive action: confirm" in out
    mark = {"ok": "✓ delete_file · ok", "refused": "⊘ delete_file · refused"}[status]
    assert mark in out


async def test_read_only_call_does_not_ask(tmp_path: Path) -> None:
    s = make_session(tmp_path, [call_text("read_note", name="x"), "It says buy milk."])
    await s.ask("Read note x")
    assert s.reader.asked == []
    assert "note x: buy milk" in output(s)


async def test_disabled_tool_is_not_offered(tmp_path: Path) -> None:
    s = make_session(tmp_path, ["ok"])
    s.command("/tool delete_file off")
    await s.ask("hi")
    names = [t["function"]["name"] for t in s.backend.requests[0].tools]
    assert names == ["read_note"]


async def test_ctrl_c_cancels_the_answer_and_keeps_the_session(tmp_path: Path) -> None:
    slow = ScriptedReply(text="blah " * 200, chunk_chars=5, delay_s=0.02)  # about 4 s
    s = make_session(tmp_path, ["Before.", slow, "After."])
    await s.ask("one")
    history = list(s.history or [])
    task = asyncio.ensure_future(s.ask("tell me a long story"))
    while len(s.backend.requests) < 2:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    os.kill(os.getpid(), signal.SIGINT)  # the session's handler cancels the answer
    assert await asyncio.wait_for(task, 2.0) is None
    assert "(answer cancelled)" in output(s)
    assert s.history == history  # the cancelled turn is not part of the conversation
    after = await s.ask("two")
    assert after is not None and after.output == "After."


async def test_backend_failure_is_one_line_and_the_session_goes_on(tmp_path: Path) -> None:
    from agentkit.errors import AuthenticationError

    # not retryable: the loop gives up on the first attempt
    refused = AuthenticationError(
        "the server at http://127.0.0.1:9/v1 rejected the API key", url="http://127.0.0.1:9/v1"
    )
    s = make_session(tmp_path, [refused, "Back."])
    failed = await s.ask("hello")
    assert failed is not None and failed.status == "failed"
    assert "(failed: the server at http://127.0.0.1:9/v1 rejected the API key)" in output(s)
    ok = await s.ask("hello again")
    assert ok is not None and ok.output == "Back."


@pytest.mark.slow
def test_chat_command_on_the_embedded_engine(
    tmp_path: Path, png: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No server: `agentkit chat --model DIR` runs the tiny MiniCPM-V 4.6 in-process."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest_tiny import require_transformers_backend

    require_transformers_backend()
    from agentkit.cli import main
    from agentkit.testing.tiny_model import build_tiny_minicpmv

    model_dir = build_tiny_minicpmv(tmp_path / "tiny")
    for key in [k for k in os.environ if k.startswith("AGENTKIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AGENTKIT_MAX_TOKENS", "8")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"/image {png}\nWhat is it?\n/usage\n/quit\n"))
    code = main(["chat", "--model", str(model_dir), "--tools", "none"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0, out
    assert "embedded engine" in out
    assert "attached pic.png" in out
    assert "model requests" in out and "error" not in out.lower()


@pytest.mark.xvfb
def test_screen_and_region_on_xvfb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest_xvfb import start_xvfb

    try:
        ctx = start_xvfb(1280, 800)
        display = ctx.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        monkeypatch.setenv("DISPLAY", display.name)
        s = make_session(tmp_path, [])
        assert s.command("/screen")
        assert s.command("/region 10 20 300 200")
        assert s.command("/region 1 2 3")
    finally:
        ctx.__exit__(None, None, None)
    assert [f.size for f in s.attachments] == [(1280, 800), (300, 200)], output(s)
    out = output(s)
    assert "attached the screen (1280x800" in out
    assert "attached the region 10 20 300 200 (300x200" in out
    assert "usage: /region X Y W H" in out
