"""Model backends: the protocol, the OpenAI-compatible remote backend, and embedded engines."""

from agentkit.backends._base import (
    DEFAULT_STOP_TOKEN_IDS,
    Backend,
    Mode,
    ModelRequest,
    ModelResponse,
    ServerToolCall,
    StreamItem,
    TextDelta,
    complete,
)

__all__ = [
    "DEFAULT_STOP_TOKEN_IDS",
    "Backend",
    "Mode",
    "ModelRequest",
    "ModelResponse",
    "ServerToolCall",
    "StreamItem",
    "TextDelta",
    "complete",
]
