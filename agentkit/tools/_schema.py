"""Plain JSON schemas for tools: ``$ref`` inlining, title stripping and the signature text.

The parser and the grammar compiler look at ``type``/``enum``/``anyOf`` directly, so every schema a
tool exposes is made self-contained here: local references are inlined and ``$defs`` dropped.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from agentkit.errors import ToolDefinitionError

__all__ = ["inline_refs", "signature_text", "type_text"]

# Keywords whose value is a map of name -> schema, a schema, or a list of schemas. Everything else
# (enum, const, default, examples...) is data and is copied untouched.
_MAP_KEYWORDS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_KEYWORDS = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
    }
)
_LIST_KEYWORDS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems"})
_DEFS_KEYWORDS = frozenset({"$defs", "definitions"})


def _resolve_pointer(root: dict[str, Any], ref: str) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise ToolDefinitionError(
            f"Unsupported $ref {ref!r}: tool schemas must be self-contained; only local references "
            "such as '#/$defs/Name' are allowed."
        )
    node: Any = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ToolDefinitionError(f"Unresolvable $ref {ref!r} in tool schema.")
    return node


def inline_refs(schema: dict[str, Any], *, strip_titles: bool = False) -> dict[str, Any]:
    """Return a copy of ``schema`` with every local ``$ref`` replaced by its target.

    Args:
        schema: a JSON schema whose references point inside itself.
        strip_titles: drop ``title`` keywords (Pydantic adds one per field; they only cost tokens).

    Raises:
        ToolDefinitionError: a recursive, remote or unresolvable reference.
    """

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):  # "items" as a list (older drafts)
            return [walk(item, stack) for item in node]
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        out: dict[str, Any] = {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in stack:
                raise ToolDefinitionError(
                    f"Recursive schema (through {ref!r}) is not supported for tool parameters: "
                    "flatten the type or bound its depth."
                )
            target = walk(_resolve_pointer(schema, ref), (*stack, ref))
            if isinstance(target, dict):
                out.update(target)
        for key, value in node.items():
            if key == "$ref" or key in _DEFS_KEYWORDS:
                continue
            if strip_titles and key == "title":
                continue
            if key in _MAP_KEYWORDS and isinstance(value, dict):
                out[key] = {name: walk(sub, stack) for name, sub in value.items()}
            elif key in _SCHEMA_KEYWORDS or key in _LIST_KEYWORDS:
                out[key] = walk(value, stack)
            else:
                out[key] = copy.deepcopy(value)
        return out

    result = walk(schema, ())
    assert isinstance(result, dict)
    return result


def _json_text(value: Any, limit: int = 40) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_text(schema: Any, depth: int = 0) -> str:
    """A short type expression for a schema: ``integer``, ``"a"|"b"``, ``list[string]``, ``integer|null``."""
    if not isinstance(schema, dict) or not schema:
        return "any"
    if "enum" in schema and isinstance(schema["enum"], list):
        return "|".join(_json_text(v) for v in schema["enum"])
    if "const" in schema:
        return _json_text(schema["const"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            parts: list[str] = []
            for sub in schema[key]:
                text = type_text(sub, depth + 1)
                if text not in parts:
                    parts.append(text)
            return "|".join(parts)
    if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        return type_text(schema["allOf"][0], depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(type_text({**schema, "type": k}, depth) for k in kind)
    if kind == "array":
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return "[" + ", ".join(type_text(s, depth + 1) for s in prefix) + "]"
        if "items" in schema and depth < 3:
            return f"list[{type_text(schema['items'], depth + 1)}]"
        return "list"
    if kind == "object":
        props = schema.get("properties")
        if isinstance(props, dict) and props and depth < 2:
            required = set(schema.get("required", ()))
            inner = ", ".join(
                f"{name}{'' if name in required else '?'}: {type_text(sub, depth + 1)}"
                for name, sub in props.items()
            )
            return "{" + inner + "}"
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra and depth < 3:
            return f"dict[string, {type_text(extra, depth + 1)}]"
        return "object"
    if kind == "string" and isinstance(schema.get("format"), str):
        return f"string ({schema['format']})"
    if isinstance(kind, str):
        return kind
    return "any"


def signature_text(name: str, parameters: dict[str, Any]) -> str:
    """``name(x: integer, y: integer, button: "left"|"right" = "left", note?: string)``.

    A parameter that is optional without a default is marked ``?``.
    """
    props: dict[str, Any] = parameters.get("properties") or {}
    required = set(parameters.get("required") or ())
    parts: list[str] = []
    for pname, sub in props.items():
        text = f"{pname}: {type_text(sub)}"
        if pname not in required:
            if isinstance(sub, dict) and "default" in sub:
                text += f" = {_json_text(sub['default'])}"
            else:
                text = f"{pname}?: {type_text(sub)}"
        parts.append(text)
    return f"{name}({', '.join(parts)})"


def walk_path(parameters: dict[str, Any], loc: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    """Follow a validation error location through a schema.

    Returns the readable path (``target.points[2].x``) and the schema found there. Location parts
    that match nothing in the schema (Pydantic's union member tags such as ``'int'``) are skipped.
    """
    if not loc:
        return "", parameters
    node: dict[str, Any] = (parameters.get("properties") or {}).get(str(loc[0])) or {}
    path = str(loc[0])

    def children(schema: dict[str, Any]) -> list[dict[str, Any]]:
        found = [schema]
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key) or ():
                if isinstance(sub, dict):
                    found.append(sub)
        return found

    for part in loc[1:]:
        step: Callable[[dict[str, Any]], Any]
        if isinstance(part, int):

            def step(s: dict[str, Any], i: int = part) -> Any:
                prefix = s.get("prefixItems")
                if isinstance(prefix, list) and i < len(prefix):
                    return prefix[i]
                return s.get("items") if s.get("type") == "array" or "items" in s else None

            label = f"[{part}]"
        else:

            def step(s: dict[str, Any], k: str = str(part)) -> Any:
                props = s.get("properties")
                if isinstance(props, dict) and k in props:
                    return props[k]
                extra = s.get("additionalProperties")
                return extra if isinstance(extra, dict) and s.get("type") == "object" else None

            label = f".{part}"
        for candidate in children(node):
            nxt = step(candidate)
            if isinstance(nxt, dict):
                node = nxt
                path += label
                break
    return path, node
