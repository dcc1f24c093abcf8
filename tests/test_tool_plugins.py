"""Tool packs through entry points, with real distributions written to a directory on sys.path."""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentkit.errors import ConfigurationError, ToolDefinitionError
from agentkit.tools import ENTRY_POINT_GROUP, Tool, ToolSet, available_tool_packs, load_tool_packs

PACK_MODULE = '''
from agentkit.tools import Risk, ToolSet, tool

CLOSED = []


@tool(risk=Risk.READ_ONLY)
def screen_size() -> str:
    """Report the screen size."""
    return "1920x1080"


@tool
def press(key: str) -> str:
    """Press a key.

    Args:
        key: the key name.
    """
    return "pressed " + key


TOOLS = ToolSet([screen_size, press], name="desk", on_close=[lambda: CLOSED.append("desk")])


@tool
def ping() -> str:
    return "pong"


def make_tools():
    @tool
    def echo(text: str) -> str:
        return text

    return [echo]


def clash_tools():
    def other_press(key: str) -> str:
        return key

    return ToolSet([tool(name="press")(other_press)])


NOT_A_TOOL = 42


def exploding():
    raise RuntimeError("no display")
'''


def _write_dist(
    root: Path, dist: str, module: str, source: str, entry_points: dict[str, str]
) -> None:
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}\n")


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two distributions: a good one and one whose entry points are broken in various ways."""
    root = tmp_path_factory.mktemp("site")
    _write_dist(
        root,
        "agentkit-testpack-good",
        "akt_goodpack",
        textwrap.dedent(PACK_MODULE),
        {
            "akt-desk": "akt_goodpack:TOOLS",
            "akt-single": "akt_goodpack:ping",
            "akt-factory": "akt_goodpack:make_tools",
        },
    )
    _write_dist(
        root,
        "agentkit-testpack-bad",
        "akt_badpack",
        "from akt_goodpack import NOT_A_TOOL, exploding, clash_tools\n",
        {
            "akt-missing": "akt_no_such_module:TOOLS",
            "akt-wrong": "akt_badpack:NOT_A_TOOL",
            "akt-exploding": "akt_badpack:exploding",
            "akt-clash": "akt_badpack:clash_tools",
        },
    )
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in ("akt_goodpack", "akt_badpack"):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()


def test_available_tool_packs_lists_entry_points(packs: Path) -> None:
    names = available_tool_packs()
    assert names == sorted(names)
    for name in ("akt-desk", "akt-single", "akt-factory", "akt-missing", "akt-wrong"):
        assert name in names


def test_load_named_packs(packs: Path) -> None:
    ts = load_tool_packs(["akt-desk", "akt-single", "akt-factory"])
    assert ts.names() == ["screen_size", "press", "ping", "echo"]
    press = ts.get("press")
    assert isinstance(press, Tool)
    assert press.parameters["properties"]["key"] == {
        "type": "string",
        "description": "the key name.",
    }
    assert "akt-desk" in press.origin and "agentkit-testpack-good" in press.origin
    assert asyncio.run(press.invoke(press.validate({"key": "a"}), None)) == "pressed a"


def test_single_pack_keeps_its_name_and_close_callbacks(packs: Path) -> None:
    ts = load_tool_packs("akt-desk")
    assert isinstance(ts, ToolSet) and ts.name == "akt-desk"
    closed = sys.modules["akt_goodpack"].CLOSED
    closed.clear()
    asyncio.run(ts.aclose())
    assert closed == ["desk"]


def test_unknown_pack_is_a_configuration_error(packs: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'akt-nope' is not installed.*akt-desk"):
        load_tool_packs(["akt-nope"])


@pytest.mark.parametrize(
    ("pack", "fragment"),
    [
        ("akt-missing", "Could not import tool pack 'akt-missing'"),
        ("akt-wrong", "resolved to int"),
        ("akt-exploding", "failed while building its tools: RuntimeError: no display"),
    ],
)
def test_broken_packs_name_distribution_and_entry_point(
    packs: Path, pack: str, fragment: str
) -> None:
    with pytest.raises(ToolDefinitionError) as info:
        load_tool_packs([pack])
    msg = str(info.value)
    assert fragment in msg
    assert "agentkit-testpack-bad" in msg and f"{pack} = akt_" in msg


def test_clashing_packs_name_both(packs: Path) -> None:
    with pytest.raises(ToolDefinitionError) as info:
        load_tool_packs(["akt-desk", "akt-clash"])
    msg = str(info.value)
    assert "'press'" in msg and "akt-desk" in msg and "akt-clash" in msg
    assert "agentkit-testpack-good" in msg and "agentkit-testpack-bad" in msg
