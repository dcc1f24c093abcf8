"""Visual-token accounting: what one image costs MiniCPM-V 4.6, computed from its size alone.

The processor cuts an image into a *thumbnail* (the whole image resized to about 448x448 pixels of
area) and, when the image is larger than that, a grid of *slices* (each also about 448x448 of area).
Every tile is cut into 14 px patches; the merger then keeps one token per 4x4 patches (``"16x"``) or
per 2x2 patches (``"4x"``). Tile sides are rounded to a multiple of 14 px times the merge side:

* ``profile="vllm"`` (vLLM 0.33, transformers < 5.21): sides round to 56 px in both modes;
* ``profile="transformers-5.23"``: 56 px in 16x, 28 px in 4x (so 4x counts differ slightly).

Around the visual tokens the prompt carries wrapper tokens:
``<image_id>N</image_id><image>...</image>`` (4 tags plus the digits of N), then per slice
``<slice>...</slice>`` (2 tags) and one newline between slice rows.

The server's ``usage.prompt_tokens`` remains the truth; :func:`check_prompt_tokens` compares the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from agentkit.errors import ConfigurationError

__all__ = [
    "DEFAULT_MAX_SLICE_NUMS",
    "PROFILES",
    "ImageTokens",
    "Mode",
    "PromptTokenCheck",
    "PromptTokenMonitor",
    "check_prompt_tokens",
    "image_tokens",
    "slice_grid",
]

Mode = Literal["16x", "4x"]

DEFAULT_MAX_SLICE_NUMS = 9
PROFILES = ("vllm", "transformers-5.23")

_SCALE_RESOLUTION = 448
_PATCH = 14


@dataclass(frozen=True)
class ImageTokens:
    """The prompt tokens one image costs.

    Attributes:
        visual: image-pad tokens (thumbnail plus slices): what the vision encoder produces.
        wrapper: the tag and newline tokens around them.
        total: ``visual + wrapper``.
        grid: ``(rows, cols)`` of slices, or ``None`` when the image is sent as one tile.
        tiles: the pixel size ``(width, height)`` of the thumbnail, then of each slice.
    """

    visual: int
    wrapper: int
    total: int
    grid: tuple[int, int] | None
    tiles: tuple[tuple[int, int], ...] = ()


def _round_to(length: float, divisor: int) -> int:
    # Python's round() is banker's rounding; the processor uses the same builtin.
    return max(round(length / divisor) * divisor, divisor)


def _best_resize(width: float, height: float, unit: int, *, allow_upscale: bool) -> tuple[int, int]:
    """Resize to about 448^2 area at the same aspect ratio, sides rounded to ``unit``."""
    if width * height > _SCALE_RESOLUTION * _SCALE_RESOLUTION or allow_upscale:
        aspect = width / height
        height = int(_SCALE_RESOLUTION / math.sqrt(aspect))
        width = int(height * aspect)
    return _round_to(width, unit), _round_to(height, unit)


def slice_grid(
    width: int, height: int, max_slice_nums: int = DEFAULT_MAX_SLICE_NUMS
) -> tuple[int, int] | None:
    """The ``(rows, cols)`` slice grid the processor picks for an image, or ``None`` (no slices).

    The number of slices considered is ``m - 1``, ``m`` and ``m + 1`` with
    ``m = min(ceil(W*H / 448^2), max_slice_nums)`` (1 and anything over ``max_slice_nums``
    excluded); the grid whose cols/rows ratio is nearest the image's aspect ratio in log scale wins,
    ties going to more rows.
    """
    ratio = width * height / (_SCALE_RESOLUTION * _SCALE_RESOLUTION)
    multiple = min(math.ceil(ratio), max_slice_nums)
    if multiple <= 1:
        return None
    log_ratio = math.log(width / height)
    best: tuple[int, int] | None = None
    best_error = math.inf
    for count in (multiple - 1, multiple, multiple + 1):
        if count == 1 or count > max_slice_nums:
            continue
        for rows in range(1, count + 1):
            if count % rows:
                continue
            cols = count // rows
            error = abs(log_ratio - math.log(cols / rows))
            if error < best_error or (error == best_error and best is not None and rows > best[0]):
                best, best_error = (rows, cols), error
    return best


def image_tokens(
    width: int,
    height: int,
    mode: Mode | str = "16x",
    max_slice_nums: int | None = None,
    profile: str = "vllm",
    *,
    image_index: int = 0,
) -> ImageTokens:
    """Count the prompt tokens of one image of ``width`` x ``height`` pixels.

    Args:
        width: image width in pixels.
        height: image height in pixels.
        mode: ``"16x"`` or ``"4x"`` (the request's ``downsample_mode``).
        max_slice_nums: the slice cap; ``None`` means the server default, 9.
        profile: ``"vllm"`` (vLLM 0.33 / transformers < 5.21) or ``"transformers-5.23"``.
        image_index: the image's position in its message (its id is written as digits).

    Returns:
        The visual and wrapper token counts and the slice grid.

    Raises:
        ConfigurationError: an unknown mode or profile, or a non-positive size.
    """
    if mode not in ("16x", "4x"):
        raise ConfigurationError(f"mode must be '16x' or '4x', not {mode!r}")
    if profile not in PROFILES:
        raise ConfigurationError(
            f"unknown token profile {profile!r}; use one of {', '.join(PROFILES)}"
        )
    if width <= 0 or height <= 0:
        raise ConfigurationError(f"image size must be positive, got {width}x{height}")
    slices = DEFAULT_MAX_SLICE_NUMS if max_slice_nums is None else max_slice_nums
    if slices < 1:
        raise ConfigurationError(f"max_slice_nums must be >= 1, got {slices}")

    merge_side = 2 if (mode == "4x" and profile == "transformers-5.23") else 4
    unit = _PATCH * merge_side
    divisor = 4 if mode == "4x" else 16

    grid = slice_grid(width, height, slices)
    thumb = _best_resize(width, height, unit, allow_upscale=grid is None)
    tiles = [thumb]
    if grid is not None:
        rows, cols = grid
        refine_w = _round_to(width, cols)
        refine_h = _round_to(height, rows)
        tile = _best_resize(refine_w / cols, refine_h / rows, unit, allow_upscale=True)
        tiles.extend([tile] * (rows * cols))

    visual = sum((w // _PATCH) * (h // _PATCH) // divisor for w, h in tiles)
    wrapper = 4 + len(str(image_index))
    if grid is not None:
        rows, cols = grid
        wrapper += 2 * rows * cols + (rows - 1)
    return ImageTokens(
        visual=visual,
        wrapper=wrapper,
        total=visual + wrapper,
        grid=grid,
        tiles=tuple(tiles),
    )


@dataclass(frozen=True)
class PromptTokenCheck:
    """agentkit's own count of a request's prompt tokens set against the server's usage.

    Attributes:
        expected_visual: visual + wrapper tokens agentkit counted for the request's images.
        text_estimate: agentkit's estimate of the text tokens (template, tools, messages).
        server_prompt_tokens: ``usage.prompt_tokens`` as the server reported it.
        implied_visual: ``server_prompt_tokens - text_estimate``: what the server must have
            spent on images if the text estimate is right.
        difference: ``implied_visual - expected_visual``.
        tolerance: the absolute difference accepted as text-estimate noise.
        ok: whether ``|difference| <= tolerance``.
        message: a one-line explanation when not ok (empty otherwise).
    """

    expected_visual: int
    text_estimate: int
    server_prompt_tokens: int
    implied_visual: int
    difference: int
    tolerance: int
    ok: bool
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "expected_visual": self.expected_visual,
            "text_estimate": self.text_estimate,
            "server_prompt_tokens": self.server_prompt_tokens,
            "implied_visual": self.implied_visual,
            "difference": self.difference,
            "tolerance": self.tolerance,
            "ok": self.ok,
            "message": self.message,
        }


def check_prompt_tokens(
    expected_visual: int,
    usage_prompt_tokens: int,
    text_tokens_estimate: int,
    *,
    tolerance: int | None = None,
) -> PromptTokenCheck:
    """Detect a mismatch between agentkit's visual-token count and the server's prompt usage.

    The text part is usually only estimated (the chat template and tool schemas are rendered by
    the server), so the check accepts a tolerance: by default 16 tokens plus 25% of the text
    estimate, which a byte-based estimate of English and JSON stays within. A missing image or a
    whole tile (64+ tokens in 16x, 256 in 4x) on a short prompt is outside it. For finer checks
    over a run use :class:`PromptTokenMonitor`, which compares consecutive steps so the unknown
    template and tool tokens cancel out; or pass ``tolerance`` small when ``text_tokens_estimate``
    is exact (the real tokenizer, or a text-only request).

    Args:
        expected_visual: the sum of :attr:`ImageTokens.total` over the request's images.
        usage_prompt_tokens: the server's ``usage.prompt_tokens``.
        text_tokens_estimate: agentkit's estimate of the non-image tokens.
        tolerance: override the accepted absolute difference.

    Returns:
        A :class:`PromptTokenCheck` record (the loop stores it with the step).
    """
    tol = tolerance if tolerance is not None else 16 + text_tokens_estimate // 4
    implied = usage_prompt_tokens - text_tokens_estimate
    diff = implied - expected_visual
    ok = abs(diff) <= tol
    message = ""
    if not ok:
        message = (
            f"the server counted {usage_prompt_tokens} prompt tokens; with about "
            f"{text_tokens_estimate} text tokens that leaves {implied} for images, but agentkit "
            f"expected {expected_visual} ({diff:+d}). The token profile may not match the server's "
            "version (see image_tokens(profile=...)), or the server resized the images differently."
        )
    return PromptTokenCheck(
        expected_visual=expected_visual,
        text_estimate=text_tokens_estimate,
        server_prompt_tokens=usage_prompt_tokens,
        implied_visual=implied,
        difference=diff,
        tolerance=tol,
        ok=ok,
        message=message,
    )


class PromptTokenMonitor:
    """Checks each step's prompt tokens against the previous step's, for a whole run.

    The absolute check (:func:`check_prompt_tokens`) has to allow for the text estimate's error on
    the whole prompt (system prompt, tool schemas, template). Between two steps of one run that
    part is the same, so the change in ``usage.prompt_tokens`` must equal the change in visual
    tokens (exact) plus the change in text (small, so its estimate error is small). A visual count
    that is wrong for the server's version shows up as soon as the images change: a new mode, a
    new frame size, a downgraded history image.

    Args:
        min_tolerance: tokens always accepted.
        text_error: the assumed relative error of the text estimate (0.25: 25%).

    Example:
        ```python
        monitor = PromptTokenMonitor()
        est = estimate_prompt_tokens(view, mode, max_slice_nums)  # per step, before the request
        check = monitor.check(est.visual, response.usage.prompt_tokens, est.text)
        if not check.ok:
            log.warning(check.message)
        ```
    """

    def __init__(self, min_tolerance: int = 8, text_error: float = 0.25) -> None:
        self.min_tolerance = min_tolerance
        self.text_error = text_error
        self._previous: tuple[int, int, int] | None = None
        self.mismatches = 0

    def check(
        self, expected_visual: int, usage_prompt_tokens: int, text_tokens_estimate: int
    ) -> PromptTokenCheck:
        """Check one step; the first step gets the absolute check."""
        prev = self._previous
        self._previous = (expected_visual, usage_prompt_tokens, text_tokens_estimate)
        if prev is None:
            result = check_prompt_tokens(expected_visual, usage_prompt_tokens, text_tokens_estimate)
        else:
            d_visual = expected_visual - prev[0]
            d_usage = usage_prompt_tokens - prev[1]
            d_text = text_tokens_estimate - prev[2]
            tol = self.min_tolerance + int(abs(d_text) * self.text_error)
            diff = (d_usage - d_text) - d_visual
            ok = abs(diff) <= tol
            message = ""
            if not ok:
                message = (
                    f"since the previous step the server's prompt grew by {d_usage} tokens; about "
                    f"{d_text} of that is text, which leaves {d_usage - d_text} for images, but agentkit "
                    f"expected {d_visual:+d} ({diff:+d}). The token profile may not match the server's "
                    "version (see image_tokens(profile=...))."
                )
            result = PromptTokenCheck(
                expected_visual=expected_visual,
                text_estimate=text_tokens_estimate,
                server_prompt_tokens=usage_prompt_tokens,
                implied_visual=usage_prompt_tokens - text_tokens_estimate,
                difference=diff,
                tolerance=tol,
                ok=ok,
                message=message,
            )
        if not result.ok:
            self.mismatches += 1
        return result
