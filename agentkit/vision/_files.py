"""Frames from image files, and several recent frames of any source as one observation."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from agentkit.errors import CaptureError, ConfigurationError
from agentkit.vision._frame import Frame, FrameSource

__all__ = ["IMAGE_SUFFIXES", "ImageSource", "MultiFrameSource"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

PathLike = str | os.PathLike[str]


class ImageSource:
    """Frames from image files: one file (the same frame every time) or a sequence of them.

    Args:
        path_or_dir: an image file, a directory (its images in name order), or a list of files.
        loop: after the last image, start again from the first; otherwise a further ``grab``
            raises :class:`CaptureError` (the replay is over).

    A single file is returned on every grab regardless of ``loop``.
    """

    def __init__(self, path_or_dir: PathLike | Sequence[PathLike], loop: bool = False) -> None:
        if isinstance(path_or_dir, (str, os.PathLike)):
            root = Path(path_or_dir)
            if root.is_dir():
                paths = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
                if not paths:
                    raise ConfigurationError(
                        f"no images ({', '.join(IMAGE_SUFFIXES)}) in directory {root}"
                    )
                self._single = False
            elif root.is_file():
                paths = [root]
                self._single = True
            else:
                raise ConfigurationError(f"image source {root} does not exist")
        else:
            paths = [Path(p) for p in path_or_dir]
            if not paths:
                raise ConfigurationError("ImageSource needs at least one image path")
            self._single = False
        self.paths: list[Path] = paths
        self.loop = loop
        self._index = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.paths)

    def grab(self) -> Frame:
        """The next image as a frame.

        Raises:
            CaptureError: the file cannot be read, or the sequence is over (``loop=False``).
        """
        from PIL import Image

        with self._lock:
            if self._single:
                path = self.paths[0]
            else:
                if self._index >= len(self.paths):
                    if not self.loop:
                        raise CaptureError(
                            f"the image sequence is over ({len(self.paths)} images were replayed)"
                        )
                    self._index = 0
                path = self.paths[self._index]
                self._index += 1
        try:
            with Image.open(path) as im:
                image = im.convert("RGB")
        except (
            OSError,
            ValueError,
        ) as exc:  # PIL raises UnidentifiedImageError (an OSError) or ValueError
            raise CaptureError(f"cannot read image {path}: {exc}") from exc
        return Frame(image, f"file:{path}", timestamp=time.time())


class MultiFrameSource:
    """Several recent frames of one source as a multi-image observation.

    Each ``grab`` takes one new frame from ``source`` and returns the last ``keep`` frames, oldest
    first (fewer at the start).

    Args:
        source: the underlying source (a multi-frame grab contributes all its frames).
        keep: how many recent frames to return.
    """

    def __init__(self, source: FrameSource, keep: int = 3) -> None:
        if keep < 1:
            raise ConfigurationError("MultiFrameSource keep must be >= 1")
        self.source = source
        self.keep = keep
        self._frames: deque[Frame] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def grab(self) -> list[Frame]:
        got = self.source.grab()
        with self._lock:
            if isinstance(got, list):
                self._frames.extend(got)
            else:
                self._frames.append(got)
            return list(self._frames)
