"""Strict, schema-driven conversion of the text between ``<parameter=...>`` and ``</parameter>``.

The model writes string values as raw text and everything else as JSON. This module turns that
text into a JSON value of the type the parameter's schema asks for, and refuses anything a lax
converter would quietly accept: ``int()`` takes ``"٣٢٠"``, ``"３２０"`` and ``"1_000"``; Python's
``json`` takes ``NaN``, ``Infinity`` and duplicate keys; vLLM's own parser keeps ``"yes"`` as a
string. Range checks, enums and nested shapes are left to :meth:`agentkit.tools.Tool.validate`,
which receives already-typed values.

Everything here is linear in the size of the text: no regular expression with nested quantifiers,
a digit cap before ``int()``, a nesting-depth check before ``json.loads``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from agentkit.errors import BadValueError

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_CHARS",
    "JsonProblem",
    "convert_value",
    "loads_strict",
    "string_problem",
]

#: Deepest array/object nesting accepted in a JSON value.
MAX_DEPTH = 32
#: Longest integer or number literal accepted (a 5,000-digit integer is an error, not a crash).
MAX_NUMBER_CHARS = 64

_ALL_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
_WS = " \t\r\n"
# Plain ASCII ranges only ([0-9], never \d), no nested quantifiers: linear, no backtracking.
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PYTHON_WORDS = re.compile(r"\b(?:True|False|None)\b")


class JsonProblem(Exception):
    """Why a JSON text was refused (internal; callers turn it into a :class:`ToolCallError`).

    Attributes:
        reason: ``"syntax"``, ``"duplicate_key"``, ``"non_finite"``, ``"too_deep"``,
            ``"too_long"`` or ``"bad_string"``.
        key: the duplicated key, for ``"duplicate_key"``.
        depth: nesting level where it happened (0 = the top-level value).
    """

    def __init__(self, reason: str, message: str, *, key: str | None = None, depth: int = 0):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.key = key
        self.depth = depth


# --------------------------------------------------------------------------- strict JSON


def _nesting_depth(text: str, limit: int) -> int:
    """Maximum bracket depth outside JSON strings; stops counting once over ``limit``."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "[" or ch == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch == "]" or ch == "}":
            depth -= 1
    return deepest


def _reject_constant(name: str) -> Any:
    raise JsonProblem("non_finite", f"{name} is not allowed: numbers must be finite")


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonProblem("too_long", f"a number of {len(text)} characters is too long")
    value = float(text)
    if not math.isfinite(value):
        raise JsonProblem("non_finite", f"{text} is out of range: numbers must be finite")
    return value


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonProblem(
            "too_long", f"an integer of {len(text)} digits is too long (at most {MAX_NUMBER_CHARS})"
        )
    return int(text)


def loads_strict(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON strictly.

    Refuses duplicate object keys, ``NaN``/``Infinity``, numbers that overflow to infinity,
    over-long number literals, nesting deeper than ``max_depth`` and strings holding NUL or an
    unpaired surrogate.

    Raises:
        JsonProblem: with a message written for the model.
    """
    opens = text.count("[") + text.count("{")
    if opens > max_depth and _nesting_depth(text, max_depth) > max_depth:
        raise JsonProblem("too_deep", f"the value is nested more than {max_depth} levels deep")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise JsonProblem("duplicate_key", f'the key "{key}" appears twice', key=key)
            out[key] = value
        return out

    try:
        value = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except JsonProblem:
        raise
    except RecursionError:  # belt and braces: the depth check above should prevent it
        raise JsonProblem("too_deep", "the value is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise JsonProblem("syntax", _syntax_message(text, exc)) from None
    except (ValueError, TypeError) as exc:  # int() limits and similar
        raise JsonProblem("syntax", f"not valid JSON ({exc})") from None
    problem = _find_bad_string(value, 0)
    if problem:
        raise JsonProblem("bad_string", problem)
    return value


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    stripped = text.strip(_WS)
    if stripped[:1] in ("{", "[") and ("'" in stripped or _PYTHON_WORDS.search(stripped[:2000])):
        return (
            "this looks like a Python literal, not JSON: write JSON with double-quoted strings "
            "and true/false/null"
        )
    return f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"


def string_problem(text: str) -> str:
    """Why a string cannot be passed to a tool ('' when it can): NUL or an unpaired surrogate."""
    if "\x00" in text:
        return "it contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "it contains an unpaired surrogate (not valid Unicode text)"
    return ""


def _find_bad_string(value: Any, depth: int) -> str:
    if isinstance(value, str):
        return string_problem(value)
    if depth > MAX_DEPTH:
        return ""
    if isinstance(value, list):
        for item in value:
            found = _find_bad_string(item, depth + 1)
            if found:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            found = string_problem(key) or _find_bad_string(item, depth + 1)
            if found:
                return found
    return ""


# --------------------------------------------------------------------------- schema types


def allowed_types(schema: Any, depth: int = 0) -> frozenset[str]:
    """The JSON types a schema admits at its top level (every type when it does not say)."""
    if not isinstance(schema, dict) or depth > 8:
        return _ALL_TYPES
    found: set[str] = set()
    constrained = False
    kind = schema.get("type")
    if isinstance(kind, str):
        found.add(kind)
        constrained = True
    elif isinstance(kind, list):
        found.update(k for k in kind if isinstance(k, str))
        constrained = True
    if not constrained:
        if isinstance(schema.get("enum"), list):
            found.update(_json_type(v) for v in schema["enum"])
            constrained = True
        elif "const" in schema:
            found.add(_json_type(schema["const"]))
            constrained = True
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            union: set[str] = set()
            for sub in branches:
                union |= allowed_types(sub, depth + 1)
            found = (found & union) if constrained else union
            constrained = True
    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        for sub in all_of:
            sub_types = allowed_types(sub, depth + 1)
            if sub_types != _ALL_TYPES:
                found = (found & sub_types) if constrained else set(sub_types)
                constrained = True
    if not constrained:
        return _ALL_TYPES
    if "integer" in found and "number" in found:
        found.discard("integer")
    return frozenset(found)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_TYPE_WORDS = {
    "null": "null",
    "boolean": "true or false",
    "integer": "an integer (ASCII digits, e.g. 42)",
    "number": "a finite number (e.g. 0.5)",
    "string": "text",
    "array": "a JSON array",
    "object": "a JSON object",
}
_ORDER = ("integer", "number", "boolean", "string", "array", "object", "null")


def _expected(types: frozenset[str]) -> str:
    return " or ".join(_TYPE_WORDS[t] for t in _ORDER if t in types)


def _excerpt(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    return json.dumps(shown, ensure_ascii=True)


# --------------------------------------------------------------------------- conversion


def convert_value(text: str, schema: Any, *, tool: str, param: str) -> Any:
    """Convert one parameter's text (format newlines already removed) by its schema.

    Order of preference when the schema admits several types: ``null``, ``true``/``false``,
    integer, number, JSON array/object, then raw text. A parameter that may only be a string
    (or a string or null) is the raw text as written; the exact text ``null`` is null when the
    schema allows null.

    Raises:
        BadValueError: the text is not a value of an admitted type.
    """
    types = allowed_types(schema)
    if not types:
        raise BadValueError(
            f'Invalid call to {tool}: parameter "{param}" has a schema no value can satisfy.',
            tool=tool,
            parameter=param,
        )
    bare = text.strip(_WS)

    def fail(reason: str) -> BadValueError:
        return BadValueError(
            f'Invalid call to {tool}: parameter "{param}" {reason}.',
            tool=tool,
            parameter=param,
            raw=text,
        )

    if "null" in types and bare == "null":
        return None
    if types <= {"string", "null"}:
        problem = string_problem(text)
        if problem:
            raise fail(f"is not usable text: {problem}")
        return text
    if "boolean" in types and bare in ("true", "false"):
        return bare == "true"
    if ("integer" in types or "number" in types) and bare[:1] in "-0123456789" and bare:
        if len(bare) > MAX_NUMBER_CHARS and _INTEGER.fullmatch(bare[: MAX_NUMBER_CHARS + 1]):
            raise fail(
                f"is an integer of {len(bare)} characters, too long (at most {MAX_NUMBER_CHARS})"
            )
        if len(bare) <= MAX_NUMBER_CHARS:
            if _INTEGER.fullmatch(bare):
                return int(bare)
            if "number" in types and _NUMBER.fullmatch(bare):
                number = float(bare)
                if not math.isfinite(number):
                    raise fail(f"is {_excerpt(bare)}, out of range: numbers must be finite")
                return number
    if ("array" in types or "object" in types) and bare[:1] in ("[", "{"):
        try:
            value = loads_strict(bare)
        except JsonProblem as exc:
            if "string" not in types:
                raise fail(f"is not a valid JSON value: {exc.message}") from None
        else:
            kind = _json_type(value)
            if kind in types:
                return value
            if "string" not in types:
                raise fail(f"must be {_expected(types)}, got {_TYPE_WORDS[kind]}")
    if "string" in types:
        problem = string_problem(text)
        if problem:
            raise fail(f"is not usable text: {problem}")
        return text
    raise fail(_describe_mismatch(bare, types))


def _describe_mismatch(bare: str, types: frozenset[str]) -> str:
    expected = _expected(types)
    if not bare:
        return f"is empty; expected {expected}"
    hint = ""
    if types & {"integer", "number"}:
        if bare.lower() in ("nan", "inf", "-inf", "infinity", "-infinity", "+inf"):
            hint = " (numbers must be finite)"
        elif any(ch.isdigit() for ch in bare) and not bare.isascii():
            hint = " (write digits as ASCII 0-9)"
        elif "_" in bare or bare.startswith("+"):
            hint = " (plain digits only, no '_' or '+')"
    if "boolean" in types and bare.lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
        hint = " (write exactly true or false)"
    if types & {"array", "object"} and len(bare) >= 2 and bare[0] == '"':
        try:
            inner = json.loads(bare)
        except ValueError:
            inner = None
        if isinstance(inner, str) and inner.strip(_WS)[:1] in ("[", "{"):
            hint = " (this is JSON inside a string; write the value itself, without quotes)"
    return f"must be {expected}, got {_excerpt(bare)}{hint}"
