"""`agentkit chat` in a real terminal (tmux) against the local vLLM-like server.

The test types into the REPL with ``tmux send-keys`` and reads the screen with ``capture-pane``:
attach an image, ask, see the streamed answer; a tool call panel; approve a destructive action at
the y/N prompt; cancel a long answer with Ctrl-C and keep chatting; quit cleanly with Ctrl-D.
Skips when tmux is not installed (CI: ``apt-get install -y tmux``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TMUX = shutil.which("tmux")

pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed (apt-get install -y tmux)"
)

pytest.importorskip("agentkit.testing.server")
pytest.importorskip("prompt_toolkit")
from agentkit.testing.server import LocalServer, Reply  # noqa: E402

DEMO_TOOLS = textwrap.dedent(
    '''
    from agentkit import Risk, tool

    @tool(risk=Risk.DESTRUCTIVE)
    def delete_file(path: str) -> str:
        """Delete a file.

        Args:
            path: the file to delete.
        """
        return f"deleted {path}"

    TOOLS = [delete_file]
    '''
)


def call_text(name: str, /, **params: str) -> str:
    lines = ["<tool_call>", f"<function={name}>"]
    for key, value in params.items():
        lines += [f"<parameter={key}>", value, "</parameter>"]
    return "\n".join([*lines, "</function>", "</tool_call>"])


class Terminal:
    """One tmux session on a private server socket."""

    def __init__(self, socket_name: str, env: dict[str, str]) -> None:
        self.socket = socket_name
        self.env = env

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        proc = subprocess.run(
            [TMUX, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=20,
        )
        return proc.stdout

    def start(self, command: str, cwd: Path) -> None:
        self.tmux(
            "new-session", "-d", "-s", "chat", "-x", "110", "-y", "45", "-c", str(cwd), command
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", "chat", "-S", "-300")

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "chat", "-l", text)
        self.tmux("send-keys", "-t", "chat", "Enter")

    def key(self, key: str) -> None:
        self.tmux("send-keys", "-t", "chat", key)

    def wait_for(self, predicate: object, timeout: float = 15.0, what: str = "") -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            ok = predicate(screen) if callable(predicate) else str(predicate) in screen
            if ok:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or predicate!r}; the screen:\n{screen}")

    def prompts(self) -> int:
        return self.screen().count("you ›")

    def wait_prompt(self, count: int, timeout: float = 15.0) -> str:
        return self.wait_for(lambda s: s.count("you ›") >= count, timeout, f"prompt number {count}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTKIT_", "TMUX"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        TERM="xterm-256color",
        NO_COLOR="1",
    )
    term = Terminal(f"agentkit-test-{uuid.uuid4().hex[:8]}", env)
    try:
        yield term
    finally:
        term.tmux("kill-server")


def test_chat_in_a_real_terminal(tmp_path: Path, terminal: Terminal) -> None:
    (tmp_path / "demo_tools.py").write_text(DEMO_TOOLS)
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (235, 235, 235))
    ImageDraw.Draw(image).rectangle((120, 100, 360, 260), fill=(210, 30, 30))
    image.save(tmp_path / "shot.png")

    long_answer = " ".join(f"word{i}" for i in range(600))
    replies = [
        Reply(
            text="The image shows a **red rectangle** on a grey background.",
            chunk_chars=3,
            delay_s=0.01,
        ),
        Reply(text="I will delete it now.\n" + call_text("delete_file", path="x.txt")),
        Reply(text="Done: x.txt is deleted."),
        Reply(text=call_text("delete_file", path="y.txt")),
        Reply(text=long_answer, chunk_chars=6, delay_s=0.05),  # about 35 s: cancelled long before
        Reply(text="Still here, ready for more."),
    ]
    with LocalServer(replies=replies) as srv:
        command = shlex.join(
            [
                sys.executable,
                "-m",
                "agentkit",
                "chat",
                "--base-url",
                srv.base_url,
                "--tools",
                "demo_tools:TOOLS",
            ]
        )
        terminal.start(f"{command}; echo EXIT=$?; sleep 30", tmp_path)
        screen = terminal.wait_prompt(1)
        assert "agentkit chat · openbmb/MiniCPM-V-4.6" in screen
        assert "tools on: delete_file" in screen

        # attach an image, ask, see the streamed answer rendered as Markdown
        terminal.type("/image shot.png")
        terminal.wait_for("attached shot.png (640x480")
        terminal.wait_prompt(2)
        terminal.type("What is in the image?")
        screen = terminal.wait_for("red rectangle on a grey background.", what="the first answer")
        assert "**red rectangle**" not in screen  # Markdown, not raw text
        terminal.wait_prompt(3)

        # a destructive tool call: the y/N prompt, approve, see the panels
        terminal.type("Please delete x.txt")
        terminal.wait_for("Allow it? [y/N]", what="the confirmation prompt")
        screen = terminal.screen()
        assert "destructive action: confirm" in screen
        assert 'delete_file(path="x.txt")' in screen
        terminal.type("y")
        screen = terminal.wait_for("Done: x.txt is deleted.", what="the answer after the tool")
        assert "tool call · destructive" in screen
        assert "✓ delete_file · ok" in screen
        assert "deleted x.txt" in screen
        terminal.wait_prompt(4)

        # in one answer: a refusal at the prompt, then a long text cancelled with Ctrl-C (the
        # confirmation prompt must not have taken the answer's Ctrl-C handler away)
        terminal.type("Delete y.txt, then tell me a very long story")
        terminal.wait_for(lambda s: s.count("Allow it? [y/N]") == 2, what="the second confirmation")
        terminal.type("n")
        terminal.wait_for("⊘ delete_file · refused", what="the refusal panel")
        terminal.wait_for("word20 ", what="the long answer streaming")
        terminal.key("C-c")
        screen = terminal.wait_for("(answer cancelled)", what="the cancellation")
        assert "word599" not in screen
        terminal.wait_prompt(5)
        terminal.type("Are you still there?")
        terminal.wait_for("Still here, ready for more.", what="the answer after the cancellation")
        terminal.wait_prompt(6)

        # Ctrl-C at an empty prompt only prints a hint; Ctrl-D quits cleanly
        terminal.key("C-c")
        terminal.wait_for("Ctrl-D or /quit to leave", what="the hint")
        terminal.key("C-d")
        screen = terminal.wait_for("EXIT=", what="the chat to exit")
        bodies = srv.chat_requests

    assert "EXIT=0" in screen
    assert "bye" in screen
    assert "Traceback" not in screen
    # the image went with the first question; the tool result went back to the model
    first = bodies[0]["messages"]
    assert any(
        isinstance(m["content"], list) and any(p.get("type") == "image_url" for p in m["content"])
        for m in first
    )
    assert any(
        m["role"] == "tool" and "deleted x.txt" in json.dumps(m) for m in bodies[2]["messages"]
    )
    # the refusal went back to the model; the cancelled turn left the conversation as it was
    assert "confirmation said no" in json.dumps(bodies[4]["messages"][-1])
    last_user = [m for m in bodies[5]["messages"] if m["role"] == "user"]
    assert "Are you still there?" in json.dumps(last_user[-1])
    assert not any("very long story" in json.dumps(m) for m in bodies[5]["messages"])


def test_run_asks_on_the_terminal(tmp_path: Path, terminal: Terminal) -> None:
    """`agentkit run` in a terminal asks y/N before a destructive call; no --yes needed."""
    (tmp_path / "demo_tools.py").write_text(DEMO_TOOLS)
    replies = [
        Reply(text=call_text("delete_file", path="a.txt")),
        Reply(text=call_text("delete_file", path="b.txt")),
        Reply(text="Deleted a.txt; b.txt was refused."),
    ]
    with LocalServer(replies=replies) as srv:
        command = shlex.join(
            [
                sys.executable,
                "-m",
                "agentkit",
                "run",
                "Delete a.txt and b.txt",
                "--base-url",
                srv.base_url,
            ]
            + ["--tools", "demo_tools:TOOLS", "--source", "none"]
        )
        terminal.start(f"{command}; echo EXIT=$?; sleep 30", tmp_path)
        terminal.wait_for("Allow it? [y/N]", what="the first question")
        assert 'delete_file(path="a.txt")' in terminal.screen()
        terminal.type("y")
        terminal.wait_for(lambda s: s.count("Allow it? [y/N]") == 2, what="the second question")
        terminal.key("C-c")  # at the question: no
        screen = terminal.wait_for("EXIT=", what="the run to end")
    assert "EXIT=0" in screen, screen
    assert "✓ ok (" in screen and "deleted a.txt" in screen
    assert "⊘ refused" in screen
    assert "Deleted a.txt; b.txt was refused." in screen
