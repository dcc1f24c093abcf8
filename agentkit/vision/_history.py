"""History that stays bounded: what the model is sent of the past.

Every step adds a screenshot; sent whole, a 50-step run would carry 50 of them. A
:class:`HistoryPolicy` rewrites the conversation before each request (the full record stays in the
run's messages and trajectory): :class:`BoundedHistory` keeps the newest images in full, replaces
the few before them by a single-tile thumbnail (about 64 tokens at 16x instead of 578 for a
1920x1080 screen) and the older ones by a short text placeholder, and drops old turns past a cap, so
the prompt tokens per step stop growing after a few steps.
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agentkit.errors import ConfigurationError
from agentkit.messages import ImagePart, Message, Part, TextPart
from agentkit.vision._tokens import image_tokens

__all__ = [
    "OMITTED_IMAGE",
    "BoundedHistory",
    "HistoryPolicy",
    "PromptEstimate",
    "downgrade_image",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
]

OMITTED_IMAGE = "[earlier screenshot omitted]"
_THUMB_AREA = 448 * 448


@runtime_checkable
class HistoryPolicy(Protocol):
    """Rewrites the conversation before a request; returns a new list, never mutates its input."""

    def apply(self, messages: list[Message]) -> list[Message]: ...


def downgrade_image(part: ImagePart) -> ImagePart:
    """A cheaper copy of ``part``: resized to at most 448x448 of area, so the server sends it as
    one tile (no slices). Images already that small are returned unchanged."""
    if part.width * part.height <= _THUMB_AREA:
        return part
    from PIL import Image

    factor = math.sqrt(_THUMB_AREA / (part.width * part.height))
    size = (max(1, int(part.width * factor)), max(1, int(part.height * factor)))
    with Image.open(io.BytesIO(part.data)) as im:
        small = im.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    if part.media_type == "image/jpeg":
        small.save(buf, "JPEG", quality=85)
        media = "image/jpeg"
    else:
        small.save(buf, "PNG", compress_level=1)
        media = "image/png"
    return ImagePart(
        buf.getvalue(), media, size[0], size[1], frame_id=part.frame_id, detail="downgraded"
    )


def _replace_content(msg: Message, content: str | list[Part]) -> Message:
    return Message(msg.role, content, list(msg.tool_calls), msg.tool_call_id, msg.name)


@dataclass
class BoundedHistory:
    """Keep the newest images, downgrade a few older ones, drop the rest, cap the turns.

    Args:
        keep_full: the newest images kept as they are.
        keep_downgraded: the images before those, replaced by a one-tile thumbnail.
        max_messages: the most non-system messages sent, after the first real user message
            (``None``: no cap). Older turns are dropped whole, cutting only where a user turn
            begins, so a tool result never loses its call; a note says how many were left out.
        placeholder: the text an omitted image becomes.

    The first real user message (the task) is always kept, text and images alike budgeted with
    the others.
    """

    keep_full: int = 2
    keep_downgraded: int = 3
    max_messages: int | None = 24
    placeholder: str = OMITTED_IMAGE

    def __post_init__(self) -> None:
        if self.keep_full < 1 or self.keep_downgraded < 0:
            raise ConfigurationError("BoundedHistory needs keep_full >= 1 and keep_downgraded >= 0")
        if self.max_messages is not None and self.max_messages < 2:
            raise ConfigurationError("BoundedHistory max_messages must be at least 2 (or None)")
        self._cache: OrderedDict[bytes, ImagePart] = OrderedDict()

    def _downgraded(self, part: ImagePart) -> ImagePart:
        # bytes objects cache their hash, so looking the same image up every step is cheap.
        hit = self._cache.get(part.data)
        if hit is None:
            hit = downgrade_image(part)
            self._cache[part.data] = hit
            while len(self._cache) > 4 * (self.keep_downgraded + 1):
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(part.data)
        return hit

    def _trim_turns(self, messages: list[Message]) -> list[Message]:
        if self.max_messages is None:
            return list(messages)
        first_user = next((i for i, m in enumerate(messages) if m.role == "user"), None)
        if first_user is None:
            return list(messages)
        head = messages[: first_user + 1]
        rest = messages[first_user + 1 :]
        if len(rest) <= self.max_messages:
            return list(messages)
        cut = len(rest) - self.max_messages
        # move the cut forward to a user turn so no tool result is separated from its call
        while cut < len(rest) and rest[cut].role != "user":
            cut += 1
        if cut >= len(rest):
            return list(messages)
        tail = list(rest[cut:])
        note = TextPart(f"[{cut} earlier messages omitted]")
        first = tail[0]
        content: list[Part] = [
            note,
            *(first.content if isinstance(first.content, list) else [TextPart(first.content)]),
        ]
        tail[0] = _replace_content(first, content)
        return head + tail

    def apply(self, messages: list[Message]) -> list[Message]:
        trimmed = self._trim_turns(messages)
        seen = 0
        out: list[Message] = list(trimmed)
        for idx in range(len(out) - 1, -1, -1):
            msg = out[idx]
            if isinstance(msg.content, str) or not any(
                isinstance(p, ImagePart) for p in msg.content
            ):
                continue
            parts: list[Part] = []
            for part in reversed(msg.content):
                if not isinstance(part, ImagePart):
                    parts.append(part)
                    continue
                seen += 1
                if seen <= self.keep_full:
                    parts.append(part)
                elif seen <= self.keep_full + self.keep_downgraded:
                    parts.append(self._downgraded(part))
                else:
                    parts.append(TextPart(self.placeholder))
            parts.reverse()
            out[idx] = _replace_content(msg, parts)
        return out


# -- prompt size estimate ------------------------------------------------------------------------

# The chat template wraps each message in <|im_start|>role\n ... <|im_end|>\n: about 5 tokens.
_PER_MESSAGE = 5


def estimate_text_tokens(text: str) -> int:
    """A rough token count for text: UTF-8 bytes / 4, rounded up (BPE on English and code)."""
    return math.ceil(len(text.encode("utf-8", "replace")) / 4)


@dataclass(frozen=True)
class PromptEstimate:
    """agentkit's estimate of a request's prompt tokens.

    Attributes:
        visual: exact visual and wrapper tokens of every image (for the profile).
        text: estimated text and template tokens.
        images: how many images the request carries.
    """

    visual: int
    text: int
    images: int

    @property
    def total(self) -> int:
        return self.visual + self.text


def estimate_prompt_tokens(
    messages: list[Message],
    mode: str = "16x",
    max_slice_nums: int | None = None,
    profile: str = "vllm",
    *,
    extra_text: str = "",
) -> PromptEstimate:
    """Estimate the prompt tokens of ``messages`` sent in ``mode``.

    Args:
        messages: the conversation as it will be sent (after the history policy).
        mode: the request's ``downsample_mode`` (it applies to every image of the request).
        max_slice_nums: the request's slice cap.
        profile: the server's token profile.
        extra_text: text the template adds (the rendered tool schemas, instructions...).
    """
    visual = 0
    text = estimate_text_tokens(extra_text) if extra_text else 0
    index = 0
    for msg in messages:
        text += _PER_MESSAGE + estimate_text_tokens(msg.text)
        for call in msg.tool_calls:
            text += 10 + estimate_text_tokens(call.name + str(call.arguments))
        for part in msg.images:
            visual += image_tokens(
                part.width, part.height, mode, max_slice_nums, profile, image_index=index
            ).total
            index += 1
    return PromptEstimate(visual=visual, text=text, images=index)
