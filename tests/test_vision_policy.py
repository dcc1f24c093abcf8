"""The compression policy: 16x/4x decisions, their reasons, and the per-step token budget."""

from __future__ import annotations

import pytest

from agentkit.errors import ConfigurationError
from agentkit.vision import (
    AutoPolicy,
    CompressionPolicy,
    Fixed4x,
    Fixed16x,
    ModeChoice,
    PolicyState,
    image_tokens,
    make_policy,
)

FHD = [(1920, 1080)]


def test_fixed_policies() -> None:
    assert Fixed16x().choose(PolicyState(detail_requested=True)).mode == "16x"
    assert Fixed4x(max_slice_nums=36).choose(PolicyState()) == ModeChoice("4x", 36, "fixed 4x")


def test_auto_defaults_to_16x() -> None:
    choice = AutoPolicy().choose(
        PolicyState(step=1, task="Open the settings and enable dark mode", frames=FHD)
    )
    assert choice.mode == "16x" and choice.reason == "default 16x"


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (PolicyState(step=3, detail_requested=True), "detail requested"),
        (PolicyState(step=3, last_action_failed=True, small_target=True), "small target failed"),
        (PolicyState(step=3, screen_changed=False), "did not change"),
        (PolicyState(step=1, task="Read the serial number on the label"), "reading text"),
        (PolicyState(step=1, task="Transcribe the error message"), "reading text"),
    ],
)
def test_auto_switches_to_4x(state: PolicyState, reason: str) -> None:
    choice = AutoPolicy().choose(state)
    assert choice.mode == "4x"
    assert reason in choice.reason


@pytest.mark.parametrize(
    "state",
    [
        PolicyState(step=3, last_action_failed=True, small_target=False),  # failed, big target
        PolicyState(step=1, screen_changed=False),  # nothing to compare on the first step
        PolicyState(step=2, screen_changed=None),
        PolicyState(step=1, task="Spread the windows out"),  # "read" inside a word does not count
    ],
)
def test_auto_stays_16x(state: PolicyState) -> None:
    assert AutoPolicy().choose(state).mode == "16x"


def test_keywords_can_be_turned_off() -> None:
    assert AutoPolicy(read_keywords=False).choose(PolicyState(task="read it")).mode == "16x"


def test_budget_falls_back_to_16x_with_reason() -> None:
    cost_4x = image_tokens(1920, 1080, "4x").total
    cost_16x = image_tokens(1920, 1080, "16x").total
    state = PolicyState(step=2, frames=FHD, detail_requested=True)
    assert AutoPolicy(budget=cost_4x).choose(state).mode == "4x"  # exactly at the budget
    choice = AutoPolicy(budget=cost_4x - 1).choose(state)
    assert choice.mode == "16x"
    assert "budget" in choice.reason and str(cost_4x) in choice.reason
    # the state's budget wins over the policy's
    state.token_budget = cost_4x - 1
    assert AutoPolicy(budget=10_000).choose(state).mode == "16x"
    # over budget even at 16x: said so
    over = AutoPolicy(budget=cost_16x - 1).choose(PolicyState(frames=FHD))
    assert over.mode == "16x" and "even at 16x" in over.reason


def test_budget_counts_every_frame() -> None:
    two = [(1280, 720), (1280, 720)]
    one_cost = image_tokens(1280, 720, "4x").total
    state = PolicyState(step=2, frames=two, detail_requested=True)
    assert AutoPolicy(budget=one_cost + 10).choose(state).mode == "16x"
    assert AutoPolicy(budget=2 * one_cost + 10).choose(state).mode == "4x"


def test_make_policy() -> None:
    assert isinstance(make_policy("auto"), AutoPolicy)
    assert isinstance(make_policy(None), AutoPolicy)
    assert isinstance(make_policy("16x"), Fixed16x)
    assert isinstance(make_policy("4x"), Fixed4x)
    custom = Fixed4x(max_slice_nums=16)
    assert make_policy(custom) is custom
    assert isinstance(custom, CompressionPolicy)
    for bad in ("4X", "8x", object()):
        with pytest.raises(ConfigurationError):
            make_policy(bad)  # type: ignore[arg-type]


def test_custom_policy_protocol() -> None:
    class EveryThird:
        def choose(self, state: PolicyState) -> ModeChoice:
            return ModeChoice("4x" if state.step % 3 == 0 else "16x", None, "every third step")

    policy = make_policy(EveryThird())
    assert [policy.choose(PolicyState(step=s)).mode for s in (1, 2, 3)] == ["16x", "16x", "4x"]
