"""Errors the desktop tools raise; their messages go back to the model as the tool's result."""

from __future__ import annotations

__all__ = ["ActionError", "ActionStopped"]


class ActionError(ValueError):
    """A call the pack will not perform: a value out of bounds, a key that is not allowed.

    The loop turns it into an error result for the model, so the message says what to change,
    e.g. ``"x=1200 is outside the screenshot: use 0-1000"``.
    """


class ActionStopped(RuntimeError):
    """The kill switch was tripped: the pack performs no more actions until it is reset."""
