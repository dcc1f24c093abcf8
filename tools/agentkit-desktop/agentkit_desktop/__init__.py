"""agentkit-desktop: mouse and keyboard tools for agentkit agents, registered as the ``desktop``
tool pack (entry-point group ``agentkit.tools``).

Example:
    ```python
    from agentkit import Agent
    from agentkit_desktop import DesktopTools

    desktop = DesktopTools(max_text=500)
    agent = Agent(tools=desktop.toolset(), instructions="Fill in the form.")
    ```
"""

from agentkit_desktop._driver import Driver, PynputDriver
from agentkit_desktop._errors import ActionError, ActionStopped
from agentkit_desktop._keys import (
    DEFAULT_DESTRUCTIVE_KEYS,
    DEFAULT_KEYS,
    MODIFIERS,
    SPECIAL_KEYS,
    parse_combo,
)
from agentkit_desktop._kill import DEFAULT_KILL_COMBO, KillKeyListener
from agentkit_desktop._tools import Capture, DesktopTools, toolset

__all__ = [
    "DEFAULT_DESTRUCTIVE_KEYS",
    "DEFAULT_KEYS",
    "DEFAULT_KILL_COMBO",
    "MODIFIERS",
    "SPECIAL_KEYS",
    "ActionError",
    "ActionStopped",
    "Capture",
    "DesktopTools",
    "Driver",
    "KillKeyListener",
    "PynputDriver",
    "parse_combo",
    "toolset",
]
