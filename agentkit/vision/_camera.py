"""Cameras, streams and video files through OpenCV (the ``camera`` extra, imported lazily)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from agentkit.errors import CaptureError, ConfigurationError, MissingExtraError
from agentkit.vision._frame import Frame

__all__ = ["CameraSource", "VideoSource"]

logger = logging.getLogger("agentkit.vision")


def _cv2(what: str) -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise MissingExtraError("camera", what, "opencv-python-headless is not installed") from exc
    return cv2


def _to_image(cv2: Any, bgr: Any) -> Any:
    from PIL import Image

    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return Image.fromarray(rgb)


class CameraSource:
    """Frames from a camera (device index) or a stream URL; a video file opened the same way replays
    a recording as if it were a camera.

    Args:
        device: a device index (``0``), a stream URL (``rtsp://...``, ``http://...``) or a file path.
        width, height: the resolution to ask the device for (``None``: the device's default).
        warmup: frames read and discarded after opening (auto-exposure settles).
        reconnect: on a failed read, close and reopen the capture (a replayed file starts over).
        retries: reopen attempts per ``grab`` before :class:`CaptureError`.

    Frames are named ``camera:<device>``; their geometry is the identity (a camera has no screen).
    """

    def __init__(
        self,
        device: int | str | os.PathLike[str] = 0,
        width: int | None = None,
        height: int | None = None,
        warmup: int = 3,
        reconnect: bool = True,
        *,
        retries: int = 2,
    ) -> None:
        if warmup < 0 or retries < 0:
            raise ConfigurationError("warmup and retries must be >= 0")
        self._cv2 = _cv2("CameraSource")
        self.device: int | str = device if isinstance(device, int) else os.fspath(device)
        self.width = width
        self.height = height
        self.warmup = warmup
        self.reconnect = reconnect
        self.retries = retries
        self._cap: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        cv2 = self._cv2
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise CaptureError(f"cannot open camera {self.device!r} (no such device, URL or file?)")
        if self.width is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height is not None:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        for _ in range(self.warmup):
            cap.read()
        return cap

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def grab(self) -> Frame:
        """Read one frame.

        Raises:
            CaptureError: the device cannot be opened or read, after the reconnect attempts.
        """
        with self._lock:
            attempts = (self.retries + 1) if self.reconnect else 1
            last = "no frame"
            for attempt in range(attempts):
                try:
                    if self._cap is None:
                        self._cap = self._open()
                    ok, bgr = self._cap.read()
                except CaptureError as exc:
                    ok, bgr, last = False, None, str(exc)
                if ok and bgr is not None:
                    return Frame(
                        _to_image(self._cv2, bgr), f"camera:{self.device}", timestamp=time.time()
                    )
                logger.warning(
                    "camera %r read failed (attempt %d/%d)", self.device, attempt + 1, attempts
                )
                self._close()
                if attempt + 1 < attempts:
                    time.sleep(0.05 * attempt)
            raise CaptureError(
                f"camera {self.device!r} gave no frame after {attempts} attempt(s): {last}"
            )

    def close(self) -> None:
        """Release the device."""
        with self._lock:
            self._close()


class VideoSource:
    """Frames sampled from a video file at a fixed rate of video time.

    Args:
        path: the video file.
        fps: frames per second of video time to return (``1.0``: one frame per second of video).
        loop: after the end, start again; otherwise a further ``grab`` raises :class:`CaptureError`.

    Frames are named ``video:<path>@<seconds>s``.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float = 1.0, loop: bool = False) -> None:
        if not fps > 0:
            raise ConfigurationError(f"fps must be positive, not {fps}")
        self._cv2 = _cv2("VideoSource")
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigurationError(f"video file {self.path} does not exist")
        self.fps = fps
        self.loop = loop
        self._cap: Any = None
        self._next_t = 0.0  # video time of the next frame to return, seconds
        self._pos = 0  # index of the next frame the capture will decode
        self._source_fps = 0.0
        self._ended = False
        self._lock = threading.Lock()

    def _open(self) -> None:
        cv2 = self._cv2
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise CaptureError(f"cannot open video {self.path}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self._source_fps = fps if fps and fps > 0 else 25.0
        self._cap = cap
        self._pos = 0
        self._next_t = 0.0

    def grab(self) -> Frame:
        """The next sampled frame.

        Raises:
            CaptureError: the file cannot be decoded, or the video is over (``loop=False``).
        """
        with self._lock:
            if self._ended:
                raise CaptureError(f"the video {self.path} is over")
            for _ in range(2):  # a second pass only when looping back to the start
                if self._cap is None:
                    self._open()
                target = round(self._next_t * self._source_fps)
                # decode and discard up to the target frame (sequential reads are reliable, seeks are not)
                while self._pos < target:
                    if not self._cap.grab():
                        break
                    self._pos += 1
                ok, bgr = self._cap.read() if self._pos == target else (False, None)
                if ok and bgr is not None:
                    self._pos += 1
                    t = self._next_t
                    self._next_t += 1.0 / self.fps
                    return Frame(
                        _to_image(self._cv2, bgr),
                        f"video:{self.path}@{t:.2f}s",
                        timestamp=time.time(),
                    )
                self._cap.release()
                self._cap = None
                if not self.loop:
                    self._ended = True
                    raise CaptureError(f"the video {self.path} is over")
            raise CaptureError(f"no frame could be decoded from {self.path}")

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
