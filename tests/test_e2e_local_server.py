"""End to end: the sync Agent over real HTTP against the local vLLM-like server."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit import Agent, Settings, tool
from agentkit.backends.openai_compat import OpenAICompatBackend
from agentkit.testing.server import LocalServer, Reply
from tests.helpers import call_text, read_run


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    cfg = tmp_path / "agentkit.toml"
    cfg.write_text("")
    return Settings.resolve(env={}, config_path=cfg, trajectory_dir=str(tmp_path / "runs"))


def form_tools(state: dict) -> list:
    @tool
    def type_text(text: str) -> str:
        """Type text into the focused field.

        Args:
            text: what to type.
        """
        state.setdefault("typed", []).append(text)
        return "ok"

    @tool
    def click(x: int, y: int) -> str:
        """Click a point of the screen.

        Args:
            x: horizontal position, 0-1000.
            y: vertical position, 0-1000.
        """
        state.setdefault("clicks", []).append((x, y))
        return "clicked"

    return [type_text, click]


@pytest.mark.parametrize("server_parses", [False, True], ids=["raw-text", "server-tool-calls"])
def test_three_step_task_with_a_malformed_second_reply(
    settings: Settings, server_parses: bool
) -> None:
    state: dict = {}
    script = [
        Reply("Typing the name.\n" + call_text("type_text", text="Zoë Ålund")),
        # the second reply is malformed: `y` holds prose where an integer is required
        Reply(call_text("click", x=120, y="the OK button")),
        Reply(call_text("click", x=120, y=880)),
        Reply("Done: the form is submitted."),
    ]
    with LocalServer(script, parse_tool_calls=server_parses) as srv:
        backend = OpenAICompatBackend(srv.base_url, settings=settings)
        agent = Agent(backend, tools=form_tools(state), settings=settings, policy="16x")
        result = agent.run("Fill in the name and press OK")
        chats = [r.json for r in srv.requests if r.path.endswith("/chat/completions")]

    assert result.status == "completed", result.error
    assert result.output == "Done: the form is submitted."
    # the bad call never ran; the good ones did, with typed values
    assert state == {"typed": ["Zoë Ålund"], "clicks": [(120, 880)]}
    # the retry message reached the model
    retry = chats[2]["messages"][-1]
    assert retry["role"] == "user"
    assert "not valid" in str(retry["content"]) and "y" in str(retry["content"])
    # every request carries the exact mode string and the template settings
    for body in chats:
        assert body["mm_processor_kwargs"] == {"downsample_mode": "16x"}
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
        assert body["temperature"] == 0
    # the trajectory holds every step, then the end
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "completed"
    assert [x["type"] for x in lines] == ["step"] * 4 + ["end"]
    assert lines[1]["errors"][0]["kind"] == "bad_value"
    assert lines[1]["calls"] == []


def test_two_sync_runs_reuse_one_backend(settings: Settings) -> None:
    with LocalServer([Reply("one"), Reply("two")]) as srv:
        agent = Agent(OpenAICompatBackend(srv.base_url, settings=settings), settings=settings)
        assert agent.run("first").output == "one"
        assert agent.run("second").output == "two"


def test_server_down_is_a_typed_failure_with_the_url(settings: Settings) -> None:
    with LocalServer([]) as srv:
        url = srv.base_url
    agent = Agent(OpenAICompatBackend(url, settings=settings, max_retries=0), settings=settings)
    result = agent.run("anything")
    assert result.status == "failed"
    assert url.split("/v1")[0] in str(result.error)
    meta, lines = read_run(result.trajectory_dir)
    assert meta["status"] == "failed" and lines[-1]["type"] == "end"
