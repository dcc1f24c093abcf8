"""Screen capture: on a real X display (Xvfb) and, for multi-monitor/HiDPI layouts, a fake mss."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from agentkit.errors import CaptureError, ConfigurationError
from agentkit.vision import BlankFrameWarning, CoordinateSpace, Geometry, ScreenSource, is_blank

# the xvfb_display fixture comes from the tests.conftest_xvfb plugin (see the root conftest.py)
from tests.conftest_xvfb import FIRST, HEIGHT, SECOND, WIDTH, XDisplay, draw_rects

RED, GREEN, BLUE = "#ff0000", "#00ff00", "#0000ff"


@pytest.mark.xvfb
def test_capture_known_pattern_full_screen(xvfb_display: XDisplay) -> None:
    rects = [(100, 50, 200, 100, RED), (1280 + 300, 200, 150, 80, BLUE), (1270, 700, 20, 20, GREEN)]
    with draw_rects(xvfb_display, rects):
        src = ScreenSource(monitor=1, include_cursor=False)
        frame = src.grab()
        src.close()
    assert frame.size == (WIDTH, HEIGHT)
    assert frame.source == "screen:1"
    assert frame.geometry == Geometry(left=0, top=0, scale=1.0, monitor=1)
    img = frame.image
    # inside and at the exact corners of each rectangle, and just outside
    assert img.getpixel((100, 50)) == (255, 0, 0)
    assert img.getpixel((299, 149)) == (255, 0, 0)
    assert img.getpixel((300, 150)) != (255, 0, 0)
    assert img.getpixel((1580, 200)) == (0, 0, 255)
    assert img.getpixel((1729, 279)) == (0, 0, 255)
    assert img.getpixel((1279, 710)) == (0, 255, 0)  # straddles the two "monitors"
    assert img.getpixel((1280, 710)) == (0, 255, 0)
    assert not src.last_blank


@pytest.mark.xvfb
def test_capture_offset_region_second_monitor_coordinates(xvfb_display: XDisplay) -> None:
    """The right-hand area stands in for a second monitor: its frame maps back to screen points."""
    with draw_rects(xvfb_display, [(1280 + 300, 200, 150, 80, BLUE), (100, 50, 200, 100, RED)]):
        src = ScreenSource(monitor=1, region=SECOND, include_cursor=False)
        frame = src.grab()
    assert frame.size == (1024, 768)
    assert frame.geometry == Geometry(left=1280, top=0, scale=1.0, monitor=1)
    # the blue rectangle is at frame pixel (300, 200): find it in the captured pixels
    img = frame.image
    blue = [
        (x, y)
        for y in range(0, 768, 4)
        for x in range(0, 1024, 4)
        if img.getpixel((x, y)) == (0, 0, 255)
    ]
    assert min(blue) == (300, 200)
    xs = [x for x, _ in blue]
    ys = [y for _, y in blue]
    cx, cy = (min(xs) + max(xs) + 4) / 2, (min(ys) + max(ys) + 4) / 2  # centre from the 4-px grid
    # model coordinates of that centre map to the rectangle's centre on the screen
    space = CoordinateSpace()
    mx, my = space.from_frame(cx, cy, frame.size)
    sx, sy = space.to_screen_int(mx, my, frame)
    assert abs(sx - (1280 + 300 + 75)) <= 2 and abs(sy - (200 + 40)) <= 2
    # and the red rectangle on the first monitor is not in this frame
    assert (255, 0, 0) not in {
        img.getpixel((x, y)) for x in range(0, 1024, 16) for y in range(0, 768, 16)
    }


@pytest.mark.xvfb
def test_capture_all_monitors_and_first_area(xvfb_display: XDisplay) -> None:
    with draw_rects(xvfb_display, [(10, 10, 30, 30, GREEN)]):
        whole = ScreenSource(monitor=0, include_cursor=False).grab()
        first = ScreenSource(region=FIRST, include_cursor=False).grab()
    assert whole.size == (WIDTH, HEIGHT) and whole.geometry.monitor == 0
    assert first.size == (1280, 800)
    assert whole.image.getpixel((20, 20)) == first.image.getpixel((20, 20)) == (0, 255, 0)


@pytest.mark.xvfb
def test_blank_frame_warns_and_flags(xvfb_display: XDisplay) -> None:
    with draw_rects(xvfb_display, [(400, 400, 120, 120, RED)]):
        src = ScreenSource(region=(410, 410, 100, 100), include_cursor=False)
        with pytest.warns(BlankFrameWarning):
            frame = src.grab()
    assert src.last_blank and is_blank(frame.image)
    quiet = ScreenSource(region=(410, 410, 100, 100), include_cursor=False, warn_blank=False)
    with draw_rects(xvfb_display, [(400, 400, 120, 120, RED)]):
        quiet.grab()  # no warning (warnings are errors in this test suite)
    assert quiet.last_blank


@pytest.mark.xvfb
def test_missing_monitor_is_a_configuration_error(xvfb_display: XDisplay) -> None:
    with pytest.raises(ConfigurationError, match="monitor 5 does not exist"):
        ScreenSource(monitor=5).grab()


def test_no_display_is_a_capture_error_after_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":31999")  # nothing listens there
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(CaptureError, match="after 2 attempts"):
        ScreenSource(retries=1).grab()


# -- a fake mss for layouts Xvfb cannot show: monitors at offsets, HiDPI --------------------------


class _Shot:
    def __init__(self, width: int, height: int, colour: tuple[int, int, int]) -> None:
        self.size = (width, height)
        b, g, r = colour[2], colour[1], colour[0]
        self.bgra = bytes([b, g, r, 255]) * (width * height)


def _fake_mss(
    monitors: list[dict[str, int]], scale: int = 1, fail_first: int = 0
) -> tuple[types.ModuleType, dict[str, Any]]:
    state: dict[str, Any] = {"calls": 0, "areas": []}

    class MSS:
        def __init__(self, **kwargs: Any) -> None:
            self.monitors = monitors

        def grab(self, area: dict[str, int]) -> _Shot:
            state["calls"] += 1
            state["areas"].append(dict(area))
            if state["calls"] <= fail_first:
                raise RuntimeError("XGetImage failed")
            # a gradient-free but non-blank image: left half red, right half blue
            shot = _Shot(area["width"] * scale, area["height"] * scale, (255, 0, 0))
            half = (area["width"] * scale) // 2
            row = bytearray(shot.bgra[: area["width"] * scale * 4])
            row[half * 4 :] = bytes([255, 0, 0, 255]) * (area["width"] * scale - half)
            shot.bgra = bytes(row) * (area["height"] * scale)
            return shot

        def close(self) -> None:
            pass

    module = types.ModuleType("mss")
    module.MSS = MSS  # type: ignore[attr-defined]
    return module, state


MONITORS = [
    {"left": -1280, "top": -200, "width": 3200, "height": 1280},
    {"left": 0, "top": 0, "width": 1920, "height": 1080},
    {"left": -1280, "top": -200, "width": 1280, "height": 720},
]


def test_second_monitor_offset_and_hidpi_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    module, state = _fake_mss(MONITORS, scale=2)
    monkeypatch.setitem(sys.modules, "mss", module)
    src = ScreenSource(
        monitor=2, region=(100, 50, 400, 300), cursor_position=lambda: (-1280 + 150, -200 + 60)
    )
    frame = src.grab()
    assert state["areas"] == [{"left": -1180, "top": -150, "width": 400, "height": 300}]
    assert frame.size == (800, 600)  # a 2x HiDPI capture
    assert frame.geometry == Geometry(left=-1180, top=-150, scale=2.0, monitor=2)
    assert frame.cursor == (100, 20)  # (150-100, 60-50) points * 2
    # the model's centre point is the region's centre in screen points
    assert CoordinateSpace().to_screen(500, 500, frame) == (-1180 + 200, -150 + 150)
    # an explicit scale overrides detection
    fixed = ScreenSource(monitor=2, scale=1.5).grab()
    assert fixed.geometry.scale == 1.5


def test_cursor_outside_the_frame_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    module, _ = _fake_mss(MONITORS)
    monkeypatch.setitem(sys.modules, "mss", module)
    assert ScreenSource(monitor=1, cursor_position=lambda: (-5, 10)).grab().cursor is None


def test_transient_failures_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    module, state = _fake_mss(MONITORS, fail_first=2)
    monkeypatch.setitem(sys.modules, "mss", module)
    frame = ScreenSource(monitor=1, retries=2).grab()
    assert state["calls"] == 3 and frame.size == (1920, 1080)


def test_persistent_failure_raises_capture_error(monkeypatch: pytest.MonkeyPatch) -> None:
    module, state = _fake_mss(MONITORS, fail_first=100)
    monkeypatch.setitem(sys.modules, "mss", module)
    with pytest.raises(CaptureError, match="after 3 attempts") as info:
        ScreenSource(monitor=1, retries=2).grab()
    assert state["calls"] == 3
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize(
    "kwargs",
    [{"monitor": -1}, {"region": (0, 0, 0, 10)}, {"retries": -1}, {"scale": 0.0}],
)
def test_bad_screen_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        ScreenSource(**kwargs)


@pytest.mark.xvfb
def test_calibration_through_a_real_capture(xvfb_display: XDisplay) -> None:
    """Targets drawn on the screen, captured, located by a 'model' that reads the pixels, and
    mapped back to screen points through the frame's geometry: the error is below a pixel."""
    import asyncio

    from agentkit.vision import CalibrationTarget, calibrate, frame_to_screen

    drawn = {"red": (1280 + 100, 100, 40, 40, RED), "blue": (1280 + 700, 500, 40, 40, BLUE)}
    with draw_rects(xvfb_display, list(drawn.values())):
        frame = ScreenSource(region=SECOND, include_cursor=False).grab()
    g = frame.geometry
    targets = [
        CalibrationTarget(f"the {name} square", x + w / 2 - g.left, y + h / 2 - g.top, w / 2)
        for name, (x, y, w, h, _) in drawn.items()
    ]
    rgb = {"red": (255, 0, 0), "blue": (0, 0, 255)}

    def pixel_reading_model(f: object, prompt: str) -> str:
        name = "red" if "red" in prompt else "blue"
        img = frame.image
        pts = [
            (x, y)
            for y in range(0, img.height, 2)
            for x in range(0, img.width, 2)
            if img.getpixel((x, y)) == rgb[name]
        ]
        cx = (min(p[0] for p in pts) + max(p[0] for p in pts) + 1) / 2
        cy = (min(p[1] for p in pts) + max(p[1] for p in pts) + 1) / 2
        return f"<point>{cx * 1000 / img.width:.1f} {cy * 1000 / img.height:.1f}</point>"

    report = asyncio.run(calibrate(ask=pixel_reading_model, frame=frame, targets=targets))
    assert report.hits == 2 and (report.max_error_px or 99) <= 1.5
    for r, (x, y, w, h, _) in zip(report.results, drawn.values(), strict=True):
        assert r.found is not None
        sx, sy = frame_to_screen(*r.found, g)
        assert abs(sx - (x + w / 2)) <= 1.5 and abs(sy - (y + h / 2)) <= 1.5
