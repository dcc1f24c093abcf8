"""The input driver: the only code that touches the real mouse and keyboard.

:class:`Driver` is a small protocol (screen points, canonical key names), so a test or a remote
desktop can supply its own. :class:`PynputDriver` drives the local display through pynput's
controllers; no shell command is ever built.

On X11, text is typed through the XTEST extension with a temporary keyboard mapping for characters
the layout lacks (the approach of ``xdotool type``). pynput's own ``type()`` sends synthetic
``XSendEvent`` key events to the focused window instead: they go nowhere when no window manager has
set the input focus (plain Xvfb), and its remapping of a keycode's third and fourth levels turned
``"ñ"`` into another character on Xvfb in our tests.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from agentkit.errors import ConfigurationError, MissingExtraError
from agentkit_desktop._errors import ActionError

__all__ = ["Driver", "PynputDriver"]


class Driver(Protocol):
    """What the desktop tools need from an input backend (coordinates in screen points)."""

    def screen_bounds(self) -> tuple[int, int, int, int]:
        """``(left, top, width, height)`` of the whole virtual screen."""
        ...

    def position(self) -> tuple[int, int]: ...

    def move(self, x: int, y: int) -> None: ...

    def press_button(self, button: str) -> None: ...

    def release_button(self, button: str) -> None: ...

    def click(self, button: str, count: int) -> None: ...

    def scroll(self, dx: int, dy: int) -> None:
        """Scroll by wheel clicks: positive ``dy`` scrolls down, positive ``dx`` right."""
        ...

    def press_key(self, key: str) -> None: ...

    def release_key(self, key: str) -> None: ...

    def type_text(self, text: str) -> None: ...


def _import_pynput() -> tuple[Any, Any]:
    try:
        from pynput import keyboard, mouse
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            "desktop", "the desktop tools", "pip install agentkit-desktop pynput"
        ) from exc
    except ImportError as exc:  # pynput found no usable backend (e.g. no X display)
        raise ConfigurationError(
            f"The desktop tools cannot reach a display: {exc}. On Linux, run inside an X session "
            "(check that DISPLAY is set, e.g. DISPLAY=:0) or start one with Xvfb."
        ) from exc
    return keyboard, mouse


class PynputDriver:
    """Drives the local mouse and keyboard with pynput.

    Every call is serialised by a lock, so the kill-switch thread can release keys while the loop
    acts. Creating the driver opens the display; it fails with a
    :class:`~agentkit.errors.ConfigurationError` that says how to get one.
    """

    def __init__(self) -> None:
        keyboard, mouse = _import_pynput()
        self._keyboard_mod = keyboard
        self._mouse_mod = mouse
        try:
            self._mouse = mouse.Controller()
            self._keyboard = keyboard.Controller()
        except Exception as exc:
            raise ConfigurationError(f"Could not open the display for input: {exc}") from exc
        self._lock = threading.RLock()
        self._x11 = type(self._keyboard).__module__.endswith("_xorg")
        self._typist: _XTestTypist | None = None

    def close(self) -> None:
        """Close the display connections now (idempotent).

        pynput's controllers close theirs when garbage-collected, which fails noisily once the
        X server is gone; closing here and leaving them a no-op stand-in avoids that.
        """
        with self._lock:
            for controller in (self._mouse, self._keyboard):
                display = getattr(controller, "_display", None)
                if display is None or isinstance(display, _ClosedDisplay):
                    continue
                controller._display = _ClosedDisplay()
                try:
                    display.close()
                except Exception:  # noqa: BLE001 - the server may already be gone
                    pass
            if self._typist is not None:
                self._typist.close()
                self._typist = None

    # -- screen -------------------------------------------------------------------------------
    def screen_bounds(self) -> tuple[int, int, int, int]:
        import mss

        factory = getattr(mss, "MSS", None) or mss.mss  # mss >= 10.2 deprecates mss.mss()
        with factory() as sct:
            mon = sct.monitors[0]
        return int(mon["left"]), int(mon["top"]), int(mon["width"]), int(mon["height"])

    # -- mouse --------------------------------------------------------------------------------
    def _button(self, button: str) -> Any:
        return getattr(self._mouse_mod.Button, button)

    def position(self) -> tuple[int, int]:
        with self._lock:
            x, y = self._mouse.position
        return int(x), int(y)

    def move(self, x: int, y: int) -> None:
        with self._lock:
            self._mouse.position = (x, y)

    def press_button(self, button: str) -> None:
        with self._lock:
            self._mouse.press(self._button(button))

    def release_button(self, button: str) -> None:
        with self._lock:
            self._mouse.release(self._button(button))

    def click(self, button: str, count: int) -> None:
        with self._lock:
            self._mouse.click(self._button(button), count)

    def scroll(self, dx: int, dy: int) -> None:
        with self._lock:
            # pynput: positive dy scrolls up; ours scrolls down, like reading a page.
            self._mouse.scroll(dx, -dy)

    # -- keyboard -----------------------------------------------------------------------------
    def _key(self, key: str) -> Any:
        kb = self._keyboard_mod
        if len(key) > 1:
            return getattr(kb.Key, key)
        if self._x11:
            # By keysym through XTEST (Latin-1 keysyms equal the code point): works without a
            # focused window, unlike pynput's XSendEvent path for characters.
            return kb.KeyCode.from_vk(ord(key))
        return kb.KeyCode.from_char(key)

    def press_key(self, key: str) -> None:
        with self._lock:
            self._keyboard.press(self._key(key))

    def release_key(self, key: str) -> None:
        with self._lock:
            self._keyboard.release(self._key(key))

    def type_text(self, text: str) -> None:
        with self._lock:
            if self._x11:
                if self._typist is None:
                    self._typist = _XTestTypist()
                self._typist.type(text)
            else:
                self._keyboard.type(text)


class _ClosedDisplay:
    def close(self) -> None:
        pass


class _XTestTypist:
    """Types any character on X11 through XTEST.

    A keysym the layout has is pressed on its keycode (with shift for the second level). Another
    is mapped onto a spare keycode (one with no symbols) and stays mapped there until the spares
    run out or :meth:`close`: clients translate keycodes lazily (Xlib refetches the mapping on the
    first lookup after a MappingNotify), so a mapping changed back right after the key can reach a
    busy client before it has read the key, and the character is lost (seen with Tk on Xvfb).
    A spare is reused for another character only when its last key is ``REUSE_AFTER_S`` old.
    """

    REMAP_PAUSE_S = 0.003
    REUSE_AFTER_S = 0.2

    def __init__(self) -> None:
        from Xlib import XK, X, display
        from Xlib.ext import xtest

        self._X = X
        self._xtest = xtest
        self._display = display.Display()
        if not self._display.has_extension("XTEST"):
            raise ConfigurationError("The X server has no XTEST extension; cannot type text.")
        self._shift = self._display.keysym_to_keycode(XK.string_to_keysym("Shift_L"))
        self._return = XK.string_to_keysym("Return")
        self._tab = XK.string_to_keysym("Tab")
        self._free: list[int] | None = None  # spare keycodes never used
        self._borrowed: OrderedDict[int, tuple[int, float]] = (
            OrderedDict()
        )  # keysym -> (code, used)
        self._width = 2

    def close(self) -> None:
        d = self._display
        try:
            if self._borrowed:
                time.sleep(self.REUSE_AFTER_S)
                for code, _ in self._borrowed.values():
                    d.change_keyboard_mapping(code, [[0] * self._width])
                d.sync()
            d.close()
        except Exception:  # noqa: BLE001 - the server may already be gone
            pass
        self._borrowed.clear()

    def _keysym(self, ch: str) -> int:
        if ch == "\n":
            return int(self._return)
        if ch == "\t":
            return int(self._tab)
        code = ord(ch)
        if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
            return code
        return 0x01000000 + code  # X11 Unicode keysym

    def _borrow(self, keysym: int, ch: str) -> int:
        d = self._display
        if self._free:
            code = self._free.pop(0)
        elif self._borrowed:
            _, (code, used) = self._borrowed.popitem(last=False)  # least recently used
            time.sleep(max(0.0, used + self.REUSE_AFTER_S - time.monotonic()))
        else:
            raise ActionError(
                f"cannot type {ch!r}: the keyboard layout lacks it and has no free keycode"
            )
        d.change_keyboard_mapping(code, [[keysym] * self._width])
        d.sync()
        time.sleep(self.REMAP_PAUSE_S)
        return code

    def type(self, text: str) -> None:
        d = self._display
        first = d.display.info.min_keycode
        count = d.display.info.max_keycode - first + 1
        mapping = [list(row) for row in d.get_keyboard_mapping(first, count)]
        if mapping:
            self._width = len(mapping[0])
        if self._free is None:
            self._free = [first + i for i, row in enumerate(mapping) if not any(row)]
        mine = {code for code, _ in self._borrowed.values()}
        where: dict[int, tuple[int, int]] = {}
        for i, row in enumerate(mapping):
            if first + i in mine:
                continue
            for level in (1, 0):  # level 0 wins when a keysym is on both
                if level < len(row) and row[level]:
                    where[row[level]] = (first + i, level)
        X, fake = self._X, self._xtest.fake_input
        for ch in text:
            keysym = self._keysym(ch)
            found = where.get(keysym)
            if found is None:
                if keysym in self._borrowed:
                    code = self._borrowed.pop(keysym)[0]
                else:
                    code = self._borrow(keysym, ch)
                found = (code, 0)
            keycode, level = found
            if level:
                fake(d, X.KeyPress, self._shift)
            fake(d, X.KeyPress, keycode)
            fake(d, X.KeyRelease, keycode)
            if level:
                fake(d, X.KeyRelease, self._shift)
            d.sync()
            if keysym not in where:  # a borrowed keycode: remember when it was last used
                self._borrowed[keysym] = (keycode, time.monotonic())
