"""`agentkit chat` / `agentkit run` with no server and no weights: one actionable line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("argv", [["chat"], ["run", "open the settings"]], ids=["chat", "run"])
def test_no_server_no_weights_says_what_to_do(tmp_path: Path, argv: list[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AGENTKIT_", "HF_", "OPENAI_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        AGENTKIT_CONFIG=str(config),
        HF_HOME=str(tmp_path / "hf"),  # an empty cache: the default model's weights are not here
        HF_HUB_OFFLINE="1",
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "agentkit", *argv],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in out
    # the message names both ways out: get the weights, or point at a server
    assert "hf download" in out or "pip install" in out, out
    assert "--base-url" in out or "AGENTKIT_BASE_URL" in out, out
