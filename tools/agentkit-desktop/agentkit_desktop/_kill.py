"""A keyboard combination that trips a :class:`~agentkit.safety.KillSwitch` from anywhere.

On X11 the listener polls the keyboard state (``XQueryKeymap``) 20 times a second from its own
connection: it needs no extension, sees the real and the synthetic keyboards alike, and stops at
once. (pynput's RECORD-based ``Listener`` did not stop on Xvfb with python-xlib 0.33: its thread
stayed blocked.) Elsewhere, pynput's ``Listener`` with a ``HotKey`` is used.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from agentkit.errors import ConfigurationError
from agentkit.safety import KillSwitch
from agentkit_desktop._driver import _import_pynput

__all__ = ["DEFAULT_KILL_COMBO", "KillKeyListener"]

#: pynput ``HotKey`` syntax: named keys in angle brackets, characters bare.
DEFAULT_KILL_COMBO = "<ctrl>+<alt>+<esc>"

_POLL_S = 0.05
# Named keys -> X keysym names that count as that key.
_X_NAMES: dict[str, tuple[str, ...]] = {
    "ctrl": ("Control_L", "Control_R"),
    "ctrl_l": ("Control_L",),
    "ctrl_r": ("Control_R",),
    "alt": ("Alt_L", "Alt_R", "Meta_L", "Meta_R"),
    "alt_l": ("Alt_L", "Meta_L"),
    "alt_r": ("Alt_R", "Meta_R"),
    "alt_gr": ("ISO_Level3_Shift", "Mode_switch"),
    "shift": ("Shift_L", "Shift_R"),
    "shift_l": ("Shift_L",),
    "shift_r": ("Shift_R",),
    "cmd": ("Super_L", "Super_R"),
    "cmd_l": ("Super_L",),
    "cmd_r": ("Super_R",),
    "esc": ("Escape",),
    "enter": ("Return", "KP_Enter"),
    "space": ("space",),
    "tab": ("Tab",),
    "backspace": ("BackSpace",),
    "delete": ("Delete",),
    "pause": ("Pause",),
    "scroll_lock": ("Scroll_Lock",),
    "print_screen": ("Print",),
    **{f"f{i}": (f"F{i}",) for i in range(1, 25)},
}


def _parse(combo: str) -> list[str]:
    """``"<ctrl>+<alt>+<esc>"`` -> ``["ctrl", "alt", "esc"]``; bare characters stay as they are."""
    parts = combo.split("+")
    keys: list[str] = []
    for part in parts:
        part = part.strip()
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1].lower()
            if name not in _X_NAMES:
                raise ConfigurationError(
                    f"Unknown key <{name}> in the kill key combination {combo!r}; use names such "
                    f"as <ctrl>, <alt>, <shift>, <cmd>, <esc>, <f12> or single characters."
                )
            keys.append(name)
        elif len(part) == 1:
            keys.append(part.lower())
        else:
            raise ConfigurationError(
                f"Cannot parse the kill key combination {combo!r}: write it like "
                "'<ctrl>+<alt>+<esc>' (named keys in angle brackets, characters bare)."
            )
    if not keys or len(set(keys)) != len(keys):
        raise ConfigurationError(f"The kill key combination {combo!r} is empty or repeats a key.")
    return keys


def _use_x11() -> bool:
    return sys.platform.startswith("linux") and bool(os.environ.get("DISPLAY"))


class KillKeyListener:
    """Watches the keyboard in a background thread and trips ``switch`` on ``combo``.

    It sees every key press of the session, so it is started only when asked
    (:meth:`DesktopTools.start_kill_listener` or :meth:`start`), and it keeps nothing it sees.

    Args:
        switch: the switch to trip.
        combo: pynput ``HotKey`` syntax, e.g. ``"<ctrl>+<alt>+<esc>"`` or ``"<ctrl>+<shift>+q"``.

    Raises:
        ConfigurationError: the combination cannot be parsed.
    """

    def __init__(self, switch: KillSwitch, combo: str = DEFAULT_KILL_COMBO) -> None:
        self.switch = switch
        self.combo = combo
        self._keys = _parse(combo)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pynput_listener: Any = None

    def _activate(self) -> None:
        self.switch.trip(f"the kill key combination {self.combo} was pressed")

    @property
    def running(self) -> bool:
        if self._pynput_listener is not None:
            return bool(self._pynput_listener.running)
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start listening (idempotent); returns once the listener is ready.

        Raises:
            ConfigurationError: no display or keyboard access.
        """
        with self._lock:
            if self._thread is not None or self._pynput_listener is not None:
                return
            self._stop.clear()
            if _use_x11():
                ready = threading.Event()
                errors: list[BaseException] = []
                thread = threading.Thread(
                    target=self._poll_x11,
                    args=(ready, errors),
                    name="agentkit-kill-keys",
                    daemon=True,
                )
                self._thread = thread
                thread.start()
                ready.wait(5.0)
                if errors:
                    self._thread = None
                    raise ConfigurationError(
                        f"The kill key listener cannot read the keyboard: {errors[0]}"
                    )
            else:
                self._start_pynput()

    def _poll_x11(self, ready: threading.Event, errors: list[BaseException]) -> None:
        try:
            from Xlib import XK, display

            d = display.Display()
            wanted: list[set[int]] = []
            for key in self._keys:
                names = _X_NAMES.get(key, (key,))
                codes = {d.keysym_to_keycode(XK.string_to_keysym(n)) for n in names} - {0}
                if not codes:
                    raise ConfigurationError(f"the key {key!r} is not on this keyboard")
                wanted.append(codes)
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            errors.append(exc)
            ready.set()
            return
        ready.set()
        try:
            while not self._stop.wait(_POLL_S):
                keymap = d.query_keymap()  # 32 bytes, one bit per keycode
                down = all(
                    any(keymap[code >> 3] & (1 << (code & 7)) for code in codes) for codes in wanted
                )
                if down:
                    self._activate()
        except Exception:  # noqa: BLE001 - the display went away: nothing left to watch
            pass
        finally:
            try:
                d.close()
            except Exception:  # noqa: BLE001
                pass

    def _start_pynput(self) -> None:
        keyboard, _ = _import_pynput()
        hotkey = keyboard.HotKey(keyboard.HotKey.parse(self.combo), self._activate)

        def on_press(key: Any) -> None:
            if key is not None:
                hotkey.press(listener.canonical(key))

        def on_release(key: Any) -> None:
            if key is not None:
                hotkey.release(listener.canonical(key))

        listener = keyboard.Listener(on_press=on_press, on_release=on_release)
        self._pynput_listener = listener
        listener.start()
        listener.wait()

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        with self._lock:
            thread, self._thread = self._thread, None
            listener, self._pynput_listener = self._pynput_listener, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        if listener is not None:
            listener.stop()
