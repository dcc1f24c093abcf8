"""The retry policy in the agent loop: one malformed call, one constrained retry, success.

Runs once ``Agent`` takes ``grammar=`` (the lead wires :class:`agentkit.grammar.GrammarPolicy`
into the loop); skipped before that.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from agentkit import Agent, tool
from agentkit.backends._base import ModelRequest
from agentkit.grammar import GrammarPolicy
from agentkit.testing.scripted import ScriptedBackend

MALFORMED = (
    "<tool_call>\n<function=click>\n<parameter=x>\nabc\n</parameter>\n</function>\n</tool_call>"
)
VALID = (
    "<tool_call>\n<function=click>\n<parameter=x>\n5\n</parameter>\n"
    "<parameter=y>\n7\n</parameter>\n</function>\n</tool_call>"
)


@tool
def click(x: int, y: int) -> str:
    """Click a point.

    Args:
        x: horizontal position.
        y: vertical position.
    """
    return f"clicked {x},{y}"


def test_one_malformed_call_gets_one_constrained_retry(tmp_path: Path) -> None:
    if "grammar" not in inspect.signature(Agent).parameters:
        pytest.skip("Agent(grammar=...) is not wired yet")

    def constrained(request: ModelRequest) -> str:
        assert request.structured_outputs is not None
        assert request.tool_choice == "auto"
        assert re.fullmatch(request.structured_outputs["regex"], VALID)
        assert not re.fullmatch(request.structured_outputs["regex"], MALFORMED)
        return VALID

    backend = ScriptedBackend([MALFORMED, constrained, "Done."])
    agent = Agent(
        backend,
        tools=[click],
        grammar=GrammarPolicy("on_retry"),
        trajectory_dir=tmp_path,
    )
    result = agent.run("click the point")
    assert result.status == "completed", result.error
    assert [r.structured_outputs is not None for r in backend.requests] == [False, True, False]
    lines = [
        json.loads(line)
        for line in (result.trajectory_dir / "steps.jsonl").read_text().splitlines()
    ]
    steps = [line for line in lines if line["type"] == "step"]
    assert steps[0]["errors"] and steps[0]["retry"]
    assert steps[0]["request"].get("grammar") is None
    assert steps[1]["request"].get("grammar") == "regex"
    assert [c["status"] for c in steps[1]["calls"]] == ["ok"]
    assert steps[1]["calls"][0]["arguments"] == {"x": 5, "y": 7}
