"""Typed tools: :func:`tool`, :class:`Tool`, :class:`ToolSet`, :class:`RunContext` and plugins."""

from agentkit.tools._call import ToolCall
from agentkit.tools._context import RunContext
from agentkit.tools._plugins import ENTRY_POINT_GROUP, available_tool_packs, load_tool_packs
from agentkit.tools._tool import RESERVED_NAMES, Risk, Tool, tool
from agentkit.tools._toolset import ToolSet

__all__ = [
    "ENTRY_POINT_GROUP",
    "RESERVED_NAMES",
    "Risk",
    "RunContext",
    "Tool",
    "ToolCall",
    "ToolSet",
    "available_tool_packs",
    "load_tool_packs",
    "tool",
]
