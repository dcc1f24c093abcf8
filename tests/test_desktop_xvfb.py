"""The desktop tools against a real window: a Tk form on a private Xvfb display.

The form (tests/apps/form_app.py) writes its own state to a JSON file, so every check below is
made through the window, not through the code under test. Coordinates come from a real capture of
the display (agentkit.vision.ScreenSource) and go through the model's 0-1000 space.

Needs: Xvfb, Tk for this Python (python3-tk), pynput. Skips when one is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.tools import RunContext
from agentkit.vision import CoordinateSpace, Frame, ScreenSource

try:
    import agentkit_desktop  # noqa: F401
except ModuleNotFoundError:  # not installed: test the source tree's copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "agentkit-desktop"))

pytestmark = pytest.mark.xvfb

APP = Path(__file__).parent / "apps" / "form_app.py"
NAME = "Zoë Ünal 日本 ñ€ ß — Ωπ"


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    if importlib.util.find_spec("tkinter") is None:
        pytest.skip("tkinter is missing for this Python (apt-get install python3-tk)")
    if importlib.util.find_spec("pynput") is None:
        pytest.skip("pynput is not installed")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        number = reader.readline().strip()
    if not number:
        proc.kill()
        pytest.skip("Xvfb did not start")
    name = f":{number}"
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = name
    try:
        yield name
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        proc.wait(timeout=5)


class FormApp:
    """The running form and its state file."""

    def __init__(self, proc: subprocess.Popen[bytes], state: Path) -> None:
        self.proc = proc
        self.path = state

    def state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def wait_for(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 3.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state() if self.path.exists() else {}
            if state and check(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"the window never reached the expected state; last: {state}")
            time.sleep(0.02)

    def settle(self) -> dict[str, Any]:
        """The state once the window has processed everything sent so far."""
        time.sleep(0.15)
        return self.state()


def start_app(display: str, tmp_path: Path, banner: str | None = None) -> FormApp:
    state = tmp_path / "state.json"
    args = [sys.executable, str(APP), str(state)]
    if banner is not None:
        args += ["--banner", banner]
    proc = subprocess.Popen(args, env={**os.environ, "DISPLAY": display})
    app = FormApp(proc, state)
    try:
        app.wait_for(lambda s: s.get("ready") is True, timeout=10)
    except AssertionError:
        proc.kill()
        raise
    return app


@pytest.fixture
def app(display: str, tmp_path: Path) -> Iterator[FormApp]:
    form = start_app(display, tmp_path)
    yield form
    form.proc.terminate()
    form.proc.wait(timeout=5)


@pytest.fixture
def desk(display: str) -> Iterator[Any]:
    from agentkit_desktop import DesktopTools

    tools = DesktopTools(drag_duration_s=0.2)
    yield tools
    tools.close()


def capture() -> Frame:
    """A real capture of the display: its size and geometry are what the model's numbers use."""
    frame = ScreenSource(monitor=1, include_cursor=False).grab()
    assert isinstance(frame, Frame)
    return frame


def model_point(frame: Frame, rect: list[int], fx: float = 0.5, fy: float = 0.5) -> tuple[int, int]:
    """The model's 0-1000 coordinates of a point inside a widget rectangle given in screen points."""
    x, y, w, h = rect
    mx, my = CoordinateSpace().from_screen(x + w * fx, y + h * fy, frame)
    return round(mx), round(my)


async def run(desk: Any, name: str, ctx: RunContext[Any], **arguments: Any) -> Any:
    tool = desk.toolset().get(name)
    assert tool is not None, name
    return await tool.invoke(tool.validate(arguments), ctx)


async def test_fill_two_fields_and_submit(app: FormApp, desk: Any) -> None:
    widgets = app.state()["widgets"]
    frame = capture()
    ctx = RunContext(frames=[frame])
    x, y = model_point(frame, widgets["name"])
    await run(desk, "click", ctx, x=x, y=y)
    app.wait_for(lambda s: s["focus"] == "name")
    assert await run(desk, "type_text", ctx, text=NAME) == f"Typed {len(NAME)} characters."
    x, y = model_point(frame, widgets["city"])
    await run(desk, "click", ctx, x=x, y=y)
    app.wait_for(lambda s: s["focus"] == "city")
    await run(desk, "type_text", ctx, text="Krakówx")
    await run(desk, "press_keys", ctx, keys="backspace")
    x, y = model_point(frame, widgets["submit"])
    await run(desk, "click", ctx, x=x, y=y)
    state = app.wait_for(lambda s: s["submitted"] is not None)
    assert state["submitted"] == {"name": NAME, "city": "Kraków"}
    assert state["keys_down"] == []


async def test_dry_run_leaves_the_window_unchanged(app: FormApp, desk: Any) -> None:
    widgets = app.state()["widgets"]
    frame = capture()
    ctx = RunContext(frames=[frame], dry_run=True)
    before = app.state()
    x, y = model_point(frame, widgets["name"])
    await run(desk, "click", ctx, x=x, y=y)
    await run(desk, "type_text", ctx, text="should not appear")
    x, y = model_point(frame, widgets["submit"])
    await run(desk, "click", ctx, x=x, y=y)
    await run(desk, "drag", ctx, x1=x, y1=y, x2=x + 10, y2=y)
    after = app.settle()
    assert after == before


async def test_bounds_errors_reach_nothing(app: FormApp, desk: Any) -> None:
    from agentkit_desktop import ActionError

    frame = capture()
    ctx = RunContext(frames=[frame])
    before = app.state()
    with pytest.raises(ActionError, match="x=1500 is outside the screenshot"):
        await run(desk, "click", ctx, x=1500, y=10)
    with pytest.raises(ActionError, match="type at most 2000"):
        await run(desk, "type_text", ctx, text="x" * 5000)
    with pytest.raises(ActionError, match="not allowed"):
        await run(desk, "press_keys", ctx, keys="ctrl+alt+sysrq")
    assert app.settle() == before


async def test_release_all_after_mouse_down_and_hold(app: FormApp, desk: Any) -> None:
    frame = capture()
    ctx = RunContext(frames=[frame])
    x, y = model_point(frame, app.state()["widgets"]["pad"])
    tools = desk.toolset()
    await run(desk, "mouse_down", ctx, x=x, y=y)
    await run(desk, "hold_key", ctx, key="shift")
    app.wait_for(lambda s: s["mouse_down"] == [1] and "Shift_L" in s["keys_down"])
    await tools.aclose()  # what the loop does on every exit path
    state = app.wait_for(lambda s: s["mouse_down"] == [] and s["keys_down"] == [])
    assert state["pad_clicks"][0][0] == 1


async def test_stop_during_a_drag_releases_the_button(
    app: FormApp, display: str, request: pytest.FixtureRequest
) -> None:
    from agentkit_desktop import DesktopTools

    desk = DesktopTools(drag_duration_s=3.0)
    request.addfinalizer(desk.close)
    frame = capture()
    ctx = RunContext(frames=[frame])
    pad = app.state()["widgets"]["pad"]
    x1, y1 = model_point(frame, pad, 0.1, 0.5)
    x2, y2 = model_point(frame, pad, 0.9, 0.5)
    task = asyncio.ensure_future(run(desk, "drag", ctx, x1=x1, y1=y1, x2=x2, y2=y2))
    await asyncio.to_thread(
        app.wait_for, lambda s: s["mouse_down"] == [1] and len(s["pad_path"]) >= 2
    )
    task.cancel()  # what Agent.stop() does to a running tool
    with pytest.raises(asyncio.CancelledError):
        await task
    state = await asyncio.to_thread(app.wait_for, lambda s: s["mouse_down"] == [])
    assert len(state["pad_path"]) >= 2
    assert desk.held_buttons == ()


async def test_kill_key_combination_trips_the_switch_and_releases(
    app: FormApp, display: str
) -> None:
    from agentkit_desktop import ActionStopped, DesktopTools

    desk = DesktopTools(drag_duration_s=3.0)
    switch = desk.start_kill_listener()
    try:
        frame = capture()
        ctx = RunContext(frames=[frame])
        pad = app.state()["widgets"]["pad"]
        x1, y1 = model_point(frame, pad, 0.1, 0.5)
        x2, y2 = model_point(frame, pad, 0.9, 0.5)
        task = asyncio.ensure_future(run(desk, "drag", ctx, x1=x1, y1=y1, x2=x2, y2=y2))
        await asyncio.to_thread(app.wait_for, lambda s: s["mouse_down"] == [1])
        # A person presses ctrl+alt+esc on the real keyboard (here: another X client).
        presser = _press_combo_elsewhere(["Control_L", "Alt_L", "Escape"])
        t = time.monotonic()
        with pytest.raises(ActionStopped, match="kill key combination"):
            await task
        assert time.monotonic() - t < 1.0
        presser.join()
        assert switch.tripped
        await asyncio.to_thread(app.wait_for, lambda s: s["mouse_down"] == [])
    finally:
        desk.close()


def _press_combo_elsewhere(keysyms: list[str]) -> threading.Thread:
    """Press and release keys through XTEST from a separate connection, like a physical keyboard."""

    def press() -> None:
        from Xlib import XK, X, display
        from Xlib.ext import xtest

        d = display.Display()
        codes = [d.keysym_to_keycode(XK.string_to_keysym(k)) for k in keysyms]
        for code in codes:
            xtest.fake_input(d, X.KeyPress, code)
        d.sync()
        time.sleep(0.2)  # a person holds a combination for a moment
        for code in reversed(codes):
            xtest.fake_input(d, X.KeyRelease, code)
        d.sync()
        d.close()

    thread = threading.Thread(target=press)
    thread.start()
    return thread


async def test_buttons_double_click_and_scroll_directions(app: FormApp, desk: Any) -> None:
    frame = capture()
    ctx = RunContext(frames=[frame])
    x, y = model_point(frame, app.state()["widgets"]["pad"])
    await run(desk, "click", ctx, x=x, y=y, button="right")
    await run(desk, "click", ctx, x=x, y=y, button="middle")
    await run(desk, "click", ctx, x=x, y=y, double=True)
    await run(desk, "scroll", ctx, x=x, y=y, dy=2)  # down: X button 5
    await run(desk, "scroll", ctx, x=x, y=y, dy=-1)  # up: X button 4
    state = app.wait_for(lambda s: len(s["pad_clicks"]) >= 7 and s["mouse_down"] == [])
    assert [c[0] for c in state["pad_clicks"]] == [3, 2, 1, 1, 5, 5, 4]


async def test_screenshot_returns_a_frame_to_attach(desk: Any, app: FormApp) -> None:
    out = await run(desk, "screenshot", RunContext())
    assert out.frame.size == (1024, 768)
    assert out.text == "A new screenshot (1024x768) is attached."


async def test_key_combinations_reach_the_focused_field(app: FormApp, desk: Any) -> None:
    frame = capture()
    ctx = RunContext(frames=[frame])
    x, y = model_point(frame, app.state()["widgets"]["city"])
    await run(desk, "click", ctx, x=x, y=y)
    app.wait_for(lambda s: s["focus"] == "city")
    await run(desk, "type_text", ctx, text="abc")
    await run(desk, "press_keys", ctx, keys="ctrl+a")  # Tk's Entry: to the start of the line
    await run(desk, "type_text", ctx, text="x")
    await run(desk, "press_keys", ctx, keys="End")
    await run(desk, "type_text", ctx, text="!")
    state = app.wait_for(lambda s: s["city"] == "xabc!" and s["keys_down"] == [])
    assert state["name"] == ""
