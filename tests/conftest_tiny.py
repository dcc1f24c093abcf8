"""Session fixtures for the tiny MiniCPM-V 4.6.

Registered for the whole suite by the root ``conftest.py`` (``pytest_plugins``); a test module may
also import it (``from conftest_tiny import tiny_model_dir_fixture``). The fixture is named
``tiny_model_dir``; :func:`require_transformers_backend` skips a test where the extra is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def require_transformers_backend() -> None:
    """Skip unless torch, tokenizers and a transformers that runs MiniCPM-V 4.6 are installed."""
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    from agentkit.backends.transformers_backend import MIN_TRANSFORMERS, _version_tuple

    if not hasattr(transformers, "MiniCPMV4_6ForConditionalGeneration") or _version_tuple(
        transformers.__version__
    ) < _version_tuple(MIN_TRANSFORMERS):
        pytest.skip(f"needs transformers >= {MIN_TRANSFORMERS} (found {transformers.__version__})")


@pytest.fixture(scope="session", name="tiny_model_dir")
def tiny_model_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random MiniCPM-V 4.6 checkpoint, built once per test session."""
    require_transformers_backend()
    from agentkit.testing.tiny_model import build_tiny_minicpmv

    # One fixed directory per session: a test module that imports this fixture gets its own
    # fixture definition, and build_tiny_minicpmv's per-path cache makes them share one build.
    return build_tiny_minicpmv(tmp_path_factory.getbasetemp() / "tiny-minicpmv")
