"""Checking tool arguments, and the model-facing messages that explain what is wrong.

Arguments arrive as already-typed JSON values (the parser converted the model's text; a server's
``tool_calls`` are ``json.loads`` output). They are first screened for values no tool should see
(non-finite numbers, absurd nesting or integers, invalid Unicode), then validated by Pydantic or
``jsonschema``; every problem becomes an :class:`Issue`, and :func:`raise_issues` turns them into the
most specific :class:`~agentkit.errors.ToolCallError`, ending with the tool's signature.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import pydantic

from agentkit.errors import (
    BadValueError,
    MissingParameterError,
    ToolCallError,
    UnknownParameterError,
)
from agentkit.tools._schema import type_text, walk_path

__all__ = [
    "MAX_DEPTH",
    "Issue",
    "integral_floats_to_int",
    "json_problem",
    "kind_of_value",
    "pydantic_issues",
    "raise_issues",
    "schema_issues",
    "short_json",
]


@dataclass(frozen=True)
class Issue:
    """One problem with the arguments: an unknown or missing parameter, or a bad value."""

    kind: Literal["unknown", "missing", "bad"]
    param: str
    text: str


def kind_of_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


#: Deepest nesting of arrays/objects accepted in arguments (hostile input must not recurse deeply).
MAX_DEPTH = 32
# Python refuses to convert integers over 4300 digits to text (sys.int_info.default_max_str_digits).
_MAX_INT_BITS = 14_000


def json_problem(value: Any) -> str | None:
    """Why ``value`` is not a plain, finite, reasonably nested JSON value; None when it is.

    Iterative, so that a hostile 100,000-deep array costs no recursion.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if item.bit_length() > _MAX_INT_BITS:
                return "the integer is too large"
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return "NaN and Infinity are not allowed (numbers must be finite)"
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "the text contains invalid Unicode (an unpaired surrogate)"
        elif isinstance(item, (list, dict)):
            if depth >= MAX_DEPTH:
                return f"the value is nested deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                if not all(isinstance(k, str) for k in item):
                    return "object keys must be strings"
                stack.extend((v, depth + 1) for v in item.values())
                stack.extend((k, depth + 1) for k in item)
            else:
                stack.extend((v, depth + 1) for v in item)
        else:
            return f"{type(item).__name__} is not a JSON value"
    return None


def integral_floats_to_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral_floats_to_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_floats_to_int(v) for v in value]
    return value


def short_json(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pydantic_issues(exc: pydantic.ValidationError, parameters: dict[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    # Errors at one path (a union reports one per member) are merged into one line.
    bad: dict[str, tuple[str, list[str], Any, dict[str, Any]]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        top = str(loc[0]) if loc else ""
        if err["type"] == "extra_forbidden" and len(loc) == 1:
            continue  # already reported as unknown
        if err["type"] == "missing" and len(loc) == 1:
            issues.append(Issue("missing", top, ""))
            continue
        path, node = walk_path(parameters, loc)
        if err["type"] == "missing":
            issues.append(
                Issue("bad", top, f'parameter "{path}" is missing (expected {type_text(node)})')
            )
            continue
        entry = bad.setdefault(path or top, (top, [], err.get("input"), node))
        entry[1].append(str(err["msg"]))
    for path, (top, messages, value, node) in bad.items():
        got = f"got {short_json(value)} ({kind_of_value(value)}), expected {type_text(node)}"
        if len(messages) == 1:
            detail = f'parameter "{path}": {messages[0]}; {got}'
        else:
            detail = f'parameter "{path}": {got}'
        issues.append(Issue("bad", top, detail))
    return issues


def schema_issues(
    validator: Any, parameters: dict[str, Any], arguments: dict[str, Any]
) -> list[Issue]:
    issues: list[Issue] = []
    props = parameters.get("properties") or {}
    errors = sorted(validator.iter_errors(arguments), key=lambda e: [str(p) for p in e.path])
    for err in errors:
        path = list(err.absolute_path)
        if not path and err.validator == "additionalProperties":
            patterns = list(parameters.get("patternProperties") or {})
            for key in arguments:
                if key not in props and not any(re.search(p, key) for p in patterns):
                    issues.append(Issue("unknown", key, ""))
        elif not path and err.validator == "required":
            for key in err.validator_value:
                if key not in arguments and all(
                    i.param != key for i in issues if i.kind == "missing"
                ):
                    issues.append(Issue("missing", key, ""))
        else:
            top = str(path[0]) if path else ""
            where = walk_path(parameters, tuple(path))[0] if path else "(arguments)"
            issues.append(Issue("bad", top, f'parameter "{where}": {err.message}'))
    return issues


def raise_issues(
    tool: str, signature: str, parameters: dict[str, Any], issues: list[Issue]
) -> NoReturn:
    props = parameters.get("properties") or {}
    required = list(parameters.get("required") or ())
    lines: list[str] = []
    unknown = [i.param for i in issues if i.kind == "unknown"]
    if unknown:
        names = ", ".join(f'"{u}"' for u in unknown)
        accepted = ", ".join(props) or "none"
        noun = "parameter" if len(unknown) == 1 else "parameters"
        lines.append(f"unknown {noun} {names}; {tool} takes: {accepted}")
    for issue in issues:
        if issue.kind == "missing":
            lines.append(
                f'missing required parameter "{issue.param}" ({type_text(props.get(issue.param))})'
            )
        elif issue.kind == "bad":
            lines.append(issue.text)
    kinds = {i.kind for i in issues}
    error_type: type[ToolCallError]
    if kinds == {"unknown"}:
        error_type = UnknownParameterError
    elif kinds == {"missing"}:
        error_type = MissingParameterError
    else:
        error_type = BadValueError
    if len(lines) == 1:
        body = f"Invalid call to {tool}: {lines[0]}."
    else:
        body = f"Invalid call to {tool}:\n" + "\n".join(f"- {line}" for line in lines)
    if required and kinds == {"missing"}:
        body += f"\nRequired parameters: {', '.join(required)}."
    message = f"{body}\nCall it as: {signature}"
    params = {i.param for i in issues}
    raise error_type(message, tool=tool, parameter=params.pop() if len(params) == 1 else None)
