"""Screen-change detection: did the last action change anything, and has the screen settled?"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from agentkit.vision._frame import Frame, FrameSource

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["frame_difference", "wait_until_settled"]

_SAMPLE = (160, 100)


def _small(frame: Frame) -> Image.Image:
    from PIL import Image

    return frame.image.convert("L").resize(_SAMPLE, Image.Resampling.BILINEAR)


def frame_difference(a: Frame, b: Frame) -> float:
    """How different two frames look, from 0.0 (identical) to 1.0.

    Both frames are reduced to 160x100 grey pixels; the result is the fraction of those pixels
    whose grey level differs by more than 8 (out of 255), so sensor noise and JPEG artefacts do not
    count and a changed button or a new line of text does. Frames of different sizes count as
    completely different (1.0). Takes about a millisecond for a 1920x1080 frame.
    """
    if a.size != b.size:
        return 1.0
    from PIL import ImageChops

    hist = ImageChops.difference(_small(a), _small(b)).histogram()
    return sum(hist[9:]) / (_SAMPLE[0] * _SAMPLE[1])


def _grab_one(source: FrameSource) -> Frame:
    got = source.grab()
    if isinstance(got, list):
        return got[-1]
    return got


def wait_until_settled(
    source: FrameSource,
    *,
    timeout_s: float = 2.0,
    interval_s: float = 0.1,
    threshold: float = 0.002,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Frame, bool]:
    """Grab frames until two in a row differ by at most ``threshold`` (the screen has settled).

    Args:
        source: where to grab from (the last frame of a multi-frame grab counts).
        timeout_s: give up after this long and return the newest frame.
        interval_s: the pause between grabs.
        threshold: the largest :func:`frame_difference` that counts as "no change".
        clock, sleep: injectable for tests.

    Returns:
        ``(frame, settled)``: the newest frame and whether it settled before the timeout.
    """
    deadline = clock() + timeout_s
    previous = _grab_one(source)
    while True:
        if clock() >= deadline:
            return previous, False
        sleep(interval_s)
        current = _grab_one(source)
        if frame_difference(previous, current) <= threshold:
            return current, True
        previous = current
