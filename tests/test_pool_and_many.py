"""Several replicas behind one backend, and many agents at once on one connection pool."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from agentkit import Agent, Settings, tool
from agentkit.backends import ModelRequest, complete
from agentkit.backends.openai_compat import OpenAICompatBackend
from agentkit.backends.pool import EndpointPool
from agentkit.errors import ServerUnavailableError
from agentkit.messages import Message
from agentkit.testing import ScriptedBackend, ScriptedReply
from agentkit.testing.server import HttpError, LocalServer, Reply
from tests.helpers import call_text, read_run


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    cfg = tmp_path / "agentkit.toml"
    cfg.write_text("")
    return Settings.resolve(env={}, config_path=cfg, trajectory_dir=str(tmp_path / "runs"))


def request() -> ModelRequest:
    return ModelRequest(messages=[Message("user", "hi")])


def test_least_outstanding_spreads_concurrent_requests() -> None:
    slow = [ScriptedReply("a" * 20, chunk_chars=2, delay_s=0.01)] * 4
    a, b = ScriptedBackend(slow), ScriptedBackend(slow)
    pool = EndpointPool([a, b])

    async def go() -> None:
        await asyncio.gather(*(complete(pool, request()) for _ in range(4)))

    asyncio.run(go())
    assert len(a.requests) == 2 and len(b.requests) == 2


def test_failover_before_output_and_cooldown() -> None:
    down = ScriptedBackend([ServerUnavailableError("refused", url="http://r1/v1")] * 3)
    up = ScriptedBackend(["one", "two"])
    pool = EndpointPool([down, up], cooldown_s=60)
    assert asyncio.run(complete(pool, request())).text == "one"
    # the failed replica is cooling down: the next request goes straight to the healthy one
    assert asyncio.run(complete(pool, request())).text == "two"
    assert len(down.requests) == 1
    assert [s["healthy"] for s in pool.stats()] == [False, True]


def test_all_replicas_down_raises_the_last_error() -> None:
    pool = EndpointPool(
        [
            ScriptedBackend([ServerUnavailableError("r1 down")]),
            ScriptedBackend([ServerUnavailableError("r2 down")]),
        ]
    )
    with pytest.raises(ServerUnavailableError, match="down"):
        asyncio.run(complete(pool, request()))


def test_pool_over_two_real_servers_with_health_checks(settings: Settings) -> None:
    with LocalServer([HttpError(503, "loading")] * 5) as bad, LocalServer(["ok"] * 3) as good:
        pool = EndpointPool([bad.base_url, good.base_url], settings=settings, max_retries=0)

        async def go() -> tuple[dict, str]:
            health = await pool.check_health(timeout_s=0.5)
            text = (await complete(pool, request())).text
            await pool.aclose()
            return health, text

        health, text = asyncio.run(go())
    assert text == "ok"
    assert health[good.base_url] is True


def test_many_agents_share_one_connection_pool(settings: Settings) -> None:
    done: list[int] = []

    @tool
    def mark(n: int) -> str:
        """Mark a task done.

        Args:
            n: the task number.
        """
        done.append(n)
        return "marked"

    def model(req: dict) -> Reply:
        last = req["messages"][-1]
        if last["role"] == "tool":
            return Reply("finished")
        n = int(str(last["content"]).split()[-1])
        return Reply(call_text("mark", n=n))

    with LocalServer(model) as srv:

        async def go_and_count() -> tuple[list, int]:
            async with httpx.AsyncClient() as http:
                backend = OpenAICompatBackend(srv.base_url, settings=settings, http_client=http)
                agent = Agent(backend, tools=[mark], settings=settings)
                res = await agent.run_many_async([f"task {i}" for i in range(12)], concurrency=4)
                return res, len(srv.requests)

        results, requests = asyncio.run(go_and_count())
        assert requests == 24  # 24 requests over at most 4 kept-alive connections
    assert [r.status for r in results] == ["completed"] * 12
    assert sorted(done) == list(range(12))
    dirs = {r.trajectory_dir for r in results}
    assert len(dirs) == 12
    for r in results:
        meta, lines = read_run(r.trajectory_dir)
        assert meta["status"] == "completed" and len([x for x in lines if x["type"] == "step"]) == 2
