"""The conversation as agentkit keeps it: plain, serialisable records, independent of any wire format.

Backends translate these to their own format (OpenAI chat messages, a chat-template prompt...).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["FunctionCall", "ImagePart", "Message", "Part", "Role", "TextPart", "Usage"]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """One encoded image as sent to the model.

    Attributes:
        data: the encoded bytes (PNG, JPEG or WebP).
        media_type: e.g. ``"image/png"``.
        width, height: pixel size of the encoded image.
        frame_id: the trajectory's name for the frame this came from (``"step3-0"``), if any.
        detail: ``"full"`` or ``"downgraded"`` (history policy made it cheaper).
    """

    data: bytes
    media_type: str
    width: int
    height: int
    frame_id: str | None = None
    detail: str = "full"

    def data_url(self) -> str:
        return f"data:{self.media_type};base64," + base64.b64encode(self.data).decode("ascii")


Part = TextPart | ImagePart


@dataclass(frozen=True)
class FunctionCall:
    """A validated call as it is written back into the history (never an invalid one)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Message:
    role: Role
    content: str | list[Part] = ""
    tool_calls: list[FunctionCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> list[ImagePart]:
        if isinstance(self.content, str):
            return []
        return [p for p in self.content if isinstance(p, ImagePart)]


@dataclass
class Usage:
    """Token usage as the server reports it, plus agentkit's own visual-token count."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    visual_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.visual_tokens + other.visual_tokens,
            self.requests + other.requests,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "visual_tokens": self.visual_tokens,
            "requests": self.requests,
        }
