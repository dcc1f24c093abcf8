"""Observation: frames from the source, the compression choice, encoding and visual tokens.

Also owns what the model sees of the past (the bounded history) and the retry prompt.
"""

from __future__ import annotations

import asyncio
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentkit.errors import CaptureError, ConfigurationError, ToolCallError
from agentkit.messages import ImagePart, Message, Part, TextPart
from agentkit.trajectory import TrajectoryWriter
from agentkit.vision import (
    ModeChoice,
    PolicyState,
    encode_frame,
    image_tokens,
)
from agentkit.vision._frame import Frame

if TYPE_CHECKING:
    from agentkit.agent._agent import Agent
    from agentkit.tools import ToolSet

__all__ = ["Observation", "Observer", "retry_prompt"]

_OMITTED = "[earlier image omitted to save context]"


@dataclass
class Observation:
    choice: ModeChoice
    message: Message | None
    frame_records: list[dict[str, Any]] = field(default_factory=list)
    visual_tokens: int = 0
    detail_only: bool = False  # a zoom step: only the crops are sent, at 4x


class Observer:
    """Turns frames into image parts for one run, recording each in the trajectory."""

    def __init__(self, agent: Agent[Any], writer: TrajectoryWriter) -> None:
        self.agent = agent
        self.writer = writer
        self.current_frames: list[Frame] = []
        self._previous: Frame | None = None
        self._records: list[dict[str, Any]] = []  # frames saved since the last observation
        self._tokens = 0  # their visual tokens
        self.prefetched: Frame | None = None  # the settled frame after an action, if any
        self.last_changed: bool | None = None  # did the screen change since the previous step

    def to_frame(self, image: Any) -> Frame:
        """A Frame from a Frame, a PIL image, a path or encoded bytes."""
        from PIL import Image

        if isinstance(image, Frame):
            return image
        if isinstance(image, Image.Image):
            return Frame(image.convert("RGB"), "input")
        if isinstance(image, (str, os.PathLike)):
            path = Path(image)
            try:
                with Image.open(path) as im:
                    return Frame(im.convert("RGB"), f"file:{path}")
            except OSError as exc:
                raise ConfigurationError(f"cannot read image {path}: {exc}") from exc
        if isinstance(image, (bytes, bytearray)):
            try:
                with Image.open(io.BytesIO(image)) as im:
                    return Frame(im.convert("RGB"), "bytes")
            except OSError as exc:
                raise ConfigurationError(f"cannot decode image bytes: {exc}") from exc
        raise ConfigurationError(
            f"images= takes Frames, PIL images, paths or bytes, not {type(image).__name__}"
        )

    async def attach(
        self, frame: Frame, frame_id: str, *, mode: str, max_slice_nums: int | None = None
    ) -> ImagePart:
        """Encode a frame for the model (in a worker thread) and record exactly those bytes."""
        part = await asyncio.to_thread(
            encode_frame,
            frame,
            mode=mode,
            max_slice_nums=max_slice_nums,
        )
        rec = await asyncio.to_thread(
            self.writer.save_frame,
            frame,
            frame_id,
            encoded=(part.data, part.media_type, part.width, part.height),
        )
        self._records.append(rec)
        self._tokens += image_tokens(part.width, part.height, mode, max_slice_nums).total
        return ImagePart(
            part.data,
            part.media_type,
            part.width,
            part.height,
            frame_id=frame_id,
            detail=part.detail,
        )

    async def observe(
        self,
        step: int,
        *,
        task: str,
        detail_frames: list[Frame],
        last_action_failed: bool,
        tool_frames: list[Frame] = (),  # type: ignore[assignment]
    ) -> Observation:
        """Frames for this step: a zoom's crops alone (coarse-to-fine: the full frame was seen at
        the previous step), else frames a tool returned (a screenshot), else the source's."""
        agent = self.agent
        frames: list[Frame] = []
        if detail_frames:
            self.prefetched = None
        elif tool_frames:
            frames, self.prefetched = list(tool_frames), None
        elif agent.source is not None and self.prefetched is not None:
            frames, self.prefetched = [self.prefetched], None
        elif agent.source is not None:
            got = await asyncio.to_thread(agent.source.grab)
            frames = list(got) if isinstance(got, list) else [got]
            if not frames:
                raise CaptureError("the frame source returned no frame")
        changed: bool | None = None
        if frames and self._previous is not None:
            changed = await asyncio.to_thread(_changed, self._previous, frames[-1])
        self.last_changed = changed
        state = PolicyState(
            step=step,
            task=task,
            frames=[f.size for f in frames + detail_frames],
            last_action_failed=last_action_failed,
            screen_changed=changed,
            detail_requested=bool(detail_frames),
        )
        choice = agent.policy.choose(state)
        if detail_frames and choice.mode != "4x":
            # a zoom is a request for detail: the crop is small, so 4x is cheap
            choice = ModeChoice("4x", choice.max_slice_nums, "a tool asked for a detailed look")
        named = [(f"step{step:04d}-{i}", f) for i, f in enumerate(frames)]
        named += [(f"step{step:04d}-zoom{i}", f) for i, f in enumerate(detail_frames)]
        parts: list[Part] = [
            await self.attach(
                frame, frame_id, mode=choice.mode, max_slice_nums=choice.max_slice_nums
            )
            for frame_id, frame in named
        ]
        if frames:
            self._previous = frames[-1]
            self.current_frames = frames
        message = None
        if parts:
            label = "Current screen" if frames else "Requested detail"
            if changed is False:
                label += " (unchanged since your last action)"
            message = Message("user", [TextPart(f"{label}, step {step}:"), *parts])
        records, self._records = self._records, []
        tokens, self._tokens = self._tokens, 0
        return Observation(choice, message, records, tokens, detail_only=bool(detail_frames))

    async def settle(self, timeout_s: float) -> None:
        """After an action: wait until the screen stops changing, keep that frame for next step."""
        source = self.agent.source
        if source is None or timeout_s <= 0:
            return
        from agentkit.vision import wait_until_settled

        frame, _settled = await asyncio.to_thread(wait_until_settled, source, timeout_s=timeout_s)
        self.prefetched = frame

    def history_view(self, messages: list[Message], *, detail_only: bool = False) -> list[Message]:
        """What the model is sent: the agent's history policy applied to the conversation.

        With ``detail_only`` every image but those of the last message is left out: the request
        is sent at 4x, which applies to all its images, and the crops are what it is for.
        """
        history = self.agent.history
        view = history.apply(messages) if history is not None else list(messages)
        if not detail_only:
            return view
        out = []
        for i, msg in enumerate(view):
            if i == len(view) - 1 or isinstance(msg.content, str) or not msg.images:
                out.append(msg)
                continue
            content: list[Part] = [
                TextPart(_OMITTED) if isinstance(p, ImagePart) else p for p in msg.content
            ]
            out.append(Message(msg.role, content, msg.tool_calls, msg.tool_call_id, msg.name))
        return out

    def shrink_history(self, messages: list[Message]) -> bool:
        """Drop every image but the newest, in place (context-overflow recovery).

        Returns False when there was nothing left to drop.
        """
        seen_newest = False
        dropped = False
        for idx in range(len(messages) - 1, -1, -1):
            msg = messages[idx]
            if isinstance(msg.content, str):
                continue
            new: list[Part] = []
            for part in msg.content:
                if isinstance(part, ImagePart):
                    if not seen_newest:
                        seen_newest = True
                        new.append(part)
                        continue
                    new.append(TextPart(_OMITTED))
                    dropped = True
                else:
                    new.append(part)
            messages[idx] = Message(msg.role, new, msg.tool_calls, msg.tool_call_id, msg.name)
        return dropped


def _changed(a: Frame, b: Frame) -> bool:
    """Whether anything visible changed between two frames, however small.

    A downscaled difference misses a few typed characters on a large screen, and a false
    "nothing changed" sends the model chasing a problem that is not there; so the frames are
    compared at full size, ignoring only faint noise (a level change of 16 or less).
    """
    if a.size != b.size:
        return True
    from PIL import ImageChops

    diff = ImageChops.difference(a.image.convert("L"), b.image.convert("L"))
    return diff.point(lambda v: 255 if v > 16 else 0).getbbox() is not None


def retry_prompt(errors: list[ToolCallError], toolset: ToolSet) -> str:
    """The message that tells the model what was wrong with its calls."""
    lines = ["Your tool call was not valid, so nothing was executed:"]
    for err in errors:
        lines.append(f"- {err.message}")
    names = ", ".join(toolset.names()) or "(none)"
    lines.append(f"Available tools: {names}. Write the corrected call.")
    return "\n".join(lines)
