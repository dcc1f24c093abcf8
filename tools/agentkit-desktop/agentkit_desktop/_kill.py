"""A keyboard combination that trips a :class:`~agentkit.safety.KillSwitch` from anywhere."""

from __future__ import annotations

import threading
from typing import Any

from agentkit.errors import ConfigurationError
from agentkit.safety import KillSwitch

from agentkit_desktop._driver import _import_pynput

__all__ = ["DEFAULT_KILL_COMBO", "KillKeyListener"]

#: pynput ``HotKey`` syntax: modifiers and named keys in angle brackets, characters bare.
DEFAULT_KILL_COMBO = "<ctrl>+<alt>+<esc>"


class KillKeyListener:
    """Listens to the keyboard (in pynput's own thread) and trips ``switch`` on ``combo``.

    The listener sees every key press of the session, so it is started only when asked
    (:meth:`DesktopTools.start_kill_listener` or :meth:`start`), and it keeps nothing it sees.
    On X11 it needs the RECORD extension (present in Xorg and Xvfb).

    Args:
        switch: the switch to trip.
        combo: pynput ``HotKey`` syntax, e.g. ``"<ctrl>+<alt>+<esc>"`` or ``"<ctrl>+<shift>+q"``.

    Raises:
        ConfigurationError: the combination cannot be parsed.
    """

    def __init__(self, switch: KillSwitch, combo: str = DEFAULT_KILL_COMBO) -> None:
        keyboard, _ = _import_pynput()
        self._keyboard = keyboard
        try:
            keys = keyboard.HotKey.parse(combo)
        except ValueError as exc:
            raise ConfigurationError(
                f"Cannot parse the kill key combination {combo!r}: {exc}. Use pynput's syntax, "
                "e.g. '<ctrl>+<alt>+<esc>'."
            ) from exc
        self.switch = switch
        self.combo = combo
        self._hotkey = keyboard.HotKey(keys, self._activate)
        self._listener: Any = None
        self._lock = threading.Lock()

    def _activate(self) -> None:
        self.switch.trip(f"the kill key combination {self.combo} was pressed")

    def _on_press(self, key: Any) -> None:
        if self._listener is not None and key is not None:
            self._hotkey.press(self._listener.canonical(key))

    def _on_release(self, key: Any) -> None:
        if self._listener is not None and key is not None:
            self._hotkey.release(self._listener.canonical(key))

    @property
    def running(self) -> bool:
        return self._listener is not None and self._listener.running

    def start(self) -> None:
        """Start listening (idempotent); returns once the listener is ready."""
        with self._lock:
            if self._listener is not None:
                return
            listener = self._keyboard.Listener(on_press=self._on_press, on_release=self._on_release)
            self._listener = listener
            listener.start()
        listener.wait()

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
            if listener is not threading.current_thread():
                listener.join(timeout=2.0)
