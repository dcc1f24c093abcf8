"""Constrained tool calls: a grammar of the model's output compiled from the tool schemas.

:func:`compile_tool_grammar` turns a tool set into a :class:`ToolGrammar` (a regex and a GBNF
grammar admitting free text and only well-formed, schema-valid ``<tool_call>`` blocks);
:meth:`ToolGrammar.structured_outputs` is vLLM's request field; :class:`GrammarPolicy` decides when
a request is constrained; :class:`GrammarLogitsProcessor` applies a grammar to the embedded
``transformers`` backend (needs the ``grammar`` extra: ``xgrammar``). See ``docs/grammar.md``.
"""

from agentkit.grammar._compile import GrammarError, GrammarForm, ToolGrammar, compile_tool_grammar
from agentkit.grammar._logits import GrammarLogitsProcessor
from agentkit.grammar._policy import GrammarMode, GrammarPolicy

__all__ = [
    "GrammarError",
    "GrammarForm",
    "GrammarLogitsProcessor",
    "GrammarMode",
    "GrammarPolicy",
    "ToolGrammar",
    "compile_tool_grammar",
]
