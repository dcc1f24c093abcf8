"""A deliberately *lax* ``<tool_call>`` parser, emulating vLLM's ``qwen3_coder`` tool parser.

:class:`~agentkit.testing.server.LocalServer` uses it for ``parse_tool_calls=True`` so agents are
tested against what a real server returns, defects included. It is NOT agentkit's parser (that one
is strict, in :mod:`agentkit.parsing`); its laxness follows vLLM 0.33 on purpose:

* unknown function names are kept; parameters not in the schema stay strings;
* ``integer``: Python ``int()`` (so ``"1_000"`` and non-ASCII digits pass); ``number``: ``"3.0"``
  becomes ``3``; ``boolean``: ``true``/``false``/``1``/``0``, anything else stays a string;
  ``null`` becomes None; objects and arrays must be JSON, else they stay strings (Python-style
  dicts stay strings);
* a duplicate parameter: the last one wins; a missing ``</parameter>`` ends at the next
  ``<parameter=`` or ``</function>``; missing ``</function>`` / ``</tool_call>`` at the end are
  tolerated;
* text before the first call is the content; text after the last call is dropped (non-streamed)
  or kept (streamed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LaxCall", "LaxParse", "coerce", "parse_lax"]

_CALL_OPEN = "<tool_call>"
_CALL_CLOSE = "</tool_call>"
_FUNC_OPEN = "<function="
_FUNC_CLOSE = "</function>"
_PARAM_OPEN = "<parameter="
_PARAM_CLOSE = "</parameter>"


@dataclass
class LaxCall:
    name: str
    arguments: dict[str, Any]

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass
class LaxParse:
    content: str
    calls: list[LaxCall] = field(default_factory=list)
    trailing: str = ""


def parse_lax(text: str, tools: list[dict[str, Any]] | None = None) -> LaxParse:
    """Split model text into content, calls and the text after the last call."""
    start = text.find(_CALL_OPEN)
    if start < 0:
        return LaxParse(content=text)
    schemas = _schemas(tools or [])
    content = text[:start]
    calls: list[LaxCall] = []
    pos = start
    trailing = ""
    while pos >= 0:
        body_start = pos + len(_CALL_OPEN)
        close = text.find(_CALL_CLOSE, body_start)
        if close < 0:
            block, end = text[body_start:], len(text)
        else:
            block, end = text[body_start:close], close + len(_CALL_CLOSE)
        call = _parse_function(block, schemas)
        if call is not None:
            calls.append(call)
        pos = text.find(_CALL_OPEN, end)
        if pos < 0:
            trailing = text[end:]
    return LaxParse(content=content, calls=calls, trailing=trailing)


def _parse_function(block: str, schemas: dict[str, dict[str, Any]]) -> LaxCall | None:
    open_at = block.find(_FUNC_OPEN)
    if open_at < 0:
        return None
    name_end = block.find(">", open_at)
    if name_end < 0:
        return None
    name = block[open_at + len(_FUNC_OPEN) : name_end].strip()
    body_end = block.find(_FUNC_CLOSE, name_end)
    body = block[name_end + 1 :] if body_end < 0 else block[name_end + 1 : body_end]
    props = schemas.get(name, {})
    arguments: dict[str, Any] = {}
    pos = body.find(_PARAM_OPEN)
    while pos >= 0:
        key_end = body.find(">", pos)
        if key_end < 0:
            break
        key = body[pos + len(_PARAM_OPEN) : key_end].strip()
        next_open = body.find(_PARAM_OPEN, key_end)
        close = body.find(_PARAM_CLOSE, key_end)
        if close < 0 or (0 <= next_open < close):
            value_end = next_open if next_open >= 0 else len(body)
            pos = next_open
        else:
            value_end = close
            pos = body.find(_PARAM_OPEN, close)
        value = body[key_end + 1 : value_end]
        if value.startswith("\n"):
            value = value[1:]
        if value.endswith("\n"):
            value = value[:-1]
        arguments[key] = coerce(value, props.get(key))  # duplicates: the last one wins
    return LaxCall(name=name, arguments=arguments)


def _schemas(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function", tool)
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            params = fn.get("parameters") or {}
            props = params.get("properties") if isinstance(params, dict) else None
            out[fn["name"]] = props if isinstance(props, dict) else {}
    return out


def coerce(value: str, schema: Any) -> Any:
    """Convert one raw parameter value the way vLLM's ``qwen3_coder`` parser does (laxly)."""
    if value.lower() == "null":
        return None
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind).lower()
    if kind in ("string", "str", "text", "varchar", "char", "enum"):
        return value
    if kind.startswith("int") or kind in ("uint", "long", "short", "unsigned"):
        try:
            return int(value)
        except ValueError:
            return value
    if kind.startswith(("num", "float")) or kind == "double":
        try:
            number = float(value)
        except ValueError:
            return value
        try:
            return int(number) if number == int(number) else number
        except (OverflowError, ValueError):
            return value
    if kind in ("boolean", "bool", "binary"):
        low = value.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
