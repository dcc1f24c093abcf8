"""JSON-schema values as grammar trees, following the parser's rules.

A parameter that may only be a string is raw text; everything else is JSON (``agentkit.parsing``).
The trees here are built to be *sound*: every text they admit converts and validates. They may be
stricter than the parser (see ``docs/grammar.md``).
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeGuard

from agentkit.grammar._tree import EMPTY, Chars, Lit, Node, Rep, alt, opt, seq

__all__ = [
    "FORBIDDEN_IN_VALUES",
    "MAX_JSON_DEPTH",
    "integer_range",
    "json_value",
    "parameter_value",
]

# --------------------------------------------------------------------------- numbers

#: Integers the grammar writes have at most this many digits (int64-safe), unless bounds say less.
MAX_INT_DIGITS = 18
_INT_CAP = 10**MAX_INT_DIGITS - 1
#: Decimals: at most this many digits before and after the point (finite, under the parser's cap).
MAX_DECIMAL_DIGITS = 15
_DEC_CAP = 10**MAX_DECIMAL_DIGITS - 1
_DIGIT = Chars((("0", "9"),))


def _digit_class(lo: int, hi: int) -> Node:
    if lo == hi:
        return Lit(str(lo))
    return Chars(((str(lo), str(hi)),))


def _same_length(x: str, y: str) -> list[Node]:
    """Patterns for the digit strings s with len(s) == len(x) == len(y) and x <= s <= y."""
    n = len(x)
    if x == "0" * n and y == "9" * n:
        return [Rep(_DIGIT, n, n) if n > 1 else _DIGIT]
    if n == 1:
        return [_digit_class(int(x), int(y))]
    if x[0] == y[0]:
        return [seq(Lit(x[0]), alt(*_same_length(x[1:], y[1:]))) or EMPTY]
    out: list[Node] = []
    lo_first, hi_first = int(x[0]), int(y[0])
    if x[1:] != "0" * (n - 1):
        out.append(seq(Lit(x[0]), alt(*_same_length(x[1:], "9" * (n - 1)))) or EMPTY)
        lo_first += 1
    if y[1:] != "9" * (n - 1):
        tail = seq(Lit(y[0]), alt(*_same_length("0" * (n - 1), y[1:]))) or EMPTY
        hi_first -= 1
    else:
        tail = None
    if lo_first <= hi_first:
        rest = Rep(_DIGIT, n - 1, n - 1) if n > 2 else _DIGIT
        out.append(seq(_digit_class(lo_first, hi_first), rest) or EMPTY)
    if tail is not None:
        out.append(tail)
    return out


def _natural_range(lo: int, hi: int) -> Node | None:
    """Decimal texts (no leading zeros) of the integers lo..hi, 0 <= lo."""
    if lo > hi:
        return None
    parts: list[Node] = []
    full_low: int | None = None  # a run of whole lengths becomes [1-9][0-9]{a,b}
    full_high = 0
    for length in range(len(str(lo)), len(str(hi)) + 1):
        start = 0 if length == 1 else 10 ** (length - 1)
        end = 10**length - 1
        a, b = max(lo, start), min(hi, end)
        if length > 1 and a == start and b == end:
            if full_low is None:
                full_low = length
            full_high = length
            continue
        if full_low is not None:
            parts.append(_full_lengths(full_low, full_high))
            full_low = None
        parts.extend(_same_length(str(a), str(b)))
    if full_low is not None:
        parts.append(_full_lengths(full_low, full_high))
    return alt(*parts)


def _full_lengths(low: int, high: int) -> Node:
    return seq(Chars((("1", "9"),)), Rep(_DIGIT, low - 1, high - 1)) or EMPTY


def integer_range(lo: int | None, hi: int | None) -> Node | None:
    """Canonical texts of the integers in [lo, hi] (None: the int64-safe cap); no ``-0``."""
    lo = -_INT_CAP if lo is None else max(lo, -_INT_CAP)
    hi = _INT_CAP if hi is None else min(hi, _INT_CAP)
    negative = None
    if lo < 0:
        negative = seq(Lit("-"), _natural_range(max(1, -hi), -lo))
    positive = _natural_range(max(0, lo), hi) if hi >= 0 else None
    return alt(negative, positive)


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """The tighter of a bound and its exclusive form: (value, exclusive?)."""
    value: float | None = None
    strict = False
    inc = schema.get(inclusive)
    if _is_number(inc):
        value = float(inc)
    exc = schema.get(exclusive)
    if isinstance(exc, bool):  # draft 4: a flag on the inclusive bound
        strict = exc and value is not None
    elif _is_number(exc):
        e = float(exc)
        if value is None or (e >= value if inclusive == "minimum" else e <= value):
            value, strict = e, True
    return value, strict


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    lo, lo_strict = _bound(schema, "minimum", "exclusiveMinimum")
    hi, hi_strict = _bound(schema, "maximum", "exclusiveMaximum")
    ilo = None if lo is None else (math.floor(lo) + 1 if lo_strict else math.ceil(lo))
    ihi = None if hi is None else (math.ceil(hi) - 1 if hi_strict else math.floor(hi))
    return ilo, ihi


def _integer(schema: dict[str, Any]) -> Node | None:
    if schema.get("multipleOf") not in (None, 1):
        return _multiple_of(schema)
    lo, hi = _int_bounds(schema)
    return integer_range(lo, hi)


def _multiple_of(schema: dict[str, Any]) -> Node | None:
    """A multipleOf constraint cannot be a regex in general: only small bounded sets are listed."""
    step = schema.get("multipleOf")
    lo, hi = _int_bounds(schema)
    if not isinstance(step, int) or isinstance(step, bool) or step <= 0:
        return None
    if lo is None or hi is None or hi - lo > 2000:
        return None  # stricter than the schema: the parameter cannot be written
    first = -(-lo // step) * step
    return alt(*(Lit(str(v)) for v in range(first, hi + 1, step)))


def _number(schema: dict[str, Any]) -> Node | None:
    if schema.get("multipleOf") is not None:
        return (
            _multiple_of(schema) if schema.get("multipleOf") == int(schema["multipleOf"]) else None
        )
    lo = _bound(schema, "minimum", "exclusiveMinimum")[0]
    hi = _bound(schema, "maximum", "exclusiveMaximum")[0]
    ints = _integer(schema)
    # A decimal I.F (F ending in a non-zero digit) lies strictly between I and I+1, so it is valid
    # whenever that open interval is inside the bounds, whatever their exclusivity.
    flo = -_DEC_CAP - 1.0 if lo is None else lo
    fhi = _DEC_CAP + 1.0 if hi is None else hi
    frac = seq(Lit("."), Rep(_DIGIT, 0, MAX_DECIMAL_DIGITS - 1), Chars((("1", "9"),)))
    pos_lo, pos_hi = max(0, math.ceil(flo)), min(_DEC_CAP, math.floor(fhi) - 1)
    neg_lo, neg_hi = max(0, math.ceil(-fhi)), min(_DEC_CAP, math.floor(-flo) - 1)
    positive = seq(_natural_range(pos_lo, pos_hi), frac) if pos_lo <= pos_hi else None
    negative = seq(Lit("-"), _natural_range(neg_lo, neg_hi), frac) if neg_lo <= neg_hi else None
    return alt(ints, negative, positive)


# --------------------------------------------------------------------------- strings

#: Keywords of the call markup a value must never contain (they would end or break the value).
FORBIDDEN_IN_VALUES = ("<tool_call>", "</tool_call>", "<parameter=", "</parameter>")
# Raw text: no '<' at all when a length is counted; otherwise '<' followed by a character that
# cannot start a keyword ('/', 't', 'p', '<'). No NUL (tools refuse it) and no '\r' (a value that
# ends in '\r' would lose it to the format's trailing newline).
_RAW_CHAR = Chars(("<", "\x00", "\r"), negated=True)
_RAW_AFTER_LT = Chars(("<", "\x00", "\r", "/", "t", "p"), negated=True)
# A string in a union with other types must not look like one of them: no leading sign, digit,
# bracket, brace, whitespace or t/f/n (true, false, null).
_RAW_FIRST_MIXED = Chars(
    ("<", "\x00", "\r", "-", ("0", "9"), "[", "{", "t", "f", "n", " ", "\t", "\n"), negated=True
)
_JSON_CHAR = Chars(('"', "\\", "<", ("\x00", "\x1f")), negated=True)
_JSON_ESCAPE = seq(Lit("\\"), Chars(('"', "\\", "/", "b", "f", "n", "r", "t")))


def _length_bounds(schema: dict[str, Any], low_key: str, high_key: str) -> tuple[int, int | None]:
    low = schema.get(low_key)
    high = schema.get(high_key)
    lo = low if isinstance(low, int) and not isinstance(low, bool) and low > 0 else 0
    hi = high if isinstance(high, int) and not isinstance(high, bool) and high >= 0 else None
    return lo, hi


def _raw_string(schema: dict[str, Any], *, mixed: bool) -> Node | None:
    lo, hi = _length_bounds(schema, "minLength", "maxLength")
    if hi is not None and hi < lo:
        return None
    if mixed:
        if hi == 0:
            return EMPTY if lo == 0 else None
        rest_lo, rest_hi = max(0, lo - 1), None if hi is None else hi - 1
        body = seq(_RAW_FIRST_MIXED, Rep(_RAW_CHAR, rest_lo, rest_hi))
        return body if lo > 0 else opt(body)
    if lo == 0 and hi is None:
        return seq(
            Rep(alt(_RAW_CHAR, seq(Lit("<"), _RAW_AFTER_LT)) or EMPTY, 0, None), opt(Lit("<"))
        )
    return Rep(_RAW_CHAR, lo, hi)


def _json_string(schema: dict[str, Any]) -> Node | None:
    lo, hi = _length_bounds(schema, "minLength", "maxLength")
    if hi is not None and hi < lo:
        return None
    piece = alt(_JSON_CHAR, _JSON_ESCAPE)
    return seq(Lit('"'), Rep(piece or EMPTY, lo, hi), Lit('"'))


# --------------------------------------------------------------------------- schemas

_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
#: Deepest array/object nesting a grammar writes inside a JSON value; deeper values must be empty.
MAX_JSON_DEPTH = 3


def _types_of(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind] if kind in _TYPES else []
    if isinstance(kind, list):
        return [k for k in _TYPES if k in kind]
    return list(_TYPES)


def _enum_values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return list(values) if isinstance(values, list) else None


def _branches(schema: Any, depth: int = 0) -> list[dict[str, Any]] | None:
    """The schema as a union of simpler schemas (no anyOf/oneOf), or None when not understood.

    ``oneOf`` is read as ``anyOf`` (a value matching two branches would be refused by validation;
    the grammar does not exclude it; see docs/grammar.md). ``allOf`` is merged when every member
    is a plain dict whose keys do not collide.
    """
    if schema is True or schema == {}:
        return [{}]
    if not isinstance(schema, dict) or depth > 8:
        return None
    base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "allOf")}
    for key in ("allOf",):
        members = schema.get(key)
        if isinstance(members, list):
            for member in members:
                if not isinstance(member, dict):
                    return None
                for k, v in member.items():
                    if k in base and base[k] != v:
                        return None
                    base[k] = v
            if any(k in base for k in ("anyOf", "oneOf", "allOf")):
                nested = _branches(base, depth + 1)
                return nested
    union = schema.get("anyOf", schema.get("oneOf"))
    if isinstance(union, list) and ("anyOf" in schema) != ("oneOf" in schema):
        out: list[dict[str, Any]] = []
        for sub in union:
            found = _branches(sub, depth + 1)
            if found is None:
                return None
            for branch in found:
                merged = dict(base)
                for k, v in branch.items():
                    if k in merged and merged[k] != v and k not in ("description", "title"):
                        return None
                    merged[k] = v
                out.append(merged)
        return out
    if "anyOf" in schema and "oneOf" in schema:
        return None
    return [base]


def _safe_text(text: str) -> bool:
    return not any(k in text for k in FORBIDDEN_IN_VALUES) and "\x00" not in text


def _enum_node(values: list[Any], render: Any, accept: Any) -> Node | None:
    nodes: list[Node] = []
    for value in values:
        text = render(value)
        if text is not None and _safe_text(text) and accept(text, value):
            nodes.append(Lit(text))
    return alt(*nodes)


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and type(a) is type(b)


def _json_literal(value: Any) -> str | None:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None


def json_value(schema: Any, depth: int = 0) -> Node | None:
    """JSON texts that are valid for ``schema`` (nesting bounded by :data:`MAX_JSON_DEPTH`)."""
    branches = _branches(schema)
    if branches is None:
        return None
    nodes: list[Node | None] = []
    for branch in branches:
        values = _enum_values(branch)
        if values is not None:
            from agentkit.parsing._values import JsonProblem, loads_strict

            def accept(text: str, value: Any) -> bool:
                try:
                    return _same_json(loads_strict(text), value)
                except JsonProblem:
                    return False

            kinds = set(_types_of(branch))
            nodes.append(
                _enum_node(
                    [v for v in values if _json_kind(v) in kinds or _number_fits(v, kinds)],
                    _json_literal,
                    accept,
                )
            )
            continue
        for kind in _types_of(branch):
            nodes.append(_json_of_type(kind, branch, depth))
    return alt(*nodes)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _number_fits(value: Any, kinds: set[str]) -> bool:
    return "number" in kinds and _json_kind(value) == "integer"


_SEP = Lit(", ")
_COLON = Lit(": ")


def _json_of_type(kind: str, schema: dict[str, Any], depth: int) -> Node | None:
    if kind == "null":
        return Lit("null")
    if kind == "boolean":
        return alt(Lit("true"), Lit("false"))
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return _number(schema)
    if kind == "string":
        return _json_string(schema)
    if kind == "array":
        return _json_array(schema, depth)
    return _json_object(schema, depth)


def _json_array(schema: dict[str, Any], depth: int) -> Node | None:
    lo, hi = _length_bounds(schema, "minItems", "maxItems")
    if hi is not None and hi < lo:
        return None
    if schema.get("uniqueItems") is True and (hi is None or hi > 1):
        hi = 1  # a regex cannot see repeats: at most one item (stricter, sound)
        if lo > hi:
            return None
    prefix = schema.get("prefixItems")
    if depth >= MAX_JSON_DEPTH:
        return Lit("[]") if lo == 0 else None
    if isinstance(prefix, list):
        n = len(prefix)
        if n < lo or (hi is not None and n > hi):
            return None
        items = [json_value(sub, depth + 1) for sub in prefix]
        if not items:
            return Lit("[]")
        body: list[Node | None] = [items[0]]
        for item in items[1:]:
            body += [_SEP, item]
        return seq(Lit("["), *body, Lit("]"))
    items_schema = schema.get("items", {})
    if items_schema is False:
        return Lit("[]") if lo == 0 else None
    item = json_value(items_schema, depth + 1)
    if item is None:
        return Lit("[]") if lo == 0 else None
    if hi == 0:
        return Lit("[]")
    more = Rep(seq(_SEP, item) or EMPTY, max(0, lo - 1), None if hi is None else hi - 1)
    filled = seq(Lit("["), item, more, Lit("]"))
    return filled if lo > 0 else alt(Lit("[]"), filled)


def _json_object(schema: dict[str, Any], depth: int) -> Node | None:
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    required = [r for r in schema.get("required") or () if isinstance(r, str)]
    if any(r not in props for r in required):
        return None  # a required key the grammar cannot describe
    if depth >= MAX_JSON_DEPTH:
        return Lit("{}") if not required and not schema.get("minProperties") else None
    members: list[tuple[Node | None, bool]] = []
    for name, sub in props.items():
        text = _json_literal(name)
        value = json_value(sub, depth + 1)
        if text is None or not _safe_text(text) or value is None:
            if name in required:
                return None
            continue
        members.append((seq(Lit(text), _COLON, value), name in required))
    if not props:
        extra = schema.get("additionalProperties", True)
        if extra is not False and not schema.get("patternProperties"):
            # Free keys: at most one member, so no key can repeat (strict JSON refuses repeats).
            key_schema = schema.get("propertyNames")
            value = json_value({} if extra is True else extra, depth + 1)
            key = _json_string(key_schema if isinstance(key_schema, dict) else {"type": "string"})
            if (
                value is not None
                and key is not None
                and not (
                    isinstance(key_schema, dict)
                    and set(key_schema) - {"type", "minLength", "maxLength"}
                )
            ):
                members.append((seq(key, _COLON, value), False))
    lo, hi = _length_bounds(schema, "minProperties", "maxProperties")
    if lo > len(members) or (hi is not None and hi < len(required)):
        return None
    if lo > len(required) or (hi is not None and hi < len(members)):
        # Counting optional members is not worth a regex: write exactly the required ones.
        if lo > len(required):
            return None
        members = [m for m in members if m[1]]
    return seq(Lit("{"), _ordered_members(members), Lit("}"))


def _ordered_members(members: list[tuple[Node | None, bool]]) -> Node | None:
    """Members in the given order, optional ones optional, comma-separated."""

    def rest(i: int) -> Node | None:  # something was already written: each member gets ", "
        if i == len(members):
            return EMPTY
        node, needed = members[i]
        head = seq(_SEP, node)
        return seq(head if needed else opt(head), rest(i + 1))

    def first(i: int) -> Node | None:  # nothing written yet
        if i == len(members):
            return EMPTY
        node, needed = members[i]
        with_it = seq(node, rest(i + 1))
        return with_it if needed else alt(with_it, first(i + 1))

    return first(0)


def parameter_value(schema: Any) -> Node | None:
    """Texts of one parameter's value as the parser reads it: raw text for strings, else JSON.

    Returns None when no value can be written (the parameter, if required, makes its tool
    uncallable under the grammar).
    """
    from agentkit.parsing._values import allowed_types, convert_value

    types = allowed_types(schema)
    if not types:
        return None
    branches = _branches(schema)
    if branches is None:
        return None
    raw_only = types <= {"string", "null"}
    mixed = not raw_only

    def accept(text: str, value: Any) -> bool:
        try:
            got = convert_value(text, schema, tool="t", param="p")
        except Exception:
            return False
        return _same_json(got, value) and not text.endswith("\r")

    def render(value: Any) -> str | None:
        if isinstance(value, str):
            return value
        return _json_literal(value)

    nodes: list[Node | None] = []
    for branch in branches:
        values = _enum_values(branch)
        if values is not None:
            nodes.append(_enum_node(values, render, accept))
            continue
        for kind in _types_of(branch):
            if kind not in types and not (kind == "integer" and "number" in types):
                continue
            if kind == "string":
                nodes.append(_raw_string(branch, mixed=mixed))
            else:
                nodes.append(_json_of_type(kind, branch, 0))
    return alt(*nodes)
