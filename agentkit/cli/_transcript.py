"""Saving and loading a chat conversation (``/save`` and ``/load``) as one JSON file.

Images are stored inline (base64) so a saved conversation is self-contained.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from agentkit.errors import ConfigurationError
from agentkit.messages import FunctionCall, ImagePart, Message, Part, TextPart

__all__ = ["FORMAT", "load_transcript", "message_from_dict", "message_to_dict", "save_transcript"]

FORMAT = "agentkit-chat/1"
_ROLES = ("system", "user", "assistant", "tool")


def _part_to_dict(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    return {
        "type": "image",
        "media_type": part.media_type,
        "width": part.width,
        "height": part.height,
        "frame_id": part.frame_id,
        "detail": part.detail,
        "data": base64.b64encode(part.data).decode("ascii"),
    }


def message_to_dict(message: Message) -> dict[str, Any]:
    content: Any = message.content
    if not isinstance(content, str):
        content = [_part_to_dict(p) for p in content]
    out: dict[str, Any] = {"role": message.role, "content": content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _part_from_dict(raw: Any, where: str) -> Part:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a content part must be an object")
    kind = raw.get("type")
    if kind == "text":
        return TextPart(str(raw["text"]))
    if kind == "image":
        try:
            data = base64.b64decode(raw["data"], validate=True)
        except (binascii.Error, TypeError) as exc:
            raise ValueError(f"{where}: bad image data") from exc
        return ImagePart(
            data,
            str(raw["media_type"]),
            int(raw["width"]),
            int(raw["height"]),
            frame_id=raw.get("frame_id"),
            detail=str(raw.get("detail", "full")),
        )
    raise ValueError(f"{where}: unknown part type {kind!r}")


def message_from_dict(raw: Any, where: str = "message") -> Message:
    if not isinstance(raw, dict) or raw.get("role") not in _ROLES:
        raise ValueError(f"{where}: needs a role ({', '.join(_ROLES)})")
    content = raw.get("content", "")
    if isinstance(content, list):
        content = [_part_from_dict(p, f"{where} part {i}") for i, p in enumerate(content)]
    elif not isinstance(content, str):
        raise ValueError(f"{where}: content must be a string or a list of parts")
    calls = [
        FunctionCall(str(c["id"]), str(c["name"]), dict(c.get("arguments") or {}))
        for c in raw.get("tool_calls") or []
    ]
    return Message(
        raw["role"],
        content,
        tool_calls=calls,
        tool_call_id=raw.get("tool_call_id"),
        name=raw.get("name"),
    )


def save_transcript(path: str | Path, messages: list[Message], **meta: Any) -> Path:
    """Write ``messages`` (and ``meta``, e.g. the mode) to ``path``; returns the path."""
    target = Path(path).expanduser()
    doc = {"format": FORMAT, **meta, "messages": [message_to_dict(m) for m in messages]}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot save the conversation to {target}: {exc}") from exc
    return target


def load_transcript(path: str | Path) -> tuple[list[Message], dict[str, Any]]:
    """Read a file written by :func:`save_transcript`: the messages and the other fields."""
    source = Path(path).expanduser()
    try:
        doc = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {source}: {exc}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"{source} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigurationError(f"{source} is not a conversation saved by /save (format {FORMAT})")
    try:
        messages = [
            message_from_dict(m, f"message {i}") for i, m in enumerate(doc.get("messages") or [])
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{source}: {exc}") from exc
    meta = {k: v for k, v in doc.items() if k not in ("format", "messages")}
    return messages, meta
