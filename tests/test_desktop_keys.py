"""The desktop pack without a display: keys, bounds, coordinates, tracking, risk, the entry point.

A recording driver stands in for pynput; tests against a real X server are in
test_desktop_xvfb.py.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agentkit.safety import SafetyPolicy
from agentkit.tools import Risk, RunContext, ToolCall
from agentkit.vision import Frame, Geometry

try:
    import agentkit_desktop  # noqa: F401
except (
    ModuleNotFoundError
):  # not installed: test the source tree's copy (the entry point test skips)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "agentkit-desktop"))

from agentkit_desktop import (  # noqa: E402
    ActionError,
    ActionStopped,
    DesktopTools,
    parse_combo,
)


class RecordingDriver:
    def __init__(self, bounds: tuple[int, int, int, int] = (0, 0, 1280, 800)) -> None:
        self.bounds = bounds
        self.calls: list[tuple[Any, ...]] = []
        self.fail_on_key: str | None = None

    def screen_bounds(self) -> tuple[int, int, int, int]:
        return self.bounds

    def position(self) -> tuple[int, int]:
        return (0, 0)

    def move(self, x: int, y: int) -> None:
        self.calls.append(("move", x, y))

    def press_button(self, button: str) -> None:
        self.calls.append(("press_button", button))

    def release_button(self, button: str) -> None:
        self.calls.append(("release_button", button))

    def click(self, button: str, count: int) -> None:
        self.calls.append(("click", button, count))

    def scroll(self, dx: int, dy: int) -> None:
        self.calls.append(("scroll", dx, dy))

    def press_key(self, key: str) -> None:
        if key == self.fail_on_key:
            raise RuntimeError("keyboard unplugged")
        self.calls.append(("press_key", key))

    def release_key(self, key: str) -> None:
        self.calls.append(("release_key", key))

    def type_text(self, text: str) -> None:
        self.calls.append(("type_text", text))


def frame(width: int = 1000, height: int = 500, geometry: Geometry | None = None) -> Frame:
    return Frame(Image.new("RGB", (width, height), "white"), "screen:1", geometry or Geometry())


def make(**options: Any) -> tuple[DesktopTools, RecordingDriver]:
    driver = RecordingDriver()
    return DesktopTools(driver=driver, drag_duration_s=0.02, **options), driver


async def call(
    desk: DesktopTools, name: str, ctx: RunContext[Any] | None = None, **arguments: Any
) -> Any:
    tool = desk.toolset().get(name)
    assert tool is not None
    return await tool.invoke(tool.validate(arguments), ctx or RunContext(frames=[frame()]))


def tool_call(desk: DesktopTools, name: str, **arguments: Any) -> ToolCall:
    tool = desk.toolset().get(name)
    assert tool is not None
    return ToolCall("c1", name, arguments, tool.validate(arguments), tool)


# ------------------------------------------------------------------ keys


def test_parse_combo_canonical_names_and_aliases() -> None:
    assert parse_combo("Ctrl+S") == ["ctrl", "s"]
    assert parse_combo("control+shift+T") == ["ctrl", "shift", "t"]
    assert parse_combo("Return") == ["enter"]
    assert parse_combo("PageDown") == ["page_down"]
    assert parse_combo("win+e") == ["cmd", "e"]


@pytest.mark.parametrize(
    ("combo", "message"),
    [
        ("", "empty key combination"),
        ("ctrl+", "empty key between"),
        ("ctrl+ctrl", "repeated"),
        ("ctrl+alt+shift+cmd+a", "too many keys"),
        ("hyper+x", "'hyper' is not allowed"),
        ("f13", "'f13' is not allowed"),
        ("?", "'?' is not allowed"),
        ("ctrl+é", "'é' is not allowed"),
    ],
)
def test_parse_combo_rejects(combo: str, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        parse_combo(combo)


def test_allowed_keys_narrow_the_list() -> None:
    with pytest.raises(ActionError, match="allowed keys: enter, tab"):
        parse_combo("ctrl+s", frozenset({"enter", "tab"}))


async def test_press_keys_presses_in_order_and_releases_in_reverse() -> None:
    desk, driver = make()
    out = await call(desk, "press_keys", keys="ctrl+shift+t")
    assert out == "Pressed ctrl+shift+t."
    assert driver.calls == [
        ("press_key", "ctrl"),
        ("press_key", "shift"),
        ("press_key", "t"),
        ("release_key", "t"),
        ("release_key", "shift"),
        ("release_key", "ctrl"),
    ]
    assert desk.held_keys == ()


async def test_press_keys_releases_what_it_pressed_when_a_key_fails() -> None:
    desk, driver = make()
    driver.fail_on_key = "s"
    with pytest.raises(RuntimeError):
        await call(desk, "press_keys", keys="ctrl+s")
    assert driver.calls == [("press_key", "ctrl"), ("release_key", "ctrl")]
    assert desk.held_keys == ()


async def test_hold_and_release_all_on_close() -> None:
    desk, driver = make()
    tools = desk.toolset()
    ctx = RunContext(frames=[frame()])
    for name, args in (("hold_key", {"key": "shift"}), ("mouse_down", {"x": 500, "y": 500})):
        tool = tools.get(name)
        assert tool is not None
        await tool.invoke(tool.validate(args), ctx)
    assert desk.held_keys == ("shift",)
    assert desk.held_buttons == ("left",)
    await tools.aclose()  # the on_close callback
    assert ("release_key", "shift") in driver.calls
    assert ("release_button", "left") in driver.calls
    assert desk.held_keys == () and desk.held_buttons == ()
    assert desk.release_all() == []  # nothing left; never raises


async def test_hold_key_limit_and_release_errors() -> None:
    desk, _ = make(max_held_keys=2)
    await call(desk, "hold_key", key="ctrl+shift")
    with pytest.raises(ActionError, match="at most 2 keys"):
        await call(desk, "hold_key", key="alt")
    with pytest.raises(ActionError, match="'a' is not held|a is not held"):
        await call(desk, "release_key", key="a")
    assert await call(desk, "release_key", key="all") == "Released ctrl+shift."


async def test_type_text_refuses_with_ctrl_held_and_control_characters() -> None:
    desk, driver = make()
    with pytest.raises(ActionError, match="U\\+0007"):
        await call(desk, "type_text", text="ring\x07")
    await call(desk, "hold_key", key="ctrl")
    with pytest.raises(ActionError, match="ctrl is held down"):
        await call(desk, "type_text", text="q")
    assert not [c for c in driver.calls if c[0] == "type_text"]


# ------------------------------------------------------------------ bounds and coordinates


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("click", {"x": 1001, "y": 10}, "x=1001 is outside the screenshot: use 0-1000"),
        ("click", {"x": 10, "y": -1}, "y=-1 is outside"),
        ("drag", {"x1": 0, "y1": 0, "x2": 5000, "y2": 0}, "x2=5000 is outside"),
        ("scroll", {"x": 1, "y": 1, "dy": 10**9}, "dy=1000000000 is too large: scroll at most 50"),
        ("scroll", {"x": 1, "y": 1}, "nothing to scroll"),
        ("type_text", {"text": "a" * 2001}, "2001 characters long: type at most 2000"),
        ("type_text", {"text": ""}, "text is empty"),
        ("wait", {"seconds": 10**6}, "out of range: wait 0-30 seconds"),
        ("wait", {"seconds": -1}, "out of range"),
        ("press_keys", {"keys": "ctrl+alt+f13"}, "'f13' is not allowed"),
    ],
)
async def test_bounds_are_errors_for_the_model_and_nothing_happens(
    name: str, arguments: dict[str, Any], message: str
) -> None:
    desk, driver = make()
    with pytest.raises(ActionError, match=message):
        await call(desk, name, **arguments)
    assert driver.calls == []


async def test_normalised_coordinates_follow_the_frame_geometry() -> None:
    desk, driver = make()
    # A 2000x1000 capture of a HiDPI monitor at screen offset (100, 50), scale 2.
    shot = frame(2000, 1000, Geometry(left=100, top=50, scale=2.0))
    await call(desk, "click", RunContext(frames=[shot]), x=500, y=500)
    assert driver.calls[0] == ("move", 600, 300)
    await call(desk, "click", RunContext(frames=[shot]), x=1000, y=1000)  # right/bottom edge
    assert driver.calls[2] == ("move", 1099, 549)


async def test_pixel_coordinates_and_the_screen_edge() -> None:
    desk, driver = make(coords="pixels")
    await call(desk, "move", RunContext(frames=[frame(1000, 500)]), x=999, y=499)
    assert driver.calls == [("move", 999, 499)]
    with pytest.raises(ActionError, match="x=1000 is outside the screenshot: use pixels"):
        await call(desk, "move", RunContext(frames=[frame(1000, 500)]), x=1000, y=0)
    # A frame that maps beyond the real screen (a stale geometry) is refused too.
    off = frame(1000, 500, Geometry(left=1200))
    with pytest.raises(ActionError, match="outside the visible screen"):
        await call(desk, "move", RunContext(frames=[off]), x=500, y=10)


async def test_without_a_frame_coordinates_map_onto_the_screen() -> None:
    desk, driver = make()
    await call(desk, "move", RunContext(), x=500, y=1000)
    assert driver.calls == [("move", 640, 799)]


async def test_dry_run_describes_and_does_nothing() -> None:
    desk, driver = make()
    ctx = RunContext(frames=[frame()], dry_run=True)
    outputs = [
        await call(desk, "click", ctx, x=10, y=10, double=True),
        await call(desk, "type_text", ctx, text="hello"),
        await call(desk, "press_keys", ctx, keys="ctrl+s"),
        await call(desk, "drag", ctx, x1=1, y1=1, x2=2, y2=2),
        await call(desk, "hold_key", ctx, key="shift"),
        await call(desk, "mouse_down", ctx, x=1, y=1),
    ]
    assert all(o.startswith("Dry run: would ") for o in outputs), outputs
    assert outputs[0] == "Dry run: would double-click left at (10, 10)."
    assert driver.calls == []
    assert desk.held_keys == () and desk.held_buttons == ()


async def test_kill_switch_stops_every_action_and_releases() -> None:
    desk, driver = make()
    await call(desk, "hold_key", key="shift")
    desk.kill_switch.trip("test")
    assert ("release_key", "shift") in driver.calls  # released when the switch tripped
    with pytest.raises(ActionStopped, match="kill switch"):
        await call(desk, "click", x=1, y=1)
    with pytest.raises(ActionStopped):
        await call(desk, "wait", seconds=5)


async def test_drag_cancelled_releases_the_button() -> None:
    driver = RecordingDriver()
    desk = DesktopTools(driver=driver, drag_duration_s=5.0)
    task = asyncio.ensure_future(call(desk, "drag", x1=0, y1=0, x2=1000, y2=1000))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if desk.held_buttons:
            break
    assert desk.held_buttons == ("left",)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert driver.calls[-1] == ("release_button", "left")
    assert desk.held_buttons == ()


async def test_wait_returns_early_when_the_switch_trips() -> None:
    desk, _ = make()
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, desk.kill_switch.trip, "stop")
    t = loop.time()
    with pytest.raises(ActionStopped):
        await call(desk, "wait", seconds=10)
    assert loop.time() - t < 1.0


# ------------------------------------------------------------------ risk and policy


async def test_destructive_combinations_need_the_confirmer() -> None:
    desk, _ = make()
    policy = SafetyPolicy()  # no confirmer, no rules passed: the tools carry their own
    refused = await policy.review(tool_call(desk, "press_keys", keys="ctrl+alt+delete"))
    assert refused.decision == "refuse"
    assert "destructive" in refused.reason and "no confirmer" in refused.reason
    assert (
        await policy.review(tool_call(desk, "press_keys", keys="alt+ctrl+Delete"))
    ).decision == "refuse"
    assert (await policy.review(tool_call(desk, "press_keys", keys="ctrl+s"))).decision == "run"
    confirmed = SafetyPolicy(confirmer=lambda call: True)
    assert (await confirmed.review(tool_call(desk, "press_keys", keys="alt+f4"))).decision == "run"


async def test_held_keys_count_toward_a_destructive_combination() -> None:
    desk, _ = make()
    await call(desk, "hold_key", key="ctrl+alt")
    call_ = tool_call(desk, "press_keys", keys="delete")
    assert desk.risk_rule(call_) is Risk.DESTRUCTIVE
    assert (await SafetyPolicy().review(call_)).decision == "refuse"


def test_custom_destructive_keys() -> None:
    desk, _ = make(destructive_keys=["ctrl+w", "f5"])
    assert desk.risk_rule(tool_call(desk, "press_keys", keys="ctrl+w")) is Risk.DESTRUCTIVE
    assert desk.risk_rule(tool_call(desk, "hold_key", key="f5")) is Risk.DESTRUCTIVE
    assert desk.risk_rule(tool_call(desk, "press_keys", keys="ctrl+alt+delete")) is None
    assert desk.risk_rule(tool_call(desk, "click", x=1, y=1)) is None


def test_declared_risks() -> None:
    desk, _ = make()
    risks = {t.name: t.risk for t in desk.toolset()}
    assert risks["wait"] is Risk.READ_ONLY
    assert risks["screenshot"] is Risk.READ_ONLY
    assert risks.get("zoom", Risk.READ_ONLY) is Risk.READ_ONLY
    for name in ("move", "click", "drag", "scroll", "type_text", "press_keys", "hold_key"):
        assert risks[name] is Risk.REVERSIBLE


def test_entry_point_registers_the_pack() -> None:
    from agentkit.tools import available_tool_packs, load_tool_packs

    if "desktop" not in available_tool_packs():
        pytest.skip(
            "agentkit-desktop is importable but not installed (pip install -e tools/agentkit-desktop)"
        )
    tools = load_tool_packs(["desktop"])
    assert {"click", "type_text", "press_keys", "wait", "screenshot"} <= set(tools.names())
