"""Key names the model may use, how combinations are written, and which ones are destructive.

A combination is key names joined by ``+``: ``"ctrl+s"``, ``"ctrl+shift+t"``, ``"enter"``. Names are
case-insensitive and a few aliases are understood (``control``, ``return``, ``escape``, ``win``...).
Only names on the allow-list are accepted; anything else is an :class:`ActionError` that tells the
model which names exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentkit_desktop._errors import ActionError

__all__ = [
    "DEFAULT_DESTRUCTIVE_KEYS",
    "DEFAULT_KEYS",
    "MODIFIERS",
    "SPECIAL_KEYS",
    "canonical_combo",
    "parse_combo",
    "parse_combo_set",
    "parse_key",
]

MODIFIERS: frozenset[str] = frozenset({"ctrl", "alt", "shift", "cmd"})
#: Named keys other than single characters (pynput ``Key`` members of the same name).
SPECIAL_KEYS: frozenset[str] = frozenset(
    {
        *MODIFIERS,
        "enter",
        "tab",
        "esc",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "page_up",
        "page_down",
        "up",
        "down",
        "left",
        "right",
        "space",
        *(f"f{i}" for i in range(1, 13)),
    }
)
# Unshifted printable characters: a combination presses the key itself, without shift, so a
# shifted character such as "?" could not be pressed faithfully and is not offered.
_CHAR_KEYS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-=[]\\;',./`")
#: Every key the pack accepts unless ``allowed_keys`` says otherwise.
DEFAULT_KEYS: frozenset[str] = SPECIAL_KEYS | _CHAR_KEYS
#: Combinations treated as destructive (they need the safety policy's confirmer): ending the
#: session, killing the X server, closing or quitting the focused application, locking the screen.
DEFAULT_DESTRUCTIVE_KEYS: tuple[str, ...] = (
    "ctrl+alt+delete",
    "ctrl+alt+backspace",
    "alt+f4",
    "ctrl+q",
    "cmd+q",
    "cmd+l",
)

_ALIASES = {
    "control": "ctrl",
    "ctl": "ctrl",
    "option": "alt",
    "opt": "alt",
    "super": "cmd",
    "win": "cmd",
    "windows": "cmd",
    "meta": "cmd",
    "command": "cmd",
    "return": "enter",
    "escape": "esc",
    "del": "delete",
    "ins": "insert",
    "pageup": "page_up",
    "pgup": "page_up",
    "pagedown": "page_down",
    "pgdn": "page_down",
    "arrowup": "up",
    "arrowdown": "down",
    "arrowleft": "left",
    "arrowright": "right",
    "spacebar": "space",
    "minus": "-",
}
MAX_COMBO_KEYS = 4


def _describe(allowed: frozenset[str]) -> str:
    named = sorted(k for k in allowed if len(k) > 1)
    chars = "".join(sorted(k for k in allowed if len(k) == 1))
    text = ", ".join(named)
    if chars:
        text += f"; single characters: {chars}"
    return text


def parse_key(name: str, allowed: frozenset[str] = DEFAULT_KEYS) -> str:
    """The canonical name of one key.

    Raises:
        ActionError: an empty, unknown or not-allowed key name.
    """
    raw = name.strip()
    if not raw:
        raise ActionError("empty key name; name a key such as 'enter' or 'a'")
    key = raw if len(raw) == 1 else raw.lower().replace(" ", "_").replace("-", "_")
    if len(key) == 1:
        key = key.lower() if key.isascii() else key
    key = _ALIASES.get(key.replace("_", ""), _ALIASES.get(key, key))
    if key not in allowed:
        shown = raw if len(raw) <= 30 else raw[:30] + "..."
        raise ActionError(f"key {shown!r} is not allowed; allowed keys: {_describe(allowed)}")
    return key


def parse_combo(combo: str, allowed: frozenset[str] = DEFAULT_KEYS) -> list[str]:
    """Split ``"ctrl+shift+t"`` into canonical key names, in pressing order.

    Raises:
        ActionError: an empty part, an unknown or not-allowed name, a repeated key, or more than
            four keys.
    """
    if not isinstance(combo, str) or not combo.strip():
        raise ActionError("empty key combination; write keys joined by '+', e.g. 'ctrl+s'")
    if len(combo) > 100:
        raise ActionError("key combination too long; write at most 4 keys joined by '+'")
    parts = combo.split("+")
    if any(not p.strip() for p in parts):
        raise ActionError(
            f"malformed key combination {combo!r}: an empty key between '+' signs "
            "(the plus key cannot be pressed; use 'ctrl+=' to zoom in)"
        )
    keys = [parse_key(p, allowed) for p in parts]
    if len(keys) > MAX_COMBO_KEYS:
        raise ActionError(f"too many keys in {combo!r}: at most {MAX_COMBO_KEYS} at once")
    if len(set(keys)) != len(keys):
        raise ActionError(f"a key is repeated in {combo!r}")
    return keys


def canonical_combo(keys: Iterable[str]) -> frozenset[str]:
    """An order-free form of a combination, for comparing ``alt+ctrl+delete`` with
    ``ctrl+alt+delete``."""
    return frozenset(keys)


def parse_combo_set(combos: Iterable[str]) -> frozenset[frozenset[str]]:
    """Parse a list of combinations (for ``destructive_keys``) against every known key."""
    return frozenset(canonical_combo(parse_combo(c, DEFAULT_KEYS)) for c in combos)
