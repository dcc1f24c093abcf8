"""A grammar as a ``transformers`` logits processor, on xgrammar (CPU and CUDA).

At every decoding step the processor masks every token the grammar does not allow next; once the
grammar is complete only the end-of-turn tokens remain. The grammar engine is xgrammar (the one
vLLM uses by default), imported lazily: ``pip install 'agentkit[grammar]'`` (or ``pip install
xgrammar``). It runs on CPU; on Linux x86-64 its wheel also pulls in ``triton``, which a CPU-only
machine can skip with ``pip install --no-deps xgrammar apache-tvm-ffi``.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentkit.errors import ConfigurationError, MissingExtraError

if TYPE_CHECKING:
    from agentkit.grammar._compile import ToolGrammar

__all__ = ["GrammarLogitsProcessor"]

# The end-of-turn tokens of the Qwen3.5 vocabulary, looked up by text (tiny test tokenizers use other ids).
_STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")


# One xgrammar compiler per tokenizer and vocabulary width: building the tokenizer info reads the
# whole vocabulary (seconds for 248K tokens), and the compiler caches compiled grammars.
_compilers: weakref.WeakKeyDictionary[Any, dict[tuple[int, tuple[int, ...]], Any]] = (
    weakref.WeakKeyDictionary()
)
_compilers_lock = threading.Lock()


def _compiler(xgr: Any, tokenizer: Any, vocab_size: int, stop: tuple[int, ...]) -> Any:
    with _compilers_lock:
        try:
            per = _compilers.setdefault(tokenizer, {})
        except TypeError:  # not weak-referenceable: no cache
            per = {}
        compiler = per.get((vocab_size, stop))
        if compiler is None:
            info = xgr.TokenizerInfo.from_huggingface(
                tokenizer, vocab_size=vocab_size, stop_token_ids=list(stop) or None
            )
            compiler = xgr.GrammarCompiler(info, max_threads=1)
            per[(vocab_size, stop)] = compiler
        return compiler


def _xgrammar() -> Any:
    try:
        return importlib.import_module("xgrammar")
    except ImportError as exc:
        raise MissingExtraError("grammar", "grammar-constrained decoding", str(exc)) from exc


def _grammar_source(grammar: ToolGrammar | dict[str, Any] | str) -> tuple[str, str]:
    """(kind, text): kind ``"regex"`` or ``"ebnf"``."""
    if isinstance(grammar, str):
        return "regex", grammar
    if isinstance(grammar, dict):
        if isinstance(grammar.get("regex"), str):
            return "regex", grammar["regex"]
        if isinstance(grammar.get("grammar"), str):
            return "ebnf", grammar["grammar"]
        raise ConfigurationError(
            "structured_outputs for the transformers backend must hold 'regex' or 'grammar', "
            f"got keys {sorted(grammar)}"
        )
    if grammar.form == "ebnf":
        return "ebnf", grammar.ebnf
    return "regex", grammar.regex


class GrammarLogitsProcessor:
    """Constrain ``generate`` to a grammar (a ``transformers`` logits processor, duck-typed).

    Each new generation (detected from ``input_ids``: not a one-token continuation of the last
    call) starts the grammar from the beginning, so one processor can serve many requests, one
    after another. Pass it to :class:`~agentkit.backends.transformers_backend.TransformersBackend`
    as ``logits_processor=`` or in a ``LogitsProcessorList``.

    Args:
        grammar: a :class:`~agentkit.grammar.ToolGrammar`, a ``structured_outputs`` dict
            (``{"regex": ...}`` or ``{"grammar": <GBNF>}``), or a regex string.
        tokenizer: the model's Hugging Face tokenizer.
        stop_token_ids: tokens that end the turn once the grammar is complete (default: the
            tokenizer's ``<|im_end|>`` and ``<|endoftext|>``).

    Raises:
        MissingExtraError: xgrammar is not installed.
        ConfigurationError: the grammar does not compile.
    """

    def __init__(
        self,
        grammar: ToolGrammar | dict[str, Any] | str,
        tokenizer: Any,
        *,
        stop_token_ids: Sequence[int] | None = None,
    ) -> None:
        self._xgr = _xgrammar()
        self._kind, self._source = _grammar_source(grammar)
        self._tokenizer = tokenizer
        if stop_token_ids is None:
            unk = getattr(tokenizer, "unk_token_id", None)
            found = [tokenizer.convert_tokens_to_ids(t) for t in _STOP_TOKENS]
            stop_token_ids = [int(i) for i in found if isinstance(i, int) and i != unk]
        self._stop = list(stop_token_ids)
        self._compiled: dict[
            int, Any
        ] = {}  # per vocabulary width (the model's may exceed the tokenizer's)
        self._lock = threading.Lock()
        self._matchers: list[Any] = []
        self._last: Any = None
        self._bitmask: Any = None

    def _compile(self, vocab_size: int) -> Any:
        compiled = self._compiled.get(vocab_size)
        if compiled is None:
            compiler = _compiler(self._xgr, self._tokenizer, vocab_size, tuple(self._stop))
            try:
                if self._kind == "regex":
                    compiled = compiler.compile_regex(self._source)
                else:
                    compiled = compiler.compile_grammar(self._source)
            except RuntimeError as exc:
                raise ConfigurationError(f"xgrammar could not compile the grammar: {exc}") from exc
            self._compiled[vocab_size] = compiled
        return compiled

    def reset(self) -> None:
        """Forget the current generation; the next call starts the grammar over."""
        with self._lock:
            self._matchers = []
            self._last = None

    def _is_continuation(self, input_ids: Any) -> bool:
        last = self._last
        if last is None or not self._matchers or input_ids.shape[0] != last.shape[0]:
            return False
        if input_ids.shape[1] != last.shape[1] + 1:
            return False
        return bool((input_ids[:, :-1] == last).all())

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        xgr = self._xgr
        with self._lock:
            width = int(scores.shape[-1])
            if not self._is_continuation(input_ids):
                compiled = self._compile(width)
                self._matchers = [xgr.GrammarMatcher(compiled) for _ in range(input_ids.shape[0])]
                self._bitmask = xgr.allocate_token_bitmask(len(self._matchers), width)
            else:
                for row, matcher in enumerate(self._matchers):
                    token = int(input_ids[row, -1])
                    if not matcher.is_terminated() and not matcher.accept_token(token):
                        raise RuntimeError(
                            f"GrammarLogitsProcessor: token {token} was generated against the grammar"
                        )
            self._last = input_ids.clone()
            for row, matcher in enumerate(self._matchers):
                matcher.fill_next_token_bitmask(self._bitmask, row)
            bitmask = self._bitmask.to(scores.device)
        xgr.apply_token_bitmask_inplace(scores, bitmask)
        return scores
