"""Loop health for screen work: the same action on an unchanged screen is a loop."""

from __future__ import annotations

import json

from agentkit.errors import LimitExceededError
from agentkit.tools import Risk
from agentkit.tools._call import ToolCall

__all__ = ["RepetitionGuard"]

REPEAT_WARNING = (
    "\nWarning: you repeated the same action and the screen did not change. "
    "Do something different; repeating it again ends the task."
)


class RepetitionGuard:
    """Warns the model the first time it repeats an action on an unchanged screen, and ends the
    run the second time. Read-only tools (a screenshot, a zoom) never count."""

    def __init__(self) -> None:
        self._last: str | None = None
        self._repeats = 0

    def check(self, call: ToolCall, *, unchanged: bool) -> str:
        """Record ``call``; return a warning to append to its result, or raise.

        Args:
            call: the call about to run.
            unchanged: the screen did not change since the previous step (True when there is no
                screen to tell).

        Raises:
            LimitExceededError: the third identical action in a row on an unchanged screen.
        """
        if call.tool.risk == Risk.READ_ONLY:
            return ""
        key = call.name + json.dumps(call.arguments, sort_keys=True, default=str)
        self._repeats = self._repeats + 1 if key == self._last and unchanged else 0
        self._last = key
        if self._repeats >= 2:
            raise LimitExceededError(
                f"the model repeated {call.name} with the same arguments three times on an "
                "unchanged screen; the run was stopped to avoid a loop",
                limit="repetition",
            )
        return REPEAT_WARNING if self._repeats == 1 else ""
