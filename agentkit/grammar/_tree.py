"""A tiny grammar tree and its two spellings: a regular expression and GBNF.

The compiler builds every grammar as a tree of :class:`Node` values and renders it twice: as a
regular expression in the common subset that Python's ``re``, xgrammar and llguidance all read
(literals, ``[...]`` classes, ``(?:...)``, ``|``, ``?``, ``*``, ``{m,n}``; no lookaround, no
backreferences), and as GBNF (``root ::= ...``), the EBNF that xgrammar and vLLM take.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EMPTY",
    "Alt",
    "Chars",
    "Lit",
    "Node",
    "Ref",
    "Rep",
    "Seq",
    "alt",
    "opt",
    "render_gbnf",
    "render_regex",
    "seq",
]

# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Lit:
    """Literal text."""

    text: str


@dataclass(frozen=True)
class Chars:
    """One character from a class: ``items`` are single characters or ``(low, high)`` ranges."""

    items: tuple[str | tuple[str, str], ...]
    negated: bool = False


@dataclass(frozen=True)
class Seq:
    """The parts one after another."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    """One of the parts."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Rep:
    """``node`` repeated ``low`` to ``high`` times (``high`` None: unbounded)."""

    node: Node
    low: int
    high: int | None


@dataclass(frozen=True)
class Ref:
    """A named part: inlined in a regex, its own rule in GBNF."""

    name: str
    node: Node


Node = Lit | Chars | Seq | Alt | Rep | Ref
EMPTY = Lit("")


def seq(*items: Node | None) -> Node | None:
    """A sequence; None (the empty language) when any part is None."""
    parts: list[Node] = []
    for item in items:
        if item is None:
            return None
        if isinstance(item, Lit) and not item.text:
            continue
        if isinstance(item, Seq):
            parts.extend(item.items)
        else:
            parts.append(item)
    merged: list[Node] = []
    for part in parts:  # adjacent literals become one
        if merged and isinstance(part, Lit) and isinstance(merged[-1], Lit):
            merged[-1] = Lit(merged[-1].text + part.text)
        else:
            merged.append(part)
    if not merged:
        return EMPTY
    return merged[0] if len(merged) == 1 else Seq(tuple(merged))


def alt(*items: Node | None) -> Node | None:
    """An alternation of the non-empty languages; None when there are none."""
    parts: list[Node] = []
    for item in items:
        if item is None:
            continue
        for sub in item.items if isinstance(item, Alt) else (item,):
            if sub not in parts:
                parts.append(sub)
    if not parts:
        return None
    if EMPTY in parts:  # "a|" is spelled "(?:a)?": not every engine reads an empty branch
        rest = alt(*(p for p in parts if p != EMPTY))
        return EMPTY if rest is None else Rep(rest, 0, 1)
    return parts[0] if len(parts) == 1 else Alt(tuple(parts))


def opt(node: Node | None) -> Node:
    return EMPTY if node is None else Rep(node, 0, 1)


# --------------------------------------------------------------------------- rendering

_REGEX_META = set(".^$*+?()[]{}|\\/")
_CLASS_META = set("]\\^-[")


def _char_escape(ch: str) -> str | None:
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    return None


def _regex_char(ch: str, meta: set[str]) -> str:
    esc = _char_escape(ch)
    if esc is not None:
        return esc
    return "\\" + ch if ch in meta else ch


def _class_body(node: Chars) -> str:
    out: list[str] = []
    for item in node.items:
        if isinstance(item, tuple):
            out.append(_regex_char(item[0], _CLASS_META) + "-" + _regex_char(item[1], _CLASS_META))
        else:
            out.append(_regex_char(item, _CLASS_META))
    return ("^" if node.negated else "") + "".join(out)


def _quant(low: int, high: int | None) -> str:
    if (low, high) == (0, 1):
        return "?"
    if (low, high) == (0, None):
        return "*"
    if (low, high) == (1, None):
        return "+"
    if high is None:
        return f"{{{low},}}"
    if low == high:
        return f"{{{low}}}"
    return f"{{{low},{high}}}"


def _is_atom(node: Node) -> bool:
    if isinstance(node, Ref):
        return _is_atom(node.node)
    return isinstance(node, Chars) or (isinstance(node, Lit) and len(node.text) == 1)


def render_regex(node: Node) -> str:
    """The tree as a regular expression (Python ``re``, xgrammar and llguidance all read it)."""
    if isinstance(node, Ref):
        return render_regex(node.node)
    if isinstance(node, Lit):
        return "".join(_regex_char(ch, _REGEX_META) for ch in node.text)
    if isinstance(node, Chars):
        return "[" + _class_body(node) + "]"
    if isinstance(node, Seq):
        return "".join(
            f"(?:{render_regex(i)})" if isinstance(_deref(i), Alt) else render_regex(i)
            for i in node.items
        )
    if isinstance(node, Alt):
        return "|".join(render_regex(i) for i in node.items)
    inner = render_regex(node.node)
    if not _is_atom(node.node):
        inner = f"(?:{inner})"
    return inner + _quant(node.low, node.high)


def _deref(node: Node) -> Node:
    while isinstance(node, Ref):
        node = node.node
    return node


def _gbnf_string(text: str) -> str:
    out = []
    for ch in text:
        esc = _char_escape(ch)
        if esc is not None:
            out.append(esc)
        elif ch in '"\\':
            out.append("\\" + ch)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def render_gbnf(root: Node) -> str:
    """The tree as GBNF (``root ::= ...``; every :class:`Ref` becomes a rule of its own)."""
    rules: dict[str, str] = {}
    order: list[str] = []

    def expr(node: Node) -> str:
        if isinstance(node, Ref):
            if node.name not in rules:
                rules[node.name] = ""  # reserve (a name is defined once)
                rules[node.name] = expr(node.node)
                order.append(node.name)
            return node.name
        if isinstance(node, Lit):
            return _gbnf_string(node.text)
        if isinstance(node, Chars):
            return "[" + _class_body(node) + "]"
        if isinstance(node, Seq):
            return " ".join(f"({expr(i)})" if isinstance(i, Alt) else expr(i) for i in node.items)
        if isinstance(node, Alt):
            return " | ".join(expr(i) for i in node.items)
        inner = expr(node.node)
        if not (isinstance(node.node, (Chars, Ref)) or isinstance(node.node, Lit)):
            inner = f"({inner})"
        return inner + _quant(node.low, node.high)

    top = expr(root)
    lines = [f"root ::= {top}"]
    lines += [f"{name} ::= {rules[name]}" for name in order]
    return "\n".join(lines) + "\n"
