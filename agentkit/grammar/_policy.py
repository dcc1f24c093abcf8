"""When a model request is constrained by the tool grammar, and whether it must call a tool."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agentkit.errors import ConfigurationError
from agentkit.grammar._compile import GrammarForm, ToolGrammar, compile_tool_grammar, tools_of

if TYPE_CHECKING:
    from agentkit.tools._tool import Tool
    from agentkit.tools._toolset import ToolSet

__all__ = ["GrammarMode", "GrammarPolicy"]

GrammarMode = Literal["off", "on_retry", "always"]
_MODES = ("off", "on_retry", "always")


@dataclass(frozen=True)
class GrammarPolicy:
    """Whether a request is grammar-constrained, and whether the model must call a tool.

    Args:
        mode: ``"off"`` (never constrain), ``"on_retry"`` (constrain the request that follows an
            invalid call), ``"always"`` (constrain every request that offers tools).
        require_call: the model must call a tool. With a grammar in force the grammar forbids
            free text and ``tool_choice`` stays ``"auto"``; without one ``tool_choice`` is
            ``"required"`` (see :meth:`request_fields` for why).
        form: the grammar form sent to the server: ``"regex"`` (vLLM 0.22+) or ``"ebnf"``.
        max_calls: the most calls the grammar admits in one turn (match ``Limits.max_calls_per_step``).

    Example:
        ```python
        policy = GrammarPolicy("on_retry")
        fields = policy.request_fields(tools, after_invalid=previous_step_had_errors)
        request = ModelRequest(messages, tools=tools.openai_schemas(), **fields)
        ```
    """

    mode: GrammarMode = "off"
    require_call: bool = False
    form: GrammarForm = "regex"
    max_calls: int | None = 1

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ConfigurationError(
                f"grammar mode must be one of {', '.join(map(repr, _MODES))}, not {self.mode!r}"
            )
        if self.form not in ("regex", "ebnf"):
            raise ConfigurationError(f"grammar form must be 'regex' or 'ebnf', not {self.form!r}")

    @classmethod
    def coerce(cls, value: GrammarPolicy | str | bool | None) -> GrammarPolicy:
        """A policy from a policy, a mode string, True (``"always"``), or False/None (``"off"``)."""
        if isinstance(value, GrammarPolicy):
            return value
        if value is None or value is False:
            return cls("off")
        if value is True:
            return cls("always")
        if isinstance(value, str):
            return cls(value)  # type: ignore[arg-type]  # checked in __post_init__
        raise ConfigurationError(
            f"grammar= takes a GrammarPolicy, 'off', 'on_retry', 'always' or a bool, not {value!r}"
        )

    def active(self, *, after_invalid: bool) -> bool:
        """Whether the next request is constrained (``after_invalid``: the last step had an invalid call)."""
        if self.mode == "always":
            return True
        return self.mode == "on_retry" and after_invalid

    def grammar(self, toolset: ToolSet | Iterable[Tool]) -> ToolGrammar:
        """The grammar for these tools under this policy (compiled once per tool schemas)."""
        return compile_tool_grammar(
            toolset, allow_text=not self.require_call, max_calls=self.max_calls, form=self.form
        )

    def request_fields(
        self, toolset: ToolSet | Iterable[Tool], *, after_invalid: bool
    ) -> dict[str, Any]:
        """The :class:`~agentkit.backends.ModelRequest` fields for the next request.

        Returns ``{"structured_outputs": dict | None, "tool_choice": str}``. With no tools the
        request is never constrained and ``tool_choice`` is ``"none"``.

        ``tool_choice`` is ``"required"`` only when no grammar is sent: vLLM answers
        ``"required"`` by replacing any ``structured_outputs`` with its own JSON-array schema of the
        tools (the model then writes JSON, not the ``<tool_call>`` format), so a grammar that
        already forbids free text is sent with ``"auto"``.

        Raises:
            GrammarError: ``require_call`` is set but no tool can be written under the grammar.
        """
        tools = tools_of(toolset)
        if not tools:
            return {"structured_outputs": None, "tool_choice": "none"}
        if not self.active(after_invalid=after_invalid):
            return {
                "structured_outputs": None,
                "tool_choice": "required" if self.require_call else "auto",
            }
        return {
            "structured_outputs": self.grammar(tools).structured_outputs(),
            "tool_choice": "auto",
        }
