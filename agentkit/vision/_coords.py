"""One coordinate contract: model coordinates -> frame pixels -> screen points, and back.

Three spaces take part:

* **model** coordinates: what the model writes. By default integers normalised to 0-1000 of the
  image's width and height (the MiniCPM-V grounding convention); with ``CoordinateSpace("pixels")``
  they are pixels of the image the model was shown.
* **frame** pixels: pixels of a :class:`~agentkit.vision.Frame` (a crop is a frame too).
* **screen** points: what input libraries take. :class:`~agentkit.vision.Geometry` maps frame pixels
  there: ``screen = origin + (crop_offset + pixel) / scale``.

Grounding output is parsed by :func:`parse_grounding` from ``<box>``/``<point>``/``<quad>`` tags (with an
optional ``<ref>label</ref>`` before them) or from bare numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Literal

from agentkit.errors import ConfigurationError
from agentkit.vision._frame import Frame, Geometry

__all__ = [
    "Box",
    "CoordinateSpace",
    "Point",
    "Target",
    "crop_geometry",
    "frame_to_screen",
    "parse_grounding",
    "screen_to_frame",
]


@dataclass(frozen=True)
class Point:
    """A point, in whichever space the producer says (model, frame or screen)."""

    x: float
    y: float
    label: str | None = None

    @property
    def center(self) -> Point:
        return self


@dataclass(frozen=True)
class Box:
    """An axis-aligned box ``(x1, y1)`` top-left to ``(x2, y2)`` bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str | None = None

    @property
    def center(self) -> Point:
        return Point((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2, self.label)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def normalized(self) -> Box:
        """The same box with corners ordered (models sometimes swap them)."""
        return Box(
            min(self.x1, self.x2),
            min(self.y1, self.y2),
            max(self.x1, self.x2),
            max(self.y1, self.y2),
            self.label,
        )


Target = Point | Box


def frame_to_screen(x: float, y: float, geometry: Geometry) -> tuple[float, float]:
    """Frame pixel ``(x, y)`` to screen points through ``geometry``."""
    return (
        geometry.left + (geometry.crop_left + x) / geometry.scale,
        geometry.top + (geometry.crop_top + y) / geometry.scale,
    )


def screen_to_frame(x: float, y: float, geometry: Geometry) -> tuple[float, float]:
    """Screen point ``(x, y)`` to frame pixels through ``geometry`` (inverse of :func:`frame_to_screen`)."""
    return (
        (x - geometry.left) * geometry.scale - geometry.crop_left,
        (y - geometry.top) * geometry.scale - geometry.crop_top,
    )


@dataclass(frozen=True)
class CoordinateSpace:
    """How the model's numbers are read.

    Args:
        kind: ``"normalized"`` (0..``extent`` of the image's width/height) or ``"pixels"`` (pixels
            of the image as the model was shown it).
        extent: the normalisation range, 1000 for MiniCPM-V.

    Frame pixels are continuous: model ``0`` is the left edge of pixel 0 and model ``extent`` the
    right edge of the last pixel. :meth:`to_screen_int` rounds to the pixel that contains a point
    (clamped inside the frame), which is what a click needs.
    """

    kind: Literal["normalized", "pixels"] = "normalized"
    extent: float = 1000.0

    def __post_init__(self) -> None:
        if self.kind not in ("normalized", "pixels"):
            raise ConfigurationError(
                f"coordinate kind must be 'normalized' or 'pixels', not {self.kind!r}"
            )
        if not (self.extent > 0 and math.isfinite(self.extent)):
            raise ConfigurationError(
                f"coordinate extent must be a positive number, not {self.extent!r}"
            )

    # -- model <-> frame pixels ---------------------------------------------------------------
    def to_frame(
        self, x: float, y: float, size: tuple[int, int], shown_size: tuple[int, int] | None = None
    ) -> tuple[float, float]:
        """Model coordinates to pixels of an image of ``size`` (width, height).

        Args:
            x, y: the model's numbers.
            size: the frame's pixel size.
            shown_size: in ``"pixels"`` mode, the size of the image the model was sent when it
                differs from the frame (an encoder downscale); ignored when normalised.
        """
        w, h = size
        if self.kind == "pixels":
            if shown_size is None or tuple(shown_size) == (w, h):
                return float(x), float(y)
            return x * w / shown_size[0], y * h / shown_size[1]
        return x * w / self.extent, y * h / self.extent

    def from_frame(
        self, x: float, y: float, size: tuple[int, int], shown_size: tuple[int, int] | None = None
    ) -> tuple[float, float]:
        """Pixels of an image of ``size`` to model coordinates (inverse of :meth:`to_frame`)."""
        w, h = size
        if self.kind == "pixels":
            if shown_size is None or tuple(shown_size) == (w, h):
                return float(x), float(y)
            return x * shown_size[0] / w, y * shown_size[1] / h
        return x * self.extent / w, y * self.extent / h

    # -- model <-> screen -----------------------------------------------------------------------
    def to_screen(self, x: float, y: float, frame: Frame) -> tuple[float, float]:
        """Model coordinates on ``frame`` to screen points."""
        px, py = self.to_frame(x, y, frame.size)
        return frame_to_screen(px, py, frame.geometry)

    def from_screen(self, x: float, y: float, frame: Frame) -> tuple[float, float]:
        """Screen points to model coordinates on ``frame`` (to draw or to check an answer)."""
        px, py = screen_to_frame(x, y, frame.geometry)
        return self.from_frame(px, py, frame.size)

    def to_screen_int(self, x: float, y: float, frame: Frame) -> tuple[int, int]:
        """Model coordinates to the integer screen point of the frame pixel that contains them.

        Coordinates outside the image are clamped to its border pixels, so a sloppy ``1000`` or a
        negative value never leaves the captured area.
        """
        px, py = self.to_frame(x, y, frame.size)
        px = min(max(math.floor(px), 0), frame.width - 1) + 0.5
        py = min(max(math.floor(py), 0), frame.height - 1) + 0.5
        sx, sy = frame_to_screen(px, py, frame.geometry)
        return math.floor(sx), math.floor(sy)

    # -- targets --------------------------------------------------------------------------------
    def target_to_frame(self, target: Target, size: tuple[int, int]) -> Target:
        """Map a model-space point or box to frame pixels."""
        if isinstance(target, Point):
            x, y = self.to_frame(target.x, target.y, size)
            return Point(x, y, target.label)
        x1, y1 = self.to_frame(target.x1, target.y1, size)
        x2, y2 = self.to_frame(target.x2, target.y2, size)
        return Box(x1, y1, x2, y2, target.label)

    def target_from_frame(self, target: Target, size: tuple[int, int]) -> Target:
        """Map a frame-pixel point or box to model space."""
        if isinstance(target, Point):
            x, y = self.from_frame(target.x, target.y, size)
            return Point(x, y, target.label)
        x1, y1 = self.from_frame(target.x1, target.y1, size)
        x2, y2 = self.from_frame(target.x2, target.y2, size)
        return Box(x1, y1, x2, y2, target.label)

    def target_to_screen(self, target: Target, frame: Frame) -> Target:
        """Map a model-space point or box on ``frame`` to screen points."""
        t = self.target_to_frame(target, frame.size)
        if isinstance(t, Point):
            return Point(*frame_to_screen(t.x, t.y, frame.geometry), t.label)
        x1, y1 = frame_to_screen(t.x1, t.y1, frame.geometry)
        x2, y2 = frame_to_screen(t.x2, t.y2, frame.geometry)
        return Box(x1, y1, x2, y2, t.label)

    def target_from_screen(self, target: Target, frame: Frame) -> Target:
        """Map a screen-space point or box to model space on ``frame``."""
        if isinstance(target, Point):
            return Point(*self.from_screen(target.x, target.y, frame), target.label)
        x1, y1 = self.from_screen(target.x1, target.y1, frame)
        x2, y2 = self.from_screen(target.x2, target.y2, frame)
        return Box(x1, y1, x2, y2, target.label)


def crop_geometry(geometry: Geometry, left: int, top: int) -> Geometry:
    """The geometry of a crop that starts at frame pixel ``(left, top)``."""
    return replace(geometry, crop_left=geometry.crop_left + left, crop_top=geometry.crop_top + top)


# -- grounding parser ------------------------------------------------------------------------------

_MAX_TEXT = 200_000
_MAX_TARGETS = 256
# A number: optional sign, digits, optional fraction. Bounded lengths keep it linear and sane.
_NUM = r"-?\d{1,9}(?:\.\d{1,6})?"
_NUM_RE = re.compile(_NUM)
# Bounded separators: no unbounded quantifier next to another, so matching stays linear.
_SEP = r"[ \t]{0,4}[,\s][ \t]{0,4}"
_TAG_RE = re.compile(
    r"(?:<ref>(?P<label>[^<]{0,200})</ref>\s*)?<(?P<tag>box|point|quad)>(?P<body>[^<]{0,400})</(?P=tag)>"
)
_GROUP_RE = re.compile(
    rf"[\(\[] {{0,4}}(?P<a>{_NUM}){_SEP}(?P<b>{_NUM})"
    rf"(?:{_SEP}(?P<c>{_NUM}){_SEP}(?P<d>{_NUM}))? {{0,4}}[\)\]]"
)


def _target(nums: list[float], label: str | None, tag: str = "") -> list[Target]:
    if tag == "quad":  # four corners: their bounding box
        if len(nums) != 8:
            return []
        xs, ys = nums[0::2], nums[1::2]
        return [Box(min(xs), min(ys), max(xs), max(ys), label)]
    if len(nums) == 2:
        return [Point(nums[0], nums[1], label)]
    if len(nums) % 4 == 0 and nums:  # one box, or several in one tag
        return [
            Box(nums[i], nums[i + 1], nums[i + 2], nums[i + 3], label).normalized()
            for i in range(0, len(nums), 4)
        ]
    return []


def parse_grounding(text: str) -> list[Target]:
    """Read the points and boxes a model wrote, in model coordinates, in order of appearance.

    Understood forms:

    * ``<ref>label</ref><box>x1 y1 x2 y2</box>`` (the label is optional; commas allowed);
    * ``<point>x y</point>``; ``<quad>x1 y1 ... x4 y4</quad>`` (its bounding box); several
      boxes in one ``<box>`` tag (``<box>x1 y1 x2 y2 x1 y1 x2 y2</box>``);
    * with no tag at all: bracketed groups ``(x, y)``/``[x1, y1, x2, y2]``, else a text whose only
      numbers are 2 (a point) or 4 (a box), e.g. ``"click at 512 300"``.

    Nothing here raises on odd input: unreadable text gives an empty list. Values are not range
    checked (a caller clamps with :meth:`CoordinateSpace.to_screen_int` or rejects); at most 256
    targets are returned and only the first 200,000 characters are read.

    Args:
        text: the model's output (request ``skip_special_tokens: false`` so the tags survive).

    Returns:
        A list of :class:`Point` and :class:`Box`.
    """
    text = text[:_MAX_TEXT]
    found: list[Target] = []
    for m in _TAG_RE.finditer(text):
        nums = [float(n) for n in _NUM_RE.findall(m.group("body"))]
        label = m.group("label")
        found.extend(_target(nums, label.strip() if label is not None else None, m.group("tag")))
        if len(found) >= _MAX_TARGETS:
            return found[:_MAX_TARGETS]
    if found or "<box>" in text or "<point>" in text or "<quad>" in text:
        return found
    for g in _GROUP_RE.finditer(text):
        parts = [g.group(k) for k in "abcd" if g.group(k) is not None]
        found.extend(_target([float(p) for p in parts], None))
        if len(found) >= _MAX_TARGETS:
            return found[:_MAX_TARGETS]
    if found:
        return found
    nums = [float(n) for n in _NUM_RE.findall(text)[:5]]
    return _target(nums, None) if len(nums) in (2, 4) else []
