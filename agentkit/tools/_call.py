"""A validated tool invocation: the only thing the loop ever executes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentkit.tools._tool import Tool

__all__ = ["ToolCall"]


@dataclass(frozen=True)
class ToolCall:
    """A call that passed every check: known tool, known parameters, typed and validated values.

    Attributes:
        id: a call id (the server's, or ``"call_<step>_<n>"``).
        name: the tool's registered name.
        arguments: the validated arguments as JSON-compatible values (what the trajectory records).
        validated: what :meth:`Tool.validate` returned (a Pydantic model instance for typed tools,
            a dict for raw-schema tools); what :meth:`Tool.invoke` receives.
        tool: the tool itself.
        source: ``"text"`` (parsed from the model's raw output) or ``"server"`` (``tool_calls``).
    """

    id: str
    name: str
    arguments: dict[str, Any]
    validated: Any = field(repr=False)
    tool: Tool = field(repr=False)
    source: str = "text"
