"""From a name and raw arguments to a :class:`ToolCall`, or a typed error; for both sources.

The same checks run on calls parsed from the model's text and on ``message.tool_calls`` a server
parsed itself (vLLM's ``qwen3_coder`` parser coerces laxly and does not check names, so nothing it
returns is trusted): exact tool name, no duplicate or unknown parameters, strict types, then
:meth:`Tool.validate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from agentkit.errors import (
    BadValueError,
    DuplicateParameterError,
    MalformedCallError,
    MissingParameterError,
    ToolCallError,
    TruncatedCallError,
    UnknownParameterError,
    UnknownToolError,
)
from agentkit.parsing._values import (
    JsonProblem,
    allowed_types,
    convert_value,
    loads_strict,
    string_problem,
)
from agentkit.tools._call import ToolCall

if TYPE_CHECKING:
    from agentkit.backends._base import ServerToolCall
    from agentkit.parsing._result import ParseResult
    from agentkit.tools._tool import Tool
    from agentkit.tools._toolset import ToolSet

__all__ = ["build_call", "unknown_tool_error", "validate_arguments", "validate_server_calls"]


def _shown_name(name: str, limit: int = 80) -> str:
    """A tool name as the model should see it: escaped (zero-width and bidi characters visible)."""
    shown = name if len(name) <= limit else name[: limit - 3] + "..."
    return json.dumps(shown, ensure_ascii=True)


def unknown_tool_error(name: str, toolset: ToolSet, raw: str = "") -> UnknownToolError:
    names = toolset.names()
    available = ", ".join(names) if names else "none (answer in plain text)"
    hint = ""
    folded = [n for n in names if n.lower() == name.strip().lower() and n != name]
    if folded:
        hint = f" Did you mean {folded[0]}? Names are case-sensitive and must match exactly."
    elif name and not name.isascii():
        hint = " Tool names are plain ASCII; check for look-alike or invisible characters."
    return UnknownToolError(
        f"Unknown tool {_shown_name(name)}.{hint} Available tools: {available}.",
        tool=name,
        raw=raw,
    )


def _signature_hint(tool: Tool) -> str:
    return f"Call it as: {tool.signature_text()}"


def validate_arguments(tool: Tool, arguments: dict[str, Any], *, raw: str = "") -> Any:
    """Check required parameters and run :meth:`Tool.validate`; only ToolCallErrors escape."""
    required = tool.parameters.get("required") or ()
    missing = [r for r in required if r not in arguments]
    if missing:
        names = ", ".join(f'"{m}"' for m in missing)
        noun = "parameter" if len(missing) == 1 else "parameters"
        raise MissingParameterError(
            f"Invalid call to {tool.name}: missing required {noun} {names}.\n"
            f"{_signature_hint(tool)}",
            tool=tool.name,
            parameter=missing[0] if len(missing) == 1 else None,
            raw=raw,
        )
    try:
        return tool.validate(arguments)
    except ToolCallError as exc:
        if not exc.raw:
            exc.raw = raw[:400]
        raise
    except Exception as exc:  # a tool's own validator must not break the parser's contract
        raise BadValueError(
            f"Invalid call to {tool.name}: the arguments were refused ({type(exc).__name__}: "
            f"{str(exc)[:200]}).\n{_signature_hint(tool)}",
            tool=tool.name,
            raw=raw,
        ) from exc


def _additional_schema(tool: Tool) -> Any:
    extra = tool.parameters.get("additionalProperties", False)
    return extra if isinstance(extra, dict) else None


def build_call(
    name: str,
    params: Sequence[tuple[str, str]],
    toolset: ToolSet,
    *,
    call_id: str,
    raw: str = "",
) -> ToolCall:
    """Turn a parsed ``<function=name>`` block into a validated call.

    Args:
        name: the function name exactly as written.
        params: ``(name, text)`` pairs in order, format newlines already removed.
        toolset: the tools the model may call.
        call_id: the id to give the call.
        raw: an excerpt of the call's markup, kept on errors.

    Raises:
        ToolCallError: the first problem found, in this order: unknown tool, duplicate parameter,
            unknown parameter, values that do not convert, missing parameters, the tool's own
            validation.
    """
    tool = toolset.get(name)
    if tool is None:
        raise unknown_tool_error(name, toolset, raw)
    seen: set[str] = set()
    for pname, _ in params:
        if pname in seen:
            raise DuplicateParameterError(
                f'Invalid call to {tool.name}: parameter "{pname}" is given twice; give each '
                f"parameter once.\n{_signature_hint(tool)}",
                tool=tool.name,
                parameter=pname,
                raw=raw,
            )
        seen.add(pname)
    extra_schema = _additional_schema(tool)
    unknown = [p for p, _ in params if tool.param_schema(p) is None and extra_schema is None]
    if unknown and tool.parameters.get("additionalProperties", False) is False:
        names = ", ".join(_shown_name(u) for u in unknown)
        noun = "parameter" if len(unknown) == 1 else "parameters"
        takes = ", ".join((tool.parameters.get("properties") or {}).keys()) or "no parameters"
        raise UnknownParameterError(
            f"Invalid call to {tool.name}: unknown {noun} {names}; {tool.name} takes: {takes}.\n"
            f"{_signature_hint(tool)}",
            tool=tool.name,
            parameter=unknown[0] if len(unknown) == 1 else None,
            raw=raw,
        )
    arguments: dict[str, Any] = {}
    problems: list[BadValueError] = []
    for pname, text in params:
        schema = tool.param_schema(pname)
        if schema is None:
            schema = extra_schema if extra_schema is not None else {"type": "string"}
        try:
            arguments[pname] = convert_value(text, schema, tool=tool.name, param=pname)
        except BadValueError as exc:
            problems.append(exc)
    if problems:
        raise _combine(tool, problems, raw)
    validated = validate_arguments(tool, arguments, raw=raw)
    return ToolCall(
        id=call_id,
        name=tool.name,
        arguments=arguments,  # what the model wrote, converted: plain JSON values
        validated=validated,
        tool=tool,
        source="text",
    )


def _combine(tool: Tool, problems: list[BadValueError], raw: str) -> BadValueError:
    if len(problems) == 1:
        only = problems[0]
        return BadValueError(
            f"{only.message}\n{_signature_hint(tool)}",
            tool=tool.name,
            parameter=only.parameter,
            raw=raw,
        )
    prefix = f"Invalid call to {tool.name}: "
    lines = [
        p.message[len(prefix) :] if p.message.startswith(prefix) else p.message for p in problems
    ]
    body = "\n".join(f"- {line.rstrip('.')}" for line in lines)
    return BadValueError(
        f"Invalid call to {tool.name}:\n{body}\n{_signature_hint(tool)}", tool=tool.name, raw=raw
    )


# --------------------------------------------------------------------------- server-parsed calls


def _server_arguments(text: str, *, tool: str, finish_reason: str | None) -> dict[str, Any]:
    if not isinstance(text, str):
        raise MalformedCallError(
            f"The arguments of the call to {tool} are not JSON text.", tool=tool
        )
    if not text.strip(" \t\r\n"):
        return {}
    try:
        value = loads_strict(text)
    except JsonProblem as exc:
        if exc.reason == "syntax":
            if finish_reason == "length":
                raise TruncatedCallError(
                    f"Your call to {tool} was cut off (the output reached its length limit) "
                    "before its arguments were complete; nothing was run. Write a shorter call.",
                    tool=tool,
                    raw=text,
                ) from None
            raise MalformedCallError(
                f"The arguments of your call to {tool} are {exc.message}; nothing was run.",
                tool=tool,
                raw=text,
            ) from None
        if (
            exc.reason == "duplicate_key"
            and exc.key is not None
            and _is_top_level_dup(text, exc.key)
        ):
            raise DuplicateParameterError(
                f'Invalid call to {tool}: parameter "{exc.key}" is given twice; give each '
                "parameter once.",
                tool=tool,
                parameter=exc.key,
                raw=text,
            ) from None
        raise BadValueError(
            f"Invalid call to {tool}: {exc.message}.", tool=tool, raw=text
        ) from None
    if not isinstance(value, dict):
        raise MalformedCallError(
            f"The arguments of your call to {tool} must be a JSON object of parameter names to "
            f"values, not {type(value).__name__ if not isinstance(value, str) else 'a JSON string'}"
            "; nothing was run.",
            tool=tool,
            raw=text,
        )
    return value


def _is_top_level_dup(text: str, key: str) -> bool:
    """Whether a duplicated key sits in the outermost object (a repeated parameter)."""
    try:
        pairs = json.loads(text, object_pairs_hook=lambda items: items)
    except (ValueError, RecursionError):
        return False
    if not isinstance(pairs, list):
        return False
    keys = [k for k, _ in pairs] if all(isinstance(p, tuple) for p in pairs) else []
    return keys.count(key) > 1


def _canonical(name: str, arguments: dict[str, Any]) -> str:
    return name + "\x00" + json.dumps(arguments, sort_keys=True, ensure_ascii=True)


def validate_server_calls(
    calls: Iterable[ServerToolCall],
    toolset: ToolSet,
    *,
    finish_reason: str | None = None,
    content: str = "",
    max_calls: int | None = None,
    call_id_prefix: str = "call",
) -> ParseResult:
    """Validate ``message.tool_calls`` a server already parsed, exactly like text calls.

    Arguments are strict JSON (duplicate keys, ``NaN``/``Infinity`` and overflowing numbers
    refused; ``"5"`` is not an integer); names must match exactly; a call repeated identically in
    one response is reported once as an error and not run twice. ``<tool_call>`` blocks the
    server left in ``content`` are parsed too and merged after the server's calls.

    Args:
        calls: the server's calls, in order.
        toolset: the tools the model may call.
        finish_reason: the response's finish reason; ``"length"`` turns unclosed JSON into
            :class:`~agentkit.errors.TruncatedCallError`.
        content: the response's text, parsed for prose, reasoning and leftover raw calls.
        max_calls: accept at most this many valid calls; later ones are rejected.
        call_id_prefix: prefix for generated ids (calls without an id, or with a repeated one).

    Returns:
        A :class:`ParseResult` (never raises for model or server input).
    """
    from agentkit.parsing._scanner import ToolCallParser, too_many_calls_error

    parser = ToolCallParser(toolset, max_calls=None, call_id_prefix=f"{call_id_prefix}_text")
    parser.feed(content if isinstance(content, str) else "")
    text_result = parser.finish(finish_reason)

    accepted: list[ToolCall] = []
    errors: list[ToolCallError] = []
    seen_calls: dict[str, int] = {}
    seen_ids: set[str] = set()
    position = 0

    def admit(call: ToolCall, label: str) -> None:
        key = _canonical(call.name, call.arguments)
        if key in seen_calls:
            errors.append(
                MalformedCallError(
                    f"{label} repeats call {seen_calls[key]} exactly (same tool, same arguments); "
                    "the repeat was not run. Call a tool twice only if you mean it to act twice, "
                    "and then in separate turns.",
                    tool=call.name,
                )
            )
            return
        if max_calls is not None and len(accepted) >= max_calls:
            errors.append(too_many_calls_error(call.name, max_calls))
            return
        seen_calls[key] = position
        accepted.append(call)

    for server_call in calls:
        position += 1
        name = getattr(server_call, "name", "")
        name = name if isinstance(name, str) else str(name)
        raw = getattr(server_call, "arguments", "")
        raw_text = raw if isinstance(raw, str) else ""
        try:
            tool = toolset.get(name)
            if tool is None:
                raise unknown_tool_error(name, toolset, raw_text)
            arguments = _server_arguments(raw, tool=tool.name, finish_reason=finish_reason)
            bad = [k for k in arguments if string_problem(k)]
            if bad:
                raise UnknownParameterError(
                    f"Invalid call to {tool.name}: a parameter name is not valid text.\n"
                    f"{_signature_hint(tool)}",
                    tool=tool.name,
                    raw=raw_text,
                )
            arguments = _reconvert_strings(tool, arguments)
            validated = validate_arguments(tool, arguments, raw=raw_text)
        except ToolCallError as exc:
            errors.append(exc)
            continue
        call_id = getattr(server_call, "id", "")
        if not isinstance(call_id, str) or not call_id or call_id in seen_ids:
            call_id = f"{call_id_prefix}_{position - 1}"
        seen_ids.add(call_id)
        admit(
            ToolCall(
                id=call_id,
                name=tool.name,
                arguments=dict(arguments),
                validated=validated,
                tool=tool,
                source="server",
            ),
            f"Call {position}",
        )
    for call in text_result.calls:
        position += 1
        if call.id in seen_ids:
            call = ToolCall(call.id + "_", call.name, call.arguments, call.validated, call.tool)
        seen_ids.add(call.id)
        admit(call, f"Call {position} (left as text in the reply)")
    from agentkit.parsing._result import ParseResult, has_truncation

    all_errors = errors + list(text_result.errors)
    return ParseResult(
        text=text_result.text,
        reasoning=text_result.reasoning,
        calls=accepted,
        errors=all_errors,
        truncated=text_result.truncated or has_truncation(all_errors),
    )


def _reconvert_strings(tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    """Server string values for parameters that are not strings, converted by agentkit's rules.

    vLLM's ``qwen3_coder`` parser types a value only from a top-level ``type``: a parameter typed
    through ``anyOf`` (``Optional[int]``) comes back as the text the model wrote (``"90"``). That
    text gets exactly the strict conversion it would get in raw ``<tool_call>`` markup (ASCII
    integers, ``true``/``false``, finite numbers), so ``"90"`` is 90 and ``"yes"`` stays an error.
    """
    out = dict(arguments)
    for key, value in arguments.items():
        if not isinstance(value, str):
            continue
        schema = tool.param_schema(key)
        if schema is None or "string" in allowed_types(schema):
            continue
        out[key] = convert_value(value, schema, tool=tool.name, param=key)
    return out
