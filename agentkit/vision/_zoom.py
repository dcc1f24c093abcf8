"""Zoom: a tool the model calls to look at a region again at 4x, and automatic coarse-to-fine.

A crop is a :class:`Frame` whose :class:`Geometry` carries the crop offset, so coordinates the model
gives on the crop map to the screen through the same contract as any frame
(:meth:`CoordinateSpace.to_screen`), and :func:`crop_to_parent` maps them back onto the full frame.

Coarse-to-fine: the full frame is sent at 16x; when the proposed target is small (or the step is
uncertain) a crop around it (:func:`refine_target`) is sent at 4x to refine the coordinates. A crop
of at most 448x448 pixels is one tile: 256 tokens at 4x, which the processor upscales to about 448x448
(an optical zoom). :func:`coarse_to_fine_tokens` reports the cost against the full frame at 4x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit.errors import CaptureError, ConfigurationError
from agentkit.tools._context import RunContext
from agentkit.vision._coords import Box, CoordinateSpace, Point, Target, crop_geometry
from agentkit.vision._frame import Frame
from agentkit.vision._tokens import image_tokens

if TYPE_CHECKING:
    from agentkit.tools import Tool

__all__ = [
    "ZoomResult",
    "coarse_to_fine_tokens",
    "crop_frame",
    "crop_to_parent",
    "is_small_target",
    "refine_target",
    "zoom_tool",
]


@dataclass(frozen=True)
class ZoomResult:
    """What the zoom tool returns: the crop (attached to the tool result at 4x) and a text for the model."""

    frame: Frame
    text: str

    def __str__(self) -> str:
        return self.text


def crop_frame(frame: Frame, left: int, top: int, right: int, bottom: int) -> Frame:
    """Crop frame pixels ``[left, right) x [top, bottom)`` (clamped to the frame) into a new frame
    whose geometry maps its pixels back to the same screen points."""
    left = max(0, min(int(left), frame.width - 1))
    top = max(0, min(int(top), frame.height - 1))
    right = max(left + 1, min(int(right), frame.width))
    bottom = max(top + 1, min(int(bottom), frame.height))
    image = frame.image.crop((left, top, right, bottom))
    cursor = None
    if frame.cursor is not None:
        cx, cy = frame.cursor[0] - left, frame.cursor[1] - top
        if 0 <= cx < image.width and 0 <= cy < image.height:
            cursor = (cx, cy)
    return Frame(
        image,
        f"zoom:{frame.source}",
        crop_geometry(frame.geometry, left, top),
        frame.timestamp,
        cursor,
    )


def _window(center: float, size: int, limit: int) -> tuple[int, int]:
    size = min(size, limit)
    start = int(round(center - size / 2))
    start = max(0, min(start, limit - size))
    return start, start + size


def refine_target(
    frame: Frame,
    target: Target,
    *,
    crop_size: int | tuple[int, int] = 448,
    space: CoordinateSpace | None = None,
) -> Frame:
    """Crop around a proposed target for a 4x refinement pass.

    Args:
        frame: the full frame the target was proposed on.
        target: a point or box in model coordinates (``space``) on ``frame``.
        crop_size: the crop's size in frame pixels (grown to contain a larger box; clamped to the
            frame). 448 keeps the crop one tile.
        space: how to read the target (default: 0-1000 normalised).

    Returns:
        The crop, its geometry carrying the offset (map the refined answer with
        :func:`crop_to_parent` or straight to the screen with ``space.to_screen(x, y, crop)``).
    """
    space = space or CoordinateSpace()
    cw, ch = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    if cw <= 0 or ch <= 0:
        raise ConfigurationError(f"crop_size must be positive, not {crop_size}")
    t = space.target_to_frame(target, frame.size)
    if isinstance(t, Box):
        t = t.normalized()
        cw = max(cw, int(t.width) + 16)
        ch = max(ch, int(t.height) + 16)
    c = t.center
    left, right = _window(c.x, cw, frame.width)
    top, bottom = _window(c.y, ch, frame.height)
    return crop_frame(frame, left, top, right, bottom)


def crop_to_parent(
    target: Target, crop: Frame, parent: Frame, space: CoordinateSpace | None = None
) -> Target:
    """Map a target in model coordinates on ``crop`` to model coordinates on ``parent``.

    ``crop`` must descend from ``parent`` (its geometry's crop offset includes the parent's).
    """
    space = space or CoordinateSpace()
    dx = crop.geometry.crop_left - parent.geometry.crop_left
    dy = crop.geometry.crop_top - parent.geometry.crop_top
    t = space.target_to_frame(target, crop.size)
    if isinstance(t, Point):
        moved: Target = Point(t.x + dx, t.y + dy, t.label)
    else:
        moved = Box(t.x1 + dx, t.y1 + dy, t.x2 + dx, t.y2 + dy, t.label)
    return space.target_from_frame(moved, parent.size)


def is_small_target(
    target: Target,
    frame_size: tuple[int, int],
    *,
    space: CoordinateSpace | None = None,
    fraction: float = 0.03,
) -> bool:
    """Whether a proposed target is small enough to deserve a 4x refinement.

    A point always qualifies (its extent is unknown); a box qualifies when its width or height is
    under ``fraction`` of the frame's (3%: 58 px on a 1920 px wide screen).
    """
    if isinstance(target, Point):
        return True
    box = (space or CoordinateSpace()).target_to_frame(target, frame_size)
    assert isinstance(box, Box)
    w, h = frame_size
    return abs(box.width) < fraction * w or abs(box.height) < fraction * h


def coarse_to_fine_tokens(
    frame_size: tuple[int, int],
    crop_size: tuple[int, int] | int = 448,
    *,
    max_slice_nums: int | None = None,
    profile: str = "vllm",
) -> tuple[int, int]:
    """Prompt tokens of coarse-to-fine against a full 4x look.

    Returns:
        ``(full frame at 16x + crop at 4x, full frame at 4x)``, visual plus wrapper tokens.
    """
    cw, ch = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    w, h = frame_size
    cw, ch = min(cw, w), min(ch, h)
    coarse = image_tokens(w, h, "16x", max_slice_nums, profile).total
    fine = image_tokens(cw, ch, "4x", max_slice_nums, profile).total
    full = image_tokens(w, h, "4x", max_slice_nums, profile).total
    return coarse + fine, full


def _latest_frame(ctx: RunContext[Any]) -> Frame:
    if ctx.frames:
        return ctx.frames[-1]
    if ctx.source is not None:
        got = ctx.source.grab()
        frames = got if isinstance(got, list) else [got]
        if frames:
            return frames[-1]
    raise CaptureError("there is no screenshot to zoom into")


def zoom_tool(
    *,
    space: CoordinateSpace | None = None,
    min_size: int = 112,
    name: str = "zoom",
) -> Tool:
    """A read-only tool that crops a region of the latest frame for a high-detail (4x) look.

    The model calls ``zoom(x1, y1, x2, y2)`` with a box in the same coordinates it uses for
    actions (0-1000 normalised by default); the loop attaches the returned crop to the tool result at
    4x. A box smaller than ``min_size`` frame pixels is grown around its centre; corners in either
    order are accepted; coordinates outside the frame are clamped.

    Args:
        space: the model's coordinate space.
        min_size: the smallest crop side in frame pixels.
        name: the tool's name.
    """
    from agentkit.tools import tool

    cs = space or CoordinateSpace()
    unit = "0-1000 of the screenshot" if cs.kind == "normalized" else "pixels of the screenshot"

    def zoom(ctx: RunContext[Any], x1: int, y1: int, x2: int, y2: int) -> ZoomResult:
        """Look at a region of the current screenshot again in high detail.

        Use it to read small text or find a small target before acting. Your action coordinates
        still refer to the full screenshot.

        Args:
            x1: left edge of the region.
            y1: top edge of the region.
            x2: right edge of the region.
            y2: bottom edge of the region.
        """
        frame = _latest_frame(ctx)
        box = cs.target_to_frame(Box(x1, y1, x2, y2).normalized(), frame.size)
        assert isinstance(box, Box)
        cx, cy = box.center.x, box.center.y
        w = max(box.width, float(min_size))
        h = max(box.height, float(min_size))
        left, right = _window(cx, int(round(w)), frame.width)
        top, bottom = _window(cy, int(round(h)), frame.height)
        crop = crop_frame(frame, left, top, right, bottom)
        (mx1, my1), (mx2, my2) = (
            cs.from_frame(left, top, frame.size),
            cs.from_frame(right, bottom, frame.size),
        )
        text = (
            f"Zoomed view of x {mx1:.0f}-{mx2:.0f}, y {my1:.0f}-{my2:.0f} ({unit}) attached in high detail. "
            "Coordinates in your actions still refer to the full screenshot."
        )
        return ZoomResult(crop, text)

    zoom.__doc__ = (zoom.__doc__ or "").replace(
        "edge of the region.", f"edge of the region ({unit})."
    )
    return tool(name=name, risk="read_only")(zoom)
