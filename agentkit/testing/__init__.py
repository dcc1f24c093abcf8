"""Test your agents without a GPU: a scripted backend, a local vLLM-like server, a tiny model.

``ScriptedBackend`` and ``LocalServer`` (standard library only) need nothing extra; the tiny model
needs the ``transformers`` extra. Everything imports lazily.
"""

from __future__ import annotations

from typing import Any

from agentkit.testing.scripted import ScriptedBackend as ScriptedBackend
from agentkit.testing.scripted import ScriptedReply as ScriptedReply

_SERVER = (
    "ContextLength",
    "Cut",
    "Fault",
    "Garbage",
    "Hang",
    "HttpError",
    "InBandError",
    "Kill",
    "LocalServer",
    "NoDone",
    "NotReady",
    "RecordedRequest",
    "Reply",
    "Stall",
    "estimate_usage",
)

_TINY = ("ScriptedLogitsProcessor", "build_tiny_minicpmv", "tiny_transformers_backend")

__all__ = sorted(["ScriptedBackend", "ScriptedReply", "run_soak", *_SERVER, *_TINY])

_LAZY = {
    **{name: "agentkit.testing.server" for name in _SERVER},
    **{name: "agentkit.testing.tiny_model" for name in _TINY},
    "run_soak": "agentkit.testing.soak",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentkit.testing' has no attribute {name!r}")
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        from agentkit.errors import MissingExtraError

        if name != "build_tiny_minicpmv":
            raise
        raise MissingExtraError(
            "transformers", "agentkit.testing.build_tiny_minicpmv", str(exc)
        ) from exc
    return getattr(mod, name)
