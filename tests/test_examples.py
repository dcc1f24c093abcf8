"""Smoke tests of the scripts in examples/: each runs for real, as a subprocess, against LocalServer.

Every script gets ``--base-url`` of a vLLM-like server started here with scripted replies (the
model's raw ``<tool_call>`` markup); the checks are the exit code, the lines the script prints,
the requests the server received (``mm_processor_kwargs`` included) and, for the desktop form,
the window's own state file. Scripts that need a screen run on a private Xvfb; they skip without
Xvfb, tkinter or pynput, and the camera example skips without OpenCV.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.testing.server import LocalServer, Reply
from tests.helpers import call_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FORM_APP = Path(__file__).parent / "apps" / "form_app.py"


def run_example(
    name: str,
    *args: str,
    cwd: Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python examples/<name> ARGS`` with no AGENTKIT_* settings leaking in from outside."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGENTKIT_")}
    base.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tools" / "agentkit-desktop")]),
        XDG_CONFIG_HOME=str(cwd / "config"),
        PYTHONIOENCODING="utf-8",
    )
    base.update(env or {})
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env=base,
        timeout=timeout,
    )


def modes(requests: list[dict[str, Any]]) -> list[str]:
    return [body["mm_processor_kwargs"]["downsample_mode"] for body in requests]


def image_count(body: dict[str, Any]) -> int:
    return sum(
        1
        for message in body["messages"]
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    return proc.stdout


# ---------------------------------------------------------------------------------- on a screen


def needs_screen() -> None:
    if importlib.util.find_spec("tkinter") is None:
        pytest.skip("tkinter is missing for this Python (apt-get install python3-tk)")


@pytest.fixture
def screen(xvfb_display: Any) -> Any:
    needs_screen()
    return xvfb_display


class Form:
    """The Tk form of tests/apps/form_app.py, seen through its state file."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path) -> None:
        self.proc = proc
        self.path = path

    def state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def wait_for(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 10
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state() if self.path.exists() else {}
            if state and check(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"the form never reached the expected state: {state}")
            time.sleep(0.02)


@pytest.fixture
def form(screen: Any, tmp_path: Path) -> Iterator[Form]:
    path = tmp_path / "form.json"
    proc = subprocess.Popen([sys.executable, str(FORM_APP), str(path)])
    app = Form(proc, path)
    try:
        app.wait_for(lambda s: s.get("ready") is True)
        yield app
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def model_point(rect: list[int]) -> tuple[int, int]:
    """The 0-1000 model coordinates of a widget's centre on the captured screen."""
    from agentkit.vision import CoordinateSpace, Frame, ScreenSource

    frame = ScreenSource(monitor=1, include_cursor=False).grab()
    assert isinstance(frame, Frame)
    x, y, w, h = rect
    mx, my = CoordinateSpace().from_screen(x + w / 2, y + h / 2, frame)
    return round(mx), round(my)


def form_script(app: Form, name: str, city: str) -> list[Reply | str]:
    widgets = app.state()["widgets"]
    nx, ny = model_point(widgets["name"])
    cx, cy = model_point(widgets["city"])
    sx, sy = model_point(widgets["submit"])
    return [
        Reply("I click the Name field.\n" + call_text("click", x=nx, y=ny)),
        Reply(call_text("type_text", text=name)),
        Reply(call_text("click", x=cx, y=cy)),
        Reply(call_text("type_text", text=city)),
        Reply("Now Submit.\n" + call_text("click", x=sx, y=sy)),
        Reply("The form is filled in and submitted."),
    ]


@pytest.fixture
def desktop_pack() -> None:
    if importlib.util.find_spec("pynput") is None:
        pytest.skip("pynput is not installed (pip install -e tools/agentkit-desktop)")


@pytest.mark.xvfb
def test_desktop_form_fills_the_real_window(form: Form, desktop_pack: None, tmp_path: Path) -> None:
    name, city = "Zoë Ünal", "Kraków"
    with LocalServer(form_script(form, name, city)) as srv:
        proc = run_example(
            "desktop_form.py",
            "--base-url",
            srv.base_url,
            "--model",
            srv.model,
            "--max-steps",
            "8",
            "--runs",
            str(tmp_path / "runs"),
            "--no-kill-key",
            cwd=tmp_path,
        )
        requests = srv.chat_requests
    out = ok(proc)
    state = form.wait_for(lambda s: s["submitted"] is not None)
    assert state["submitted"] == {"name": name, "city": city}
    assert "step 1: 16x" in out
    assert out.count("  <- ok: ") == 5
    assert "status: completed after 6 steps, 5 tool calls" in out
    run_dir = next((tmp_path / "runs").iterdir())
    assert f"trajectory: {run_dir}" in out
    assert f"report: agentkit report {run_dir}" in out
    report = subprocess.run(  # the command the script prints works on its run directory
        [sys.executable, "-m", "agentkit", "report", str(run_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    assert (run_dir / "report.html").read_text(encoding="utf-8").count('<section class="step"') == 6
    assert len(requests) == 6
    assert requests[0]["mm_processor_kwargs"] == {"downsample_mode": "16x"}
    assert set(modes(requests)) <= {"16x", "4x"}
    assert all(image_count(body) >= 1 for body in requests)  # a screenshot every step


@pytest.mark.xvfb
def test_desktop_form_dry_run_touches_nothing(
    form: Form, desktop_pack: None, tmp_path: Path
) -> None:
    before = form.state()
    with LocalServer(form_script(form, "Ada", "London")) as srv:
        proc = run_example(
            "desktop_form.py",
            "--dry-run",
            "--base-url",
            srv.base_url,
            "--max-steps",
            "8",
            "--runs",
            str(tmp_path / "runs"),
            cwd=tmp_path,
        )
    out = ok(proc)
    assert out.startswith("press ctrl+alt+esc to stop the agent\n")  # the kill key listens
    assert out.count("  <- dry_run: ") == 5
    assert "dry run: nothing was clicked or typed" in out
    time.sleep(0.2)
    after = form.state()
    assert (after["name"], after["city"], after["submitted"]) == (
        before["name"],
        before["city"],
        before["submitted"],
    )


@pytest.mark.xvfb
def test_desktop_form_destructive_keys_need_a_yes(
    screen: Any, desktop_pack: None, tmp_path: Path
) -> None:
    script = [
        Reply(call_text("press_keys", keys="ctrl+alt+delete")),
        Reply("I was not allowed to do that."),
    ]
    with LocalServer(script) as srv:
        proc = run_example(
            "desktop_form.py",
            "Restart the computer",
            "--base-url",
            srv.base_url,
            "--runs",
            str(tmp_path / "runs"),
            "--no-kill-key",
            cwd=tmp_path,
            stdin="n\n",
        )
    out = ok(proc)
    assert "Allow the destructive action press_keys({'keys': 'ctrl+alt+delete'})? [y/N]" in out
    assert "  <- refused: " in out


_LABEL = r"""
import sys, tkinter as tk
root = tk.Tk()
root.overrideredirect(True)
root.geometry("+%s+%s" % (sys.argv[1], sys.argv[2]))
tk.Label(root, text=sys.argv[3], font=("DejaVu Sans", 7), bg="white", fg="black").pack()
root.update()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def small_text(screen: Any) -> Iterator[str]:
    """A line of 7-point text at (900, 600) on the Xvfb screen, while the test runs."""
    text = "Serial no. 4417-B  expires 2027-03-31"
    proc = subprocess.Popen(
        [sys.executable, "-c", _LABEL, "900", "600", text],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    ready, _, _ = select.select([proc.stdout], [], [], 10.0)
    assert ready and proc.stdout.readline().strip() == "ready"
    time.sleep(0.1)  # mapped and drawn
    try:
        yield text
    finally:
        proc.stdin.close()
        proc.wait(timeout=5)
        proc.stdout.close()


@pytest.mark.xvfb
def test_read_small_text_sends_the_screen_at_4x(small_text: str, tmp_path: Path) -> None:
    with LocalServer([Reply(f"The text says: {small_text}")]) as srv:
        proc = run_example(
            "read_small_text.py",
            "--base-url",
            srv.base_url,
            "--model",
            srv.model,
            "--max-steps",
            "3",
            "--runs",
            str(tmp_path / "runs"),
            cwd=tmp_path,
        )
        requests = srv.chat_requests
    out = ok(proc)
    assert modes(requests) == ["4x"]
    assert image_count(requests[0]) == 1
    # 2304x800 at 4x, as agentkit.vision counts it (no max_slice_nums sent)
    from agentkit.vision import image_tokens

    expected = image_tokens(2304, 800, mode="4x").total  # visual + wrapper tokens
    assert f"step 1: 4x, {expected} visual tokens - " in out
    assert "reading text" in out.splitlines()[0]  # the reason: a reading task
    assert f"text: The text says: {small_text}" in out


@pytest.mark.xvfb
def test_read_small_text_with_the_zoom_tool(small_text: str, tmp_path: Path) -> None:
    # the label sits at x 900/2304, y 600/800: a box around it in 0-1000 coordinates
    script = [
        Reply(
            "The text is too small; I zoom in.\n"
            + call_text("zoom", x1=380, y1=730, x2=560, y2=790)
        ),
        Reply(f"It says: {small_text}"),
    ]
    with LocalServer(script) as srv:
        proc = run_example(
            "read_small_text.py",
            "--zoom",
            "What does the label say?",
            "--base-url",
            srv.base_url,
            "--max-steps",
            "3",
            "--runs",
            str(tmp_path / "runs"),
            cwd=tmp_path,
        )
        requests = srv.chat_requests
    out = ok(proc)
    assert modes(requests) == ["16x", "4x"]
    lines = out.splitlines()
    assert lines[0].startswith("step 1: 16x, ")
    assert lines[1].startswith("  -> zoom(")
    assert lines[2].startswith("step 2: 4x, ") and "detail" in lines[2]
    assert image_count(requests[1]) == 1  # only the crop is sent in the zoom step
    assert f"text: It says: {small_text}" in out


# ---------------------------------------------------------------------------------- files


def decoded_images(body: dict[str, Any]) -> list[Any]:
    """The images of a request body as PIL images (they are sent as data: URLs)."""
    import base64
    import io

    from PIL import Image

    images = []
    for message in body["messages"]:
        if not isinstance(message.get("content"), list):
            continue
        for part in message["content"]:
            if part.get("type") == "image_url":
                data = part["image_url"]["url"].split(",", 1)[1]
                images.append(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
    return images


def test_watch_camera_replays_a_video(tmp_path: Path) -> None:
    cv2 = pytest.importorskip(
        "cv2", reason="OpenCV is the camera extra: pip install 'agentkit[camera]'"
    )
    import numpy as np

    video = tmp_path / "yard.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (160, 120))
    assert writer.isOpened()
    for i in range(20):  # 4 s at 5 fps: an empty yard for 2 s, then a red ball
        frame = np.full((120, 160, 3), 200, dtype=np.uint8)
        if i >= 10:
            cv2.circle(frame, (80, 60), 25, (0, 0, 255), -1)  # BGR red
        writer.write(frame)
    writer.release()
    script = [
        Reply(call_text("final_result", present=False, count=0, description="An empty grey yard.")),
        Reply(
            "A ball appeared.\n"
            + call_text("final_result", present=True, count=1, description="A red ball.")
        ),
    ]
    with LocalServer(script) as srv:
        proc = run_example(
            "watch_camera.py",
            "--video",
            str(video),
            "--every",
            "2",
            "--what",
            "a red ball",
            "--base-url",
            srv.base_url,
            "--model",
            srv.model,
            "--max-steps",
            "2",
            "--runs",
            str(tmp_path / "runs"),
            cwd=tmp_path,
        )
        requests = srv.chat_requests
    out = ok(proc)
    lines = out.splitlines()
    assert lines[0] == (
        "check 1 at 0.0s into the video: "
        '{"present":false,"count":0,"description":"An empty grey yard."}'
    )
    assert lines[1] == (
        'check 2 at 2.0s into the video: {"present":true,"count":1,"description":"A red ball."}'
    )
    assert lines[2].startswith("no more frames: ")
    assert lines[-1] == "2 checks"
    assert modes(requests) == ["16x", "16x"]
    assert all("final_result" in [t["function"]["name"] for t in b["tools"]] for b in requests)
    assert "Is there a red ball in view?" in json.dumps(requests[0]["messages"])
    first, second = (decoded_images(body) for body in requests)
    assert len(first) == len(second) == 1
    r, g, b = second[0].getpixel((80, 60))  # the frame sent at 2 s shows the ball
    assert r > 150 and g < 80 and b < 80
    assert first[0].getpixel((80, 60))[0] < 230 and abs(first[0].getpixel((80, 60))[1] - 200) < 20


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 120, 300, 360), fill=(20, 60, 200))
    draw.ellipse((380, 160, 560, 340), fill=(230, 200, 20))
    path = tmp_path / "shapes.png"
    image.save(path)
    return path


def chat_script() -> list[Reply | str]:
    return [Reply("A blue square and a yellow circle."), Reply("The circle is on the right.")]


def check_chat(out: str, requests: list[dict[str, Any]], q1: str, q2: str) -> None:
    assert out.splitlines() == [
        f"you: {q1}",
        "model: A blue square and a yellow circle.",
        f"you: {q2}",
        "model: The circle is on the right.",
        "2 turns",
    ]
    assert modes(requests) == ["16x", "16x"]
    first, second = requests
    assert image_count(first) == 1 and decoded_images(first)[0].size == (640, 480)
    # the second turn carries the first one: the image, the question and the answer
    assert image_count(second) == 1
    texts = json.dumps(second["messages"])
    assert q1 in texts and "A blue square and a yellow circle." in texts and q2 in texts
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_chat_about_image_keeps_the_history(picture: Path, tmp_path: Path) -> None:
    q1, q2 = "What shapes are in the picture?", "Where is the circle?"
    with LocalServer(chat_script()) as srv:
        proc = run_example(
            "chat_about_image.py",
            str(picture),
            q1,
            q2,
            "--base-url",
            srv.base_url,
            "--model",
            srv.model,
            "--max-steps",
            "2",
            "--runs",
            str(tmp_path / "runs"),
            cwd=tmp_path,
        )
        requests = srv.chat_requests
    check_chat(ok(proc), requests, q1, q2)


def test_chat_about_image_reads_questions_from_stdin(picture: Path, tmp_path: Path) -> None:
    q1, q2 = "What shapes are in the picture?", "Where is the circle?"
    with LocalServer(chat_script()) as srv:
        proc = run_example(
            "chat_about_image.py",
            str(picture),
            "--base-url",
            srv.base_url,
            "--runs",
            str(tmp_path / "runs"),
            cwd=tmp_path,
            stdin=f"{q1}\n{q2}\n",
        )
        requests = srv.chat_requests
    check_chat(ok(proc), requests, q1, q2)


# ---------------------------------------------------------------------------------- testing kit


def test_test_my_agent_runs_as_a_script(tmp_path: Path) -> None:
    out = ok(run_example("test_my_agent.py", cwd=tmp_path))
    assert out.splitlines() == [
        "PASS test_saves_a_note",
        "PASS test_recovers_from_a_server_error",
        "PASS test_a_bad_call_is_sent_back_to_the_model",
        "3 passed, 0 failed",
    ]


def test_test_my_agent_live_check_against_a_server(tmp_path: Path) -> None:
    script = [
        Reply(call_text("save_note", title="groceries", text="milk, eggs")),
        Reply("Saved."),
    ]
    with LocalServer(script) as srv:
        proc = run_example(
            "test_my_agent.py",
            "--base-url",
            srv.base_url,
            "--model",
            srv.model,
            "--max-steps",
            "3",
            cwd=tmp_path,
        )
        requests = srv.chat_requests
    out = ok(proc)
    assert "3 passed, 0 failed" in out
    assert "live: completed, notes={'groceries': 'milk, eggs'}, answer='Saved.'" in out
    assert modes(requests) == ["16x", "16x"]
    assert (tmp_path / "runs").is_dir()  # the live run's trajectory, in the working directory


def test_test_my_agent_live_check_reports_a_failure(tmp_path: Path) -> None:
    with LocalServer([Reply("I would rather not.")]) as srv:
        proc = run_example("test_my_agent.py", "--base-url", srv.base_url, cwd=tmp_path)
    assert proc.returncode == 1
    assert "live: completed, notes={}, answer='I would rather not.'" in proc.stdout


def test_test_my_agent_under_pytest(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGENTKIT_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(EXAMPLES / "test_my_agent.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=base,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 passed" in proc.stdout


@pytest.mark.xvfb
def test_read_small_text_captures_only_the_region(small_text: str, tmp_path: Path) -> None:
    with LocalServer([Reply(small_text)]) as srv:
        proc = run_example(
            "read_small_text.py",
            "--region",
            "850,560,600,120",
            "--base-url",
            srv.base_url,
            "--runs",
            str(tmp_path / "runs"),
            cwd=tmp_path,
        )
        requests = srv.chat_requests
    out = ok(proc)
    from agentkit.vision import image_tokens

    (image,) = decoded_images(requests[0])
    assert image.size == (600, 120)
    # the label (white, at 900,600 on the screen) is inside the region, the rest is the bare root
    white = image.convert("L").histogram()[255]
    assert 500 < white < 600 * 120 // 2
    assert f"step 1: 4x, {image_tokens(600, 120, mode='4x').total} visual tokens" in out
