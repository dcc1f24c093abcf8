"""The coordinate contract: model space <-> frame pixels <-> screen points, and grounding parsing."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from agentkit.errors import ConfigurationError
from agentkit.vision import (
    Box,
    CoordinateSpace,
    Frame,
    Geometry,
    Point,
    crop_frame,
    crop_to_parent,
    frame_to_screen,
    parse_grounding,
    screen_to_frame,
)


def _frame(w: int, h: int, geometry: Geometry | None = None) -> Frame:
    return Frame(Image.new("RGB", (w, h)), "test", geometry or Geometry())


geometries = st.builds(
    Geometry,
    left=st.integers(-5000, 5000),
    top=st.integers(-3000, 3000),
    scale=st.sampled_from([1.0, 1.25, 1.5, 2.0, 3.0]),
    crop_left=st.integers(0, 3000),
    crop_top=st.integers(0, 2000),
    monitor=st.integers(0, 4),
)
sizes = st.tuples(st.integers(1, 4000), st.integers(1, 3000))
model_xy = st.tuples(st.integers(0, 1000), st.integers(0, 1000))


@settings(max_examples=300, deadline=None)
@given(geometry=geometries, size=sizes, xy=model_xy, kind=st.sampled_from(["normalized", "pixels"]))
def test_round_trip_model_screen_model(
    geometry: Geometry, size: tuple[int, int], xy: tuple[int, int], kind: str
) -> None:
    space = CoordinateSpace(kind)  # type: ignore[arg-type]
    frame = _frame(size[0], size[1], geometry)
    sx, sy = space.to_screen(xy[0], xy[1], frame)
    mx, my = space.from_screen(sx, sy, frame)
    assert math.isclose(mx, xy[0], abs_tol=1e-6)
    assert math.isclose(my, xy[1], abs_tol=1e-6)


@settings(max_examples=200, deadline=None)
@given(geometry=geometries, size=sizes, xy=model_xy)
def test_integer_click_point_lands_in_the_right_pixel(
    geometry: Geometry, size: tuple[int, int], xy: tuple[int, int]
) -> None:
    """The integer screen point for a click maps back into the frame pixel the model meant."""
    space = CoordinateSpace()
    frame = _frame(size[0], size[1], geometry)
    sx, sy = space.to_screen_int(xy[0], xy[1], frame)
    px, py = screen_to_frame(sx, sy, geometry)
    want_x = min(math.floor(xy[0] * size[0] / 1000), size[0] - 1)
    want_y = min(math.floor(xy[1] * size[1] / 1000), size[1] - 1)
    # a screen point covers `scale` pixels: the pixel is within one screen point of the target
    assert want_x - geometry.scale < px <= want_x + 1
    assert want_y - geometry.scale < py <= want_y + 1


@settings(max_examples=200, deadline=None)
@given(
    geometry=geometries,
    size=st.tuples(st.integers(50, 3000), st.integers(50, 2000)),
    crop=st.tuples(st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.05, 1), st.floats(0.05, 1)),
    xy=model_xy,
)
def test_crop_maps_back_to_the_same_screen_point(
    geometry: Geometry,
    size: tuple[int, int],
    crop: tuple[float, float, float, float],
    xy: tuple[int, int],
) -> None:
    space = CoordinateSpace()
    parent = _frame(size[0], size[1], geometry)
    left, top = int(crop[0] * size[0]), int(crop[1] * size[1])
    right = max(left + 1, min(size[0], left + int(crop[2] * size[0])))
    bottom = max(top + 1, min(size[1], top + int(crop[3] * size[1])))
    child = crop_frame(parent, left, top, right, bottom)
    assert child.size == (right - left, bottom - top)
    # a point on the crop -> screen, directly and through the parent, agree
    direct = space.to_screen(xy[0], xy[1], child)
    on_parent = crop_to_parent(Point(*xy), child, parent)
    assert isinstance(on_parent, Point)
    via_parent = space.to_screen(on_parent.x, on_parent.y, parent)
    assert math.isclose(direct[0], via_parent[0], abs_tol=1e-6)
    assert math.isclose(direct[1], via_parent[1], abs_tol=1e-6)


def test_known_mapping_second_monitor_hidpi_crop() -> None:
    # a 2x HiDPI monitor placed at x=1920, y=-200; a zoom crop at pixel (400, 300) of its frame
    g = Geometry(left=1920, top=-200, scale=2.0, crop_left=400, crop_top=300, monitor=2)
    assert frame_to_screen(0, 0, g) == (1920 + 200, -200 + 150)
    assert frame_to_screen(100, 50, g) == (1920 + 250, -200 + 175)
    assert screen_to_frame(2170, -25, g) == (100, 50)
    frame = _frame(800, 600, g)
    # model (500, 500) is the centre of the 800x600 crop: pixel (400, 300)
    assert CoordinateSpace().to_screen(500, 500, frame) == (1920 + 400, -200 + 300)


def test_pixels_space_with_a_downscaled_image() -> None:
    space = CoordinateSpace("pixels")
    # the model saw a 1792x896 encoding of a 1920x1080 frame
    assert space.to_frame(896, 448, (1920, 1080), shown_size=(1792, 896)) == (960, 540)
    assert space.from_frame(960, 540, (1920, 1080), shown_size=(1792, 896)) == (896, 448)
    assert space.to_frame(10, 20, (1920, 1080)) == (10, 20)


def test_to_screen_int_clamps_off_screen_values() -> None:
    frame = _frame(100, 50, Geometry(left=10, top=20))
    space = CoordinateSpace()
    assert space.to_screen_int(-500, 5000, frame) == (10, 20 + 49)
    assert space.to_screen_int(1000, 1000, frame) == (10 + 99, 20 + 49)


def test_box_targets_map_to_screen_and_back() -> None:
    frame = _frame(1000, 500, Geometry(left=100, top=10, scale=2.0))
    space = CoordinateSpace()
    box = Box(100, 200, 300, 400, "ok button")
    on_screen = space.target_to_screen(box, frame)
    assert on_screen == Box(100 + 50, 10 + 50, 100 + 150, 10 + 100, "ok button")
    back = space.target_from_screen(on_screen, frame)
    assert back == box
    assert box.center == Point(200, 300, "ok button")


def test_bad_space_settings() -> None:
    with pytest.raises(ConfigurationError):
        CoordinateSpace("percent")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        CoordinateSpace(extent=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<ref>OK button</ref><box>100 200 300 400</box>", [Box(100, 200, 300, 400, "OK button")]),
        ("<box>300,400,100,200</box>", [Box(100, 200, 300, 400)]),  # corners swapped, commas
        ("<point>512 300</point>", [Point(512, 300)]),
        (
            "<ref>a</ref><point>1 2</point> then <ref>b</ref><box>1 2 3 4</box>",
            [Point(1, 2, "a"), Box(1, 2, 3, 4, "b")],
        ),
        ("<quad>10 10 50 12 48 40 8 38</quad>", [Box(8, 10, 50, 40)]),
        ("<box>1 2 3 4 5 6 7 8 9</box>", []),  # nonsense count
        ("<box>1 2 3 4 5 6 7 8</box>", [Box(1, 2, 3, 4), Box(5, 6, 7, 8)]),
        ("<quad>1 2 3 4</quad>", []),
        ("Click at (512, 300).", [Point(512, 300)]),
        ("The button is at [100, 200, 300, 400]", [Box(100, 200, 300, 400)]),
        ("x=512 y=300", [Point(512, 300)]),
        ("click 1 2 3", []),  # three bare numbers: ambiguous
        ("no numbers here", []),
        ("<box>1 2 3 4", []),  # unclosed tag: not a box, and no fallback to bare numbers
        ("<point>-5 1200.5</point>", [Point(-5, 1200.5)]),  # out of range is kept; mapping clamps
    ],
)
def test_parse_grounding(text: str, expected: list[object]) -> None:
    assert parse_grounding(text) == expected


def test_parse_grounding_is_bounded_and_linear() -> None:
    hostile = "(" + " " * 200_000 + "1" * 50_000 + "<box>" * 10_000
    start = time.perf_counter()
    parse_grounding(hostile)
    assert time.perf_counter() - start < 1.0
    many = "<point>1 2</point>" * 1000
    assert len(parse_grounding(many)) == 256
