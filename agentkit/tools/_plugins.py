"""Tool packs from other distributions, found through the ``agentkit.tools`` entry-point group."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from agentkit.errors import ConfigurationError, ToolDefinitionError
from agentkit.tools._tool import Tool
from agentkit.tools._toolset import ToolSet

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["ENTRY_POINT_GROUP", "available_tool_packs", "load_tool_packs"]

ENTRY_POINT_GROUP = "agentkit.tools"


def _entry_points() -> dict[str, EntryPoint]:
    from importlib import metadata  # lazily: only plugin discovery needs it

    found: dict[str, EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # the first on sys.path wins, as for imports
    return found


def available_tool_packs() -> list[str]:
    """Names of the installed tool packs (entry points of the ``agentkit.tools`` group), sorted."""
    return sorted(_entry_points())


def _describe(ep: EntryPoint) -> str:
    dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
    return f"tool pack {ep.name!r} ({ep.name} = {ep.value}, from {dist})"


def _to_toolset(obj: Any, where: str, name: str) -> ToolSet:
    if isinstance(obj, ToolSet):
        return obj
    if isinstance(obj, Tool):
        return ToolSet([obj], name=name)
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)):
        items = list(obj)
        bad = [i for i in items if not isinstance(i, (Tool, ToolSet))]
        if bad:
            raise ToolDefinitionError(
                f"{where} provided {bad[0]!r}; a pack must give Tool or ToolSet objects "
                "(decorate functions with @tool)."
            )
        return ToolSet(items, name=name)
    raise ToolDefinitionError(
        f"{where} resolved to {type(obj).__name__}; expected a ToolSet, a Tool, an iterable of them, "
        "or a zero-argument callable returning one."
    )


def _load(ep: EntryPoint) -> ToolSet:
    where = _describe(ep)
    try:
        obj = ep.load()
    except Exception as exc:
        raise ToolDefinitionError(f"Could not import {where}: {type(exc).__name__}: {exc}") from exc
    if callable(obj) and not isinstance(obj, (Tool, ToolSet)):
        try:
            obj = obj()
        except ToolDefinitionError as exc:
            raise ToolDefinitionError(f"{where}: {exc}") from exc
        except Exception as exc:
            raise ToolDefinitionError(
                f"{where} failed while building its tools: {type(exc).__name__}: {exc}"
            ) from exc
    try:
        toolset = _to_toolset(obj, where, ep.name)
    except ToolDefinitionError as exc:
        if where in str(exc):
            raise
        raise ToolDefinitionError(f"{where}: {exc}") from exc
    # Copies whose origin names the pack, so a clash between packs says which ones.
    relabelled = ToolSet(name=ep.name)
    relabelled._hooks = list(toolset._hooks)
    for t in toolset:
        relabelled.add(
            t if t.origin.startswith("tool pack ") else t.replace(origin=f"{where}: {t.origin}")
        )
    return relabelled


def load_tool_packs(names: Iterable[str] | None = None) -> ToolSet:
    """Load installed tool packs into one :class:`ToolSet`.

    Args:
        names: the packs to load (entry-point names); None loads every installed pack.

    Raises:
        ConfigurationError: a requested pack is not installed (the message lists those that are).
        ToolDefinitionError: a pack failed to import or build, or two packs define the same tool
            name; the message names the distribution and the entry point.
    """
    installed = _entry_points()
    if names is None:
        wanted = sorted(installed)
    else:
        wanted = [names] if isinstance(names, str) else list(names)
        missing = [n for n in wanted if n not in installed]
        if missing:
            have = ", ".join(sorted(installed)) or "none"
            raise ConfigurationError(
                f"Tool pack {', '.join(repr(m) for m in missing)} is not installed "
                f"(installed packs: {have}). Install the distribution that provides it, "
                f"which registers an entry point in the {ENTRY_POINT_GROUP!r} group."
            )
    result = ToolSet(name="packs" if len(wanted) != 1 else wanted[0])
    for name in wanted:
        result = result + _load(installed[name])
    return result
