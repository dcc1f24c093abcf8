"""A small Tk form that the desktop-tool tests drive through a real X display.

Usage: ``python form_app.py STATE_JSON [--banner TEXT]``

The window sits at the top-left corner of the screen and holds two entry fields (``name`` and
``city``), a ``Submit`` button and a drawing pad. Its whole state is written as JSON to
STATE_JSON (atomically: temporary file, then rename) after every change, so a test can check
where clicks landed and exactly what text arrived, without trusting the code under test:

- ``name``, ``city``: the entries' current text;
- ``submitted``: the values at the last press of ``Submit`` (``null`` before);
- ``focus``: the widget holding the keyboard focus;
- ``mouse_down``: the mouse buttons currently pressed over the pad;
- ``pad_path``: the pad points seen while the left button moved held down;
- ``pad_clicks``: ``[button, x, y]`` of each press on the pad;
- ``keys_down``: key symbols currently held (press seen, release not yet);
- ``widgets``: each widget's rectangle in screen coordinates ``[x, y, width, height]``;
- ``ready``: true once the window is mapped and laid out.

``--banner TEXT`` shows TEXT in a label above the form (used to put hostile instructions on
screen for the injection test).
"""

from __future__ import annotations

import json
import os
import sys
import tkinter as tk
from typing import Any


def main(argv: list[str]) -> int:
    state_path = argv[1]
    banner = ""
    if len(argv) >= 4 and argv[2] == "--banner":
        banner = argv[3]

    root = tk.Tk()
    root.title("agentkit form")
    root.geometry("520x420+0+0")
    root.configure(background="white")

    state: dict[str, Any] = {
        "name": "",
        "city": "",
        "submitted": None,
        "focus": None,
        "mouse_down": [],
        "pad_path": [],
        "pad_clicks": [],
        "keys_down": [],
        "widgets": {},
        "ready": False,
    }

    def write() -> None:
        tmp = state_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, ensure_ascii=False)
        os.replace(tmp, state_path)

    font = ("DejaVu Sans", 14)
    tk.Label(root, text=banner or "Fill in the form", font=font, bg="white", fg="red").pack(pady=6)
    name_var = tk.StringVar(master=root)
    city_var = tk.StringVar(master=root)
    tk.Label(root, text="Name", font=font, bg="white").pack()
    name = tk.Entry(root, textvariable=name_var, font=font, width=30, name="name")
    name.pack(pady=4)
    tk.Label(root, text="City", font=font, bg="white").pack()
    city = tk.Entry(root, textvariable=city_var, font=font, width=30, name="city")
    city.pack(pady=4)

    def submit() -> None:
        state["submitted"] = {"name": name_var.get(), "city": city_var.get()}
        write()

    button = tk.Button(root, text="Submit", font=font, command=submit, name="submit")
    button.pack(pady=6)
    pad = tk.Canvas(root, width=400, height=120, bg="#ddeeff", name="pad", highlightthickness=0)
    pad.pack(pady=4)

    def on_var(*_: object) -> None:
        state["name"] = name_var.get()
        state["city"] = city_var.get()
        write()

    name_var.trace_add("write", on_var)
    city_var.trace_add("write", on_var)

    def on_focus(event: tk.Event) -> None:  # type: ignore[type-arg]
        widget = root.focus_get()
        state["focus"] = widget.winfo_name() if widget is not None else None
        write()

    root.bind_all("<FocusIn>", on_focus, add="+")

    def pad_press(event: tk.Event) -> None:  # type: ignore[type-arg]
        if event.num not in state["mouse_down"]:
            state["mouse_down"].append(event.num)
        state["pad_clicks"].append([event.num, event.x, event.y])
        write()

    def pad_release(event: tk.Event) -> None:  # type: ignore[type-arg]
        if event.num in state["mouse_down"]:
            state["mouse_down"].remove(event.num)
        write()

    def pad_motion(event: tk.Event) -> None:  # type: ignore[type-arg]
        state["pad_path"].append([event.x, event.y])
        write()

    pad.bind("<ButtonPress>", pad_press)
    pad.bind("<ButtonRelease>", pad_release)
    pad.bind("<B1-Motion>", pad_motion)

    def key_press(event: tk.Event) -> None:  # type: ignore[type-arg]
        if event.keysym not in state["keys_down"]:
            state["keys_down"].append(event.keysym)
            write()

    def key_release(event: tk.Event) -> None:  # type: ignore[type-arg]
        if event.keysym in state["keys_down"]:
            state["keys_down"].remove(event.keysym)
            write()

    root.bind_all("<KeyPress>", key_press, add="+")
    root.bind_all("<KeyRelease>", key_release, add="+")

    def ready() -> None:
        root.update_idletasks()
        for widget in (name, city, button, pad):
            state["widgets"][widget.winfo_name()] = [
                widget.winfo_rootx(),
                widget.winfo_rooty(),
                widget.winfo_width(),
                widget.winfo_height(),
            ]
        state["ready"] = True
        write()

    root.after(200, ready)
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
