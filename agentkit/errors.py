"""Every exception agentkit raises, in one tree.

    AgentkitError
    ├── ConfigurationError          bad settings or arguments; says which and how to fix it
    │   └── MissingExtraError       an optional extra is not installed; names the pip command
    ├── ToolDefinitionError         a tool could not be registered (duplicate/reserved name, bad schema)
    ├── ToolCallError               the model wrote an invalid call; carried as data and sent back
    │   ├── MalformedCallError      broken <tool_call> markup
    │   ├── TruncatedCallError      the output ended inside a call (finish_reason "length")
    │   ├── CallTooLargeError       one call over the size cap
    │   ├── UnknownToolError        no tool of that name (lists the real names)
    │   ├── UnknownParameterError   a parameter the tool does not take (lists the real ones)
    │   ├── MissingParameterError   a required parameter is absent
    │   ├── DuplicateParameterError the same parameter twice
    │   ├── BadValueError           a value that does not convert or validate
    │   └── TooManyCallsError       more calls in one turn than allowed (the extras are not run)
    ├── BackendError                the model server or engine failed
    │   ├── ServerUnavailableError  connection refused / not ready
    │   ├── AuthenticationError     401/403 (the key is never printed)
    │   ├── ModelNotFoundError      404 or an unknown model name (lists the served models)
    │   ├── ContextLengthError      the prompt does not fit (carries the token numbers)
    │   ├── BadRequestError         any other 4xx
    │   ├── OverloadedError         429/503 past the retry cap
    │   ├── ServerError             5xx past the retry budget
    │   ├── BackendTimeoutError     connect / first-token / stream-idle deadline
    │   ├── StreamInterruptedError  the stream was cut, stalled or ended without finishing
    │   └── ProtocolError           a body that is not what the API promises
    ├── CaptureError                a frame source failed after its retries
    └── RunError                    the run ended early
        ├── LimitExceededError      steps, tool calls, wall clock or invalid-call budget
        ├── RunCancelledError       stop() / SIGINT / task cancellation
        └── OutputValidationError   the final answer does not match the output type

Errors meant for the model (``ToolCallError``) are never raised out of the loop: they become a
retry message to the model. Everything else surfaces as one of these types, raised ``from`` the
third-party exception that caused it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentkitError",
    "AuthenticationError",
    "BackendError",
    "BackendTimeoutError",
    "BadRequestError",
    "BadValueError",
    "CallTooLargeError",
    "CaptureError",
    "ConfigurationError",
    "ContextLengthError",
    "DuplicateParameterError",
    "LimitExceededError",
    "MalformedCallError",
    "MissingExtraError",
    "MissingParameterError",
    "ModelNotFoundError",
    "OutputValidationError",
    "OverloadedError",
    "ProtocolError",
    "RunCancelledError",
    "RunError",
    "ServerError",
    "ServerUnavailableError",
    "StreamInterruptedError",
    "ToolCallError",
    "ToolDefinitionError",
    "TooManyCallsError",
    "TruncatedCallError",
    "UnknownParameterError",
    "UnknownToolError",
]


class AgentkitError(Exception):
    """Base class of every agentkit error."""


class ConfigurationError(AgentkitError):
    """Settings or arguments that cannot work; the message says how to fix them."""


class MissingExtraError(ConfigurationError):
    """An optional dependency is missing.

    Args:
        extra: the agentkit extra that provides it, e.g. ``"transformers"``.
        what: what needed it, e.g. ``"the embedded transformers backend"``.
    """

    def __init__(self, extra: str, what: str, detail: str = "") -> None:
        self.extra = extra
        msg = f"{what} needs the '{extra}' extra: pip install 'agentkit[{extra}]'"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class ToolDefinitionError(AgentkitError):
    """A tool or tool set could not be defined (duplicate or reserved name, bad schema)."""


class ToolCallError(AgentkitError):
    """An invalid tool call written by the model.

    These are data: the parser returns them, the loop sends ``message`` back to the model as a
    retry prompt, and nothing is executed.

    Attributes:
        kind: a short machine name (``"unknown_tool"``, ``"bad_value"``...).
        tool: the tool name the model wrote, when known.
        parameter: the parameter concerned, when there is one.
        raw: an excerpt of the offending text (capped).
    """

    kind = "tool_call_error"

    def __init__(
        self,
        message: str,
        *,
        tool: str | None = None,
        parameter: str | None = None,
        raw: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.tool = tool
        self.parameter = parameter
        self.raw = raw[:400]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "tool": self.tool,
            "parameter": self.parameter,
            "raw": self.raw,
        }


class MalformedCallError(ToolCallError):
    kind = "malformed"


class TruncatedCallError(ToolCallError):
    kind = "truncated"


class CallTooLargeError(ToolCallError):
    kind = "too_large"


class UnknownToolError(ToolCallError):
    kind = "unknown_tool"


class UnknownParameterError(ToolCallError):
    kind = "unknown_parameter"


class MissingParameterError(ToolCallError):
    kind = "missing_parameter"


class DuplicateParameterError(ToolCallError):
    kind = "duplicate_parameter"


class BadValueError(ToolCallError):
    kind = "bad_value"


class TooManyCallsError(ToolCallError):
    kind = "too_many_calls"


class BackendError(AgentkitError):
    """The model server or embedded engine failed.

    Attributes:
        url: the endpoint concerned, when remote.
        status: the HTTP status, when there was one.
        retryable: whether repeating the same request may succeed.
    """

    retryable = False

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class ServerUnavailableError(BackendError):
    retryable = True


class AuthenticationError(BackendError):
    pass


class ModelNotFoundError(BackendError):
    def __init__(self, message: str, *, available: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.available = list(available or [])


class ContextLengthError(BackendError):
    def __init__(
        self,
        message: str,
        *,
        prompt_tokens: int | None = None,
        max_model_len: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.prompt_tokens = prompt_tokens
        self.max_model_len = max_model_len


class BadRequestError(BackendError):
    pass


class OverloadedError(BackendError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(BackendError):
    retryable = True


class BackendTimeoutError(BackendError):
    retryable = True

    def __init__(self, message: str, *, phase: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.phase = phase  # "connect", "first_token" or "idle"


class StreamInterruptedError(BackendError):
    retryable = True


class ProtocolError(BackendError):
    pass


class CaptureError(AgentkitError):
    """A frame source failed after its bounded retries."""


class RunError(AgentkitError):
    """The run ended before a final answer."""


class LimitExceededError(RunError):
    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit  # "max_steps", "max_tool_calls", "wall_clock" or "invalid_calls"


class RunCancelledError(RunError):
    pass


class OutputValidationError(RunError):
    pass
