"""Small helpers shared by the tests (not a fixture module: import what you need)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def call_text(name: str, /, **params: Any) -> str:
    """The markup MiniCPM-V 4.6 writes for one tool call."""
    lines = ["<tool_call>", f"<function={name}>"]
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value)
        lines += [f"<parameter={key}>", text, "</parameter>"]
    lines += ["</function>", "</tool_call>"]
    return "\n".join(lines)


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    meta = json.loads((run_dir / "run.json").read_text())
    lines = [json.loads(x) for x in (run_dir / "steps.jsonl").read_text().splitlines()]
    return meta, lines
