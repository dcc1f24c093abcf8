"""`agentkit run`, `chat` (piped), `doctor`, `models`, `tools`, `capture` end to end against LocalServer.

Each command runs as a real process (``python -m agentkit``) talking HTTP to a vLLM-like server on
127.0.0.1 in the test process.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("agentkit.testing.server")
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

    @tool(risk=Risk.READ_ONLY)
    def read_note(name: str) -> str:
        """Read a note.

        Args:
            name: the note's name.
        """
        return f"the note {name} says: buy milk"

    TOOLS = [delete_file, read_note]
    '''
)


def call_text(name: str, /, **params: object) -> str:
    lines = ["<tool_call>", f"<function={name}>"]
    for key, value in params.items():
        lines += [
            f"<parameter={key}>",
            value if isinstance(value, str) else json.dumps(value),
            "</parameter>",
        ]
    return "\n".join([*lines, "</function>", "</tool_call>"])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "demo_tools.py").write_text(DEMO_TOOLS)
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (240, 240, 240))
    ImageDraw.Draw(image).rectangle((100, 100, 300, 200), fill=(200, 30, 30))
    image.save(tmp_path / "shot.png")
    return tmp_path


def env_for(workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTKIT_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(workdir)]),
        XDG_STATE_HOME=str(workdir / "state"),
        XDG_CONFIG_HOME=str(workdir / "config"),
        NO_COLOR="1",
        COLUMNS="120",
        **extra,
    )
    return env


def agentkit(
    workdir: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentkit", *args],
        capture_output=True,
        text=True,
        input=stdin if stdin is not None else "",
        cwd=workdir,
        env=env or env_for(workdir),
        timeout=timeout,
    )


@pytest.fixture
def cli(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``main()`` in this process (faster than a subprocess), with the same isolation."""
    from agentkit.cli import main

    monkeypatch.chdir(workdir)
    monkeypatch.syspath_prepend(str(workdir))
    for key in [k for k in os.environ if k.startswith("AGENTKIT_")]:
        monkeypatch.delenv(key)
    for key, value in (("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config")):
        monkeypatch.setenv(key, str(workdir / value))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")

    def call(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return call


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port  # nothing listens there any more: connection refused


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# ----------------------------------------------------------------------------- run


def test_run_completes_a_scripted_task(workdir: Path, cli: Callable[..., Any]) -> None:
    replies = [
        Reply(text="I will read the note first.\n" + call_text("read_note", name="shopping")),
        Reply(text="The note says to buy milk."),
    ]
    with LocalServer(replies=replies) as srv:
        proc = agentkit(
            workdir,
            "run", "What does the shopping note say?",
            "--base-url", srv.base_url,
            "--image", "shot.png",
            "--tools", "demo_tools:TOOLS",
            "--trajectory-dir", "runs",
        )  # fmt: skip
        bodies = srv.chat_requests
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "The note says to buy milk."
    err = proc.stderr
    assert "step 1 · mode 16x" in err and "visual tokens" in err
    assert '→ read_note(name="shopping")' in err
    assert "✓ ok" in err and "the note shopping says: buy milk" in err
    assert "tokens:" in err and "prompt" in err
    assert "completed · 2 step(s), 1 tool call(s)" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("trajectory: runs/")
    run_dir = workdir / last.split(": ", 1)[1]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "completed"
    # the image went to the server as an image part, the tool as a function schema
    content = bodies[0]["messages"][-1]["content"]
    assert any(part.get("type") == "image_url" for part in content)
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["delete_file", "read_note"]

    # the run directory turns into a report page
    proc = cli("report", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    page = Path(proc.stdout.strip())
    assert page == run_dir / "report.html" and "read_note" in page.read_text()
    proc = cli("report", str(workdir))
    assert proc.returncode == 2 and "not a run directory" in proc.stderr

    # its successful calls replay without the model: listed, then executed
    proc = cli("replay", str(run_dir), "--tools", "demo_tools:TOOLS")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'step 1: read_note(name="shopping") · listed'
    proc = cli("replay", str(run_dir), "--tools", "demo_tools:TOOLS", "--execute")
    assert proc.returncode == 0, proc.stderr
    assert "· ok: the note shopping says: buy milk" in proc.stdout
    assert "1 of 1 call(s) executed" in proc.stderr


def test_run_json_dry_run_and_limit(workdir: Path, cli: Callable[..., Any]) -> None:
    delete = Reply(text=call_text("delete_file", path="important.txt"))
    with LocalServer(replies=[delete, Reply(text="Deleted (dry run).")]) as srv:
        proc = agentkit(
            workdir, "run", "Delete important.txt", "--base-url", srv.base_url, "--source", "none",
            "--tools", "demo_tools:TOOLS", "--dry-run", "--json", "--quiet",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed" and summary["output"] == "Deleted (dry run)."
    steps = [
        json.loads(x)
        for x in (Path(workdir / summary["trajectory_dir"]) / "steps.jsonl")
        .read_text()
        .splitlines()
    ]
    assert steps[0]["calls"][0]["status"] == "dry_run"

    with LocalServer(replies=[delete, delete]) as srv:
        proc = agentkit(
            workdir, "run", "Delete it", "--base-url", srv.base_url, "--source", "none",
            "--tools", "demo_tools:TOOLS", "--max-steps", "1", "--yes",
        )  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert "max_steps=1" in error_lines(proc.stderr)[0]
    assert "✓ ok" in proc.stderr  # --yes confirmed the destructive call

    # replaying that destructive call without --yes and without a terminal is refused
    run_dir = proc.stderr.strip().splitlines()[-1].split(": ", 1)[1]
    proc = cli("replay", run_dir, "--tools", "demo_tools:TOOLS", "--execute", "--delay", "0")
    assert proc.returncode == 1
    assert "delete_file" in proc.stdout and "refused" in proc.stdout
    proc = cli("replay", run_dir, "--tools", "demo_tools:TOOLS", "--execute", "--yes")
    assert proc.returncode == 0 and "· ok: deleted important.txt" in proc.stdout


def test_run_refuses_destructive_without_a_terminal(cli: Callable[..., Any]) -> None:
    with LocalServer(
        replies=[Reply(text=call_text("delete_file", path="a.txt")), Reply(text="It was refused.")]
    ) as srv:
        proc = cli(
            "run",
            "Delete a.txt",
            "--base-url",
            srv.base_url,
            "--source",
            "none",
            "--tools",
            "demo_tools:TOOLS",
        )
    assert proc.returncode == 0, proc.stderr
    assert "⊘ refused" in proc.stderr


def test_run_with_the_server_down_names_the_url(workdir: Path, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/v1"
    proc = agentkit(
        workdir, "run", "hello", "--base-url", url, "--source", "none", "--tools", "none"
    )
    assert proc.returncode == 3
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and f"127.0.0.1:{closed_port}" in errors[0]
    assert "Traceback" not in proc.stderr


def test_run_bad_arguments_exit_2(cli: Callable[..., Any]) -> None:
    proc = cli("run", "x", "--base-url", "http://127.0.0.1:9/v1", "--source", "image")
    assert proc.returncode == 2 and "--image" in proc.stderr
    proc = cli("run", "x", "--base-url", "http://127.0.0.1:9/v1", "--tools", "no_such_pack")
    assert proc.returncode == 2 and "no_such_pack" in proc.stderr and "Traceback" not in proc.stderr


def test_run_ctrl_c_stops_cleanly(workdir: Path) -> None:
    slow = Reply(text="word " * 400, chunk_chars=4, delay_s=0.05)  # about 5 s of streaming
    with LocalServer(replies=[slow]) as srv:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentkit",
                "run",
                "Say a lot",
                "--base-url",
                srv.base_url,
                "--source",
                "none",
                "--tools",
                "none",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=workdir,
            env=env_for(workdir),
        )
        deadline = time.monotonic() + 20
        while not srv.chat_requests and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    assert proc.returncode == 130, err
    assert "stopping" in err and "Traceback" not in err
    assert took < 3.0  # well before the 5 s reply would have ended
    line = [x for x in err.splitlines() if x.startswith("trajectory: ")][-1]
    meta = json.loads((workdir / line.split(": ", 1)[1] / "run.json").read_text())
    assert meta["status"] == "stopped"


@pytest.mark.xvfb
def test_run_on_xvfb_screen_with_the_desktop_pack(workdir: Path) -> None:
    """A scripted task on a real X display: the screen is captured, the desktop pack clicks and types."""
    from agentkit.tools import available_tool_packs

    if "desktop" not in available_tool_packs():
        pytest.skip(
            "the desktop tool pack is not installed (pip install -e tools/agentkit-desktop)"
        )
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest_xvfb import start_xvfb

    try:
        ctx = start_xvfb(1280, 800)
        display = ctx.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        replies = [
            Reply(text="Clicking the middle.\n" + call_text("click", x=500, y=500)),
            Reply(text=call_text("type_text", text="hello")),
            Reply(text="Clicked and typed."),
        ]
        with LocalServer(replies=replies) as srv:
            proc = agentkit(
                workdir, "run", "Click the middle and type hello", "--base-url", srv.base_url,
                "--tools", "desktop", "--source", "screen", "--trajectory-dir", "runs",
                env=env_for(workdir, DISPLAY=display.name),
            )  # fmt: skip
            bodies = srv.chat_requests
    finally:
        ctx.__exit__(None, None, None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Clicked and typed.", proc.stderr
    err = proc.stderr
    assert "→ click(x=500, y=500)" in err and '→ type_text(text="hello")' in err, err
    assert err.count("✓ ok") == 2, err
    assert "model: Clicking the middle." in err, err
    assert "model: Clicked and typed." not in err, err  # the answer is on stdout only
    assert "completed · 3 step(s), 2 tool call(s)" in err, err
    # every step sent one new screenshot
    images = [
        sum(
            p.get("type") == "image_url"
            for m in b["messages"]
            if isinstance(m["content"], list)
            for p in m["content"]
        )
        for b in bodies
    ]
    assert images[0] == 1 and len(bodies) == 3
    run_dir = workdir / err.strip().splitlines()[-1].split(": ", 1)[1]
    assert len(list((run_dir / "frames").iterdir())) == 3


# ----------------------------------------------------------------------------- chat without a terminal


def test_chat_piped_multi_turn(workdir: Path, cli: Callable[..., Any]) -> None:
    replies = [
        Reply(text="A red **rectangle** on grey."),
        Reply(text="Deleting.\n" + call_text("delete_file", path="x.txt")),
        Reply(text="Done, x.txt is gone."),
    ]
    script = "/image shot.png\nWhat is this?\nDelete x.txt\ny\n/usage\n/save conv.json\n/tool delete_file off\n/mode 4x\n/quit\n"
    with LocalServer(replies=replies) as srv:
        proc = cli("chat", "--base-url", srv.base_url, "--tools", "demo_tools:TOOLS", stdin=script)
        bodies = srv.chat_requests
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "attached shot.png (640x480" in out
    assert "A red rectangle on grey." in out
    assert "destructive action: confirm" in out and "allowed" in out, out
    assert 'delete_file(path="x.txt")' in out and "deleted x.txt" in out
    assert "Done, x.txt is gone." in out
    assert "prompt tokens" in out
    assert "delete_file: off" in out and "mode: 4x" in out
    # the second question was sent with the first exchange as history
    texts = [
        m["content"]
        if isinstance(m["content"], str)
        else " ".join(p.get("text", "") for p in m["content"])
        for m in bodies[1]["messages"]
    ]
    assert any("What is this?" in t for t in texts) and any(
        "A red **rectangle** on grey." in t for t in texts
    )
    saved = json.loads((workdir / "conv.json").read_text())
    assert saved["format"] == "agentkit-chat/1" and len(saved["messages"]) >= 6


def test_chat_server_down_one_line(workdir: Path, closed_port: int) -> None:
    proc = agentkit(
        workdir, "chat", "--base-url", f"http://127.0.0.1:{closed_port}/v1", stdin="hello\n"
    )
    assert proc.returncode == 3
    assert len(error_lines(proc.stderr)) == 1 and str(closed_port) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_chat_without_server_or_weights_is_actionable(workdir: Path) -> None:
    env = env_for(workdir, HF_HOME=str(workdir / "hf"), HF_HUB_OFFLINE="1")
    proc = agentkit(workdir, "chat", stdin="hello\n", env=env)
    assert proc.returncode == 2
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and "--base-url" in errors[0]
    assert "Traceback" not in proc.stderr


def test_chat_wrong_model(cli: Callable[..., Any]) -> None:
    with LocalServer(replies=[]) as srv:
        proc = cli("chat", "--base-url", srv.base_url, "--model", "nope")
    assert proc.returncode == 3
    assert "openbmb/MiniCPM-V-4.6" in error_lines(proc.stderr)[0]


# ----------------------------------------------------------------------------- doctor, models, tools


def test_doctor_against_local_server(cli: Callable[..., Any]) -> None:
    with LocalServer(replies=["OK", "OK"]) as srv:
        proc = cli("doctor", "--base-url", srv.base_url, "--json", "--no-capture")
        bodies = srv.chat_requests
    assert proc.returncode == 0, proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    for name in ("server reachable", "model listed", "image request 16x", "image request 4x"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "server prompt_tokens=" in checks["image request 4x"]["detail"]
    assert "visual token count" in checks
    assert [b["mm_processor_kwargs"]["downsample_mode"] for b in bodies] == ["16x", "4x"]


def test_doctor_table_and_failure(cli: Callable[..., Any], closed_port: int) -> None:
    proc = cli("doctor", "--base-url", f"http://127.0.0.1:{closed_port}/v1", "--no-capture")
    assert proc.returncode == 1
    out = " ".join(proc.stdout.split())
    assert "server reachable" in out and "FAIL" in out and "agentkit serve" in out


def test_models_and_tools(cli: Callable[..., Any]) -> None:
    with LocalServer(replies=[]) as srv:
        proc = cli("models", "--base-url", srv.base_url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "* openbmb/MiniCPM-V-4.6"

    proc = cli("tools", "--tools", "demo_tools:TOOLS", "--json")
    assert proc.returncode == 0, proc.stderr
    schemas = json.loads(proc.stdout)
    assert [s["function"]["name"] for s in schemas] == ["delete_file", "read_note"]
    assert schemas[0]["function"]["parameters"]["required"] == ["path"]
    proc = cli("tools", "--tools", "demo_tools:TOOLS")
    assert "delete_file" in proc.stdout and "destructive" in proc.stdout


@pytest.mark.xvfb
def test_capture_on_xvfb(workdir: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest_xvfb import start_xvfb

    try:
        ctx = start_xvfb(1280, 800)
        display = ctx.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        proc = agentkit(
            workdir,
            "capture",
            "-o",
            "frame.png",
            "--region",
            "0",
            "0",
            "640",
            "480",
            env=env_for(workdir, DISPLAY=display.name),
        )
    finally:
        ctx.__exit__(None, None, None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "frame.png"
    assert "640x480" in proc.stderr and "at 16x" in proc.stderr
    from PIL import Image

    with Image.open(workdir / "frame.png") as im:
        assert im.size == (640, 480)


def test_calibrate_against_local_server(cli: Callable[..., Any]) -> None:
    with LocalServer(replies=["<point>500 500</point>"] * 3) as srv:
        proc = cli("calibrate", "--base-url", srv.base_url, "--count", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["targets"] == 3 and report["missing"] == 0
    assert all(r["found"] is not None for r in report["results"])
