"""Test your agents without a GPU: a scripted backend, a local vLLM-like server, a tiny model.

``ScriptedBackend`` needs nothing extra. ``LocalServer`` needs the ``testing`` extra
(``pip install 'agentkit[testing]'``); the tiny model needs ``transformers``. Both import lazily.
"""

from __future__ import annotations

from typing import Any

from agentkit.testing.scripted import ScriptedBackend, ScriptedReply

__all__ = ["Fault", "LocalServer", "Reply", "ScriptedBackend", "ScriptedReply", "build_tiny_minicpmv"]

_LAZY = {
    "LocalServer": "agentkit.testing.server",
    "Reply": "agentkit.testing.server",
    "Fault": "agentkit.testing.server",
    "build_tiny_minicpmv": "agentkit.testing.tiny_model",
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

        extra = "transformers" if name == "build_tiny_minicpmv" else "testing"
        raise MissingExtraError(extra, f"agentkit.testing.{name}", str(exc)) from exc
    return getattr(mod, name)
