"""The HTML report of a run directory: every step, markers at the right pixels, hostile text inert.

The run directory is built by hand in the documented trajectory format (run.json, steps.jsonl,
frames/). A second test renders the page with headless Chromium when it is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from agentkit.errors import ConfigurationError
from agentkit.report import load_run, render_report, write_report
from agentkit.tools import RunContext, ToolSet, tool

HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>"\'&'
GREEN = (0x1A, 0x7F, 0x37)  # the "ok" marker colour
ORANGE = (0xBC, 0x4C, 0x00)  # the "refused" marker colour


def _frame_record(frame_id: str, width: int, height: int) -> dict[str, Any]:
    return {
        "id": frame_id,
        "path": f"frames/{frame_id}.png",
        "width": width,
        "height": height,
        "source": "screen:1",
        "timestamp": 1.0,
        "geometry": {
            "left": 0,
            "top": 0,
            "scale": 1.0,
            "crop_left": 0,
            "crop_top": 0,
            "monitor": 1,
        },
    }


def _step(
    n: int, frames: list[dict[str, Any]], text: str, calls: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    record = {
        "type": "step",
        "step": n,
        "mode": "4x" if n == 2 else "16x",
        "max_slice_nums": 9,
        "mode_reason": "small text" if n == 2 else "default",
        "visual_tokens": 444,
        "frames": frames,
        "request": {"messages": 2, "images": 1, "tools": ["click"], "mode": "16x"},
        "response": {
            "text": text,
            "reasoning": None,
            "finish_reason": "stop",
            "usage": {
                "prompt_tokens": 700 + n,
                "completion_tokens": 30 + n,
                "visual_tokens": 444,
                "requests": 1,
            },
            "first_token_s": 0.05,
            "duration_s": 0.4,
        },
        "visible_text": text,
        "calls": calls,
        "errors": [],
        "retry": None,
        "timings": {"observe_s": 0.01, "model_s": 0.4, "tools_s": 0.2, "step_s": 0.61},
    }
    record.update(extra)
    return record


def _call(
    name: str,
    arguments: dict[str, Any],
    status: str = "ok",
    output: str = "done",
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "id": f"call_{name}",
        "name": name,
        "arguments": arguments,
        "source": "text",
        "risk": "reversible",
        "status": status,
        "output": output,
        "error": error,
        "duration_s": 0.12,
    }


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "20260101-000000-abc123"
    (root / "frames").mkdir(parents=True)
    for i in (1, 2, 3):
        image = Image.new("RGB", (800, 600), (245, 245, 245))
        ImageDraw.Draw(image).rectangle((100, 100, 300, 140), outline=(0, 0, 0))
        image.save(root / "frames" / f"f{i}.png")
    steps = [
        _step(
            1,
            [_frame_record("f1", 800, 600)],
            f"I click the name field. {HOSTILE}",
            [_call("click", {"x": 500, "y": 250})],
        ),
        _step(
            2,
            [_frame_record("f1", 800, 600), _frame_record("f2", 800, 600)],
            "The screen says to press ctrl+alt+delete. <ref>field</ref><box>100 100 400 200</box>",
            [
                _call("drag", {"x1": 100, "y1": 100, "x2": 900, "y2": 900}),
                _call(
                    "press_keys",
                    {"keys": HOSTILE},
                    status="refused",
                    output="Refused",
                    error="'press_keys' is a destructive action and needs a person's confirmation, but no confirmer is configured",
                ),
            ],
        ),
        _step(
            3,
            [_frame_record("f3", 800, 600)],
            "",
            [],
            errors=[
                {
                    "kind": "unknown_tool",
                    "message": f"no tool {HOSTILE}",
                    "tool": "x",
                    "parameter": None,
                    "raw": "",
                }
            ],
            retry="Call one of: click",
        ),
        _step(
            4,
            [{"id": "evil", "path": "../../etc/passwd", "width": 10, "height": 10}],
            "All done.",
            [],
            final="done",
        ),
    ]
    lines = [json.dumps(s, ensure_ascii=False) for s in steps]
    lines.append(json.dumps({"type": "end", "status": "completed", "error": None}))
    lines.append('{"type": "step", "step": 5, "cut by a cra')  # a crash-cut last line is ignored
    (root / "steps.jsonl").write_text("\n".join(lines), encoding="utf-8")
    meta = {
        "run_id": root.name,
        "task": f"Fill the form {HOSTILE}",
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:05Z",
        "status": "completed",
        "error": None,
        "model": "openbmb/MiniCPM-V-4.6",
        "usage": {"prompt_tokens": 2810, "completion_tokens": 130},
        "steps": 4,
        "output": "done",
    }
    (root / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


def test_load_run_tolerates_a_cut_line(run_dir: Path) -> None:
    meta, steps, end = load_run(run_dir)
    assert meta["run_id"] == run_dir.name
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    assert end == {"type": "end", "status": "completed", "error": None}


def test_report_has_every_step_and_its_details(run_dir: Path) -> None:
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = path.read_text(encoding="utf-8")
    for n in (1, 2, 3, 4):
        assert f'<section class="step" id="step-{n}">' in page
    assert page.count('<section class="step"') == 4
    assert "<b>mode</b> 4x" in page and "<b>mode</b> 16x" in page
    assert "<b>why</b> small text" in page
    assert "<b>prompt tokens</b> 702" in page
    assert "<b>step_s</b> 0.610 s" in page
    assert 'src="frames/f1.png"' in page
    assert "refused" in page and "no confirmer is configured" in page
    assert "unknown_tool" in page and "Final answer" in page


def test_markers_are_drawn_at_frame_pixels(run_dir: Path) -> None:
    page = render_report(run_dir)
    # click (500, 250) in 0-1000 on an 800x600 frame -> (400, 150) pixels
    assert '<circle cx="400.0" cy="150.0"' in page
    # drag (100, 100) -> (900, 900): (80, 60) -> (720, 540), with an arrow head
    assert '<line x1="80.0" y1="60.0" x2="720.0" y2="540.0"' in page
    assert 'marker-end="url(#arrow)"' in page
    # the box the model wrote: (100, 100, 400, 200) -> x 80, y 60, 240 x 60
    assert '<rect x="80.0" y="60.0" width="240.0" height="60.0"' in page
    # markers go on the last frame of a step only: step 2 has one overlay for two frames
    step2 = page.split('id="step-2"')[1].split('id="step-3"')[0]
    assert step2.count("<svg") == 1
    pixels = render_report(run_dir, coords="pixels")
    assert '<circle cx="500.0" cy="250.0"' in pixels


def test_hostile_text_is_escaped_and_no_script_exists(run_dir: Path) -> None:
    page = render_report(run_dir)
    assert "<script" not in page.lower()
    assert "<img src=x" not in page
    assert "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "default-src 'none'" in page  # and a CSP forbids scripts anyway
    # the escaped text appears for the model's text, the task, the call argument and the error
    assert page.count("&lt;script&gt;") >= 4


def test_frame_paths_outside_the_run_are_not_linked(run_dir: Path) -> None:
    page = render_report(run_dir)
    assert "passwd" not in page.split('id="step-4"')[1].split("<pre")[0].replace("evil", "")
    assert "frame file not available" in page


def test_embedded_images_make_one_file(run_dir: Path) -> None:
    page = render_report(run_dir, embed_images=True)
    assert 'src="data:image/png;base64,' in page
    assert 'src="frames/' not in page


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a run directory"):
        write_report(tmp_path)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_chromium_renders_the_page_with_markers(run_dir: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no headless Chromium installed (apt-get install chromium)")
    page = write_report(run_dir)
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,1600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [
        line
        for line in proc.stderr.splitlines()
        if re.search(
            r"CONSOLE|Uncaught|Refused to|Failed to load resource|ERR_FILE_NOT_FOUND", line
        )
    ]
    assert console == [], console
    image = Image.open(shot).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 24) or []}
    # the page rendered the frames (their light grey) and the SVG markers over them
    assert (245, 245, 245) in colours
    assert any(_near(c, GREEN) for c in colours), "no ok-marker colour in the rendering"


def _near(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------ replay


def _replay_tools(seen: list[tuple[str, Any, tuple[int, int] | None]], closed: list[bool]) -> Any:
    @tool
    def click(ctx: RunContext[Any], x: int, y: int) -> str:
        """Click."""
        seen.append(("click", (x, y), ctx.frames[-1].size if ctx.frames else None))
        return f"clicked {x},{y}"

    @tool
    def drag(ctx: RunContext[Any], x1: int, y1: int, x2: int, y2: int) -> str:
        """Drag."""
        seen.append(("drag", (x1, y1, x2, y2), ctx.frames[-1].size if ctx.frames else None))
        return "dragged"

    return ToolSet([click, drag], on_close=[lambda: closed.append(True)])


def test_replay_lists_by_default_and_executes_nothing(run_dir: Path) -> None:
    from agentkit.replay import replay

    seen: list[Any] = []
    closed: list[bool] = []
    items = replay(run_dir, _replay_tools(seen, closed))
    assert [(i.step, i.name, i.status) for i in items] == [
        (1, "click", "listed"),
        (2, "drag", "listed"),
    ]
    assert items[0].describe() == "step 1: click(x=500, y=250)"
    assert seen == [] and closed == [True]


def test_replay_executes_with_the_recorded_frames_and_the_policy(run_dir: Path) -> None:
    from agentkit.replay import replay
    from agentkit.safety import SafetyPolicy

    seen: list[Any] = []
    closed: list[bool] = []
    items = replay(run_dir, _replay_tools(seen, closed), dry_run=False, delay_s=0)
    assert [(i.name, i.status, i.output) for i in items] == [
        ("click", "ok", "clicked 500,250"),
        ("drag", "ok", "dragged"),
    ]
    assert seen == [("click", (500, 250), (800, 600)), ("drag", (100, 100, 900, 900), (800, 600))]
    assert closed == [True]  # the tool set is closed at the end (held keys released)
    assert items.executed == 2 and not items.failed

    seen.clear()
    denied = replay(
        run_dir,
        _replay_tools(seen, []),
        dry_run=False,
        delay_s=0,
        safety=SafetyPolicy(deny=["click"]),
    )
    assert [(i.name, i.status) for i in denied] == [("click", "refused"), ("drag", "ok")]
    assert "deny list" in (denied[0].error or "")


def test_replay_skips_unknown_tools_and_stops_after_an_error(run_dir: Path) -> None:
    from agentkit.replay import replay

    @tool
    def click(x: int, y: int) -> str:
        """Click."""
        raise RuntimeError("window gone")

    items = replay(run_dir, ToolSet([click]), dry_run=False, delay_s=0)
    assert [(i.name, i.status) for i in items] == [("click", "error"), ("drag", "skipped")]
    assert items[0].error == "RuntimeError: window gone"
    assert items[1].error == "no tool named 'drag' in this tool set"
    assert items.failed and items.executed == 0
