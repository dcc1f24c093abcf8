"""A pytest plugin module: a real X display (Xvfb) for capture tests, and a way to draw on it.

Use it from a test module with ``from conftest_xvfb import xvfb_display`` (or list it in a root
``conftest.py`` as ``pytest_plugins = ["tests.conftest_xvfb"]``). Tests that use the fixture skip
when ``Xvfb`` is not installed (CI: ``apt-get install -y xvfb``).

The display is one wide screen, 2304x800: a 1280x800 "first monitor" with a 1024x768 area to its
right standing in for a second monitor (Xvfb's Xinerama screens are not reported by RandR, which
is what mss reads, so a second monitor is modelled as an offset region of a wide screen).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

WIDTH, HEIGHT = 2304, 800
FIRST = (0, 0, 1280, 800)
SECOND = (1280, 0, 1024, 768)


@dataclass(frozen=True)
class XDisplay:
    name: str
    width: int
    height: int


@contextlib.contextmanager
def start_xvfb(
    width: int = WIDTH, height: int = HEIGHT, timeout_s: float = 10.0
) -> Iterator[XDisplay]:
    """Start ``Xvfb`` on a free display number (it picks one through ``-displayfd``)."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise FileNotFoundError("Xvfb is not installed (apt-get install -y xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [
            exe,
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        number = b""
        deadline = time.monotonic() + timeout_s
        while not number.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Xvfb did not report its display number")
            chunk = os.read(read_fd, 16)
            if not chunk:
                raise RuntimeError("Xvfb exited before it was ready")
            number += chunk
        yield XDisplay(f":{int(number.strip())}", width, height)
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[XDisplay]:
    """A running Xvfb (2304x800) with ``DISPLAY`` set for the session; skips without Xvfb."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install -y xvfb)")
    old = os.environ.get("DISPLAY")
    with start_xvfb() as display:
        os.environ["DISPLAY"] = display.name
        try:
            yield display
        finally:
            if old is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = old


_DRAW = r"""
import sys, tkinter as tk
root = tk.Tk()
root.withdraw()
wins = []
for line in sys.argv[1:]:
    x, y, w, h, colour = line.split(",")
    t = tk.Toplevel(root, bg=colour, highlightthickness=0, borderwidth=0)
    t.overrideredirect(True)
    t.geometry(f"{w}x{h}+{x}+{y}")
    wins.append(t)
for _ in range(200):
    root.update()
    if all(t.winfo_viewable() for t in wins):
        break
    root.after(10)
print("ready", flush=True)
sys.stdin.read()
"""


def _wait_painted(rects: list[tuple[int, int, int, int, str]], timeout_s: float = 3.0) -> None:
    """Poll the screen until every rectangle's centre shows its colour."""
    import mss

    factory = getattr(mss, "MSS", None) or mss.mss
    deadline = time.monotonic() + timeout_s
    with factory() as sct:
        while True:
            missing = []
            for x, y, w, h, colour in rects:
                shot = sct.grab({"left": x + w // 2, "top": y + h // 2, "width": 1, "height": 1})
                b, g, r = shot.bgra[0], shot.bgra[1], shot.bgra[2]
                if f"#{r:02x}{g:02x}{b:02x}" != colour.lower():
                    missing.append(colour)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"rectangles {missing} did not appear on the X display")
            time.sleep(0.02)


@contextlib.contextmanager
def draw_rects(display: XDisplay, rects: list[tuple[int, int, int, int, str]]) -> Iterator[None]:
    """Show solid rectangles ``(x, y, width, height, "#rrggbb")`` on the display while inside.

    Each rectangle is an override-redirect Tk window (no window manager runs, so it lands exactly
    where asked). Skips the test when tkinter is unavailable.
    """
    try:
        import tkinter  # noqa: F401
    except ImportError:
        pytest.skip("tkinter is not available to draw on the X display")
    env = dict(os.environ, DISPLAY=display.name)
    args = [f"{x},{y},{w},{h},{c}" for x, y, w, h, c in rects]
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRAW, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10.0)
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "ready":
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"the drawing helper failed: {line!r} {err[-500:]}")
        _wait_painted(rects)
        yield
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
