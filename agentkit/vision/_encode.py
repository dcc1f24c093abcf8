"""Encoding a frame for the request: a format chosen for the content, and only harmless resizing.

Format (``format="auto"``): screens carry text and flat colours, which lossless coding keeps exact
and compresses well; camera photos are noise to a lossless coder and JPEG is both much smaller and
faster there. The choice and the default settings come from ``benchmarks/bench_vision.py`` (see
``docs/vision.md`` for the measured numbers).

Resizing: the server's processor resizes every image anyway (a thumbnail of about 448x448 area and,
for larger images, a grid of slices cut from the image resized to ``tile * grid``). When the frame is
larger than that refine size in both directions, sending it at the refine size gives the server the
same grid, the same tiles and the same token count while saving bytes; :func:`server_size` checks that
with :func:`~agentkit.vision.image_tokens` before and after, and never upscales. The slices the server
cuts are then the same pixels it would have computed itself (resized once, with the processor's
bicubic filter); only the small thumbnail is resampled from the downscaled image rather than from the
original.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from agentkit.errors import ConfigurationError
from agentkit.messages import ImagePart
from agentkit.vision._frame import Frame
from agentkit.vision._tokens import image_tokens

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["FORMATS", "content_kind", "encode_frame", "encode_image", "server_size"]

FORMATS = ("auto", "png", "jpeg", "webp")

# Defaults picked from the benchmark (docs/vision.md): on a 1920x1080 screen PNG at zlib level 1
# took about a third less time than Pillow's default level 6 for 4% more bytes; JPEG 90 made a
# camera-like photo 6x smaller than PNG and encoded 25x faster.
PNG_COMPRESS_LEVEL = 1
JPEG_QUALITY = 90
# resize="auto" downscales only when the server size keeps at most this share of the pixels.
AUTO_RESIZE_AREA = 2 / 3

_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_PHOTO_PREFIXES = ("camera:", "video:")
_SCREEN_PREFIXES = ("screen:",)


def content_kind(frame: Frame) -> str:
    """``"screen"`` (text, flat colours) or ``"photo"`` (camera-like), from the source or the pixels.

    Sources named ``screen:*`` are screens and ``camera:*``/``video:*`` are photos; anything else
    (files, crops of unknown origin) is judged on a centre patch of at most 256x256 pixels: screens
    have long runs of identical neighbouring pixels, photos almost none.
    """
    src = frame.source
    if src.startswith(_SCREEN_PREFIXES) or src.startswith("zoom:screen"):
        return "screen"
    if src.startswith(_PHOTO_PREFIXES):
        return "photo"
    from PIL import ImageChops

    img = frame.image.convert("RGB")
    w, h = img.size
    cw, ch = min(w, 256), min(h, 256)
    if cw < 2:
        return "screen"
    left, top = (w - cw) // 2, (h - ch) // 2
    patch = img.crop((left, top, left + cw, top + ch))
    diff = ImageChops.difference(patch.crop((0, 0, cw - 1, ch)), patch.crop((1, 0, cw, ch)))
    r, g, b = diff.split()
    largest = ImageChops.lighter(ImageChops.lighter(r, g), b)
    same = largest.histogram()[0]
    total = (cw - 1) * ch
    return "screen" if same / total >= 0.35 else "photo"


def server_size(
    width: int,
    height: int,
    mode: str = "16x",
    max_slice_nums: int | None = None,
    profile: str = "vllm",
) -> tuple[int, int]:
    """The largest size worth sending: the processor's refine size when it is a pure downscale.

    Returns ``(width, height)`` unchanged when the processor would upscale, or when the smaller
    size would not give exactly the same grid, tiles and token count in both modes (a history
    image may be re-sent with a request of the other mode).
    """
    before = image_tokens(width, height, mode, max_slice_nums, profile)
    if before.grid is None:
        # One tile: the thumbnail itself is what the server encodes.
        target = before.tiles[0]
    else:
        rows, cols = before.grid
        tw, th = before.tiles[1]
        target = (tw * cols, th * rows)
    tw, th = target
    if tw > width or th > height or (tw, th) == (width, height):
        return width, height
    # The same encoded image may be re-sent in a later request of the other mode (history), so
    # the smaller size must be equivalent in both modes, not only the one asked for.
    for m in ("16x", "4x"):
        orig = before if m == mode else image_tokens(width, height, m, max_slice_nums, profile)
        after = image_tokens(tw, th, m, max_slice_nums, profile)
        if (after.grid, after.tiles, after.total) != (orig.grid, orig.tiles, orig.total):
            return width, height
    return tw, th


def encode_image(image: Image.Image, fmt: str, quality: int | None = None) -> tuple[bytes, str]:
    """Encode ``image`` as ``"png"``, ``"jpeg"`` or ``"webp"``; returns (bytes, media type).

    WebP is lossless unless a ``quality`` is given.
    """
    if fmt not in _MEDIA:
        raise ConfigurationError(f"image format must be one of png, jpeg, webp, not {fmt!r}")
    img = image if image.mode in ("RGB", "L") else image.convert("RGB")
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif fmt == "jpeg":
        img.save(
            buf,
            "JPEG",
            quality=quality or JPEG_QUALITY,
            subsampling=0 if (quality or 0) >= 95 else 2,
        )
    elif quality is None:
        img.save(buf, "WEBP", lossless=True, quality=0, method=0)
    else:
        img.save(buf, "WEBP", quality=quality, method=4)
    return buf.getvalue(), _MEDIA[fmt]


def encode_frame(
    frame: Frame,
    *,
    format: str = "auto",
    quality: int | None = None,
    mode: str = "16x",
    max_slice_nums: int | None = None,
    profile: str = "vllm",
    resize: bool | str = "auto",
    frame_id: str | None = None,
) -> ImagePart:
    """Encode a frame as an :class:`~agentkit.messages.ImagePart` for a request.

    Args:
        frame: the frame to send.
        format: ``"auto"`` (PNG for screens, JPEG for camera photos), ``"png"``, ``"jpeg"`` or
            ``"webp"`` (lossless unless ``quality`` is given).
        quality: JPEG/WebP quality (1-100); ``None`` for the default.
        mode: the ``downsample_mode`` the image will be sent with (the refine size depends on it).
        max_slice_nums: the request's slice cap (``None``: server default 9).
        profile: the token profile of the server (see :func:`~agentkit.vision.image_tokens`).
        resize: ``True``: downscale to the processor's own refine size whenever that changes
            nothing the model sees (see :func:`server_size`); ``"auto"``: only when it removes at
            least a third of the pixels (the resize costs CPU time, and on a 1920x1080 screen the
            blurred text makes PNG bytes grow, see docs/vision.md); ``False``: never. Never
            upscales.
        frame_id: the trajectory's id for the frame.

    Returns:
        The encoded image with its pixel size (which :class:`CoordinateSpace` in ``"pixels"`` mode
        takes as ``shown_size``).
    """
    if format not in FORMATS:
        raise ConfigurationError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if quality is not None and not 1 <= quality <= 100:
        raise ConfigurationError(f"quality must be between 1 and 100, not {quality}")
    if resize not in (True, False, "auto"):
        raise ConfigurationError(f"resize must be True, False or 'auto', not {resize!r}")
    image = frame.image
    if resize:
        size = server_size(frame.width, frame.height, mode, max_slice_nums, profile)
        worth = resize is True or size[0] * size[1] <= AUTO_RESIZE_AREA * frame.width * frame.height
        if size != image.size and worth:
            from PIL import Image as PILImage

            image = image.convert("RGB").resize(size, PILImage.Resampling.BICUBIC)
    fmt = format
    if fmt == "auto":
        fmt = "png" if content_kind(frame) == "screen" else "jpeg"
    data, media = encode_image(image, fmt, quality)
    return ImagePart(
        data=data, media_type=media, width=image.width, height=image.height, frame_id=frame_id
    )
