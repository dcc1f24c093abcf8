"""The MiniCPM-V 4.6 chat template agentkit renders prompts with, and the message conversion for it.

Embedded backends do not go through an OpenAI-compatible server, so agentkit renders the prompt
itself: :func:`to_template_messages` turns agentkit :class:`~agentkit.messages.Message` records
into Hugging Face chat-template messages (content lists of ``{"type": "text"}`` /
``{"type": "image"}`` items, ``tool_calls`` with dict arguments, ``role: "tool"`` turns), and
:func:`render` applies a template the way ``transformers`` does (a sandboxed Jinja environment with
``trim_blocks``/``lstrip_blocks``, a ``tojson`` filter and ``raise_exception``). The template file
(``agentkit/templates/minicpmv46.jinja``) is also valid for ``vllm serve --chat-template``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentkit.errors import ConfigurationError, MissingExtraError
from agentkit.messages import ImagePart, Message, TextPart

if TYPE_CHECKING:
    from agentkit.backends._base import ModelRequest

__all__ = ["chat_template", "chat_template_path", "render", "to_template_messages"]

_TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "templates" / "minicpmv46.jinja"


def chat_template_path() -> Path:
    """The path of agentkit's MiniCPM-V 4.6 template (for ``vllm serve --chat-template``)."""
    return _TEMPLATE_PATH


@lru_cache(maxsize=1)
def chat_template() -> str:
    """agentkit's MiniCPM-V 4.6 chat template (Jinja source)."""
    return _TEMPLATE_PATH.read_text(encoding="utf-8")


def to_template_messages(messages: list[Message]) -> tuple[list[dict[str, Any]], list[ImagePart]]:
    """Convert agentkit messages to chat-template messages.

    Returns:
        The template messages, and the images in the order their placeholders appear in the prompt.
    """
    out: list[dict[str, Any]] = []
    images: list[ImagePart] = []
    for msg in messages:
        item: dict[str, Any] = {"role": msg.role}
        if isinstance(msg.content, str):
            item["content"] = msg.content
        else:
            parts: list[dict[str, Any]] = []
            for part in msg.content:
                if isinstance(part, TextPart):
                    parts.append({"type": "text", "text": part.text})
                elif isinstance(part, ImagePart):
                    parts.append({"type": "image"})
                    images.append(part)
            item["content"] = parts
        if msg.tool_calls:
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": dict(call.arguments)},
                }
                for call in msg.tool_calls
            ]
        if msg.tool_call_id is not None:
            item["tool_call_id"] = msg.tool_call_id
        if msg.name is not None:
            item["name"] = msg.name
        out.append(item)
    return out, images


def _tojson(
    value: Any, indent: int | None = None, separators: Any = None, sort_keys: bool = False
) -> str:
    # Same defaults as transformers' chat-template ``tojson`` (non-ASCII kept as is).
    return json.dumps(
        value, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise(message: str) -> None:
    raise ConfigurationError(f"chat template: {message}")


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    try:
        from jinja2 import ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:  # pragma: no cover - jinja2 comes with transformers and vllm
        raise MissingExtraError(
            "transformers", "rendering the chat template", "jinja2 is missing"
        ) from exc
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    return env.from_string(source)


def render(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    enable_thinking: bool = False,
    template: str | None = None,
) -> str:
    """Render chat-template messages into the prompt text.

    Args:
        messages: template messages (see :func:`to_template_messages`).
        tools: OpenAI-style function schemas, rendered into the system turn.
        add_generation_prompt: end with the assistant turn opener.
        enable_thinking: ``False`` closes an empty think block in the generation prompt.
        template: Jinja source; agentkit's MiniCPM-V 4.6 template when None.

    Raises:
        ConfigurationError: the template refused the conversation (e.g. no user message).
    """
    compiled = _compile(template if template is not None else chat_template())
    text: str = compiled.render(
        messages=messages,
        tools=tools or None,
        add_generation_prompt=add_generation_prompt,
        enable_thinking=enable_thinking,
    )
    return text


def render_request(
    request: ModelRequest, *, template: str | None = None
) -> tuple[str, list[ImagePart]]:
    """The prompt text of a model request and its images, in order (what an embedded engine runs).

    Tools are rendered into the system turn unless the request says ``tool_choice="none"``.
    """
    messages, parts = to_template_messages(request.messages)
    tools = request.tools if request.tool_choice != "none" else []
    text = render(
        messages,
        tools,
        add_generation_prompt=True,
        enable_thinking=request.enable_thinking,
        template=template,
    )
    return text, parts
