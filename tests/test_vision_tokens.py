"""Visual-token accounting against the reference table (docs: shared/reference/minicpm-v-4.6.md)."""

from __future__ import annotations

import pytest

from agentkit.errors import ConfigurationError
from agentkit.vision import PromptTokenMonitor, check_prompt_tokens, image_tokens, slice_grid

# (width, height, grid, 16x visual, 4x visual, wrapper) - the reference table, max_slice_nums 9
TABLE = [
    (1920, 1080, (2, 4), 578, 2312, 22),
    (2560, 1440, (2, 4), 578, 2312, 22),
    (1280, 720, (2, 3), 444, 1776, 18),
    (640, 480, (1, 2), 203, 812, 9),
    (448, 448, None, 64, 256, 5),
    (1344, 1344, (3, 3), 640, 2560, None),  # wrapper not given in the table
]


@pytest.mark.parametrize(("w", "h", "grid", "v16", "v4", "wrapper"), TABLE)
def test_reference_table_vllm(
    w: int, h: int, grid: tuple[int, int] | None, v16: int, v4: int, wrapper: int | None
) -> None:
    t16 = image_tokens(w, h, "16x")
    t4 = image_tokens(w, h, "4x")
    assert (t16.grid, t16.visual) == (grid, v16)
    assert (t4.grid, t4.visual) == (grid, v4)
    if wrapper is not None:
        assert t16.wrapper == t4.wrapper == wrapper
    assert t16.total == t16.visual + t16.wrapper


def test_wrapper_rule_for_3x3() -> None:
    # 4 image tags + 1 id digit + 9 slices * 2 tags + 2 row newlines
    assert image_tokens(1344, 1344, "16x").wrapper == 5 + 18 + 2


@pytest.mark.parametrize(
    ("w", "h", "v16", "v4"),
    [(1920, 1080, 822, 3288), (3840, 2160, 2334, 9336)],
)
def test_max_slice_nums_36(w: int, h: int, v16: int, v4: int) -> None:
    assert image_tokens(w, h, "16x", max_slice_nums=36).visual == v16
    assert image_tokens(w, h, "4x", max_slice_nums=36).visual == v4


@pytest.mark.parametrize(("w", "h", "v4"), [(1920, 1080, 2292), (1280, 720, 1782), (640, 480, 772)])
def test_transformers_523_profile(w: int, h: int, v4: int) -> None:
    assert image_tokens(w, h, "4x", profile="transformers-5.23").visual == v4


@pytest.mark.parametrize(("w", "h", "v16", "v4"), [(w, h, a, b) for w, h, _, a, b, _ in TABLE])
def test_transformers_523_16x_matches_vllm(w: int, h: int, v16: int, v4: int) -> None:
    # 16x rounds to 56 px in both profiles: identical counts
    assert image_tokens(w, h, "16x", profile="transformers-5.23").visual == v16


def test_default_max_slice_nums_is_9() -> None:
    assert image_tokens(3840, 2160, "16x") == image_tokens(3840, 2160, "16x", max_slice_nums=9)


def test_grid_rules() -> None:
    assert slice_grid(448, 448) is None  # fits one tile
    assert slice_grid(4000, 500) == (1, 8)  # 9.96 tiles of area, capped at 9; 8 matches 8:1 exactly
    assert slice_grid(500, 4000) == (8, 1)
    assert slice_grid(4000, 100) == (1, 3)  # area of 2 tiles: 1, 2 or 3 slices, the widest wins
    assert slice_grid(1920, 1080, max_slice_nums=1) is None


def test_image_id_digits_count_in_wrapper() -> None:
    assert image_tokens(448, 448, image_index=12).wrapper == image_tokens(448, 448).wrapper + 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "8x"},
        {"mode": 4},
        {"mode": "4X"},
        {"profile": "vllm-0.22"},
        {"max_slice_nums": 0},
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        image_tokens(640, 480, **kwargs)  # type: ignore[arg-type]


def test_bad_size_raises() -> None:
    with pytest.raises(ConfigurationError):
        image_tokens(0, 480)


def test_prompt_token_check_ok_and_mismatch() -> None:
    expected = image_tokens(1920, 1080, "16x").total  # 600
    ok = check_prompt_tokens(expected, usage_prompt_tokens=expected + 205, text_tokens_estimate=200)
    assert ok.ok and ok.difference == 5 and ok.message == ""
    assert ok.to_dict()["implied_visual"] == expected + 5
    # a whole image missing from agentkit's count is caught
    missing = check_prompt_tokens(expected, 2 * expected + 200, 200)
    assert not missing.ok and missing.difference == expected
    assert "profile" in missing.message
    # the server counted the transformers-5.23 4x tokens while agentkit expected the vLLM ones:
    t4 = image_tokens(1920, 1080, "4x")
    server = image_tokens(1920, 1080, "4x", profile="transformers-5.23").total + 2000
    assert check_prompt_tokens(t4.total, server, 2000).ok  # hidden by the text estimate's error...
    bad = check_prompt_tokens(t4.total, server, 2000, tolerance=2)  # ... caught with an exact count
    assert not bad.ok and bad.difference == -20


def test_prompt_token_monitor_catches_a_profile_mismatch_between_steps() -> None:
    """The server runs transformers 5.23 rounding; agentkit assumes vLLM: the first 4x step shows it."""
    template = 1700  # tokens the estimate cannot see (template, tool schemas): constant over a run

    def server_usage(mode: str, text: int) -> int:
        return image_tokens(1920, 1080, mode, profile="transformers-5.23").total + text + template

    monitor = PromptTokenMonitor()
    first = monitor.check(
        image_tokens(1920, 1080, "16x").total, server_usage("16x", 1000), 1000 - 300
    )
    assert not first.ok  # the absolute check is blind to the template: flagged (a text error)
    step2 = monitor.check(
        image_tokens(1920, 1080, "16x").total, server_usage("16x", 1040), 1040 - 300
    )
    assert step2.ok and step2.difference == 0  # 16x counts agree in both profiles
    step3 = monitor.check(
        image_tokens(1920, 1080, "4x").total, server_usage("4x", 1075), 1075 - 300
    )
    assert not step3.ok and step3.difference == -20
    assert "profile" in step3.message
    assert monitor.mismatches == 2
    # with the right profile the same run is clean after the first step
    right = PromptTokenMonitor()
    right.check(image_tokens(1920, 1080, "16x").total, server_usage("16x", 1000), 1000)
    s4 = image_tokens(1920, 1080, "4x", profile="transformers-5.23").total
    assert right.check(s4, server_usage("4x", 1040), 1040 + 5).ok  # a 5-token text estimate slip


def test_public_api_is_complete_and_importable_without_extras() -> None:
    import subprocess
    import sys

    import agentkit.vision as vision

    for name in vision.__all__:
        assert hasattr(vision, name), name
    assert len(set(vision.__all__)) == len(vision.__all__)
    # OpenCV is imported lazily: importing the package never loads it
    code = "import sys, agentkit.vision; assert 'cv2' not in sys.modules, 'cv2 imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
