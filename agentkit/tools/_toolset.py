"""ToolSet: an ordered collection of tools with unique names, composable by wrapping."""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from agentkit.errors import ToolDefinitionError
from agentkit.tools._tool import RESERVED_NAMES, Tool, as_tool

__all__ = ["ToolSet"]

CloseCallback = Callable[[], Any]


class _CloseHook:
    """One ``on_close`` callback, shared by every set composed from the one that declared it.

    A set is closed at the end of every run that used it (an agent runs many tasks), so a hook
    runs once per :meth:`ToolSet.aclose` call; the callbacks must be idempotent (releasing keys
    that are not held does nothing)."""

    __slots__ = ("callback",)

    def __init__(self, callback: CloseCallback) -> None:
        if not callable(callback):
            raise ToolDefinitionError(f"on_close callbacks must be callables, got {callback!r}.")
        self.callback = callback

    async def run(self) -> None:
        result = self.callback()
        if inspect.isawaitable(result):
            await result


class ToolSet:
    """An ordered set of tools with unique names.

    Plain functions are wrapped with :func:`~agentkit.tools.tool`. Reserved names
    (:data:`~agentkit.tools.RESERVED_NAMES`) are refused unless the tool was built with
    ``allow_reserved=True``. Sets compose: :meth:`filter`, :meth:`prefixed` and ``+`` return new sets
    that keep the ``on_close`` callbacks, and each callback runs at most once.

    Example:
        ```python
        async with ToolSet([click, type_text], name="desktop", on_close=[release_keys]) as tools:
            ...
        ```

    Args:
        tools: tools or plain typed functions.
        name: a label used in error messages (e.g. the plugin that provided the set).
        on_close: callbacks (sync or async) run by :meth:`aclose`, e.g. to release held keys.
    """

    def __init__(
        self,
        tools: Iterable[Tool | ToolSet | Callable[..., Any]]
        | Tool
        | ToolSet
        | Callable[..., Any] = (),
        *,
        name: str | None = None,
        on_close: Iterable[CloseCallback] = (),
    ) -> None:
        self.name = name
        self._tools: dict[str, Tool] = {}
        self._hooks: list[_CloseHook] = [_CloseHook(cb) for cb in on_close]
        items: Iterable[Tool | ToolSet | Callable[..., Any]]
        if isinstance(tools, ToolSet) or callable(tools):
            items = [tools]
        else:
            items = tools
        for item in items:
            if isinstance(item, ToolSet):  # nested sets are flattened; their callbacks kept
                self._hooks.extend(h for h in item._hooks if h not in self._hooks)
                for t in item:
                    self.add(t)
            else:
                self.add(item)

    def _source(self, t: Tool) -> str:
        return f"{t.origin} (tool set {self.name!r})" if self.name else t.origin

    def add(self, item: Tool | Callable[..., Any]) -> Tool:
        """Add a tool (or a plain function, wrapped with ``@tool``) and return it.

        Raises:
            ToolDefinitionError: the name is taken or reserved.
        """
        t = as_tool(item)
        if t.name in RESERVED_NAMES and not t._allow_reserved:
            reserved = ", ".join(sorted(RESERVED_NAMES))
            raise ToolDefinitionError(
                f"Tool name {t.name!r} is reserved (reserved names: {reserved})."
            )
        existing = self._tools.get(t.name)
        if existing is not None:
            if existing is t:
                return t
            raise ToolDefinitionError(
                f"Two tools are named {t.name!r}: {self._source(existing)} and {self._source(t)}. "
                "Rename one (@tool(name=...)) or combine the sets with .prefixed('...')."
            )
        self._tools[t.name] = t
        return t

    # ------------------------------------------------------------------ lookup

    def get(self, name: str) -> Tool | None:
        """The tool of that name, or None."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Tool names in order."""
        return list(self._tools)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Tool):
            return self._tools.get(item.name) is item
        return item in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __bool__(self) -> bool:
        return bool(self._tools)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"ToolSet({label}{self.names()!r})"

    def openai_schemas(self) -> list[dict[str, Any]]:
        """The OpenAI ``tools`` list, in order."""
        return [t.openai_schema() for t in self._tools.values()]

    # ------------------------------------------------------------------ composition

    def _derive(self, tools: Iterable[Tool], hooks: list[_CloseHook], name: str | None) -> ToolSet:
        new = ToolSet(name=name)
        new._hooks = hooks
        for t in tools:
            new.add(t)
        return new

    def filter(self, predicate: Callable[[Tool], bool] | Iterable[str]) -> ToolSet:
        """A new set with the tools kept by ``predicate``, or with exactly the given names.

        Raises:
            ToolDefinitionError: a given name is not in this set.
        """
        if callable(predicate):
            kept = [t for t in self._tools.values() if predicate(t)]
        else:
            wanted = [predicate] if isinstance(predicate, str) else list(predicate)
            missing = [n for n in wanted if n not in self._tools]
            if missing:
                raise ToolDefinitionError(
                    f"No tool named {', '.join(repr(m) for m in missing)} in this set; "
                    f"it has: {', '.join(self._tools) or 'no tools'}."
                )
            keep = set(wanted)
            kept = [t for t in self._tools.values() if t.name in keep]
        return self._derive(kept, list(self._hooks), self.name)

    def prefixed(self, prefix: str, sep: str = "_") -> ToolSet:
        """A new set whose tools are copies renamed ``prefix + sep + name``."""
        renamed = [t.replace(name=f"{prefix}{sep}{t.name}") for t in self._tools.values()]
        return self._derive(renamed, list(self._hooks), self.name)

    def __add__(self, other: ToolSet | Iterable[Tool | Callable[..., Any]]) -> ToolSet:
        """Merge two sets (order kept; a shared name is an error naming both sources)."""
        if not isinstance(other, ToolSet):
            other = ToolSet(other)
        merged = ToolSet(name=self.name if self.name == other.name else None)
        merged._hooks = list(self._hooks) + [h for h in other._hooks if h not in self._hooks]
        for tools_set in (self, other):
            for t in tools_set._tools.values():
                existing = merged._tools.get(t.name)
                if existing is not None and existing is not t:
                    first = self._source(existing)
                    raise ToolDefinitionError(
                        f"Two tools are named {t.name!r}: {first} and {tools_set._source(t)}. "
                        "Rename one (@tool(name=...)) or prefix a set with .prefixed('...')."
                    )
                merged._tools[t.name] = t
        return merged

    def __radd__(self, other: Iterable[Tool | Callable[..., Any]]) -> ToolSet:
        return ToolSet(other) + self

    # ------------------------------------------------------------------ lifetime

    def on_close(self, callback: CloseCallback) -> CloseCallback:
        """Register a callback (sync or async) for :meth:`aclose`; usable as a decorator."""
        self._hooks.append(_CloseHook(callback))
        return callback

    async def aclose(self) -> None:
        """Run every ``on_close`` callback once, even if some fail (again at the next call).

        Raises:
            Exception: the one callback error, or an ``ExceptionGroup`` of several.
        """
        errors: list[Exception] = []
        for hook in list(self._hooks):
            try:
                await hook.run()
            except Exception as exc:  # keep going: every callback gets its chance to release
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            group = getattr(builtins, "ExceptionGroup", None)  # Python >= 3.11
            if group is None:  # pragma: no cover - Python 3.10
                raise errors[0]
            raise group(f"{len(errors)} on_close callbacks failed", errors)

    async def __aenter__(self) -> ToolSet:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
