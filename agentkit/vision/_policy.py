"""The compression policy: ``"16x"`` or ``"4x"`` (and ``max_slice_nums``) for each request.

16x is the cheap default (a quarter of the visual tokens, and a cheaper vision tower); 4x helps
with small targets and small text (see the grounding numbers in the reference). A policy is any
object with ``choose(state) -> ModeChoice``; the choice and its reason are recorded in every step's
event and trajectory line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from agentkit.errors import ConfigurationError
from agentkit.vision._tokens import image_tokens

__all__ = [
    "READING_KEYWORDS",
    "AutoPolicy",
    "CompressionPolicy",
    "Fixed4x",
    "Fixed16x",
    "ModeChoice",
    "PolicyState",
    "make_policy",
    "visual_cost",
]


@dataclass(frozen=True)
class ModeChoice:
    """What a policy decided for one request.

    Attributes:
        mode: ``"16x"`` or ``"4x"``.
        max_slice_nums: the slice cap to request, or ``None`` for the server default (never send
            it to vLLM 0.22.x: it kills the engine).
        reason: why, in a few words (recorded in events and the trajectory).
    """

    mode: Literal["16x", "4x"]
    max_slice_nums: int | None = None
    reason: str = ""


@dataclass
class PolicyState:
    """What a policy may look at when it chooses.

    Attributes:
        step: the step number, from 1.
        task: the user's task text.
        frames: ``(width, height)`` of every image the request will carry.
        last_action_failed: the previous step's tool call failed.
        screen_changed: whether the screen changed since the previous frame (``None``: unknown).
        detail_requested: the model asked for detail (the zoom tool, or a request to look closer).
        small_target: the previous action aimed at a small target (a box under about 2% of the
            frame's width or height, as the loop or a tool judges it).
        token_budget: the most visual tokens this step may spend (``None``: no limit).
    """

    step: int = 1
    task: str = ""
    frames: list[tuple[int, int]] = field(default_factory=list)
    last_action_failed: bool = False
    screen_changed: bool | None = None
    detail_requested: bool = False
    small_target: bool = False
    token_budget: int | None = None


@runtime_checkable
class CompressionPolicy(Protocol):
    """Anything that picks the mode per request."""

    def choose(self, state: PolicyState) -> ModeChoice: ...


def visual_cost(frames: list[tuple[int, int]], mode: str, max_slice_nums: int | None = None) -> int:
    """Visual plus wrapper tokens of ``frames`` at ``mode``."""
    return sum(
        image_tokens(w, h, mode, max_slice_nums, image_index=i).total
        for i, (w, h) in enumerate(frames)
    )


@dataclass(frozen=True)
class Fixed16x:
    """Always 16x (the server default)."""

    max_slice_nums: int | None = None

    def choose(self, state: PolicyState) -> ModeChoice:
        return ModeChoice("16x", self.max_slice_nums, "fixed 16x")


@dataclass(frozen=True)
class Fixed4x:
    """Always 4x: four times the visual tokens, best for small text and small targets."""

    max_slice_nums: int | None = None

    def choose(self, state: PolicyState) -> ModeChoice:
        return ModeChoice("4x", self.max_slice_nums, "fixed 4x")


# Words that say the task is about reading (small) text. Matched as whole words, case-insensitive.
READING_KEYWORDS = (
    "read",
    "reads",
    "reading",
    "transcribe",
    "ocr",
    "small text",
    "small print",
    "fine print",
    "tiny",
    "caption",
    "label",
    "labels",
    "digits",
    "serial number",
    "error message",
    "spell",
    "what does it say",
    "what is written",
)
_KEYWORD_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(k) for k in READING_KEYWORDS) + r")\b", re.IGNORECASE
)


@dataclass
class AutoPolicy:
    """16x by default, 4x when detail is worth its cost, always within a token budget.

    4x is chosen, in this order of reasons, when:

    1. the model asked for detail (``detail_requested``);
    2. the previous action failed on a small target (``last_action_failed and small_target``);
    3. the previous action did not change the screen (``screen_changed is False``) after step 1;
    4. the task is about reading text: it contains one of :data:`READING_KEYWORDS` as a whole word
       ("read", "transcribe", "small text", "label", "digits", ...). Opt out with
       ``read_keywords=False``.

    If the 4x cost of the step's frames exceeds the budget (the state's ``token_budget``, else this
    policy's ``budget``), the choice falls back to 16x and the reason says so. When even 16x is over
    the budget the choice is 16x (nothing cheaper exists without dropping frames) and the reason
    says that too, so the loop can warn.

    Args:
        budget: the most visual tokens per step (``None``: no limit).
        max_slice_nums: the slice cap to request (``None``: server default).
        read_keywords: whether the task's wording may trigger 4x.
    """

    budget: int | None = None
    max_slice_nums: int | None = None
    read_keywords: bool = True

    def _why_4x(self, state: PolicyState) -> str | None:
        if state.detail_requested:
            return "detail requested"
        if state.last_action_failed and state.small_target:
            return "last action on a small target failed"
        if state.screen_changed is False and state.step > 1:
            return "screen did not change after the last action"
        if self.read_keywords and state.task:
            m = _KEYWORD_RE.search(state.task[:10_000])
            if m:
                return f"task is about reading text ({m.group(0).lower()!r})"
        return None

    def choose(self, state: PolicyState) -> ModeChoice:
        why = self._why_4x(state)
        budget = state.token_budget if state.token_budget is not None else self.budget
        if budget is not None and state.frames:
            cheap = visual_cost(state.frames, "16x", self.max_slice_nums)
            if cheap > budget:
                return ModeChoice(
                    "16x",
                    self.max_slice_nums,
                    f"over budget even at 16x ({cheap} > {budget} tokens)",
                )
        if why is None:
            return ModeChoice("16x", self.max_slice_nums, "default 16x")
        if budget is not None and state.frames:
            cost = visual_cost(state.frames, "4x", self.max_slice_nums)
            if cost > budget:
                return ModeChoice(
                    "16x",
                    self.max_slice_nums,
                    f"{why}, but 4x needs {cost} tokens > budget {budget}",
                )
        return ModeChoice("4x", self.max_slice_nums, why)


def make_policy(policy: str | CompressionPolicy | None = "auto") -> CompressionPolicy:
    """A policy from a name (``"auto"``, ``"16x"``, ``"4x"``) or a policy object (returned as is).

    Raises:
        ConfigurationError: an unknown name or an object without ``choose``.
    """
    if policy is None or policy == "auto":
        return AutoPolicy()
    if isinstance(policy, str):
        if policy == "16x":
            return Fixed16x()
        if policy == "4x":
            return Fixed4x()
        raise ConfigurationError(
            f"policy must be 'auto', '16x', '4x' or a CompressionPolicy, not {policy!r}"
        )
    if not callable(getattr(policy, "choose", None)):
        raise ConfigurationError(
            f"policy must be 'auto', '16x', '4x' or an object with choose(state), not {type(policy).__name__}"
        )
    return policy
