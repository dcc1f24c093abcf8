"""agentkit: agents that look at a screen or a camera and act through tools.

Built for MiniCPM-V 4.6 served by vLLM (remote, or embedded in the process).

    from agentkit import Agent, tool

    @tool
    def click(x: int, y: int) -> str:
        '''Click a point. Args: x: horizontal, 0-1000. y: vertical, 0-1000.'''
        ...

    result = Agent(tools=[click]).run("Press the OK button")
"""

import logging as _logging

from agentkit import errors, events
from agentkit._version import __version__
from agentkit.agent import Agent, Limits, RunResult
from agentkit.backends import Backend, ModelRequest, ModelResponse
from agentkit.messages import ImagePart, Message, TextPart, Usage
from agentkit.safety import SafetyPolicy
from agentkit.settings import Settings
from agentkit.tools import Risk, RunContext, Tool, ToolCall, ToolSet, tool
from agentkit.vision import Frame, FrameSource

_logging.getLogger("agentkit").addHandler(_logging.NullHandler())

__all__ = [
    "Agent",
    "Backend",
    "Frame",
    "FrameSource",
    "ImagePart",
    "Limits",
    "Message",
    "ModelRequest",
    "ModelResponse",
    "Risk",
    "RunContext",
    "RunResult",
    "SafetyPolicy",
    "Settings",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolSet",
    "Usage",
    "__version__",
    "errors",
    "events",
    "tool",
]
