"""Google-style docstrings: the summary becomes a tool's description, ``Args:`` its parameter docs."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["ParsedDocstring", "parse_docstring"]

_ARGS_HEADINGS = frozenset({"args", "arguments", "parameters", "params", "keyword args"})
_OTHER_HEADINGS = frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "raise",
        "example",
        "examples",
        "note",
        "notes",
        "attributes",
        "see also",
        "warning",
        "warnings",
        "todo",
        "references",
    }
)
_HEADING = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
# "name (type): text", "name: text", "*args: text"
_ARG_LINE = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class ParsedDocstring:
    """A docstring split into a description and per-parameter descriptions.

    Attributes:
        description: the text before the first section heading, paragraphs kept.
        params: parameter name -> description (continuation lines joined by spaces).
    """

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Split a Google-style docstring.

    Args:
        doc: the raw docstring (``fn.__doc__``), or None.

    Returns:
        The description (everything before the first section heading such as ``Args:`` or
        ``Returns:``) and the parameter descriptions of the ``Args:`` section.
    """
    if not doc:
        return ParsedDocstring()
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    section_indent: int | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        heading = _HEADING.match(line)
        if heading and heading.group(1).lower() in _ARGS_HEADINGS | _OTHER_HEADINGS:
            section = heading.group(1).lower()
            section_indent = None
            current = None
            continue
        if section is None:
            description.append(line)
            continue
        if section not in _ARGS_HEADINGS or not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        if section_indent is None:
            section_indent = indent
        match = _ARG_LINE.match(stripped)
        if indent <= section_indent and match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current is not None and indent > section_indent:
            params[current] = f"{params[current]} {stripped}".strip()
    text = "\n".join(description).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return ParsedDocstring(description=text, params=params)
