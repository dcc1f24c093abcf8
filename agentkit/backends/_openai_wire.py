"""The OpenAI chat-completions wire format: request bodies out, streamed chunks in.

No HTTP here: :func:`build_body` turns a :class:`~agentkit.backends.ModelRequest` into the JSON
body vLLM expects, :func:`render_tools_prompt` writes tools into the system message the way the
Qwen3.5 chat template does (``tool_mode="prompt"``), :class:`SSEReader` splits a byte stream into
server-sent events and :class:`ChunkAccumulator` assembles ``chat.completion.chunk`` events into
one turn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agentkit.backends._base import ModelRequest, ServerToolCall
from agentkit.backends._http_errors import transport_errors
from agentkit.messages import ImagePart, Message, TextPart, Usage

__all__ = [
    "TOOL_FORMAT_INSTRUCTIONS",
    "ChunkAccumulator",
    "SSEReader",
    "build_body",
    "convert_message",
    "convert_messages",
    "render_tools_prompt",
]

# The instruction block the Qwen3.5 / MiniCPM-V 4.6 chat template writes after the tool list.
TOOL_FORMAT_INSTRUCTIONS = (
    "If you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n"
    "</parameter>\n<parameter=example_parameter_2>\nThis is the value for the second parameter\n"
    "that can span\nmultiple lines\n</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\n"
    "Reminder:\n- Function calls MUST follow the specified format: an inner <function=...></function> "
    "block must be nested within <tool_call></tool_call> XML tags\n- Required parameters MUST be "
    "specified\n- You may provide optional reasoning for your function call in natural language "
    "BEFORE the function call, but NOT after\n- If there is no function call available, answer the "
    "question like normal with your current knowledge and do not tell the user about function "
    "calls\n</IMPORTANT>"
)


def render_tools_prompt(tools: list[dict[str, Any]], system_text: str = "") -> str:
    """The system message text the chat template would build from ``tools`` and a system prompt.

    A ``# Tools`` heading, one JSON object per tool inside ``<tools></tools>``, the exact
    ``<tool_call>`` format instructions, then the original system text (if any).
    """
    lines = "".join("\n" + json.dumps(tool, ensure_ascii=False) for tool in tools)
    text = (
        "# Tools\n\nYou have access to the following functions:\n\n<tools>"
        + lines
        + "\n</tools>\n\n"
        + TOOL_FORMAT_INSTRUCTIONS
    )
    system_text = system_text.strip()
    if system_text:
        text += "\n\n" + system_text
    return text


def _content(msg: Message) -> str | list[dict[str, Any]]:
    if isinstance(msg.content, str):
        return msg.content
    if not any(isinstance(p, ImagePart) for p in msg.content):
        return msg.text
    parts: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        else:
            parts.append({"type": "image_url", "image_url": {"url": part.data_url()}})
    return parts


def convert_message(msg: Message) -> dict[str, Any]:
    """One agentkit message as an OpenAI chat message (images as data-URL ``image_url`` parts)."""
    out: dict[str, Any] = {"role": msg.role}
    if msg.role == "system":
        out["content"] = msg.text
    else:
        out["content"] = _content(msg)
    if msg.role == "assistant" and msg.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": json.dumps(call.arguments, ensure_ascii=False),
                },
            }
            for call in msg.tool_calls
        ]
    if msg.role == "tool":
        out["tool_call_id"] = msg.tool_call_id or ""
    elif msg.name is not None:
        out["name"] = msg.name
    return out


def convert_messages(
    messages: list[Message], *, tools_in_prompt: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Convert a conversation; with ``tools_in_prompt``, render them into the system message."""
    out = [convert_message(m) for m in messages]
    if tools_in_prompt:
        if out and out[0]["role"] == "system":
            out[0]["content"] = render_tools_prompt(tools_in_prompt, out[0]["content"])
        else:
            out.insert(0, {"role": "system", "content": render_tools_prompt(tools_in_prompt)})
    return out


def build_body(
    request: ModelRequest,
    *,
    model: str,
    tool_mode: str = "request",
    send_max_slice_nums: bool = True,
) -> dict[str, Any]:
    """The full JSON body of a streamed ``/v1/chat/completions`` request.

    Args:
        request: the turn to run.
        model: the served model name.
        tool_mode: ``"request"`` sends ``tools``; ``"prompt"`` renders them into the system message.
        send_max_slice_nums: whether ``max_slice_nums`` may be sent (never to vLLM 0.22).
    """
    prompt_tools = request.tools if tool_mode == "prompt" else None
    body: dict[str, Any] = {
        "model": model,
        "messages": convert_messages(request.messages, tools_in_prompt=prompt_tools),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools and tool_mode == "request":
        body["tools"] = list(request.tools)
        body["tool_choice"] = request.tool_choice
    mm: dict[str, Any] = {"downsample_mode": request.mode}
    if request.max_slice_nums is not None and send_max_slice_nums:
        mm["max_slice_nums"] = request.max_slice_nums
    body["mm_processor_kwargs"] = mm
    body["chat_template_kwargs"] = {"enable_thinking": request.enable_thinking}
    body["stop_token_ids"] = list(request.stop_token_ids)
    body["skip_special_tokens"] = request.skip_special_tokens
    if request.structured_outputs is not None:
        body["structured_outputs"] = request.structured_outputs
    body.update(request.extra_body)
    return body


@dataclass
class _CallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class ChunkAccumulator:
    """Assembles streamed ``chat.completion.chunk`` objects into one turn.

    Attributes:
        text: the content so far.
        reasoning: ``reasoning_content`` / ``reasoning`` deltas so far.
        finish_reason: the last non-null finish reason seen.
        usage: the usage block, when the server sent one.
        model: the model name the server reported.
    """

    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    calls: dict[int, _CallParts] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str = ""
    chunks: int = 0

    def add(self, chunk: dict[str, Any]) -> tuple[str, bool]:
        """Take one chunk; return its content text and whether it carried any output at all.

        Raises:
            ValueError: the chunk does not have the chat-completion-chunk shape.
        """
        self.chunks += 1
        if isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = Usage(
                prompt_tokens=_int(usage.get("prompt_tokens")),
                completion_tokens=_int(usage.get("completion_tokens")),
                requests=1,
            )
        choices = chunk.get("choices")
        if choices is None:
            choices = []
        if not isinstance(choices, list):
            raise ValueError("'choices' is not a list")
        text = ""
        output = False
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            if not isinstance(delta, dict):
                raise ValueError("'delta' is not an object")
            content = delta.get("content")
            if isinstance(content, str) and content:
                text += content
                output = True
            for key in ("reasoning_content", "reasoning"):
                piece = delta.get(key)
                if isinstance(piece, str) and piece:
                    self.reasoning_parts.append(piece)
                    output = True
                    break
            calls = delta.get("tool_calls")
            if isinstance(calls, list) and calls:
                output = True
                for position, call in enumerate(calls):
                    self._add_call(position, call)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                self.finish_reason = reason
        if text:
            self.text_parts.append(text)
        return text, output

    def _add_call(self, position: int, call: Any) -> None:
        if not isinstance(call, dict):
            raise ValueError("a tool_calls item is not an object")
        index = call.get("index", position)
        if not isinstance(index, int):
            raise ValueError("a tool_calls item has no integer index")
        parts = self.calls.setdefault(index, _CallParts())
        if isinstance(call.get("id"), str) and call["id"] and not parts.id:
            parts.id = call["id"]
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise ValueError("a tool_calls item's 'function' is not an object")
        name = function.get("name")
        if isinstance(name, str) and name and name != parts.name:
            # Servers send the name once; a few stream it in pieces.
            parts.name += name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            parts.arguments.append(arguments)
        elif isinstance(arguments, dict):
            # Not the documented shape (arguments is a JSON string), but seen in the wild.
            parts.arguments.append(json.dumps(arguments, ensure_ascii=False))

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    def tool_calls(self) -> list[ServerToolCall]:
        return [
            ServerToolCall(id=p.id, name=p.name, arguments="".join(p.arguments))
            for _, p in sorted(self.calls.items())
        ]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_CLOSE_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, *transport_errors())


class SSEReader:
    """Server-sent events from a byte stream: ``next()`` returns one event's data, None at the end.

    Only ``data:`` fields matter to chat completions; comments and other fields are skipped. An
    event cut off by the end of the stream is dropped (the caller then sees no ``[DONE]``).
    """

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._buffer = b""
        self._data: list[str] = []
        self._ended = False
        self.head = b""  # the first bytes received, for error messages about non-SSE bodies

    async def next(self) -> str | None:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = self._buffer[:newline].rstrip(b"\r")
                self._buffer = self._buffer[newline + 1 :]
                event = self._line(line.decode("utf-8", errors="replace"))
                if event is not None:
                    return event
                continue
            if self._ended:
                return None
            try:
                chunk = await self._source.__anext__()
            except StopAsyncIteration:
                self._ended = True
                continue
            self._buffer += chunk
            if len(self.head) < 400:
                self.head += chunk[: 400 - len(self.head)]

    def _line(self, line: str) -> str | None:
        if not line:
            if not self._data:
                return None
            data = "\n".join(self._data)
            self._data = []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    async def aclose(self) -> None:
        closer = getattr(self._source, "aclose", None)
        if closer is not None:
            try:
                await closer()
            except _CLOSE_ERRORS:
                pass
