"""The default backend: a server when one is configured, else an embedded engine.

The rule, in order:

1. ``settings.base_url`` set: the OpenAI-compatible remote backend.
2. vLLM importable and a CUDA GPU visible: the embedded vLLM backend.
3. transformers (with torch) importable: the embedded transformers backend (CPU or GPU).
4. Otherwise a :class:`ConfigurationError` saying how to install either or point at a server.

An embedded default never downloads weights by surprise: the model must be a local checkpoint
directory or already in the Hugging Face cache, else a :class:`ConfigurationError` says how to
download it or point at a local path. (A backend built explicitly, e.g.
``TransformersBackend("openbmb/MiniCPM-V-4.6")``, downloads as ``from_pretrained`` does.)
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agentkit.errors import ConfigurationError

if TYPE_CHECKING:
    from agentkit.backends._base import Backend
    from agentkit.settings import Settings

__all__ = [
    "NO_ENGINE_MESSAGE",
    "Engines",
    "choose_embedded",
    "default_backend",
    "embedded_backend",
    "local_checkpoint",
    "missing_weights_message",
    "probe_engines",
]

Embedded = Literal["vllm", "transformers"]

NO_ENGINE_MESSAGE = (
    "no model server is configured and no embedded engine is installed. Either point agentkit at "
    "an OpenAI-compatible vLLM server (--base-url http://HOST:8000/v1, or AGENTKIT_BASE_URL; "
    "`agentkit serve` starts one), or install an embedded engine: "
    "pip install 'agentkit[vllm]' (CUDA GPU) or pip install 'agentkit[transformers]' (CPU or GPU)"
)


@dataclass(frozen=True)
class Engines:
    """What this machine can run: found on disk, nothing imported but torch (for the GPU check)."""

    vllm: bool
    transformers: bool
    cuda: bool


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _cuda_available() -> bool:
    if not _importable("torch"):
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # a broken CUDA setup counts as no GPU
        return False


def probe_engines() -> Engines:
    """Look for vLLM, transformers and a CUDA GPU (torch is imported only when vLLM is present)."""
    has_vllm = _importable("vllm")
    has_transformers = _importable("transformers") and _importable("torch")
    return Engines(
        vllm=has_vllm, transformers=has_transformers, cuda=has_vllm and _cuda_available()
    )


def choose_embedded(engines: Engines) -> Embedded | None:
    """The embedded engine to use: vLLM with a GPU, else transformers, else None."""
    if engines.vllm and engines.cuda:
        return "vllm"
    if engines.transformers:
        return "transformers"
    return None


def local_checkpoint(model: str) -> str | None:
    """The local directory holding ``model``: the path itself, or its Hugging Face cache snapshot.

    Looks only on disk; never contacts the hub.
    """
    if os.path.isdir(model):
        return model if os.path.isfile(os.path.join(model, "config.json")) else None
    if not _importable("huggingface_hub"):
        return None
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(model, local_files_only=True)
    except Exception:  # not cached (LocalEntryNotFoundError), or not a valid repo id
        return None
    path = os.fspath(path)
    return path if os.path.isfile(os.path.join(path, "config.json")) else None


def missing_weights_message(model: str) -> str:
    """The actionable message for weights that are neither a local directory nor cached."""
    return (
        f"the weights of {model!r} are not on this machine (not a local checkpoint directory, "
        f"not in the Hugging Face cache): download them with `hf download {model}` (or "
        f"`huggingface-cli download {model}`), or point the model setting at a local checkpoint "
        "directory (--model / AGENTKIT_MODEL=/path/to/MiniCPM-V-4.6); or use a vLLM server "
        "instead (--base-url / AGENTKIT_BASE_URL, or `agentkit serve`)"
    )


def embedded_backend(model: str, engines: Engines | None = None) -> Backend:
    """The embedded backend for ``model`` by the rule above.

    Raises:
        ConfigurationError: no engine installed, or the weights are not on this machine.
    """
    choice = choose_embedded(engines or probe_engines())
    if choice is None:
        raise ConfigurationError(NO_ENGINE_MESSAGE)
    path = local_checkpoint(model)
    if path is None:
        raise ConfigurationError(
            f"no model server is configured, so agentkit would run {model!r} embedded with "
            f"{choice}; but {missing_weights_message(model)}"
        )
    if choice == "vllm":
        from agentkit.backends.vllm_backend import VllmBackend

        return VllmBackend(path)
    from agentkit.backends.transformers_backend import TransformersBackend

    return TransformersBackend(path, local_files_only=True)


def default_backend(settings: Settings | None = None) -> Backend:
    """The backend ``settings`` ask for: remote when ``base_url`` is set, else embedded.

    Args:
        settings: resolved settings; ``Settings.resolve()`` (environment, config file) when None.

    Raises:
        ConfigurationError: nothing can serve the model here; the message says what to install
            or configure.
    """
    if settings is None:
        from agentkit.settings import Settings

        settings = Settings.resolve()
    if settings.base_url:
        from agentkit.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(
            settings.base_url, settings.model, api_key=settings.api_key, settings=settings
        )
    return embedded_backend(settings.model)
