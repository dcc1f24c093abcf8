"""How to test your own agent: scripted model replies from LocalServer, a fault, and checks.

What it shows:
    - ``LocalServer`` (``agentkit.testing.server``) is a real HTTP server that answers like vLLM;
      you script what "the model" says, in the model's own ``<tool_call>`` markup, and point your
      agent at ``srv.base_url``: the code under test is exactly what runs in production;
    - faults go into the same script (``HttpError(500)`` here: the backend retries it);
    - checks on the result, on what your tools did, and on what the server received
      (``srv.chat_requests``: ``mm_processor_kwargs``, the tools, the messages).

The ``test_*`` functions are plain pytest tests; run them either way::

    pytest examples/test_my_agent.py -q
    python examples/test_my_agent.py

With ``--base-url`` the script then also runs the agent once against a real server (a live
smoke check; a small model may of course answer differently)::

    python examples/test_my_agent.py --base-url http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from agentkit import Agent, Limits, Settings, tool
from agentkit.testing.server import HttpError, LocalServer, Reply

# ---------------------------------------------------------------------------- the agent under test


def build_agent(settings: Settings, notes: dict[str, str], max_steps: int = 5) -> Agent[str]:
    """A note-taking agent: the thing you would import from your own package."""

    @tool(risk="reversible")
    def save_note(title: str, text: str) -> str:
        """Save a note.

        Args:
            title: a short title.
            text: the note itself.
        """
        notes[title] = text
        return f"saved note {title!r}"

    return Agent(
        tools=[save_note],
        instructions="You keep the user's notes. Use save_note, then confirm in one sentence.",
        limits=Limits(max_steps=max_steps),
        settings=settings,
    )


# ---------------------------------------------------------------------------- the tests


def call(name: str, **params: str) -> str:
    """What MiniCPM-V 4.6 writes for one tool call (the Qwen3-Coder format)."""
    body = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in params.items())
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def isolated_settings(base_url: str, runs: str) -> Settings:
    """Settings isolated from the environment and config file of the machine running the tests."""
    empty = Path(runs) / "empty.toml"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text("")
    return Settings.resolve(
        env={}, config_path=empty, base_url=base_url, trajectory_dir=runs, retry_backoff_s=0.01
    )


def test_saves_a_note() -> None:
    notes: dict[str, str] = {}
    script = [
        Reply("I save it.\n" + call("save_note", title="groceries", text="milk, eggs")),
        Reply("Saved your groceries note."),
    ]
    with tempfile.TemporaryDirectory() as runs, LocalServer(script) as srv:
        agent = build_agent(isolated_settings(srv.base_url, runs), notes)
        result = agent.run("Note that I need milk and eggs.")
        requests = srv.chat_requests
    assert result.status == "completed", result.error
    assert result.output == "Saved your groceries note."
    assert notes == {"groceries": "milk, eggs"}
    assert len(requests) == 2
    first, second = requests
    assert first["mm_processor_kwargs"] == {"downsample_mode": "16x"}
    assert [t["function"]["name"] for t in first["tools"]] == ["save_note"]
    assert "saved note 'groceries'" in json.dumps(second["messages"])  # the tool result


def test_recovers_from_a_server_error() -> None:
    notes: dict[str, str] = {}
    script: list[Reply | HttpError] = [
        HttpError(500),  # a transient failure before any output: retried by the backend
        Reply(call("save_note", title="call", text="ring Ada at 5")),
        Reply("Done."),
    ]
    with tempfile.TemporaryDirectory() as runs, LocalServer(script) as srv:
        result = build_agent(isolated_settings(srv.base_url, runs), notes).run(
            "Remind me to ring Ada"
        )
        requests = srv.chat_requests
    assert result.status == "completed", result.error
    assert notes == {"call": "ring Ada at 5"}
    assert len(requests) == 3  # the failed request, its retry, and the next step


def test_a_bad_call_is_sent_back_to_the_model() -> None:
    notes: dict[str, str] = {}
    script = [
        Reply(call("save_note", title="todo")),  # `text` is missing
        Reply(call("save_note", title="todo", text="water the plants")),
        Reply("Saved."),
    ]
    with tempfile.TemporaryDirectory() as runs, LocalServer(script) as srv:
        result = build_agent(isolated_settings(srv.base_url, runs), notes).run("Water the plants")
        requests = srv.chat_requests
    assert result.status == "completed", result.error
    assert result.invalid_calls == 1
    assert notes == {"todo": "water the plants"}  # the bad call never ran
    retry = requests[1]["messages"][-1]
    assert retry["role"] == "user" and "text" in json.dumps(retry["content"])


TESTS: list[Callable[[], None]] = [
    test_saves_a_note,
    test_recovers_from_a_server_error,
    test_a_bad_call_is_sent_back_to_the_model,
]


# ---------------------------------------------------------------------------- as a script


def live_check(args: argparse.Namespace) -> bool:
    notes: dict[str, str] = {}
    settings = Settings.resolve(base_url=args.base_url, model=args.model)
    agent = build_agent(settings, notes, max_steps=args.max_steps)
    result = agent.run("Save a note titled 'groceries' with the text 'milk, eggs'.")
    print(f"live: {result.status}, notes={notes}, answer={result.output!r}")
    if result.error is not None:
        print(f"live error: {result.error}")
    print(f"live trajectory: {result.trajectory_dir}")
    return result.status == "completed" and bool(notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="also run once against this real server")
    parser.add_argument("--model", help="the served model name (default: openbmb/MiniCPM-V-4.6)")
    parser.add_argument("--max-steps", type=int, default=5, help="steps for the live check")
    args = parser.parse_args(argv)
    failed = 0
    for test in TESTS:
        try:
            test()
        except Exception:  # noqa: BLE001 - report every failing test, keep going
            failed += 1
            print(f"FAIL {test.__name__}")
            traceback.print_exc()
        else:
            print(f"PASS {test.__name__}")
    print(f"{len(TESTS) - failed} passed, {failed} failed")
    if args.base_url and not live_check(args):
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
