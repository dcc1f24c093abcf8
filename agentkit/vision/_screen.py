"""Screen capture through ``mss``: one monitor, all of them, or a region, with its geometry."""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from agentkit.errors import CaptureError, ConfigurationError
from agentkit.vision._frame import Frame, Geometry

__all__ = ["BlankFrameWarning", "ScreenSource", "is_blank"]

logger = logging.getLogger("agentkit.vision")


class BlankFrameWarning(UserWarning):
    """A captured frame is one uniform colour (a locked screen, a screensaver, a capture bug)."""


def is_blank(image: Any) -> bool:
    """Whether every pixel of a PIL image has the same colour."""
    extrema = image.getextrema()
    if isinstance(extrema[0], tuple):
        return all(lo == hi for lo, hi in extrema)
    return bool(extrema[0] == extrema[1])


class ScreenSource:
    """Frames from the screen.

    Args:
        monitor: ``1`` for the first monitor (mss numbering), ``0`` for the whole virtual screen
            spanning all monitors.
        region: ``(left, top, width, height)`` in screen points relative to the monitor's
            top-left corner; ``None`` for the whole monitor.
        retries: further attempts after a failed capture before :class:`CaptureError`.
        include_cursor: draw the mouse cursor into the frame where mss can (X11 with XFixes).
        scale: captured pixels per screen point; ``None`` detects it from the captured size
            (2.0 on a macOS Retina display, 1.0 on X11 and DPI-aware Windows).
        cursor_position: a callable returning the cursor's screen point (for example from the
            input tool pack); when given, each frame records the cursor in frame pixels.
        warn_blank: warn (:class:`BlankFrameWarning` and a log line) on a uniform frame.

    Attributes:
        last_blank: whether the last frame was blank.

    The frame's :class:`Geometry` maps its pixels to screen points: ``left``/``top`` are the
    monitor's offset plus the region's, ``scale`` the HiDPI factor, ``monitor`` the index.
    """

    def __init__(
        self,
        monitor: int = 1,
        region: tuple[int, int, int, int] | None = None,
        retries: int = 3,
        include_cursor: bool = True,
        *,
        scale: float | None = None,
        cursor_position: Callable[[], tuple[int, int]] | None = None,
        warn_blank: bool = True,
    ) -> None:
        if monitor < 0:
            raise ConfigurationError(
                f"monitor must be 0 (all) or a monitor number from 1, not {monitor}"
            )
        if region is not None:
            if len(region) != 4 or region[2] <= 0 or region[3] <= 0:
                raise ConfigurationError(
                    f"region must be (left, top, width, height) with a positive size, not {region}"
                )
        if retries < 0:
            raise ConfigurationError("retries must be >= 0")
        if scale is not None and not scale > 0:
            raise ConfigurationError(f"scale must be positive, not {scale}")
        self.monitor = monitor
        self.region = region
        self.retries = retries
        self.include_cursor = include_cursor
        self.scale = scale
        self.cursor_position = cursor_position
        self.warn_blank = warn_blank
        self.last_blank = False
        self._local = threading.local()

    def _sct(self) -> Any:
        sct = getattr(self._local, "sct", None)
        if sct is None:
            import mss

            # with_cursor exists on Linux only; mss warns when it is given elsewhere.
            kwargs = (
                {"with_cursor": True}
                if self.include_cursor and sys.platform.startswith("linux")
                else {}
            )
            factory = getattr(mss, "MSS", None)  # mss >= 10.2, where mss.mss() is deprecated
            sct = factory(**kwargs) if factory is not None else mss.mss(**kwargs)
            self._local.sct = sct
        return sct

    def _reset(self) -> None:
        sct = getattr(self._local, "sct", None)
        self._local.sct = None
        if sct is not None:
            try:
                sct.close()
            except Exception:  # closing a broken connection must not hide the real error
                logger.debug("closing mss failed", exc_info=True)

    def monitors(self) -> list[dict[str, int]]:
        """The monitors mss sees: index 0 is the union of all, then one per monitor."""
        return [dict(m) for m in self._sct().monitors]

    def _area(self) -> dict[str, int]:
        monitors = self._sct().monitors
        if self.monitor >= len(monitors):
            raise ConfigurationError(
                f"monitor {self.monitor} does not exist: this display has {len(monitors) - 1} "
                f"monitor(s), numbered from 1 (0 captures all of them)"
            )
        mon = monitors[self.monitor]
        if self.region is None:
            return {
                "left": mon["left"],
                "top": mon["top"],
                "width": mon["width"],
                "height": mon["height"],
            }
        rl, rt, rw, rh = self.region
        return {"left": mon["left"] + rl, "top": mon["top"] + rt, "width": rw, "height": rh}

    def grab(self) -> Frame:
        """Capture one frame.

        Raises:
            ConfigurationError: the monitor does not exist.
            CaptureError: capture failed ``retries + 1`` times (no display, X error...).
        """
        from PIL import Image

        last_exc: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                area = self._area()
                shot = self._sct().grab(area)
                image = Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")
                break
            except ConfigurationError:
                raise
            except (
                Exception
            ) as exc:  # mss raises ScreenShotError, ctypes/OS errors vary by platform
                last_exc = exc
                logger.warning(
                    "screen capture failed (attempt %d/%d): %s", attempt + 1, self.retries + 1, exc
                )
                self._reset()
                if attempt < self.retries:
                    time.sleep(0.05 * (attempt + 1))
        else:
            raise CaptureError(
                f"could not capture monitor {self.monitor} after {self.retries + 1} attempts: {last_exc}. "
                "Is a display available (DISPLAY on Linux, screen-recording permission on macOS)?"
            ) from last_exc

        scale = self.scale if self.scale is not None else image.width / area["width"]
        geometry = Geometry(left=area["left"], top=area["top"], scale=scale, monitor=self.monitor)
        self.last_blank = is_blank(image)
        if self.last_blank and self.warn_blank:
            logger.warning("blank frame from monitor %d", self.monitor)
            warnings.warn(
                f"the frame captured from monitor {self.monitor} is one uniform colour "
                "(locked screen, screensaver or a capture problem?)",
                BlankFrameWarning,
                stacklevel=2,
            )
        cursor = None
        if self.cursor_position is not None:
            sx, sy = self.cursor_position()
            px = int((sx - geometry.left) * scale)
            py = int((sy - geometry.top) * scale)
            if 0 <= px < image.width and 0 <= py < image.height:
                cursor = (px, py)
        return Frame(image, f"screen:{self.monitor}", geometry, time.time(), cursor)

    def close(self) -> None:
        """Release this thread's capture connection."""
        self._reset()
