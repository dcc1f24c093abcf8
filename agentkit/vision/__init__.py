"""Seeing: frames and their sources, encoding, visual-token accounting, the 16x/4x policy, zoom,
coordinates and bounded history.

Everything here is importable without optional extras; OpenCV (the ``camera`` extra) is imported
only when a :class:`CameraSource` or :class:`VideoSource` is created.
"""

from agentkit.vision._calibrate import (
    CalibrationReport,
    CalibrationResult,
    CalibrationTarget,
    calibrate,
    calibration_image,
    score_answer,
)
from agentkit.vision._camera import CameraSource, VideoSource
from agentkit.vision._change import frame_difference, wait_until_settled
from agentkit.vision._coords import (
    Box,
    CoordinateSpace,
    Point,
    Target,
    crop_geometry,
    frame_to_screen,
    parse_grounding,
    screen_to_frame,
)
from agentkit.vision._encode import content_kind, encode_frame, encode_image, server_size
from agentkit.vision._files import ImageSource, MultiFrameSource
from agentkit.vision._frame import Frame, FrameSource, Geometry
from agentkit.vision._history import (
    OMITTED_IMAGE,
    BoundedHistory,
    HistoryPolicy,
    PromptEstimate,
    downgrade_image,
    estimate_prompt_tokens,
    estimate_text_tokens,
)
from agentkit.vision._policy import (
    READING_KEYWORDS,
    AutoPolicy,
    CompressionPolicy,
    Fixed4x,
    Fixed16x,
    ModeChoice,
    PolicyState,
    make_policy,
    visual_cost,
)
from agentkit.vision._screen import BlankFrameWarning, ScreenSource, is_blank
from agentkit.vision._tokens import (
    DEFAULT_MAX_SLICE_NUMS,
    PROFILES,
    ImageTokens,
    PromptTokenCheck,
    PromptTokenMonitor,
    check_prompt_tokens,
    image_tokens,
    slice_grid,
)
from agentkit.vision._zoom import (
    ZoomResult,
    coarse_to_fine_tokens,
    crop_frame,
    crop_to_parent,
    is_small_target,
    refine_target,
    zoom_tool,
)

__all__ = [
    "DEFAULT_MAX_SLICE_NUMS",
    "OMITTED_IMAGE",
    "PROFILES",
    "READING_KEYWORDS",
    "AutoPolicy",
    "BlankFrameWarning",
    "BoundedHistory",
    "Box",
    "CalibrationReport",
    "CalibrationResult",
    "CalibrationTarget",
    "CameraSource",
    "CompressionPolicy",
    "CoordinateSpace",
    "Fixed16x",
    "Fixed4x",
    "Frame",
    "FrameSource",
    "Geometry",
    "HistoryPolicy",
    "ImageSource",
    "ImageTokens",
    "ModeChoice",
    "MultiFrameSource",
    "Point",
    "PolicyState",
    "PromptEstimate",
    "PromptTokenCheck",
    "PromptTokenMonitor",
    "ScreenSource",
    "Target",
    "VideoSource",
    "ZoomResult",
    "calibrate",
    "calibration_image",
    "check_prompt_tokens",
    "coarse_to_fine_tokens",
    "content_kind",
    "crop_frame",
    "crop_geometry",
    "crop_to_parent",
    "downgrade_image",
    "encode_frame",
    "encode_image",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "frame_difference",
    "frame_to_screen",
    "image_tokens",
    "is_blank",
    "is_small_target",
    "make_policy",
    "parse_grounding",
    "refine_target",
    "score_answer",
    "screen_to_frame",
    "server_size",
    "slice_grid",
    "visual_cost",
    "wait_until_settled",
    "zoom_tool",
]
