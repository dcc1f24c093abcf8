"""Session fixtures for the tiny MiniCPM-V 4.6.

Use them by importing into a test module (``from conftest_tiny import tiny_model_dir_fixture``), or
for the whole suite with ``pytest_plugins = ["conftest_tiny"]`` in ``tests/conftest.py``.
The fixture is named ``tiny_model_dir``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _require_tiny_model_deps() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "MiniCPMV4_6ForConditionalGeneration"):
        pytest.skip("transformers has no MiniCPM-V 4.6 classes (needs >= 5.7)")


@pytest.fixture(scope="session", name="tiny_model_dir")
def tiny_model_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random MiniCPM-V 4.6 checkpoint, built once per test session."""
    _require_tiny_model_deps()
    from agentkit.testing.tiny_model import build_tiny_minicpmv

    return build_tiny_minicpmv(tmp_path_factory.mktemp("tiny-minicpmv"))
