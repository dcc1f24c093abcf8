"""Frame sources other than the screen: image files, video files, a camera replayed from a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from agentkit.errors import CaptureError, ConfigurationError
from agentkit.vision import (
    CameraSource,
    Frame,
    FrameSource,
    ImageSource,
    MultiFrameSource,
    VideoSource,
)

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]


def _write_images(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    for i, c in enumerate(COLOURS[:3]):
        Image.new("RGB", (32, 24), c).save(d / f"{i:02d}.png")
    (d / "notes.txt").write_text("not an image")
    return d


def test_image_directory_in_order_then_over(tmp_path: Path) -> None:
    src = ImageSource(_write_images(tmp_path))
    assert isinstance(src, FrameSource) and len(src) == 3
    got = [src.grab() for _ in range(3)]
    assert [f.image.getpixel((0, 0)) for f in got] == COLOURS[:3]
    assert got[0].source.startswith("file:") and got[0].source.endswith("00.png")
    with pytest.raises(CaptureError, match="over"):
        src.grab()


def test_image_directory_loops(tmp_path: Path) -> None:
    src = ImageSource(_write_images(tmp_path), loop=True)
    colours = [src.grab().image.getpixel((0, 0)) for _ in range(4)]
    assert colours == [*COLOURS[:3], COLOURS[0]]


def test_single_image_every_time_and_rgb(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGBA", (10, 10), (1, 2, 3, 128)).save(path)
    src = ImageSource(path)
    for _ in range(3):
        frame = src.grab()
        assert frame.image.mode == "RGB" and frame.size == (10, 10)


def test_unreadable_and_missing_images(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(CaptureError, match="cannot read"):
        ImageSource(bad).grab()
    with pytest.raises(ConfigurationError):
        ImageSource(tmp_path / "nope.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigurationError):
        ImageSource(empty)
    with pytest.raises(ConfigurationError):
        ImageSource([])


def test_multi_frame_source_keeps_recent(tmp_path: Path) -> None:
    multi = MultiFrameSource(ImageSource(_write_images(tmp_path), loop=True), keep=2)
    first = multi.grab()
    assert len(first) == 1
    second = multi.grab()
    third = multi.grab()
    assert [f.image.getpixel((0, 0)) for f in second] == COLOURS[:2]
    assert [f.image.getpixel((0, 0)) for f in third] == COLOURS[1:3]
    with pytest.raises(ConfigurationError):
        MultiFrameSource(multi, keep=0)


# -- OpenCV: video files, and a camera replayed from one ------------------------------------------


def _write_video(tmp_path: Path, fps: float = 10.0, seconds: int = 3) -> Path:
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(int(fps * seconds)):
        # one colour per second of video (BGR for OpenCV)
        r, g, b = COLOURS[i // int(fps)]
        writer.write(np.full((48, 64, 3), (b, g, r), dtype=np.uint8))
    writer.release()
    return path


def _close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def test_video_sampled_at_rate(tmp_path: Path) -> None:
    path = _write_video(tmp_path)
    src = VideoSource(path, fps=1.0)
    frames = [src.grab() for _ in range(3)]
    for frame, colour in zip(frames, COLOURS[:3], strict=True):
        assert frame.size == (64, 48)
        assert _close(frame.image.getpixel((32, 24)), colour)
    assert frames[1].source.endswith("@1.00s")
    with pytest.raises(CaptureError, match="over"):
        src.grab()
    with pytest.raises(CaptureError, match="over"):
        src.grab()  # stays over


def test_video_faster_rate_and_loop(tmp_path: Path) -> None:
    path = _write_video(tmp_path)
    src = VideoSource(path, fps=2.0, loop=True)
    frames = [src.grab() for _ in range(7)]  # 6 samples in 3 s, then back to the start
    assert frames[-1].source.endswith("@0.00s")
    assert _close(frames[2].image.getpixel((0, 0)), COLOURS[1])


def test_camera_replayed_from_a_video_file(tmp_path: Path) -> None:
    path = _write_video(tmp_path, fps=10.0, seconds=1)
    cam = CameraSource(path, warmup=3)
    frame = cam.grab()
    assert frame.source.startswith("camera:")
    assert frame.size == (64, 48)
    assert _close(frame.image.getpixel((10, 10)), COLOURS[0])
    # 10 frames: 3 warm-up + 7 reads, then the "device" drops and is reopened (reconnect)
    for _ in range(10):
        cam.grab()
    cam.close()


def test_camera_without_reconnect_fails_at_end(tmp_path: Path) -> None:
    path = _write_video(tmp_path, fps=10.0, seconds=1)
    cam = CameraSource(path, warmup=0, reconnect=False)
    for _ in range(10):
        cam.grab()
    with pytest.raises(CaptureError, match="no frame"):
        cam.grab()


def test_camera_that_cannot_open(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    cam = CameraSource(str(tmp_path / "no-such-device.avi"), retries=1)
    with pytest.raises(CaptureError, match="cannot open"):
        cam.grab()


def test_missing_opencv_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from agentkit.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    with pytest.raises(MissingExtraError, match=r"agentkit\[camera\]"):
        CameraSource(0)
    video = tmp_path / "v.avi"
    video.write_bytes(b"")
    with pytest.raises(MissingExtraError):
        VideoSource(video)


def test_frames_are_frames(tmp_path: Path) -> None:
    path = _write_video(tmp_path, seconds=1)
    assert isinstance(VideoSource(path).grab(), Frame)
