"""Calibration: draw known targets, ask the model where they are, measure the error.

The model's answer goes through the same path as any grounding answer: :func:`parse_grounding`, then
:class:`CoordinateSpace` and the frame's :class:`Geometry` to screen points. A systematic error
(an offset, a scale, swapped axes, a wrong coordinate convention) shows up as a large mean error
with a small spread; a weak model as a large spread.

The picture can also be shown full-screen by any means (a Tk window, an image viewer) and captured
with a :class:`ScreenSource`: pass the captured frame as ``frame=`` and the targets in its pixels as
``targets=`` to check the capture mapping as well.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentkit.errors import ConfigurationError
from agentkit.messages import Message, TextPart
from agentkit.vision._coords import CoordinateSpace, frame_to_screen, parse_grounding
from agentkit.vision._encode import encode_frame
from agentkit.vision._frame import Frame, Geometry

if TYPE_CHECKING:
    from agentkit.backends._base import Backend

__all__ = [
    "CalibrationReport",
    "CalibrationResult",
    "CalibrationTarget",
    "calibrate",
    "calibration_image",
    "score_answer",
]

_COLOURS = [
    ("red", (220, 30, 30)),
    ("green", (20, 160, 40)),
    ("blue", (30, 60, 220)),
    ("orange", (240, 140, 0)),
    ("purple", (140, 40, 180)),
    ("black", (0, 0, 0)),
    ("teal", (0, 140, 140)),
    ("magenta", (220, 0, 160)),
]


@dataclass(frozen=True)
class CalibrationTarget:
    """One drawn target.

    Attributes:
        label: how the prompt names it (``"the red circle"``).
        x, y: its centre in frame pixels.
        radius: its radius in frame pixels.
    """

    label: str
    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class CalibrationResult:
    """The model's answer for one target.

    Attributes:
        target: the target.
        answer: the model's raw text.
        found: the parsed point in frame pixels, or ``None`` when no point could be read.
        error_px: the distance to the target's centre in frame pixels (``None`` when not found).
        screen_error: the same in screen points.
        hit: whether the answer lies inside the drawn target.
    """

    target: CalibrationTarget
    answer: str
    found: tuple[float, float] | None
    error_px: float | None
    screen_error: float | None
    hit: bool


@dataclass
class CalibrationReport:
    """The whole calibration.

    Attributes:
        results: one per target.
        mean_error_px, median_error_px, max_error_px: over the targets that were found.
        mean_offset_px: the mean signed ``(dx, dy)`` (a systematic shift shows here).
        hits: how many answers landed inside their target.
        missing: how many answers had no readable point.
    """

    results: list[CalibrationResult] = field(default_factory=list)

    @property
    def _errors(self) -> list[float]:
        return [r.error_px for r in self.results if r.error_px is not None]

    @property
    def mean_error_px(self) -> float | None:
        e = self._errors
        return statistics.fmean(e) if e else None

    @property
    def median_error_px(self) -> float | None:
        e = self._errors
        return statistics.median(e) if e else None

    @property
    def max_error_px(self) -> float | None:
        e = self._errors
        return max(e) if e else None

    @property
    def mean_offset_px(self) -> tuple[float, float] | None:
        found = [
            (r.found[0] - r.target.x, r.found[1] - r.target.y) for r in self.results if r.found
        ]
        if not found:
            return None
        return statistics.fmean(d[0] for d in found), statistics.fmean(d[1] for d in found)

    @property
    def hits(self) -> int:
        return sum(r.hit for r in self.results)

    @property
    def missing(self) -> int:
        return sum(r.found is None for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": len(self.results),
            "hits": self.hits,
            "missing": self.missing,
            "mean_error_px": self.mean_error_px,
            "median_error_px": self.median_error_px,
            "max_error_px": self.max_error_px,
            "mean_offset_px": self.mean_offset_px,
            "results": [
                {
                    "label": r.target.label,
                    "target": [r.target.x, r.target.y],
                    "found": list(r.found) if r.found else None,
                    "error_px": r.error_px,
                    "screen_error": r.screen_error,
                    "hit": r.hit,
                    "answer": r.answer[:200],
                }
                for r in self.results
            ],
        }


def calibration_image(
    size: tuple[int, int] = (1280, 800),
    count: int = 5,
    *,
    radius: int = 18,
    seed: int = 0,
    geometry: Geometry | None = None,
) -> tuple[Frame, list[CalibrationTarget]]:
    """Draw ``count`` coloured circles at random, non-overlapping positions on a light background.

    Returns:
        The picture as a frame (with ``geometry``, for a picture shown full-screen at a known
        place) and the targets in frame pixels.
    """
    from PIL import Image, ImageDraw

    if not 1 <= count <= len(_COLOURS):
        raise ConfigurationError(f"count must be between 1 and {len(_COLOURS)}")
    w, h = size
    if w < 8 * radius or h < 8 * radius:
        raise ConfigurationError(f"size {size} is too small for targets of radius {radius}")
    rng = random.Random(seed)
    image = Image.new("RGB", size, (238, 238, 232))
    draw = ImageDraw.Draw(image)
    targets: list[CalibrationTarget] = []
    margin = 2 * radius
    for name, colour in _COLOURS[:count]:
        for _ in range(1000):
            x, y = rng.uniform(margin, w - margin), rng.uniform(margin, h - margin)
            if all(math.hypot(x - t.x, y - t.y) > 6 * radius for t in targets):
                break
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        targets.append(CalibrationTarget(f"the {name} circle", x, y, radius))
    return Frame(image, "calibration", geometry or Geometry()), targets


def _prompt(target: CalibrationTarget, space: CoordinateSpace) -> str:
    unit = (
        f"as integers from 0 to {space.extent:g} of the image width and height"
        if space.kind == "normalized"
        else "in pixels of the image"
    )
    return f"Point to the centre of {target.label}. Answer only with <point>x y</point>, {unit}."


Asker = Callable[[Frame, str], "Awaitable[str] | str"]


def _backend_asker(backend: Backend, mode: str, max_slice_nums: int | None) -> Asker:
    from agentkit.backends._base import ModelRequest, complete

    async def ask(frame: Frame, prompt: str) -> str:
        part = encode_frame(frame, mode=mode, max_slice_nums=max_slice_nums)
        request = ModelRequest(
            messages=[Message("user", [part, TextPart(prompt)])],
            mode="4x" if mode == "4x" else "16x",
            max_slice_nums=max_slice_nums,
            max_tokens=64,
            temperature=0.0,
            tool_choice="none",
            skip_special_tokens=False,  # <point> is a special token
        )
        return (await complete(backend, request)).text

    return ask


async def calibrate(
    backend: Backend | None = None,
    *,
    ask: Asker | None = None,
    frame: Frame | None = None,
    targets: list[CalibrationTarget] | None = None,
    space: CoordinateSpace | None = None,
    mode: str = "16x",
    max_slice_nums: int | None = None,
    count: int = 5,
    size: tuple[int, int] = (1280, 800),
    seed: int = 0,
) -> CalibrationReport:
    """Ask the model for the location of known targets and report the error.

    Args:
        backend: the model to ask (one request per target, image and question, temperature 0,
            ``skip_special_tokens`` off so ``<point>`` survives).
        ask: instead of ``backend``, any ``(frame, prompt) -> text`` function (sync or async).
        frame: the picture to ask about; default: :func:`calibration_image` of ``size``.
        targets: the targets drawn on ``frame`` (required with ``frame``).
        space: the coordinate convention the model is expected to use.
        mode: the request's ``downsample_mode``.
        max_slice_nums: the request's slice cap.
        count, size, seed: for the default picture.

    Returns:
        A :class:`CalibrationReport` (errors in frame pixels and in screen points).
    """
    space = space or CoordinateSpace()
    if frame is None:
        frame, targets = calibration_image(size, count, seed=seed)
    elif targets is None:
        raise ConfigurationError("calibrate(frame=...) needs the targets drawn on it")
    assert targets is not None
    if ask is None:
        if backend is None:
            raise ConfigurationError("calibrate needs a backend= or an ask= function")
        ask = _backend_asker(backend, mode, max_slice_nums)

    report = CalibrationReport()
    for target in targets:
        answer = ask(frame, _prompt(target, space))
        if not isinstance(answer, str):
            answer = await answer
        report.results.append(score_answer(answer, target, frame, space))
    return report


def score_answer(
    answer: str, target: CalibrationTarget, frame: Frame, space: CoordinateSpace
) -> CalibrationResult:
    """Parse one answer and measure it against its target (frame pixels and screen points)."""
    found_targets = parse_grounding(answer)
    if not found_targets:
        return CalibrationResult(target, answer, None, None, None, False)
    point = found_targets[0].center
    px, py = space.to_frame(point.x, point.y, frame.size)
    err = math.hypot(px - target.x, py - target.y)
    sx, sy = frame_to_screen(px, py, frame.geometry)
    tx, ty = frame_to_screen(target.x, target.y, frame.geometry)
    return CalibrationResult(
        target,
        answer,
        (px, py),
        err,
        math.hypot(sx - tx, sy - ty),
        err <= target.radius,
    )
