"""The streaming ``<tool_call>`` scanner: a hand-written state machine, linear in its input.

Two layers. A tokenizer splits the stream into text and the eight markup keywords
(``<tool_call>``, ``</tool_call>``, ``<think>``, ``</think>``, ``<function=``, ``</function>``,
``<parameter=``, ``</parameter>``); it holds back at most the last 11 characters, and only while
they could still begin a keyword. A parser then walks the keywords and text with a small state
machine. Every decision depends only on characters already seen, and a decision that needs more
input waits for it, so any chunking of the same text (char by char included) gives the same
result as the whole text, and every character is looked at a bounded number of times.

The policies (what is accepted, what is rejected) are listed in ``docs/parser.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agentkit.errors import (
    CallTooLargeError,
    ConfigurationError,
    MalformedCallError,
    ToolCallError,
    TooManyCallsError,
    TruncatedCallError,
)
from agentkit.parsing._result import CallParsed, CallRejected, ParseEvent, ParseResult, TextChunk
from agentkit.parsing._validate import build_call

if TYPE_CHECKING:
    from agentkit.tools._toolset import ToolSet

__all__ = ["FORMAT_HINT", "ToolCallParser", "too_many_calls_error"]

TOOL_OPEN = "<tool_call>"
TOOL_CLOSE = "</tool_call>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
FN_OPEN = "<function="
FN_CLOSE = "</function>"
PARAM_OPEN = "<parameter="
PARAM_CLOSE = "</parameter>"
_KEYWORDS = (
    TOOL_OPEN,
    TOOL_CLOSE,
    THINK_OPEN,
    THINK_CLOSE,
    FN_OPEN,
    FN_CLOSE,
    PARAM_OPEN,
    PARAM_CLOSE,
)
_LONGEST = max(len(k) for k in _KEYWORDS)
_BY_SECOND: dict[str, tuple[str, ...]] = {}
for _kw in _KEYWORDS:
    _BY_SECOND[_kw[1]] = (*_BY_SECOND.get(_kw[1], ()), _kw)

_WS = " \t\r\n"
MAX_NAME_CHARS = 256
_RAW_KEEP = 400

FORMAT_HINT = (
    "Write each call exactly as:\n<tool_call>\n<function=NAME>\n<parameter=PARAM>\nVALUE\n"
    "</parameter>\n</function>\n</tool_call>"
)

# Parser states.
_TEXT = 0  # prose
_THINK = 1  # inside <think>
_START = 2  # after <tool_call>, before <function=
_FNAME = 3  # reading the function name up to '>'
_BODY = 4  # between parameters
_PNAME = 5  # reading a parameter name up to '>'
_VALUE = 6  # inside a parameter value
_CLOSE = 7  # saw </parameter> in a value; waiting to see whether it really closes it
_AFTER = 8  # after </function>, before </tool_call>
_SKIP = 9  # a rejected call: drop everything up to its </tool_call>
_COUNTED = frozenset({_START, _FNAME, _BODY, _PNAME, _VALUE, _CLOSE})


def _first_non_ws(s: str) -> int:
    """Index of the first character that is not ASCII whitespace, or -1."""
    stripped = s.lstrip(_WS)
    return -1 if not stripped else len(s) - len(stripped)


def too_many_calls_error(name: str, max_calls: int) -> TooManyCallsError:
    noun = "call" if max_calls == 1 else "calls"
    return TooManyCallsError(
        f"Only {max_calls} tool {noun} per turn; this call to {name} was not run. Make one call, "
        "wait for its result, then decide the next.",
        tool=name,
    )


class _Tokenizer:
    """Splits a stream into text pieces and keywords, holding back only a possible keyword start."""

    __slots__ = ("_hold", "_on_kw", "_on_text")

    def __init__(self, on_text: Callable[[str], None], on_kw: Callable[[str], None]) -> None:
        self._hold = ""
        self._on_text = on_text
        self._on_kw = on_kw

    def feed(self, chunk: str) -> None:
        s = self._hold + chunk if self._hold else chunk
        self._hold = ""
        n = len(s)
        start = pos = 0
        find = s.find
        while True:
            j = find("<", pos)
            if j < 0:
                break
            matched = None
            for kw in _BY_SECOND.get(s[j + 1 : j + 2], ()):
                if s.startswith(kw, j):
                    matched = kw
                    break
            if matched is not None:
                if j > start:
                    self._on_text(s[start:j])
                self._on_kw(matched)
                start = pos = j + len(matched)
                continue
            if n - j < _LONGEST:
                tail = s[j:]
                if any(kw.startswith(tail) for kw in _KEYWORDS):
                    if j > start:
                        self._on_text(s[start:j])
                    self._hold = tail
                    return
            pos = j + 1
        if start < n:
            self._on_text(s[start:] if start else s)

    def drop(self) -> None:
        self._hold = ""

    def finish(self) -> None:
        if self._hold:
            held, self._hold = self._hold, ""
            self._on_text(held)


class ToolCallParser:
    """Incremental parser of the model's raw output (Qwen3-Coder ``<tool_call>`` format).

    Feed text as it streams; read :class:`TextChunk` events for display and
    :class:`CallParsed`/:class:`CallRejected` as calls complete; call :meth:`finish` once at the
    end for the :class:`ParseResult`. The result is the same for any chunking of the same text.
    Model input never raises: every problem becomes a :class:`~agentkit.errors.ToolCallError`
    in ``errors``.

    Example:
        ```python
        parser = ToolCallParser(tools, max_calls=1)
        for delta in stream:
            for event in parser.feed(delta):
                if isinstance(event, TextChunk):
                    show(event.text)
        result = parser.finish(finish_reason)
        ```

    Args:
        toolset: the tools the model may call (anything with ``get(name)`` and ``names()``).
        max_call_chars: hard cap on one call's markup, from ``<tool_call>`` on; a call over it is
            rejected with :class:`~agentkit.errors.CallTooLargeError` as soon as it passes the
            cap, and its text is dropped without being stored.
        max_calls: accept at most this many valid calls; later valid calls are rejected with
            :class:`~agentkit.errors.TooManyCallsError`. None: no limit.
        call_id_prefix: calls get ids ``f"{call_id_prefix}_{n}"``, n counting accepted calls from 0.
        start_in_think: the prompt already opened ``<think>`` (thinking checkpoints), so the
            output starts as reasoning until ``</think>``.
    """

    def __init__(
        self,
        toolset: ToolSet,
        *,
        max_call_chars: int = 32768,
        max_calls: int | None = None,
        call_id_prefix: str = "call",
        start_in_think: bool = False,
    ) -> None:
        if not isinstance(max_call_chars, int) or max_call_chars < 64:
            raise ConfigurationError(
                f"max_call_chars must be an integer of at least 64, not {max_call_chars!r}."
            )
        if max_calls is not None and (not isinstance(max_calls, int) or max_calls < 0):
            raise ConfigurationError(
                f"max_calls must be None or an integer >= 0, not {max_calls!r}."
            )
        self._toolset = toolset
        self._cap = max_call_chars
        self._max_calls = max_calls
        self._prefix = call_id_prefix
        self._tok = _Tokenizer(self._on_text, self._on_kw)
        self._state = _THINK if start_in_think else _TEXT
        self._events: list[ParseEvent] = []
        self._pending_text: list[str] = []
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[CallParsed] = []
        self._errors: list[ToolCallError] = []
        self._backslash = False
        self._result: ParseResult | None = None
        self._new_call(bare=False)
        self._skip_depth = 0
        self._skip_bare = False

    # ------------------------------------------------------------------ public API

    def feed(self, chunk: str) -> list[ParseEvent]:
        """Parse the next piece of output; return the events it completes, in order."""
        if self._result is not None:
            raise RuntimeError("ToolCallParser.feed() called after finish()")
        if chunk:
            self._tok.feed(chunk)
        return self._take_events()

    def finish(self, finish_reason: str | None = "stop") -> ParseResult:
        """End of output: settle what is still open and return the :class:`ParseResult`.

        Args:
            finish_reason: the server's finish reason. ``"length"`` means the output was cut: a
                call still open is a :class:`~agentkit.errors.TruncatedCallError` and is never
                run. Calling it again returns the same result.
        """
        if self._result is not None:
            return self._result
        if self._state in (_TEXT, _THINK):
            self._tok.finish()  # a held '<tool_ca' is text
        else:
            self._tok.drop()  # a tag cut off at the very end: not part of any value
        cut = finish_reason == "length"
        state = self._state
        truncated = cut and state != _TEXT
        if state == _TEXT:
            if self._backslash:
                self._backslash = False
                self._emit_text_raw("\\")
        elif state in (_START, _FNAME, _PNAME, _VALUE):
            self._fail_at_end(cut)
        elif state in (_BODY, _CLOSE, _AFTER):
            if cut:
                self._fail_at_end(cut)
            else:
                if state == _CLOSE:
                    self._end_value()
                self._complete()
        self._state = _TEXT
        self._flush_text()
        self._result = ParseResult(
            text="".join(self._text),
            reasoning="".join(self._reasoning),
            calls=[c.call for c in self._calls],
            errors=list(self._errors),
            truncated=truncated,
        )
        return self._result

    # ------------------------------------------------------------------ event plumbing

    def _take_events(self) -> list[ParseEvent]:
        self._flush_text()
        events, self._events = self._events, []
        return events

    def _flush_text(self) -> None:
        if self._pending_text:
            text = "".join(self._pending_text)
            self._pending_text = []
            self._events.append(TextChunk(text))

    def _emit_text_raw(self, s: str) -> None:
        self._pending_text.append(s)
        self._text.append(s)

    def _prose(self, s: str) -> None:
        # The model sometimes writes a literal backslash-n for a newline in prose; a trailing
        # backslash waits for the next character (it may be the 'n').
        if self._backslash:
            s = "\\" + s
            self._backslash = False
        if s.endswith("\\"):
            self._backslash = True
            s = s[:-1]
        if "\\n" in s:
            s = s.replace("\\n", "\n")
        if s:
            self._emit_text_raw(s)

    def _release_backslash(self) -> None:
        if self._backslash:
            self._backslash = False
            self._emit_text_raw("\\")

    def _reject(self, error: ToolCallError) -> None:
        if not error.raw:
            error.raw = self._raw_text()
        self._flush_text()
        self._errors.append(error)
        self._events.append(CallRejected(error))

    # ------------------------------------------------------------------ the call being read

    def _new_call(self, *, bare: bool) -> None:
        self._bare = bare
        self._chars = 0
        self._raw: list[str] = []
        self._raw_len = 0
        self._name: list[str] = []
        self._name_len = 0
        self._params: list[tuple[str, str]] = []
        self._pname: list[str] = []
        self._pname_len = 0
        self._value: list[str] = []
        self._value_depth = 0
        self._held: list[str] = []

    def _start_call(self, kw: str, *, bare: bool) -> None:
        self._release_backslash()
        self._new_call(bare=bare)
        self._state = _FNAME if bare else _START
        self._count(kw)

    def _count(self, s: str) -> None:
        self._chars += len(s)
        if self._raw_len < _RAW_KEEP:
            self._raw.append(s[: _RAW_KEEP - self._raw_len])
            self._raw_len += len(self._raw[-1])

    def _raw_text(self) -> str:
        return "".join(self._raw)

    def _call_name(self) -> str:
        return "".join(self._name)

    def _label(self) -> str:
        name = self._call_name()
        if self._state in (_START, _FNAME) or not name.strip():
            return "Your tool call"
        shown = name if len(name) <= 64 else name[:61] + "..."
        return f"Your call to {shown}"

    def _malformed(self, problem: str, *, then: int, skip_depth: int = 0) -> None:
        """Reject the current call as malformed and move to ``then`` (_SKIP or _TEXT)."""
        name = self._call_name() if self._state not in (_START, _FNAME) else None
        self._reject(
            MalformedCallError(
                f"{self._label()} is malformed: {problem}. Nothing was run.\n{FORMAT_HINT}",
                tool=name or None,
            )
        )
        self._enter(then, skip_depth)

    def _enter(self, state: int, skip_depth: int = 0) -> None:
        self._state = state
        if state == _SKIP:
            self._skip_depth = skip_depth
            self._skip_bare = self._bare

    def _fail_at_end(self, cut: bool) -> None:
        state = self._state
        where = {
            _START: "right after <tool_call>",
            _FNAME: "inside the <function=...> tag",
            _PNAME: "inside a <parameter=...> tag",
            _VALUE: f'inside the value of parameter "{"".join(self._pname)}"',
            _BODY: "before </function>",
            _CLOSE: "before </function>",
            _AFTER: "before </tool_call>",
        }[state]
        if cut:
            self._reject(
                TruncatedCallError(
                    f"{self._label()} was cut off {where}: the output reached its length limit, "
                    "so nothing was run. Write a shorter call (shorter values, fewer words "
                    "before it).",
                    tool=self._call_name() or None,
                )
            )
        else:
            self._reject(
                MalformedCallError(
                    f"{self._label()} is incomplete: the output ended {where} "
                    "(a closing tag is missing). Nothing was run.\n" + FORMAT_HINT,
                    tool=self._call_name() or None,
                )
            )
        self._state = _TEXT

    def _end_value(self) -> None:
        value = "".join(self._value)
        if value.startswith("\r\n"):
            value = value[2:]
        elif value.startswith("\n"):
            value = value[1:]
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
        self._params.append(("".join(self._pname), value))
        self._value = []
        self._held = []
        self._pname = []
        self._state = _BODY

    def _complete(self) -> None:
        """The call's markup is complete: validate it and report it."""
        self._state = _TEXT
        name = self._call_name()
        if self._bare:
            self._reject(
                MalformedCallError(
                    f"Your call to {name.strip() or 'a tool'} was not wrapped in "
                    "<tool_call>...</tool_call>. Nothing was run.\n" + FORMAT_HINT,
                    tool=name or None,
                )
            )
            return
        if not name.strip(_WS):
            self._reject(
                MalformedCallError(
                    "Your tool call is malformed: the <function=...> tag has no tool name. "
                    f"Nothing was run.\n{FORMAT_HINT}"
                )
            )
            return
        try:
            call = build_call(
                name,
                self._params,
                self._toolset,
                call_id=f"{self._prefix}_{len(self._calls)}",
                raw=self._raw_text(),
            )
        except ToolCallError as exc:
            self._reject(exc)
            return
        if self._max_calls is not None and len(self._calls) >= self._max_calls:
            self._reject(too_many_calls_error(call.name, self._max_calls))
            return
        self._flush_text()
        parsed = CallParsed(call)
        self._calls.append(parsed)
        self._events.append(parsed)

    # ------------------------------------------------------------------ tokenizer callbacks

    def _on_text(self, s: str) -> None:
        while s:
            state = self._state
            if state in _COUNTED:
                # The handlers count (and keep for error excerpts) exactly what they consume, so
                # the cap is enforced at the same character whatever the chunking.
                budget = self._cap - self._chars
                if budget <= 0:
                    self._too_large()
                    continue
                if len(s) > budget:
                    rest = self._text_in(state, s[:budget])
                    s = rest + s[budget:]
                else:
                    s = self._text_in(state, s)
            else:
                s = self._text_in(state, s)

    def _text_in(self, state: int, s: str) -> str:
        """Consume a prefix of ``s`` in ``state``; return the rest (for the next state)."""
        if state == _TEXT:
            self._prose(s)
            return ""
        if state == _THINK:
            self._reasoning.append(s)
            return ""
        if state == _VALUE:
            self._count(s)
            self._value.append(s)
            return ""
        if state == _SKIP:
            return ""
        if state in (_FNAME, _PNAME):
            return self._name_text(state, s)
        i = _first_non_ws(s)
        if state == _CLOSE:
            if i < 0:
                self._count(s)
                self._held.append(s)
                return ""
            # Text after </parameter>: it was part of the value.
            self._value.extend(self._held)
            self._held = []
            self._state = _VALUE
            return s
        if state == _AFTER:
            if i < 0:
                return ""  # whitespace after </function> is dropped
            self._complete()  # </tool_call> is missing but the call is whole: prose follows
            return s[i:]
        if i < 0:
            self._count(s)
            return ""  # whitespace between tags
        self._count(s[:i])
        # Only the first character is quoted: a longer excerpt would depend on the chunking.
        found = f"text starting with {s[i]!r}"
        if state == _START:
            self._malformed(
                f"after <tool_call> came {found} instead of <function=NAME>", then=_SKIP
            )
        else:
            self._malformed(
                f"{found} between parameters; only <parameter=NAME> tags and </function> may "
                "appear there",
                then=_SKIP,
            )
        return s[i:]

    def _name_text(self, state: int, s: str) -> str:
        end = s.find(">")
        part = s if end < 0 else s[:end]
        what = "<function=" if state == _FNAME else "<parameter="
        bad = [k for k in (part.find("\n"), part.find("<"), part.find("\r")) if k >= 0]
        if bad:
            part = part[: min(bad)]
        size_before = self._name_len if state == _FNAME else self._pname_len
        if size_before + len(part) > MAX_NAME_CHARS:
            allowed = MAX_NAME_CHARS + 1 - size_before
            self._count(part[:allowed])
            self._malformed(f"the name in a {what}... tag is too long", then=_SKIP)
            return s[allowed:]
        self._count(part)
        if bad:
            self._malformed(f"the {what}... tag is not closed with '>'", then=_SKIP)
            return s[len(part) :]
        if state == _FNAME:
            self._name.append(part)
            self._name_len += len(part)
            name = self._name
        else:
            self._pname.append(part)
            self._pname_len += len(part)
            name = self._pname
        if end < 0:
            return ""
        self._count(">")
        if not "".join(name).strip(_WS):
            self._malformed(f"a {what}...> tag has no name", then=_SKIP)
            return s[end + 1 :]
        if state == _FNAME:
            self._state = _BODY
        else:
            self._state = _VALUE
            self._value = []
            self._value_depth = 0
        return s[end + 1 :]

    def _too_large(self) -> None:
        self._reject(
            CallTooLargeError(
                f"{self._label()} is longer than {self._cap} characters, the limit for one call; "
                "nothing was run. Split the work into smaller calls.",
                tool=self._call_name() or None,
            )
        )
        self._enter(_SKIP, self._value_depth if self._state in (_VALUE, _CLOSE) else 0)

    def _on_kw(self, kw: str) -> None:
        state = self._state
        if state in _COUNTED:
            if self._chars + len(kw) > self._cap:
                self._too_large()
                self._kw_in(_SKIP, kw)
                return
            self._count(kw)
        self._kw_in(state, kw)

    def _kw_in(self, state: int, kw: str) -> None:
        if state == _TEXT:
            if kw == TOOL_OPEN:
                self._start_call(kw, bare=False)
            elif kw == FN_OPEN:
                self._start_call(kw, bare=True)
            elif kw == THINK_OPEN:
                self._release_backslash()
                self._state = _THINK
            elif kw in (TOOL_CLOSE, THINK_CLOSE):
                self._release_backslash()  # stray closers are special tokens: not shown
            else:
                self._prose(kw)
        elif state == _THINK:
            if kw == THINK_CLOSE:
                self._state = _TEXT
            else:
                self._reasoning.append(kw)
        elif state == _VALUE:
            self._kw_in_value(kw)
        elif state == _CLOSE:
            if kw in (PARAM_OPEN, FN_CLOSE, TOOL_CLOSE):
                self._end_value()
                self._kw_in(_BODY, kw)
            else:  # the </parameter> was text inside the value
                self._value.extend(self._held)
                self._held = []
                self._state = _VALUE
                self._kw_in_value(kw)
        elif state == _SKIP:
            if kw == TOOL_OPEN:
                self._skip_depth += 1
            elif kw == TOOL_CLOSE:
                self._skip_depth -= 1
                if self._skip_depth < 0:
                    self._state = _TEXT
            elif kw == FN_CLOSE and self._skip_bare and self._skip_depth == 0:
                self._state = _TEXT
        elif state == _AFTER:
            self._complete()
            if kw != TOOL_CLOSE:
                self._kw_in(_TEXT, kw)
        else:
            self._kw_in_structure(state, kw)

    def _kw_in_value(self, kw: str) -> None:
        depth = self._value_depth
        if kw == TOOL_OPEN:
            self._value_depth = depth + 1
            self._value.append(kw)
        elif kw == TOOL_CLOSE:
            if depth > 0:
                self._value_depth = depth - 1
                self._value.append(kw)
            else:
                self._malformed(
                    f'parameter "{"".join(self._pname)}" is not closed with </parameter> before '
                    "</tool_call>",
                    then=_TEXT,
                )
        elif kw == PARAM_CLOSE and depth == 0:
            self._held = [kw]
            self._state = _CLOSE
        elif kw == PARAM_OPEN and depth == 0:
            self._malformed(
                f'parameter "{"".join(self._pname)}" is not closed with </parameter> before the '
                "next <parameter=",
                then=_SKIP,
            )
        else:
            self._value.append(kw)

    def _kw_in_structure(self, state: int, kw: str) -> None:
        """A keyword where a tag of the call was expected (_START, _FNAME, _BODY, _PNAME)."""
        if state == _START and kw == FN_OPEN:
            self._state = _FNAME
        elif state == _BODY and kw == PARAM_OPEN:
            self._pname = []
            self._pname_len = 0
            self._state = _PNAME
        elif state == _BODY and kw == FN_CLOSE:
            self._state = _AFTER
        elif state == _BODY and kw == TOOL_CLOSE:
            self._complete()  # </function> is missing but every parameter was closed
        elif kw == TOOL_OPEN:
            # A new call starts where this one should have continued: reject this one, read that.
            self._malformed("a new <tool_call> started before this call was complete", then=_TEXT)
            self._start_call(kw, bare=False)
        elif kw == TOOL_CLOSE:
            where = {
                _START: "the <tool_call> block is empty",
                _FNAME: "the <function=... tag is not closed with '>'",
                _PNAME: "the <parameter=... tag is not closed with '>'",
            }.get(state, "unexpected </tool_call>")
            self._malformed(where, then=_TEXT)
        elif state in (_FNAME, _PNAME):
            what = "<function=" if state == _FNAME else "<parameter="
            self._malformed(f"the {what}... tag is not closed with '>' (found {kw})", then=_SKIP)
        else:
            expected = "<function=NAME>" if state == _START else "<parameter=NAME> or </function>"
            self._malformed(f"found {kw} where {expected} was expected", then=_SKIP)
