"""Frames and the frame-source protocol."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Frame", "FrameSource", "Geometry"]


@dataclass(frozen=True)
class Geometry:
    """Where captured pixels sit on the screen.

    A pixel (px, py) of the frame is at screen point
    ``(left + (crop_left + px) / scale, top + (crop_top + py) / scale)``
    in the coordinate space input libraries use (logical points).

    Attributes:
        left, top: the captured area's origin in screen coordinates (monitor offset + region).
        scale: captured pixels per screen point (2.0 on a HiDPI display).
        crop_left, crop_top: offset of this frame inside the captured area, in pixels (zoom crops).
        monitor: the monitor index the frame came from (0 = all monitors), when it is a screen.
    """

    left: int = 0
    top: int = 0
    scale: float = 1.0
    crop_left: int = 0
    crop_top: int = 0
    monitor: int | None = None


@dataclass(frozen=True)
class Frame:
    """One image observed by the agent.

    Attributes:
        image: the pixels (RGB).
        source: what produced it, e.g. ``"screen:1"``, ``"camera:0"``, ``"file:/a/b.png"``.
        geometry: the mapping to screen coordinates (identity for non-screen sources).
        timestamp: ``time.time()`` at capture.
        cursor: the cursor position in frame pixels, where the source knows it.
    """

    image: Image.Image
    source: str
    geometry: Geometry = field(default_factory=Geometry)
    timestamp: float = field(default_factory=time.time)
    cursor: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    @property
    def width(self) -> int:
        return self.image.size[0]

    @property
    def height(self) -> int:
        return self.image.size[1]


@runtime_checkable
class FrameSource(Protocol):
    """Anything that produces frames. ``grab`` may block; the loop runs it in a worker thread.

    ``grab`` returns one frame, or several recent frames for a multi-image observation.
    Failures raise :class:`agentkit.errors.CaptureError` after the source's own bounded retries.
    """

    def grab(self) -> Frame | list[Frame]: ...
