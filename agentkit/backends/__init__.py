"""Model backends: the protocol, the OpenAI-compatible remote backend, and embedded engines.

The backends import lazily: ``from agentkit.backends import TransformersBackend`` loads torch only
then.
"""

from typing import Any

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

_LAZY = {
    "OpenAICompatBackend": "agentkit.backends.openai_compat",
    "EndpointPool": "agentkit.backends.pool",
    "TransformersBackend": "agentkit.backends.transformers_backend",
    "VllmBackend": "agentkit.backends.vllm_backend",
    "default_backend": "agentkit.backends._select",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentkit.backends' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "EndpointPool",
    "OpenAICompatBackend",
    "TransformersBackend",
    "VllmBackend",
    "default_backend",
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
