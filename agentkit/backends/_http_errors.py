"""Translate what an OpenAI-compatible server (vLLM) does wrong into agentkit's typed errors.

This is the one boundary where ``openai`` / ``httpx`` exceptions and error bodies become
:class:`~agentkit.errors.BackendError` subclasses. Messages name the URL and the fix, never the API
key, and carry at most a short excerpt of a body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from agentkit.errors import (
    AuthenticationError,
    BackendError,
    BadRequestError,
    ContextLengthError,
    ModelNotFoundError,
    OverloadedError,
    ProtocolError,
    ServerError,
    ServerUnavailableError,
)

__all__ = [
    "EXCERPT_CHARS",
    "context_numbers",
    "error_from_status",
    "excerpt",
    "in_band_error",
    "is_context_length_message",
    "parse_retry_after",
    "server_message",
    "transport_errors",
    "unavailable",
]

EXCERPT_CHARS = 300

_FIX_URL = "is `vllm serve` running? Set AGENTKIT_BASE_URL or pass --base-url"

# vLLM's wordings of "the prompt does not fit" (0.2x-0.3x front end and engine).
_CONTEXT_MARKERS = (
    "maximum context length",
    "maximum model length",
    "is too long and exceeds limit",
    "context length exceeded",
    "context_length_exceeded",
)
_MAX_LEN_PATTERNS = (
    re.compile(r"maximum context length is (\d+)"),
    re.compile(r"maximum model length (?:of |is )?(\d+)"),
    re.compile(r"exceeds limit of (\d+)"),
)
_PROMPT_PATTERNS = (
    re.compile(r"request has (\d+) input tokens"),
    re.compile(r"(\d+) in the messages"),
    re.compile(r"messages resulted in (\d+) tokens"),
    re.compile(r"prompt \(length (\d+)\)"),
    re.compile(r"prompt \((\d+) tokens\)"),
    re.compile(r"you requested (\d+) tokens"),
)


def transport_errors() -> tuple[type[BaseException], ...]:
    """Exception types a broken connection raises mid-stream (httpx, httpx2 and anyio flavours)."""
    types: list[type[BaseException]] = [httpx.TransportError, httpx.StreamError]
    try:
        import httpx2

        types += [httpx2.TransportError, httpx2.StreamError]
    except ImportError:  # pragma: no cover - older openai clients use httpx only
        pass
    try:
        import anyio

        types += [anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError]
    except ImportError:  # pragma: no cover - anyio comes with httpx
        pass
    return tuple(types)


def excerpt(text: str, secret: str | None = None, limit: int = EXCERPT_CHARS) -> str:
    """A one-line, capped, secret-free excerpt of a body for an error message."""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def server_message(body: str, secret: str | None = None) -> str:
    """The error message inside a JSON error body (``{"error": {"message"}}``, vLLM's flat form,
    ``{"detail"}``), else a capped excerpt of the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return excerpt(body, secret)
    message = _message_of(data)
    return excerpt(message if message is not None else body, secret)


def _message_of(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    err = data.get("error", data)
    if isinstance(err, str):
        return err
    if isinstance(err, dict):
        for key in ("message", "detail"):
            if isinstance(err.get(key), str):
                return str(err[key])
    if isinstance(data.get("detail"), str):
        return str(data["detail"])
    return None


def is_context_length_message(message: str) -> bool:
    low = message.lower()
    return any(marker in low for marker in _CONTEXT_MARKERS)


def context_numbers(message: str) -> tuple[int | None, int | None]:
    """``(prompt_tokens, max_model_len)`` parsed from a vLLM context-length message."""
    low = message.lower()

    def first(patterns: tuple[re.Pattern[str], ...]) -> int | None:
        for pattern in patterns:
            match = pattern.search(low)
            if match:
                return int(match.group(1))
        return None

    return first(_PROMPT_PATTERNS), first(_MAX_LEN_PATTERNS)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def unavailable(url: str, detail: str = "") -> ServerUnavailableError:
    reason = f" ({detail})" if detail else ""
    return ServerUnavailableError(f"Could not reach vLLM at {url}{reason}: {_FIX_URL}", url=url)


def error_from_status(
    status: int,
    body: str,
    headers: Mapping[str, str],
    *,
    url: str,
    model: str,
    secret: str | None = None,
    available: list[str] | None = None,
) -> BackendError:
    """The typed error for an HTTP error status (retry decisions are the caller's)."""
    message = server_message(body, secret)
    ctype = headers.get("content-type", "")
    if status in (401, 403):
        return AuthenticationError(
            f"The server at {url} rejected the API key ({status}: {message}). "
            "Set AGENTKIT_API_KEY (or pass api_key=) to the key `vllm serve --api-key` was given.",
            url=url,
            status=status,
        )
    if status == 404:
        listed = ", ".join(available) if available else "(could not list /v1/models)"
        return ModelNotFoundError(
            f"The server at {url} does not serve model {model!r} (404: {message}). "
            f"Served models: {listed}. Set AGENTKIT_MODEL or pass --model.",
            available=available,
            url=url,
            status=status,
        )
    if status == 400 and is_context_length_message(message):
        prompt_tokens, max_len = context_numbers(message)
        return ContextLengthError(
            f"The prompt does not fit the model's context at {url}: {message}",
            prompt_tokens=prompt_tokens,
            max_model_len=max_len,
            url=url,
            status=status,
        )
    if status in (429, 503):
        return OverloadedError(
            f"The server at {url} is overloaded or not ready ({status}: {message})",
            retry_after=parse_retry_after(headers),
            url=url,
            status=status,
        )
    if 400 <= status < 500:
        return BadRequestError(
            f"The server at {url} refused the request ({status}): {message}", url=url, status=status
        )
    if status >= 500:
        kind = " (an HTML page: a proxy in between?)" if "html" in ctype else ""
        return ServerError(
            f"The server at {url} failed ({status}){kind}: {message}", url=url, status=status
        )
    return ProtocolError(
        f"Unexpected HTTP status {status} from {url}: {excerpt(body, secret)}",
        url=url,
        status=status,
    )


def in_band_error(
    data: dict[str, Any], *, url: str, model: str, secret: str | None = None
) -> BackendError:
    """The typed error for an ``{"error": ...}`` event inside a stream."""
    err = data.get("error")
    code: Any = err.get("code") if isinstance(err, dict) else None
    if not isinstance(code, int) and isinstance(err, dict) and isinstance(err.get("status"), int):
        code = err["status"]
    message = _message_of(data) or "no message"
    if isinstance(code, int) and 400 <= code < 600:
        error = error_from_status(
            code,
            json.dumps({"error": {"message": message}}),
            {},
            url=url,
            model=model,
            secret=secret,
        )
        error.args = (f"{error.args[0]} [error event inside the stream]",)
        return error
    return ServerError(
        f"The server at {url} sent an error inside the stream: {excerpt(message, secret)}", url=url
    )
