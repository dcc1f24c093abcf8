"""Encoding (format, harmless resizing) and bounded history (prompt tokens stop growing)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw

from agentkit.errors import ConfigurationError
from agentkit.messages import FunctionCall, ImagePart, Message, TextPart
from agentkit.vision import (
    OMITTED_IMAGE,
    BoundedHistory,
    Frame,
    content_kind,
    encode_frame,
    estimate_prompt_tokens,
    image_tokens,
    server_size,
)


def _screen(w: int = 1920, h: int = 1080, source: str = "screen:1") -> Frame:
    img = Image.new("RGB", (w, h), (240, 240, 240))
    d = ImageDraw.Draw(img)
    for y in range(20, h, 40):
        d.text((20, y), "File  Edit  View  the quick brown fox 0123456789", fill=(0, 0, 0))
    d.rectangle((w // 2, h // 2, w // 2 + 200, h // 2 + 40), fill=(30, 90, 200))
    return Frame(img, source)


def _photo(w: int = 640, h: int = 480, source: str = "file:photo.png") -> Frame:
    noise = random.Random(1).randbytes(w * h * 3)
    return Frame(Image.frombytes("RGB", (w, h), noise), source)


# -- encoding -------------------------------------------------------------------------------------


def test_content_kind() -> None:
    assert content_kind(_screen(source="screen:1")) == "screen"
    assert content_kind(_screen(source="file:x.png")) == "screen"  # judged from the pixels
    assert content_kind(_photo()) == "photo"
    assert content_kind(_photo(source="screen:0")) == "screen"  # the source decides when known
    assert content_kind(_screen(source="camera:0")) == "photo"


def test_auto_format_png_for_screens_jpeg_for_photos() -> None:
    assert encode_frame(_screen()).media_type == "image/png"
    assert encode_frame(_photo()).media_type == "image/jpeg"
    assert encode_frame(_screen(), format="webp").media_type == "image/webp"
    assert encode_frame(_photo(), format="jpeg", quality=50).media_type == "image/jpeg"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), (1792, 896)),
        ((2560, 1440), (1792, 896)),
        ((3840, 2160), (1792, 896)),
        ((1280, 720), (1280, 720)),  # the server would upscale: left alone
        ((640, 480), (640, 480)),
        ((448, 448), (448, 448)),
    ],
)
def test_server_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert server_size(*size) == expected


SIZES = [
    (1920, 1080),
    (2560, 1440),
    (3840, 2160),
    (1280, 720),
    (1366, 768),
    (1440, 900),
    (2880, 1800),
    (800, 600),
    (300, 200),
    (5000, 400),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", ["vllm", "transformers-5.23"])
@pytest.mark.parametrize("slices", [None, 36])
def test_resizing_never_changes_the_token_count(
    size: tuple[int, int], profile: str, slices: int | None
) -> None:
    w, h = size
    tw, th = server_size(w, h, "16x", slices, profile)
    assert tw <= w and th <= h  # never upscales
    for mode in ("16x", "4x"):
        before = image_tokens(w, h, mode, slices, profile)
        after = image_tokens(tw, th, mode, slices, profile)
        assert (after.grid, after.tiles, after.total) == (before.grid, before.tiles, before.total)


def test_encode_frame_reports_the_encoded_size_and_decodes() -> None:
    frame = _screen(2560, 1440)
    part = encode_frame(frame, frame_id="step0001-0")
    assert (part.width, part.height) == (1792, 896)
    assert part.frame_id == "step0001-0"
    with Image.open(io.BytesIO(part.data)) as im:
        assert im.size == (1792, 896)
    assert image_tokens(part.width, part.height).total == image_tokens(2560, 1440).total
    kept = encode_frame(frame, resize=False)
    assert (kept.width, kept.height) == (2560, 1440)


def test_auto_resize_only_when_it_removes_a_third_of_the_pixels() -> None:
    fhd = _screen(1920, 1080)  # 1792x896 keeps 77% of the pixels: not worth it by default
    assert (encode_frame(fhd).width, encode_frame(fhd).height) == (1920, 1080)
    forced = encode_frame(fhd, resize=True)
    assert (forced.width, forced.height) == (1792, 896)
    assert image_tokens(1792, 896) == image_tokens(1920, 1080)
    with pytest.raises(ConfigurationError):
        encode_frame(fhd, resize="sometimes")


def test_lossless_formats_keep_pixels() -> None:
    frame = _screen(800, 600)
    for fmt in ("png", "webp"):
        part = encode_frame(frame, format=fmt)
        with Image.open(io.BytesIO(part.data)) as im:
            assert im.convert("RGB").tobytes() == frame.image.tobytes()


def test_encode_bad_arguments() -> None:
    with pytest.raises(ConfigurationError):
        encode_frame(_screen(64, 64), format="gif")
    with pytest.raises(ConfigurationError):
        encode_frame(_screen(64, 64), format="jpeg", quality=0)


# -- bounded history ---------------------------------------------------------------------------


def _screenshot_part(i: int) -> ImagePart:
    return encode_frame(_screen(1920, 1080), frame_id=f"step{i:04d}-0")


def _scripted_run(steps: int, part: ImagePart) -> list[list[Message]]:
    """The conversation after each step of a run that sends a screenshot every step."""
    messages = [
        Message("system", "You operate a computer."),
        Message("user", [TextPart("Task: open settings"), part]),
    ]
    history = []
    for step in range(1, steps + 1):
        call = FunctionCall(f"call_{step}", "click", {"x": 100 + step, "y": 200})
        messages.append(Message("assistant", "", tool_calls=[call]))
        messages.append(Message("tool", "clicked", tool_call_id=call.id, name="click"))
        messages.append(Message("user", [TextPart(f"Current screen, step {step}:"), part]))
        history.append(list(messages))
    return history


def test_prompt_tokens_stop_growing() -> None:
    part = _screenshot_part(0)
    policy = BoundedHistory(keep_full=2, keep_downgraded=3, max_messages=24)
    totals = []
    for msgs in _scripted_run(40, part):
        view = policy.apply(msgs)
        totals.append(estimate_prompt_tokens(view).total)
    unbounded = estimate_prompt_tokens(_scripted_run(40, part)[-1]).total
    assert totals[0] < totals[5]
    # flat after a few steps: the last 25 steps vary by a handful of text tokens only
    tail = totals[15:]
    assert max(tail) - min(tail) <= 10
    assert max(totals) < 2 * image_tokens(1920, 1080).total + 1000
    assert unbounded > 10 * max(totals)


def test_history_keeps_newest_downgrades_then_drops() -> None:
    part = _screenshot_part(0)
    msgs = _scripted_run(8, part)[-1]
    view = BoundedHistory(keep_full=2, keep_downgraded=3, max_messages=None).apply(msgs)
    images = [p for m in view for p in m.images]
    assert len(images) == 5
    assert [p.detail for p in images] == ["downgraded"] * 3 + ["full"] * 2
    assert all(p.width * p.height <= 448 * 448 for p in images[:3])
    assert image_tokens(images[0].width, images[0].height).grid is None  # one tile
    placeholders = [
        p
        for m in view
        if isinstance(m.content, list)
        for p in m.content
        if isinstance(p, TextPart) and p.text == OMITTED_IMAGE
    ]
    assert len(placeholders) == 9 - 5
    # the input is untouched
    assert sum(len(m.images) for m in msgs) == 9


def test_history_keeps_first_user_message_and_pairs() -> None:
    msgs = _scripted_run(30, _screenshot_part(0))[-1]
    view = BoundedHistory(max_messages=10).apply(msgs)
    assert view[0].role == "system"
    assert view[1].role == "user" and view[1].text.startswith("Task: open settings")
    tail = view[2:]
    assert len(tail) <= 10
    assert tail[0].role == "user" and "earlier messages omitted" in tail[0].text
    # every tool result still follows its call
    for i, m in enumerate(view):
        if m.role == "tool":
            assert (
                view[i - 1].role == "assistant" and view[i - 1].tool_calls[0].id == m.tool_call_id
            )


def test_history_with_string_content_only() -> None:
    msgs = [Message("user", "hi"), Message("assistant", "hello")]
    assert BoundedHistory().apply(msgs) == msgs


def test_history_bad_settings() -> None:
    with pytest.raises(ConfigurationError):
        BoundedHistory(keep_full=0)
    with pytest.raises(ConfigurationError):
        BoundedHistory(max_messages=1)
