"""The whole agent loop through the embedded transformers backend on the tiny MiniCPM-V 4.6.

A real screenshot of an Xvfb display goes through the real processor and real forward passes; the
random weights are steered to a scripted reply by a logits processor at decoding time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from agentkit import Agent, Settings, tool
from agentkit.vision import ScreenSource, image_tokens
from tests.conftest_xvfb import draw_rects
from tests.helpers import call_text, read_run

pytestmark = pytest.mark.xvfb


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    cfg = tmp_path / "agentkit.toml"
    cfg.write_text("")
    return Settings.resolve(
        env={}, config_path=cfg, trajectory_dir=str(tmp_path / "runs"), max_tokens=96
    )


@pytest.mark.parametrize("mode", ["16x", "4x"])
def test_loop_on_tiny_model_with_screenshots(
    mode: str, settings: Settings, tiny_model_dir: Path, xvfb_display
) -> None:
    from agentkit.testing import tiny_transformers_backend

    state: dict[str, list] = {"clicks": [], "typed": []}

    @tool
    def click(x: int, y: int) -> str:
        """Click a point.

        Args:
            x: horizontal, 0-1000.
            y: vertical, 0-1000.
        """
        state["clicks"].append((x, y))
        return "clicked"

    @tool
    def type_text(text: str) -> str:
        """Type text.

        Args:
            text: what to type.
        """
        state["typed"].append(text)
        return "typed"

    script = [
        call_text("click", x=250, y=500),
        call_text("type_text", text="héllo"),
        "Finished.",
    ]
    backend = tiny_transformers_backend(script, path=tiny_model_dir)
    source = ScreenSource(region=(0, 0, 320, 240))
    agent = Agent(
        backend,
        tools=[click, type_text],
        source=source,
        policy=mode,
        settings=settings,
        settle_timeout_s=0,
    )
    with draw_rects(xvfb_display, [(40, 40, 120, 80, "#ff0000")]):
        result = agent.run("Click the red box, then type hello")
    assert result.status == "completed", result.error
    assert state == {"clicks": [(250, 500)], "typed": ["héllo"]}
    meta, lines = read_run(result.trajectory_dir)
    steps = [x for x in lines if x["type"] == "step"]
    assert len(steps) == 3 and meta["status"] == "completed"
    for step in steps:
        assert step["mode"] == mode
        # the real processor's count of image tokens equals agentkit's own, image by image
        expected = sum(
            image_tokens(w, h, mode, profile="transformers-5.23").visual
            for w, h in step["request"]["image_sizes"]
        )
        assert step["response"]["backend_visual_tokens"] == expected > 0
        frame = step["frames"][0]
        assert (frame["frame_width"], frame["frame_height"]) == (320, 240)
    # the model saw the real screen: the red box is in the first recorded frame
    with Image.open(result.trajectory_dir / steps[0]["frames"][0]["path"]) as shot:
        assert shot.convert("RGB").getpixel((100, 80)) == (255, 0, 0)
