"""Zoom (tool and coarse-to-fine), screen-change detection and calibration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image, ImageDraw

from agentkit.backends._base import ModelRequest, ModelResponse, StreamItem
from agentkit.errors import CaptureError
from agentkit.vision import (
    Box,
    CalibrationTarget,
    CoordinateSpace,
    Frame,
    Geometry,
    ImageSource,
    Point,
    ZoomResult,
    calibrate,
    calibration_image,
    coarse_to_fine_tokens,
    crop_to_parent,
    frame_difference,
    image_tokens,
    is_small_target,
    refine_target,
    wait_until_settled,
    zoom_tool,
)


def _frame(w: int = 1920, h: int = 1080, geometry: Geometry | None = None) -> Frame:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    ImageDraw.Draw(img).rectangle((960, 540, 979, 549), fill=(255, 0, 0))  # a small red target
    return Frame(img, "screen:1", geometry or Geometry(left=100, top=50, monitor=1))


# -- the zoom tool ------------------------------------------------------------------------------


def _tools() -> Any:
    return pytest.importorskip("agentkit.tools")


def test_zoom_tool_schema() -> None:
    tools = _tools()
    t = zoom_tool()
    assert isinstance(t, tools.Tool)
    assert t.name == "zoom" and t.risk == tools.Risk.READ_ONLY
    assert t.parameters["required"] == ["x1", "y1", "x2", "y2"]
    assert "0-1000" in t.parameters["properties"]["x1"]["description"]


def test_zoom_tool_crops_latest_frame_with_offset() -> None:
    tools = _tools()
    t = zoom_tool()
    frame = _frame()
    ctx = tools.RunContext(frames=[_frame(800, 600), frame])
    args = t.validate({"x1": 450, "y1": 400, "x2": 550, "y2": 600})
    result = asyncio.run(t.invoke(args, ctx))
    assert isinstance(result, ZoomResult)
    crop = result.frame
    assert crop.size == (192, 216)  # 10% x 20% of 1920x1080
    assert crop.geometry == Geometry(left=100, top=50, crop_left=864, crop_top=432, monitor=1)
    assert crop.source == "zoom:screen:1"
    assert crop.image.getpixel((960 - 864, 540 - 432)) == (255, 0, 0)
    assert "x 450-550, y 400-600" in result.text and str(result) == result.text
    # the centre of the crop is the centre of the box on the screen
    assert CoordinateSpace().to_screen(500, 500, crop) == (100 + 960, 50 + 540)


def test_zoom_tool_small_and_swapped_boxes_and_no_frame() -> None:
    tools = _tools()
    t = zoom_tool(min_size=112)
    ctx = tools.RunContext(frames=[_frame()])
    result = asyncio.run(t.invoke(t.validate({"x1": 1000, "y1": 1000, "x2": 995, "y2": 990}), ctx))
    assert result.frame.size == (112, 112)  # grown to min_size, clamped inside the frame
    assert result.frame.geometry.crop_left == 1920 - 112
    with pytest.raises(CaptureError):
        asyncio.run(
            t.invoke(t.validate({"x1": 0, "y1": 0, "x2": 10, "y2": 10}), tools.RunContext())
        )


# -- coarse-to-fine -------------------------------------------------------------------------


def test_refine_target_and_map_back() -> None:
    frame = _frame()
    proposed = Point(505, 503)  # the coarse guess: near the red target
    crop = refine_target(frame, proposed, crop_size=448)
    assert crop.size == (448, 448)
    assert crop.geometry.crop_left == round(frame.width * 0.505 - 224)
    # the 4x pass answers on the crop; the red target's centre in crop model coordinates:
    red_x, red_y = 969.5 - crop.geometry.crop_left, 544.5 - crop.geometry.crop_top
    on_crop = Point(red_x * 1000 / 448, red_y * 1000 / 448)
    refined = crop_to_parent(on_crop, crop, frame)
    assert isinstance(refined, Point)
    assert refined.x == pytest.approx(969.5 * 1000 / 1920)
    assert refined.y == pytest.approx(544.5 * 1000 / 1080)
    # and straight to the screen through the crop's geometry
    sx, sy = CoordinateSpace().to_screen(on_crop.x, on_crop.y, crop)
    assert (sx, sy) == pytest.approx((100 + 969.5, 50 + 544.5))


def test_refine_target_near_edges_and_big_boxes() -> None:
    frame = _frame(1000, 800)
    corner = refine_target(frame, Point(0, 0), crop_size=300)
    assert corner.geometry.crop_left == 0 and corner.size == (300, 300)
    big = refine_target(frame, Box(100, 100, 900, 900), crop_size=300)
    assert big.size == (816, 656)  # grown to hold the box (800x640 px) plus a margin
    whole = refine_target(frame, Point(500, 500), crop_size=5000)
    assert whole.size == frame.size


def test_small_target_rule() -> None:
    assert is_small_target(Point(1, 2), (1920, 1080))
    assert is_small_target(Box(100, 100, 120, 400), (1920, 1080))  # 2% wide
    assert not is_small_target(Box(100, 100, 300, 300), (1920, 1080))


def test_coarse_to_fine_tokens() -> None:
    c2f, full = coarse_to_fine_tokens((1920, 1080), 448)
    assert (
        c2f
        == image_tokens(1920, 1080, "16x").total + image_tokens(448, 448, "4x").total
        == 600 + 261
    )
    assert full == image_tokens(1920, 1080, "4x").total == 2334
    assert c2f < full / 2


# -- change detection -----------------------------------------------------------------------


def test_frame_difference() -> None:
    a = _frame()
    assert frame_difference(a, a) == 0.0
    b_img = a.image.copy()
    ImageDraw.Draw(b_img).rectangle((0, 0, 959, 1079), fill=(0, 0, 0))
    half = frame_difference(a, Frame(b_img, "x"))
    assert 0.45 < half < 0.55
    noisy = a.image.point(lambda v: max(0, v - 3))  # sensor-level noise does not count
    assert frame_difference(a, Frame(noisy, "x")) == 0.0
    assert frame_difference(a, _frame(800, 600)) == 1.0
    small = a.image.copy()
    ImageDraw.Draw(small).rectangle((100, 100, 219, 139), fill=(0, 0, 0))  # a button appears
    assert frame_difference(a, Frame(small, "x")) > 0.002


def test_wait_until_settled(tmp_path: Any) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 255), (0, 0, 255)]
    for i, c in enumerate(colours):
        Image.new("RGB", (64, 64), c).save(tmp_path / f"{i}.png")
    clock = [0.0]

    def sleep(s: float) -> None:
        clock[0] += s

    frame, settled = wait_until_settled(
        ImageSource(tmp_path), timeout_s=5, interval_s=0.1, clock=lambda: clock[0], sleep=sleep
    )
    assert settled and frame.image.getpixel((0, 0)) == (0, 0, 255)
    assert clock[0] == pytest.approx(0.3)
    # a screen that keeps changing times out
    src = ImageSource([tmp_path / "0.png", tmp_path / "1.png"], loop=True)
    clock[0] = 0.0
    _, settled = wait_until_settled(
        src, timeout_s=1, interval_s=0.1, clock=lambda: clock[0], sleep=sleep
    )
    assert not settled


# -- calibration ----------------------------------------------------------------------------


def test_calibration_image_targets_are_where_drawn() -> None:
    frame, targets = calibration_image((1280, 800), 5, seed=3)
    assert len(targets) == 5 and frame.size == (1280, 800)
    for t in targets:
        assert frame.image.getpixel((int(t.x), int(t.y))) != (238, 238, 232)


def _fake_answer(frame: Frame, prompt: str, *, dx: float = 0.0, dy: float = 0.0) -> str:
    """A perfect model shifted by (dx, dy) frame pixels, answering in 0-1000 coordinates."""
    for t in TARGETS:
        if t.label in prompt:
            x = (t.x + dx) * 1000 / frame.width
            y = (t.y + dy) * 1000 / frame.height
            return f"<point>{x:.0f} {y:.0f}</point>"
    return "I cannot see it"


FRAME, TARGETS = calibration_image(
    (1000, 500), 4, seed=1, geometry=Geometry(left=50, top=0, scale=2.0)
)


def test_calibrate_math_with_a_fake_answer() -> None:
    report = asyncio.run(
        calibrate(ask=lambda f, p: _fake_answer(f, p, dx=10, dy=-5), frame=FRAME, targets=TARGETS)
    )
    assert len(report.results) == 4 and report.missing == 0
    # 0-1000 rounding costs at most half a unit: 0.5 px horizontally, 0.25 px vertically here
    for r in report.results:
        assert r.error_px == pytest.approx((10**2 + 5**2) ** 0.5, abs=0.6)
        assert r.screen_error == pytest.approx(r.error_px / 2)  # 2 pixels per screen point
        assert r.hit  # within the 18 px radius
    dx, dy = report.mean_offset_px or (0, 0)
    assert dx == pytest.approx(10, abs=0.5) and dy == pytest.approx(-5, abs=0.3)
    assert report.to_dict()["hits"] == 4


def test_calibrate_misses_and_unreadable_answers() -> None:
    async def ask(frame: Frame, prompt: str) -> str:
        if TARGETS[0].label in prompt:
            return "no idea"
        return _fake_answer(frame, prompt, dx=60)

    report = asyncio.run(calibrate(ask=ask, frame=FRAME, targets=TARGETS))
    assert report.missing == 1 and report.hits == 0
    assert report.max_error_px == pytest.approx(60, abs=0.6)


class _FakeBackend:
    """Answers through the real request path: reads the image size from the request."""

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        self.requests.append(request)
        image = request.messages[0].images[0]
        assert image.media_type == "image/png"
        yield ModelResponse(
            text=_fake_answer(FRAME, request.messages[0].text), finish_reason="stop"
        )


def test_calibrate_through_a_backend() -> None:
    backend = _FakeBackend()
    report = asyncio.run(calibrate(backend, frame=FRAME, targets=TARGETS, mode="4x"))
    assert report.hits == 4 and (report.max_error_px or 99) < 1
    req = backend.requests[0]
    assert req.mode == "4x" and req.skip_special_tokens is False and req.temperature == 0.0
    assert "<point>" in req.messages[0].text


def test_calibrate_default_picture() -> None:
    report = asyncio.run(calibrate(ask=lambda f, p: "<point>500 500</point>", count=3))
    assert len(report.results) == 3
    assert isinstance(report.results[0].target, CalibrationTarget)
