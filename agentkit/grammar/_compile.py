"""From a tool set to a grammar of the model's output: free text and well-formed ``<tool_call>`` blocks.

The grammar admits exactly the Qwen3-Coder format agentkit's parser reads::

    optional prose
    <tool_call>
    <function=NAME>
    <parameter=PARAM>
    VALUE
    </parameter>
    </function>
    </tool_call>

with known function names, known parameter names in the schema's order (required ones always
present, optional ones optional, none twice) and each value constrained by its JSON schema. Every
text it admits parses into calls that validate; it may be stricter than the parser (fixed
parameter order, no ``<`` inside bounded strings...). The rules are listed in ``docs/grammar.md``.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agentkit.errors import ConfigurationError
from agentkit.grammar._regex import parameter_value
from agentkit.grammar._tree import (
    EMPTY,
    Chars,
    Lit,
    Node,
    Ref,
    Rep,
    alt,
    opt,
    render_gbnf,
    render_regex,
    seq,
)

if TYPE_CHECKING:
    from agentkit.tools._tool import Tool
    from agentkit.tools._toolset import ToolSet

__all__ = ["GrammarError", "GrammarForm", "ToolGrammar", "compile_tool_grammar", "tools_of"]

GrammarForm = Literal["regex", "ebnf"]

# Prose must not start a call or a think block by accident: no '<' followed by 't' (<tool_call>,
# <think>), 'f' (a bare <function=, which the parser rejects) or '/' (closing tags).
_PROSE = Rep(
    alt(Chars(("<",), negated=True), seq(Lit("<"), Chars(("<", "/", "t", "f"), negated=True)))
    or EMPTY,
    0,
    None,
)
_BAD_NAME_CHARS = ("<", ">", "\n", "\r")
_MAX_NAME_CHARS = 256  # the parser's cap on a tag's name


class GrammarError(ConfigurationError):
    """No grammar can be built: e.g. calls are required but no tool can be written."""


@dataclass(frozen=True)
class ToolGrammar:
    """A grammar of the model's output for one tool set.

    Attributes:
        tree: the grammar as a tree (render it with :attr:`regex` or :attr:`ebnf`).
        tools: the tools a call may name, in order.
        skipped: tools left out because a required parameter has no writable value (e.g. an
            enum whose every value contains ``</parameter>``); the model cannot call them.
        allow_text: whether prose may come before the calls (and instead of them).
        max_calls: the most calls one output may hold (None: no limit).
        form: the form :meth:`structured_outputs` sends.
    """

    tree: Node
    tools: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    allow_text: bool = True
    max_calls: int | None = 1
    form: GrammarForm = "regex"
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def regex(self) -> str:
        """The grammar as a regular expression (whole-output match; Python ``re``, xgrammar, llguidance)."""
        if "regex" not in self._cache:
            self._cache["regex"] = render_regex(self.tree)
        return self._cache["regex"]

    @property
    def ebnf(self) -> str:
        """The grammar as GBNF (``root ::= ...``), as xgrammar and vLLM's ``grammar`` field take it."""
        if "ebnf" not in self._cache:
            self._cache["ebnf"] = render_gbnf(self.tree)
        return self._cache["ebnf"]

    def sample(self, rng: random.Random | None = None) -> str:
        """A random text the grammar admits (for fuzzing: it must parse into valid calls)."""
        from agentkit.grammar._sample import sample_text

        return sample_text(self.tree, rng or random.Random())

    def structured_outputs(self, form: GrammarForm | None = None) -> dict[str, Any]:
        """vLLM's ``structured_outputs`` request field: ``{"regex": ...}`` or ``{"grammar": ...}``.

        vLLM 0.22 reads ``structured_outputs`` and ignores the older ``guided_regex`` /
        ``guided_grammar`` fields (see docs/grammar.md for other versions).
        """
        chosen = form or self.form
        if chosen == "regex":
            return {"regex": self.regex}
        return {"grammar": self.ebnf}


def _tool_tree(tool: Tool, index: int) -> Node | None:
    props = tool.parameters.get("properties") or {}
    required = set(tool.parameters.get("required") or ())
    if any(r not in props for r in required):
        return None  # a required parameter outside `properties`: not described, not written
    blocks: list[Node] = []
    for j, (pname, schema) in enumerate(props.items()):
        needed = pname in required
        usable = (
            isinstance(pname, str)
            and pname.strip(" \t\r\n")
            and len(pname) <= _MAX_NAME_CHARS
            and not any(c in pname for c in _BAD_NAME_CHARS)
        )
        value = parameter_value(schema) if usable else None
        if value is None:
            if needed:
                return None
            continue
        block = seq(
            Lit(f"<parameter={pname}>\n"),
            Ref(f"t{index}-p{j}", value),
            Lit("\n</parameter>\n"),
        )
        assert block is not None
        blocks.append(block if needed else opt(block))
    return seq(Lit(f"<function={tool.name}>\n"), *blocks, Lit("</function>\n"))


def tools_of(toolset: ToolSet | Iterable[Tool]) -> list[Tool]:
    names = getattr(toolset, "names", None)
    get = getattr(toolset, "get", None)
    if callable(names) and callable(get):
        return [get(n) for n in names()]
    return list(toolset)


def _key(tools: list[Tool]) -> str:
    return json.dumps([[t.name, t.parameters] for t in tools], sort_keys=True, default=str)


def compile_tool_grammar(
    toolset: ToolSet | Iterable[Tool],
    *,
    allow_text: bool = True,
    max_calls: int | None = 1,
    form: GrammarForm = "regex",
) -> ToolGrammar:
    """Build the grammar of a model turn for these tools.

    Args:
        toolset: the tools the model may call (a :class:`~agentkit.tools.ToolSet` or tools).
        allow_text: admit prose before the calls, or prose alone (no call). False: the output is
            one or more calls and nothing else ("must call a tool").
        max_calls: the most ``<tool_call>`` blocks (separated by one newline); None: no limit.
        form: what :meth:`ToolGrammar.structured_outputs` sends: ``"regex"`` or ``"ebnf"``.

    Returns:
        A :class:`ToolGrammar`. Compiling is cached per tool schemas and arguments.

    Raises:
        GrammarError: calls are required (``allow_text=False``) but no tool can be written, or
            ``max_calls`` is below 1.
    """
    if max_calls is not None and max_calls < 1:
        raise GrammarError(f"max_calls must be at least 1 or None, not {max_calls!r}")
    if form not in ("regex", "ebnf"):
        raise GrammarError(f"form must be 'regex' or 'ebnf', not {form!r}")
    tools = tools_of(toolset)
    return _compile_cached(_key(tools), tuple(tools), allow_text, max_calls, form)


@functools.lru_cache(maxsize=64)
def _compile_cached(
    key: str,
    tools: tuple[Tool, ...],
    allow_text: bool,
    max_calls: int | None,
    form: GrammarForm,
) -> ToolGrammar:
    del key  # part of the cache key only: the schemas, which Tool objects do not hash by
    bodies: list[Node] = []
    callable_names: list[str] = []
    skipped: list[str] = []
    for index, tool in enumerate(tools):
        tree = _tool_tree(tool, index)
        if tree is None:
            skipped.append(tool.name)
            continue
        bodies.append(Ref(f"call-{index}", tree))
        callable_names.append(tool.name)
    functions = alt(*bodies)
    calls: Node | None = None
    if functions is not None:
        one = seq(Lit("<tool_call>\n"), functions, Lit("</tool_call>"))
        assert one is not None
        call = Ref("call", one)
        more = Rep(seq(Lit("\n"), call) or EMPTY, 0, None if max_calls is None else max_calls - 1)
        calls = seq(call, more) if max_calls != 1 else call
    if allow_text:
        tree = seq(Ref("prose", _PROSE), opt(calls))
    elif calls is None:
        listed = ", ".join(skipped) or "none"
        raise GrammarError(
            "a tool call is required but no tool can be written under the grammar "
            f"(tools left out: {listed}); give each required parameter a schema with writable values"
        )
    else:
        tree = calls
    assert tree is not None
    return ToolGrammar(
        tree=tree,
        tools=tuple(callable_names),
        skipped=tuple(skipped),
        allow_text=allow_text,
        max_calls=max_calls,
        form=form,
    )
