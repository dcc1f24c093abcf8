"""The safety policy: allow/deny, dry run, confirmation, risk rules, redaction, the kill switch."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from agentkit.errors import ConfigurationError
from agentkit.safety import KillSwitch, SafetyPolicy, Verdict
from agentkit.tools import Risk, Tool, ToolCall, tool


@tool(risk="read_only")
def look() -> str:
    """Look at the screen."""
    return "a screen"


@tool(risk="reversible")
def click(x: int, y: int) -> str:
    """Click."""
    return "clicked"


@tool(risk="destructive")
def delete_file(path: str) -> str:
    """Delete a file."""
    return "deleted"


def make_call(t: Tool, **arguments: Any) -> ToolCall:
    return ToolCall("call_1_1", t.name, arguments, t.validate(arguments), t)


async def test_defaults_run_safe_tools_and_refuse_destructive_without_confirmer() -> None:
    policy = SafetyPolicy()
    assert await policy.review(make_call(look)) == Verdict("run", "read_only tool")
    assert (await policy.review(make_call(click, x=1, y=2))).decision == "run"
    verdict = await policy.review(make_call(delete_file, path="/etc/passwd"))
    assert verdict.decision == "refuse"
    assert verdict.reason == (
        "'delete_file' is a destructive action and needs a person's confirmation, but no "
        "confirmer is configured"
    )
    assert not verdict.allowed


async def test_deny_wins_over_allow() -> None:
    policy = SafetyPolicy(allow=["click", "look"], deny=["click"])
    verdict = await policy.review(make_call(click, x=1, y=1))
    assert verdict == Verdict("refuse", "the tool 'click' is on this agent's deny list")
    assert (await policy.review(make_call(look))).decision == "run"


async def test_not_in_allow_list_is_refused_and_the_reason_lists_the_allowed() -> None:
    policy = SafetyPolicy(allow=["look"])
    verdict = await policy.review(make_call(click, x=1, y=1))
    assert verdict.decision == "refuse"
    assert "not on this agent's allow list (allowed: look)" in verdict.reason


async def test_dry_run_records_everything_but_read_only() -> None:
    asked: list[str] = []
    policy = SafetyPolicy(dry_run=True, confirmer=lambda c: asked.append(c.name) or True)
    assert (await policy.review(make_call(look))).decision == "run"
    click_verdict = await policy.review(make_call(click, x=1, y=1))
    assert click_verdict == Verdict(
        "dry_run", "dry-run mode: the reversible call 'click' is only recorded"
    )
    assert (await policy.review(make_call(delete_file, path="x"))).decision == "dry_run"
    assert asked == []  # nothing is confirmed because nothing runs


async def test_deny_list_still_refuses_in_dry_run() -> None:
    policy = SafetyPolicy(dry_run=True, deny=["delete_file"])
    assert (await policy.review(make_call(delete_file, path="x"))).decision == "refuse"


@pytest.mark.parametrize("answer", [True, False])
async def test_sync_confirmer_yes_and_no(answer: bool) -> None:
    seen: list[ToolCall] = []

    def confirm(call: ToolCall) -> bool:
        seen.append(call)
        return answer

    policy = SafetyPolicy(confirmer=confirm)
    verdict = await policy.review(make_call(delete_file, path="a.txt"))
    assert seen[0].arguments == {"path": "a.txt"}
    if answer:
        assert verdict == Verdict("run", "destructive action 'delete_file' confirmed")
    else:
        assert verdict == Verdict(
            "refuse", "'delete_file' is a destructive action and the confirmation said no"
        )


async def test_async_confirmer() -> None:
    async def confirm(call: ToolCall) -> bool:
        await asyncio.sleep(0)
        return call.arguments["path"] == "tmp.txt"

    policy = SafetyPolicy(confirmer=confirm)
    assert (await policy.review(make_call(delete_file, path="tmp.txt"))).decision == "run"
    assert (await policy.review(make_call(delete_file, path="home"))).decision == "refuse"


async def test_only_a_real_true_confirms() -> None:
    policy = SafetyPolicy(confirmer=lambda call: "yes")  # type: ignore[arg-type,return-value]
    assert (await policy.review(make_call(delete_file, path="x"))).decision == "refuse"


async def test_confirmer_timeout_says_no() -> None:
    release = threading.Event()

    def slow(call: ToolCall) -> bool:
        release.wait(5)
        return True

    policy = SafetyPolicy(confirmer=slow, confirm_timeout_s=0.1)
    t = time.monotonic()
    verdict = await policy.review(make_call(delete_file, path="x"))
    release.set()
    assert time.monotonic() - t < 1.0
    assert verdict == Verdict(
        "refuse",
        "'delete_file' is a destructive action and the confirmation got no answer within 0.1 s",
    )


async def test_async_confirmer_timeout_and_failure() -> None:
    async def never(call: ToolCall) -> bool:
        await asyncio.sleep(10)
        return True

    def broken(call: ToolCall) -> bool:
        raise RuntimeError("tty closed")

    timed_out = await SafetyPolicy(confirmer=never, confirm_timeout_s=0.05).review(
        make_call(delete_file, path="x")
    )
    assert "no answer within 0.05 s" in timed_out.reason
    failed = await SafetyPolicy(confirmer=broken).review(make_call(delete_file, path="x"))
    assert failed == Verdict(
        "refuse", "'delete_file' is a destructive action and the confirmation failed (RuntimeError)"
    )


async def test_risk_rules_raise_but_never_lower() -> None:
    def by_argument(call: ToolCall) -> Risk | None:
        return Risk.DESTRUCTIVE if call.arguments.get("x") == 0 else Risk.READ_ONLY

    policy = SafetyPolicy(rules=[by_argument])
    assert policy.risk_of(make_call(click, x=0, y=0)) is Risk.DESTRUCTIVE
    assert policy.risk_of(make_call(click, x=5, y=0)) is Risk.REVERSIBLE  # not lowered
    assert (await policy.review(make_call(click, x=0, y=0))).decision == "refuse"


async def test_a_failing_rule_fails_closed() -> None:
    def broken(call: ToolCall) -> Risk | None:
        raise KeyError("oops")

    policy = SafetyPolicy(rules=[broken])
    assert policy.risk_of(make_call(look)) is Risk.DESTRUCTIVE


async def test_a_tool_can_carry_its_own_rule() -> None:
    def press(keys: str) -> str:
        """Press keys."""
        return keys

    press.risk_rule = lambda call: Risk.DESTRUCTIVE if "delete" in call.arguments["keys"] else None  # type: ignore[attr-defined]
    t = tool(press)
    policy = SafetyPolicy()
    assert (await policy.review(make_call(t, keys="ctrl+alt+delete"))).decision == "refuse"
    assert (await policy.review(make_call(t, keys="ctrl+s"))).decision == "run"


def test_bad_configuration() -> None:
    with pytest.raises(ConfigurationError, match="confirm_timeout_s"):
        SafetyPolicy(confirm_timeout_s=0)
    with pytest.raises(ConfigurationError, match="allow must list tool names"):
        SafetyPolicy(allow=[1])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="secrets must be strings"):
        SafetyPolicy(secrets=[b"x"])  # type: ignore[list-item]
    assert SafetyPolicy(allow="look").allow == frozenset({"look"})


# ------------------------------------------------------------------ secrets


def test_redact_text_and_json_escaped_forms() -> None:
    secret = 'pa"ss\\wörd\n'
    policy = SafetyPolicy(secrets=[secret, ""])
    assert policy.redact(f"login with {secret} now") == "login with [secret] now"
    as_json = json.dumps({"typed": f"x{secret}y"})  # ensure_ascii: \u00f6 and escapes
    assert secret not in policy.redact(as_json)
    assert "[secret]" in policy.redact(as_json)
    assert json.dumps(secret)[1:-1] not in policy.redact(as_json)
    raw_json = json.dumps({"typed": secret}, ensure_ascii=False)
    assert policy.redact(raw_json) == '{"typed": "[secret]"}'


def test_redact_obj_walks_nested_values_and_keys() -> None:
    policy = SafetyPolicy(secrets=["hunter2", "tok_123"])
    obj = {
        "calls": [
            {"name": "type_text", "arguments": {"text": "my password is hunter2"}},
            ("tok_123", 5, None, 1.5, True),
        ],
        "hunter2": {"deep": [[["xx hunter2 xx"]]]},
        "n": 3,
    }
    out = policy.redact_obj(obj)
    assert out == {
        "calls": [
            {"name": "type_text", "arguments": {"text": "my password is [secret]"}},
            ("[secret]", 5, None, 1.5, True),
        ],
        "[secret]": {"deep": [[["xx [secret] xx"]]]},
        "n": 3,
    }
    assert obj["calls"][0]["arguments"]["text"] == "my password is hunter2"  # a copy
    assert "hunter2" not in json.dumps(out)


def test_longer_secret_is_hidden_whole() -> None:
    policy = SafetyPolicy(secrets=["abc", "abcdef"])
    assert policy.redact("xabcdefx") == "x[secret]x"


def test_no_secrets_is_identity_and_repr_hides_them() -> None:
    obj = {"a": ["b"]}
    assert SafetyPolicy().redact_obj(obj) is obj
    policy = SafetyPolicy(secrets=["hunter2"])
    policy.add_secret("s3cr3t")
    assert "hunter2" not in repr(policy) and "s3cr3t" not in repr(policy)
    assert policy.redact("s3cr3t") == "[secret]"
    assert policy.secrets == ("hunter2", "s3cr3t")


# ------------------------------------------------------------------ kill switch


def test_kill_switch_trips_once_and_runs_callbacks() -> None:
    switch = KillSwitch()
    seen: list[str] = []
    switch.on_trip(seen.append)
    assert not switch.tripped and switch.reason is None
    assert switch.wait(0.01) is False
    threading.Thread(target=switch.trip, args=("SIGINT",)).start()
    assert switch.wait(2.0) is True
    switch.trip("second")
    assert switch.reason == "SIGINT"
    assert seen == ["SIGINT"]
    late: list[str] = []
    switch.on_trip(late.append)  # registered after tripping: runs at once
    assert late == ["SIGINT"]
    switch.reset()
    assert not switch.tripped and switch.reason is None
    switch.trip("again")  # callbacks stay registered across a reset
    assert seen == ["SIGINT", "again"] and late == ["SIGINT", "again"]


async def test_kill_switch_async_wait_from_another_thread() -> None:
    switch = KillSwitch()
    assert await switch.wait_async(timeout=0.01) is False
    timer = threading.Timer(0.05, switch.trip, args=("key combination",))
    timer.start()
    t = time.monotonic()
    assert await switch.wait_async(timeout=5) is True
    assert time.monotonic() - t < 1.0
    assert await switch.wait_async() is True  # already tripped
    timer.join()


def test_kill_switch_callback_errors_do_not_stop_others() -> None:
    switch = KillSwitch()
    seen: list[str] = []

    def broken(reason: str) -> None:
        raise RuntimeError("x")

    switch.on_trip(broken)
    switch.on_trip(seen.append)
    switch.trip("stop")
    assert seen == ["stop"]
