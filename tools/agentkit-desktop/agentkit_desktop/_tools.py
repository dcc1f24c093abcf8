"""The desktop tools: what the model can do with the mouse and keyboard, within bounds."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from agentkit.errors import ConfigurationError
from agentkit.safety import KillSwitch
from agentkit.tools import Risk, RunContext, Tool, ToolCall, ToolSet, tool
from agentkit.vision import CoordinateSpace, Frame, FrameSource
from agentkit_desktop._driver import Driver, PynputDriver
from agentkit_desktop._errors import ActionError, ActionStopped
from agentkit_desktop._keys import (
    DEFAULT_DESTRUCTIVE_KEYS,
    DEFAULT_KEYS,
    parse_combo,
    parse_combo_set,
)
from agentkit_desktop._kill import DEFAULT_KILL_COMBO, KillKeyListener

__all__ = ["Capture", "DesktopTools", "toolset"]

ButtonName = Literal["left", "right", "middle"]
_TYPE_CHUNK = 32  # characters typed between two checks of the kill switch
_DRAG_STEP_S = 0.02


@dataclass(frozen=True)
class Capture:
    """A screenshot returned by the ``screenshot`` tool; the loop attaches ``frame`` as an image."""

    frame: Frame
    text: str


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(f"{name} must be an integer, got {value!r}")
    return value


class DesktopTools:
    """The desktop tool pack: mouse, keyboard, waiting and screenshots, with bounds and tracking.

    Every key and button the pack presses is tracked until released; :meth:`release_all` lets go
    of all of them and is the tool set's ``on_close`` callback, so it runs on every exit path of a
    run (and when the kill switch trips).

    Args:
        screen_source: where the ``screenshot`` tool captures (default: the run's frame source,
            else the first monitor).
        coords: ``"normalized"``: the model's x/y are 0-1000 of the latest screenshot's width and
            height (MiniCPM-V's convention); ``"pixels"``: pixels of that screenshot.
        max_text: the most characters one ``type_text`` call may type.
        max_scroll: the most wheel clicks one ``scroll`` call may turn, per axis.
        max_wait_s: the longest ``wait``.
        allowed_keys: key names ``press_keys``/``hold_key`` accept (see ``DEFAULT_KEYS``).
        destructive_keys: combinations that make ``press_keys``/``hold_key`` destructive, so the
            safety policy asks its confirmer (``"ctrl+alt+delete"``, ``"alt+f4"``...). A
            combination counts when all its keys would be down, held ones included.
        kill_combo: the combination :meth:`start_kill_listener` listens for (pynput syntax).
        kill_switch: the switch that stops the pack (and, wired to it, the agent); a new one
            by default.
        driver: the input backend; :class:`~agentkit_desktop.PynputDriver` (created on first use)
            by default.
        drag_duration_s: how long a drag takes from press to release.
        max_held_keys: the most keys ``hold_key`` may keep down at once.

    Raises:
        ConfigurationError: a bound that is not positive, an unknown ``coords`` or a malformed
            ``destructive_keys`` entry.
    """

    def __init__(
        self,
        *,
        screen_source: FrameSource | None = None,
        coords: Literal["normalized", "pixels"] = "normalized",
        max_text: int = 2000,
        max_scroll: int = 50,
        max_wait_s: float = 30.0,
        allowed_keys: Iterable[str] = DEFAULT_KEYS,
        destructive_keys: Iterable[str] = DEFAULT_DESTRUCTIVE_KEYS,
        kill_combo: str = DEFAULT_KILL_COMBO,
        kill_switch: KillSwitch | None = None,
        driver: Driver | None = None,
        drag_duration_s: float = 0.3,
        max_held_keys: int = 4,
    ) -> None:
        if coords not in ("normalized", "pixels"):
            raise ConfigurationError(f"coords must be 'normalized' or 'pixels', not {coords!r}")
        for label, value in (
            ("max_text", max_text),
            ("max_scroll", max_scroll),
            ("max_wait_s", max_wait_s),
            ("max_held_keys", max_held_keys),
        ):
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ConfigurationError(f"{label} must be a positive number, not {value!r}")
        if not (drag_duration_s >= 0 and math.isfinite(drag_duration_s)):
            raise ConfigurationError(f"drag_duration_s must be >= 0, not {drag_duration_s!r}")
        self.screen_source = screen_source
        self.coords = coords
        self.space = CoordinateSpace(coords)
        self.max_text = int(max_text)
        self.max_scroll = int(max_scroll)
        self.max_wait_s = float(max_wait_s)
        self.allowed_keys = frozenset(allowed_keys)
        try:
            self.destructive_keys = parse_combo_set(destructive_keys)
        except ActionError as exc:
            raise ConfigurationError(f"destructive_keys: {exc}") from exc
        self.kill_combo = kill_combo
        self.kill_switch = kill_switch if kill_switch is not None else KillSwitch()
        self.kill_switch.on_trip(lambda _reason: self.release_all())
        self.drag_duration_s = float(drag_duration_s)
        self.max_held_keys = int(max_held_keys)
        self._driver = driver
        self._own_driver = driver is None
        self._driver_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._held_keys: list[str] = []
        self._held_buttons: list[str] = []
        self._listener: KillKeyListener | None = None
        self._key_functions: set[Callable[..., Any]] = set()

    # ------------------------------------------------------------------ state

    @property
    def driver(self) -> Driver:
        """The input backend (a :class:`PynputDriver` is opened on first use)."""
        with self._driver_lock:
            if self._driver is None:
                self._driver = PynputDriver()
            return self._driver

    @property
    def held_keys(self) -> tuple[str, ...]:
        with self._state_lock:
            return tuple(self._held_keys)

    @property
    def held_buttons(self) -> tuple[str, ...]:
        with self._state_lock:
            return tuple(self._held_buttons)

    def release_all(self) -> list[str]:
        """Release every key and mouse button the pack holds; never raises.

        Returns:
            What was released, e.g. ``["key:shift", "button:left"]``.
        """
        with self._state_lock:
            keys = list(reversed(self._held_keys))
            buttons = list(reversed(self._held_buttons))
            self._held_keys.clear()
            self._held_buttons.clear()
        released: list[str] = []
        if not keys and not buttons:
            return released
        driver = self._driver
        if driver is None:
            return released
        for key in keys:
            try:
                driver.release_key(key)
                released.append(f"key:{key}")
            except Exception:  # noqa: BLE001 - keep releasing the others
                pass
        for button in buttons:
            try:
                driver.release_button(button)
                released.append(f"button:{button}")
            except Exception:  # noqa: BLE001
                pass
        return released

    def close(self) -> None:
        """Release everything, stop the kill listener and close the display connections.

        The tool set's ``on_close`` only releases (the same pack may serve another run); call
        this when the pack is done for good.
        """
        self.release_all()
        self.stop_kill_listener()
        if not self._own_driver:
            return  # a driver passed in belongs to the caller
        with self._driver_lock:
            driver, self._driver = self._driver, None
        close = getattr(driver, "close", None)
        if callable(close):
            close()

    # ------------------------------------------------------------------ safety

    def risk_rule(self, call: ToolCall) -> Risk | None:
        """The risk of a key call given its arguments and the keys already held.

        ``press_keys``/``hold_key`` become destructive when the keys they would have down
        contain a ``destructive_keys`` combination. Attached to those tools, so
        :class:`~agentkit.safety.SafetyPolicy` applies it without configuration.
        """
        if getattr(call.tool, "function", None) not in self._key_functions:
            return None
        combo = call.arguments.get("keys", call.arguments.get("key"))
        if not isinstance(combo, str):
            return None
        try:
            keys = parse_combo(combo, self.allowed_keys)
        except ActionError:
            return None  # the tool refuses it anyway
        down = frozenset(self.held_keys) | frozenset(keys)
        if any(bad <= down for bad in self.destructive_keys):
            return Risk.DESTRUCTIVE
        return None

    def start_kill_listener(self) -> KillSwitch:
        """Listen for ``kill_combo`` on the real keyboard; pressing it trips :attr:`kill_switch`,
        which releases every held key and button and refuses further actions.

        Returns:
            The kill switch (wire it to the agent: ``switch.on_trip(agent.stop)``).
        """
        if self._listener is None:
            self._listener = KillKeyListener(self.kill_switch, self.kill_combo)
        self._listener.start()
        return self.kill_switch

    def stop_kill_listener(self) -> None:
        if self._listener is not None:
            self._listener.stop()

    # ------------------------------------------------------------------ helpers

    def _check_live(self) -> None:
        if self.kill_switch.tripped:
            raise ActionStopped(
                f"stopped by the kill switch ({self.kill_switch.reason}); no action was performed"
            )

    def _bounds(self, ctx: RunContext[Any]) -> tuple[int, int, int, int] | None:
        try:
            return self.driver.screen_bounds()
        except Exception:
            if ctx.dry_run:  # a dry run may have no display; frames still bound the values
                return None
            raise

    def _point(
        self, ctx: RunContext[Any], x: int, y: int, names: tuple[str, str] = ("x", "y")
    ) -> tuple[int, int]:
        """Model coordinates to a screen point, or an ActionError that says what is allowed."""
        x = _check_int(names[0], x)
        y = _check_int(names[1], y)
        frame = ctx.frames[-1] if ctx.frames else None
        bounds = self._bounds(ctx)
        if frame is not None:
            width, height = frame.size
            where = "the screenshot"
        elif bounds is not None:
            width, height = bounds[2], bounds[3]
            where = "the screen"
        else:
            raise ActionError("no screenshot and no screen to map coordinates onto")
        if self.coords == "normalized":
            hi_x = hi_y = int(self.space.extent)
            unit = f"0-{hi_x} (normalised to the width and height of {where})"
        else:
            hi_x, hi_y = width - 1, height - 1
            unit = f"pixels of {where}, 0-{hi_x} for {names[0]} and 0-{hi_y} for {names[1]}"
        for name, value, hi in ((names[0], x, hi_x), (names[1], y, hi_y)):
            if not 0 <= value <= hi:
                raise ActionError(f"{name}={value} is outside {where}: use {unit}")
        if frame is not None:
            sx, sy = self.space.to_screen_int(x, y, frame)
        else:
            assert bounds is not None
            left, top = bounds[0], bounds[1]
            if self.coords == "normalized":
                sx = left + min(math.floor(x * width / self.space.extent), width - 1)
                sy = top + min(math.floor(y * height / self.space.extent), height - 1)
            else:
                sx, sy = left + x, top + y
        if bounds is not None:
            left, top, bw, bh = bounds
            if not (left <= sx < left + bw and top <= sy < top + bh):
                raise ActionError(
                    f"({names[0]}={x}, {names[1]}={y}) falls outside the visible screen; "
                    "pick a point inside the latest screenshot"
                )
        return sx, sy

    def _press_key(self, key: str) -> None:
        with self._state_lock:
            self.driver.press_key(key)
            self._held_keys.append(key)

    def _release_key(self, key: str) -> None:
        with self._state_lock:
            if key in self._held_keys:
                self._held_keys.remove(key)
                self.driver.release_key(key)

    def _press_button(self, button: str) -> None:
        with self._state_lock:
            self.driver.press_button(button)
            self._held_buttons.append(button)

    def _release_button(self, button: str) -> None:
        with self._state_lock:
            if button in self._held_buttons:
                self._held_buttons.remove(button)
                self.driver.release_button(button)

    # ------------------------------------------------------------------ the tools

    def toolset(self) -> ToolSet:
        """The pack's tools as a :class:`~agentkit.tools.ToolSet` named ``"desktop"``, with
        :meth:`release_all` as its ``on_close`` callback."""
        tools: list[Tool] = [
            self._move_tool(),
            self._click_tool(),
            self._drag_tool(),
            self._scroll_tool(),
            self._type_tool(),
            self._press_keys_tool(),
            self._hold_key_tool(),
            self._release_key_tool(),
            self._mouse_down_tool(),
            self._mouse_up_tool(),
            self._wait_tool(),
            self._screenshot_tool(),
        ]
        zoom = _vision_zoom_tool(self.space)
        if zoom is not None:
            tools.append(zoom)
        return ToolSet(tools, name="desktop", on_close=[self.release_all])

    def _coord_doc(self) -> tuple[str, str]:
        if self.coords == "normalized":
            return (
                "0 (left edge) to 1000 (right edge) of the screenshot",
                "0 (top) to 1000 (bottom)",
            )
        return "pixels from the screenshot's left edge", "pixels from its top edge"

    def _docs(self, summary: str, args: dict[str, str]) -> str:
        lines = [summary, "", "Args:"]
        lines += [f"    {name}: {text}" for name, text in args.items()]
        return "\n".join(lines)

    def _move_tool(self) -> Tool:
        cx, cy = self._coord_doc()

        async def move(ctx: RunContext[Any], x: int, y: int) -> str:
            self._check_live()
            sx, sy = self._point(ctx, x, y)
            if ctx.dry_run:
                return f"Dry run: would move the mouse to ({x}, {y})."
            self.driver.move(sx, sy)
            return f"Moved the mouse to ({x}, {y})."

        move.__doc__ = self._docs("Move the mouse pointer without clicking.", {"x": cx, "y": cy})
        return tool(name="move", risk=Risk.REVERSIBLE)(move)

    def _click_tool(self) -> Tool:
        cx, cy = self._coord_doc()

        async def click(
            ctx: RunContext[Any], x: int, y: int, button: ButtonName = "left", double: bool = False
        ) -> str:
            self._check_live()
            sx, sy = self._point(ctx, x, y)
            what = f"{'double-' if double else ''}click {button} at ({x}, {y})"
            if ctx.dry_run:
                return f"Dry run: would {what}."
            driver = self.driver
            driver.move(sx, sy)
            await asyncio.sleep(0.01)  # let the application see the pointer arrive first
            driver.click(button, 2 if double else 1)
            return f"Did {what}."

        click.__doc__ = self._docs(
            "Click a mouse button at a point of the screen.",
            {
                "x": cx,
                "y": cy,
                "button": "left, right or middle",
                "double": "true for a double click",
            },
        )
        return tool(name="click", risk=Risk.REVERSIBLE)(click)

    def _drag_tool(self) -> Tool:
        cx, cy = self._coord_doc()

        async def drag(
            ctx: RunContext[Any], x1: int, y1: int, x2: int, y2: int, button: ButtonName = "left"
        ) -> str:
            self._check_live()
            start = self._point(ctx, x1, y1, ("x1", "y1"))
            end = self._point(ctx, x2, y2, ("x2", "y2"))
            what = f"drag with the {button} button from ({x1}, {y1}) to ({x2}, {y2})"
            if ctx.dry_run:
                return f"Dry run: would {what}."
            driver = self.driver
            driver.move(*start)
            await asyncio.sleep(0.01)
            self._press_button(button)
            try:
                steps = max(2, int(self.drag_duration_s / _DRAG_STEP_S))
                for i in range(1, steps + 1):
                    await asyncio.sleep(self.drag_duration_s / steps)
                    self._check_live()
                    t = i / steps
                    driver.move(
                        round(start[0] + (end[0] - start[0]) * t),
                        round(start[1] + (end[1] - start[1]) * t),
                    )
            finally:
                # Also on cancellation (stop) and on the kill switch: never leave it pressed.
                self._release_button(button)
            return f"Did {what}."

        drag.__doc__ = self._docs(
            "Press a mouse button at one point, move to another and release it there.",
            {
                "x1": f"start, {cx}",
                "y1": f"start, {cy}",
                "x2": "end, same scale as x1",
                "y2": "end, same scale as y1",
                "button": "left, right or middle",
            },
        )
        return tool(name="drag", risk=Risk.REVERSIBLE)(drag)

    def _scroll_tool(self) -> Tool:
        cx, cy = self._coord_doc()
        limit = self.max_scroll

        async def scroll(ctx: RunContext[Any], x: int, y: int, dx: int = 0, dy: int = 0) -> str:
            self._check_live()
            for name, value in (("dx", dx), ("dy", dy)):
                _check_int(name, value)
                if abs(value) > limit:
                    raise ActionError(
                        f"{name}={value} is too large: scroll at most {limit} clicks at once"
                    )
            if dx == 0 and dy == 0:
                raise ActionError("nothing to scroll: give dy (down > 0, up < 0) or dx (right > 0)")
            sx, sy = self._point(ctx, x, y)
            what = f"scroll dx={dx} dy={dy} at ({x}, {y})"
            if ctx.dry_run:
                return f"Dry run: would {what}."
            self.driver.move(sx, sy)
            await asyncio.sleep(0.01)
            self.driver.scroll(dx, dy)
            return f"Did {what}."

        scroll.__doc__ = self._docs(
            "Turn the mouse wheel over a point of the screen.",
            {
                "x": cx,
                "y": cy,
                "dx": f"wheel clicks to the right (negative: left), at most {limit}",
                "dy": f"wheel clicks down (negative: up), at most {limit}",
            },
        )
        return tool(name="scroll", risk=Risk.REVERSIBLE)(scroll)

    def _type_tool(self) -> Tool:
        limit = self.max_text

        async def type_text(ctx: RunContext[Any], text: str) -> str:
            self._check_live()
            if not text:
                raise ActionError("text is empty: give the characters to type")
            if len(text) > limit:
                raise ActionError(
                    f"text is {len(text)} characters long: type at most {limit} per call"
                )
            for ch in text:
                if ch not in "\n\t" and (
                    ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or 0xD800 <= ord(ch) < 0xE000
                ):
                    raise ActionError(
                        f"text contains the control character U+{ord(ch):04X}; only printable "
                        "characters, newline and tab can be typed"
                    )
            held = [k for k in self.held_keys if k in ("ctrl", "alt", "cmd")]
            if held:
                raise ActionError(
                    f"{'+'.join(held)} is held down, which would turn the text into shortcuts; "
                    "release it first (release_key)"
                )
            shown = text if len(text) <= 60 else text[:57] + "..."
            if ctx.dry_run:
                return f"Dry run: would type {len(text)} characters: {shown!r}."
            driver = self.driver
            for i in range(0, len(text), _TYPE_CHUNK):
                self._check_live()
                await asyncio.to_thread(driver.type_text, text[i : i + _TYPE_CHUNK])
            return f"Typed {len(text)} characters."

        type_text.__doc__ = self._docs(
            "Type text at the keyboard focus (click the field first).",
            {"text": f"the exact characters to type, at most {limit}; newline presses Enter"},
        )
        return tool(name="type_text", risk=Risk.REVERSIBLE)(type_text)

    def _press_keys_tool(self) -> Tool:
        async def press_keys(ctx: RunContext[Any], keys: str) -> str:
            self._check_live()
            names = parse_combo(keys, self.allowed_keys)
            combo = "+".join(names)
            if ctx.dry_run:
                return f"Dry run: would press {combo}."
            pressed: list[str] = []
            try:
                for key in names:
                    self._press_key(key)
                    pressed.append(key)
            finally:
                for key in reversed(pressed):
                    self._release_key(key)
            return f"Pressed {combo}."

        press_keys.__doc__ = self._docs(
            "Press a key or a key combination and release it, e.g. 'enter', 'ctrl+s', 'ctrl+shift+t'.",
            {
                "keys": "key names joined by '+': ctrl, alt, shift, cmd, enter, tab, esc, backspace, "
                "delete, home, end, page_up, page_down, up, down, left, right, space, f1-f12, a-z, 0-9"
            },
        )
        self._key_functions.add(press_keys)
        press_keys.risk_rule = self.risk_rule  # type: ignore[attr-defined]
        return tool(name="press_keys", risk=Risk.REVERSIBLE)(press_keys)

    def _hold_key_tool(self) -> Tool:
        async def hold_key(ctx: RunContext[Any], key: str) -> str:
            self._check_live()
            names = parse_combo(key, self.allowed_keys)
            new = [k for k in names if k not in self.held_keys]
            if len(self.held_keys) + len(new) > self.max_held_keys:
                raise ActionError(
                    f"at most {self.max_held_keys} keys can be held at once; release some first "
                    f"(held: {', '.join(self.held_keys)})"
                )
            combo = "+".join(names)
            if ctx.dry_run:
                return f"Dry run: would hold {combo} down."
            for k in new:
                self._press_key(k)
            return f"Holding {combo} down (held: {', '.join(self.held_keys)}); release it with release_key."

        hold_key.__doc__ = self._docs(
            "Press a key (or keys joined by '+') and keep it down until release_key.",
            {"key": "a key name such as 'shift', or keys joined by '+'"},
        )
        self._key_functions.add(hold_key)
        hold_key.risk_rule = self.risk_rule  # type: ignore[attr-defined]
        return tool(name="hold_key", risk=Risk.REVERSIBLE)(hold_key)

    def _release_key_tool(self) -> Tool:
        async def release_key(ctx: RunContext[Any], key: str = "all") -> str:
            if key.strip().lower() == "all":
                names = list(self.held_keys)
            else:
                names = parse_combo(key, self.allowed_keys)
                not_held = [k for k in names if k not in self.held_keys]
                if not_held:
                    held = ", ".join(self.held_keys) or "none"
                    raise ActionError(f"{'+'.join(not_held)} is not held (held: {held})")
            if ctx.dry_run:
                return f"Dry run: would release {'+'.join(names) or 'nothing'}."
            for k in reversed(names):
                self._release_key(k)
            return f"Released {'+'.join(names) or 'nothing'}."

        release_key.__doc__ = self._docs(
            "Release keys held with hold_key.",
            {"key": "the key(s) to release, joined by '+', or 'all'"},
        )
        return tool(name="release_key", risk=Risk.REVERSIBLE)(release_key)

    def _mouse_down_tool(self) -> Tool:
        cx, cy = self._coord_doc()

        async def mouse_down(
            ctx: RunContext[Any], x: int, y: int, button: ButtonName = "left"
        ) -> str:
            self._check_live()
            sx, sy = self._point(ctx, x, y)
            if button in self.held_buttons:
                raise ActionError(f"the {button} button is already down; use mouse_up first")
            if ctx.dry_run:
                return f"Dry run: would press the {button} button at ({x}, {y}) and keep it down."
            self.driver.move(sx, sy)
            await asyncio.sleep(0.01)
            self._press_button(button)
            return f"Holding the {button} button down at ({x}, {y}); release it with mouse_up."

        mouse_down.__doc__ = self._docs(
            "Press a mouse button at a point and keep it down (move, then mouse_up, to drag).",
            {"x": cx, "y": cy, "button": "left, right or middle"},
        )
        return tool(name="mouse_down", risk=Risk.REVERSIBLE)(mouse_down)

    def _mouse_up_tool(self) -> Tool:
        async def mouse_up(ctx: RunContext[Any], button: ButtonName = "left") -> str:
            if button not in self.held_buttons:
                raise ActionError(f"the {button} button is not down")
            if ctx.dry_run:
                return f"Dry run: would release the {button} button."
            self._release_button(button)
            return f"Released the {button} button."

        mouse_up.__doc__ = self._docs(
            "Release a mouse button pressed with mouse_down, where the pointer is now.",
            {"button": "left, right or middle"},
        )
        return tool(name="mouse_up", risk=Risk.REVERSIBLE)(mouse_up)

    def _wait_tool(self) -> Tool:
        limit = self.max_wait_s

        async def wait(ctx: RunContext[Any], seconds: float) -> str:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ActionError(f"seconds must be a number, got {seconds!r}")
            if not (0 <= seconds <= limit) or not math.isfinite(seconds):
                raise ActionError(f"seconds={seconds} is out of range: wait 0-{limit:g} seconds")
            tripped = await self.kill_switch.wait_async(timeout=float(seconds))
            if tripped:
                raise ActionStopped(f"stopped by the kill switch ({self.kill_switch.reason})")
            return f"Waited {seconds:g} s."

        wait.__doc__ = self._docs(
            "Wait for the screen to change (a page to load, an animation to end).",
            {"seconds": f"how long, 0-{limit:g}"},
        )
        return tool(name="wait", risk=Risk.READ_ONLY)(wait)

    def _screenshot_tool(self) -> Tool:
        async def screenshot(ctx: RunContext[Any]) -> Capture:
            source = self.screen_source or ctx.source
            if source is None:
                source = _default_screen_source()
            grabbed = await asyncio.to_thread(source.grab)
            frame = grabbed[-1] if isinstance(grabbed, list) else grabbed
            return Capture(frame, f"A new screenshot ({frame.width}x{frame.height}) is attached.")

        screenshot.__doc__ = "Take a new screenshot of the screen now (attached to the result)."
        return tool(name="screenshot", risk=Risk.READ_ONLY)(screenshot)


def _default_screen_source() -> FrameSource:
    from agentkit.vision import ScreenSource

    return ScreenSource()


def _vision_zoom_tool(space: CoordinateSpace) -> Tool | None:
    """agentkit.vision's zoom tool (read-only), in the pack's coordinate space."""
    from agentkit import vision

    factory = getattr(vision, "zoom_tool", None)
    if factory is None:  # an agentkit without it: the pack still works
        return None
    made = factory(space=space)
    return made if isinstance(made, Tool) else None


def toolset(**options: Any) -> ToolSet:
    """The desktop tools with the given :class:`DesktopTools` options; the entry point
    ``desktop = "agentkit_desktop:toolset"`` calls it with none.

    Example:
        ```python
        from agentkit import Agent
        from agentkit_desktop import toolset

        agent = Agent(tools=toolset(max_text=500), source=ScreenSource())
        ```
    """
    return DesktopTools(**options).toolset()
