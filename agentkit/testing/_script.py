"""What a :class:`~agentkit.testing.server.LocalServer` plays: scripted replies, injected faults,
recorded requests and the usage it reports."""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "openbmb/MiniCPM-V-4.6"
NO_REPLY_LEFT = "LocalServer: no scripted reply left"
# Used when agentkit.vision cannot count an image (a single 448x448 tile plus its wrapper).
FALLBACK_IMAGE_TOKENS = {"16x": 69, "4x": 261}


@dataclass
class Reply:
    """One scripted model turn.

    Attributes:
        text: the raw assistant text (may contain ``<tool_call>`` blocks).
        finish_reason: ``"stop"``, ``"length"``...; ``"stop"`` becomes ``"tool_calls"`` when the
            reply carries calls.
        tool_calls: calls returned as ``tool_calls`` as they are, bypassing any parsing: dicts
            ``{"name": ..., "arguments": dict or raw JSON string, "id": optional}``. Use a raw
            string for invalid JSON arguments, or the same call twice for a duplicated call.
        reasoning: text streamed as ``reasoning`` deltas before the content.
        usage: ``{"prompt_tokens": ..., "completion_tokens": ...}``; default: estimated.
        chunk_chars: characters per streamed content delta.
        delay_s: pause before each streamed chunk.
        parse: override the server's ``parse_tool_calls`` for this reply (``False`` leaves a
            ``<tool_call>`` block in ``content``, like a parser that missed it).
    """

    text: str = ""
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] | None = None
    reasoning: str = ""
    usage: dict[str, int] | None = None
    chunk_chars: int = 4
    delay_s: float = 0.0
    parse: bool | None = None


class Fault:
    """Base class of injected faults; see the subclasses for each one."""


@dataclass
class HttpError(Fault):
    """Answer with an HTTP error status and a vLLM-style JSON error body.

    Covers 401 (bad key), 404 (unknown model), 400 (bad request), 429/503 (with ``retry_after``
    as the ``Retry-After`` header, in seconds) and 500 (follow it with a :class:`Reply` for a
    recovery).
    """

    status: int = 500
    message: str = "Internal server error"
    retry_after: float | str | None = None


@dataclass
class ContextLength(Fault):
    """A 400 with vLLM's context-length message and its token numbers."""

    prompt_tokens: int = 9000
    max_model_len: int = 8192


@dataclass
class Garbage(Fault):
    """A body that is not the API's: an HTML error page by default (with status 200)."""

    body: str = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
    status: int = 200
    content_type: str = "text/html"


@dataclass
class Hang(Fault):
    """Read the request and send nothing for ``seconds`` (None: until the client gives up)."""

    seconds: float | None = None


@dataclass
class Stall(Fault):
    """Stream ``after_chunks`` SSE events of ``reply``, then go silent for ``seconds``
    (None: until the client gives up), then finish normally."""

    reply: Reply = field(default_factory=lambda: Reply(text="a reply that stops halfway"))
    after_chunks: int = 2
    seconds: float | None = None


@dataclass
class Cut(Fault):
    """Stream ``after_chunks`` SSE events of ``reply``, then close the connection in the middle of
    the next HTTP chunk (the client sees an incomplete chunked body)."""

    reply: Reply = field(default_factory=lambda: Reply(text="a reply that is cut off"))
    after_chunks: int = 2


@dataclass
class NoDone(Fault):
    """Stream all of ``reply`` but end the body cleanly without ``data: [DONE]``; with
    ``keep_finish_reason=False`` (default) the chunk carrying ``finish_reason`` is left out too."""

    reply: Reply = field(default_factory=lambda: Reply(text="a reply without an end"))
    keep_finish_reason: bool = False


@dataclass
class InBandError(Fault):
    """Stream ``after_chunks`` SSE events of ``reply``, then an ``{"error": ...}`` event and
    ``[DONE]``, as vLLM does when generation fails after the response started."""

    reply: Reply = field(default_factory=lambda: Reply(text="a reply that fails"))
    after_chunks: int = 1
    message: str = "EngineCore encountered an issue"
    code: int = 500


@dataclass
class Kill(Fault):
    """The server dies on this request: every connection is dropped and the port stops
    listening (later requests get connection refused). Same as :meth:`LocalServer.kill`."""


@dataclass
class NotReady(Fault):
    """For ``seconds`` from now, ``/health`` and chat requests answer 503 (a loading engine);
    chat 503s carry ``Retry-After``. Server-wide: pass it to :meth:`LocalServer.inject`."""

    seconds: float = 1.0
    retry_after: bool = True


ScriptItem = Reply | Fault | str | Callable[[dict[str, Any]], Any]
UsageFn = Callable[[dict[str, Any], str], Mapping[str, int]]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received.

    Attributes:
        method, path: e.g. ``"POST"``, ``"/v1/chat/completions"``.
        headers: lower-cased header names.
        body: the raw body.
        json: the parsed body, or None.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


def estimate_usage(request: dict[str, Any], reply_text: str) -> dict[str, int]:
    """A rough usage block: ~4 characters per text token plus MiniCPM-V image tokens.

    Images are sized from their data URLs and counted with ``agentkit.vision.image_tokens`` (in the
    request's ``downsample_mode`` and ``max_slice_nums``) when that is available, else
    :data:`FALLBACK_IMAGE_TOKENS` each.
    """
    mm = request.get("mm_processor_kwargs") or {}
    mode = mm.get("downsample_mode", "16x") if isinstance(mm, dict) else "16x"
    slices = mm.get("max_slice_nums") if isinstance(mm, dict) else None
    chars = 0
    tokens = 0
    image_index = 0
    for message in request.get("messages") or []:
        if not isinstance(message, dict):
            continue
        tokens += 4  # <|im_start|>role\n ... <|im_end|>\n
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if isinstance(part.get("text"), str):
                    chars += len(part["text"])
                elif part.get("type") == "image_url":
                    url = (part.get("image_url") or {}).get("url", "")
                    tokens += _image_cost(url, mode, slices, image_index)
                    image_index += 1
        for call in message.get("tool_calls") or []:
            chars += len(json.dumps(call))
    if request.get("tools"):
        chars += len(json.dumps(request["tools"])) + 800
    tokens += math.ceil(chars / 4)
    completion = math.ceil(len(reply_text) / 4)
    return {
        "prompt_tokens": tokens,
        "completion_tokens": completion,
        "total_tokens": tokens + completion,
    }


def _image_cost(url: str, mode: str, slices: Any, index: int) -> int:
    fallback = FALLBACK_IMAGE_TOKENS.get(mode, FALLBACK_IMAGE_TOKENS["16x"])
    size = _image_size(url)
    if size is None:
        return fallback
    try:
        from agentkit.vision import image_tokens
    except ImportError:
        return fallback
    try:
        return int(image_tokens(size[0], size[1], mode, slices, image_index=index).total)
    except Exception:  # a counting bug must not take the fake server down
        return fallback


def _image_size(url: str) -> tuple[int, int] | None:
    if not url.startswith("data:") or "," not in url:
        return None
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return int(image.size[0]), int(image.size[1])
    except Exception:  # not an image Pillow knows, or no Pillow
        return None


def context_length_message(prompt_tokens: int, max_model_len: int) -> str:
    """vLLM's wording when the prompt does not fit."""
    return (
        f"This model's maximum context length is {max_model_len} tokens. However, your request "
        f"has {prompt_tokens} input tokens. Please reduce the length of the input messages."
    )


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 429: "TooManyRequests"}
