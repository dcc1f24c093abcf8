"""A soak run: many scripted agent steps with injected faults, checking nothing leaks or hangs.

Runs ``runs`` agents (``concurrency`` at a time) against a :class:`LocalServer`; each agent makes
``steps_per_run`` tool calls and then answers. A fraction ``fault_rate`` of the model requests get
a server fault instead (500, 503 with Retry-After, a cut or stalled stream, garbage, an in-band
error). It reports hangs (runs that outlived their deadline: none allowed), file descriptors and
threads before and after, memory growth, and whether every run ended with a recorded status.

Run it with ``python benchmarks/soak.py`` (the long version) or call :func:`run_soak`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import resource
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SoakReport", "run_soak"]


@dataclass
class SoakReport:
    runs: int
    steps: int
    requests: int
    faults_injected: int
    statuses: dict[str, int]
    recorded: int
    hangs: int
    duration_s: float
    fds_before: int
    fds_after: int
    threads_before: int
    threads_after: int
    rss_before_mb: float
    rss_after_mb: float
    tool_calls: int
    replayed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.hangs == 0
            and self.replayed == 0
            and self.recorded == self.runs
            and self.fds_after <= self.fds_before + 8
            and self.threads_after <= self.threads_before + 2
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass(frozen=True)
class _Outcome:
    status: str
    steps: int
    tool_calls: int
    error: BaseException | None
    trajectory_dir: Path | None


def _fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux
        return -1


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_soak(
    *,
    runs: int = 40,
    steps_per_run: int = 5,
    concurrency: int = 8,
    fault_rate: float = 0.03,
    seed: int = 0,
    run_timeout_s: float = 120.0,
    trajectory_dir: str | Path | None = None,
) -> SoakReport:
    """Run the soak and return its report (see the module docstring)."""
    import httpx

    from agentkit import Agent, Limits, Settings, tool
    from agentkit.backends.openai_compat import OpenAICompatBackend
    from agentkit.testing.server import (
        Cut,
        Garbage,
        HttpError,
        InBandError,
        LocalServer,
        Reply,
        Stall,
    )

    rng = random.Random(seed)
    lock = threading.Lock()
    counts = {"requests": 0, "faults": 0}
    calls = {"n": 0}

    def fault() -> Any:
        kind = rng.choice(["500", "503", "cut", "stall", "garbage", "inband"])
        return {
            "500": HttpError(500),
            "503": HttpError(503, "busy", retry_after=0.05),
            "cut": Cut(
                reply=Reply("<tool_call>\n<function=step>\n", chunk_chars=6), after_chunks=1
            ),
            "stall": Stall(
                reply=Reply("thinking about it", chunk_chars=4), after_chunks=1, seconds=4
            ),
            "garbage": Garbage(),
            "inband": InBandError(),
        }[kind]

    def model(request: dict[str, Any]) -> Any:
        with lock:
            counts["requests"] += 1
            if rng.random() < fault_rate:
                counts["faults"] += 1
                return fault()
        done = sum(1 for m in request["messages"] if m["role"] == "tool")
        if done >= steps_per_run:
            return Reply("finished")
        return Reply(
            f"step {done + 1}\n<tool_call>\n<function=step>\n<parameter=n>\n{done + 1}\n"
            "</parameter>\n</function>\n</tool_call>",
            chunk_chars=8,
        )

    @tool
    def step(n: int) -> str:
        """Do one step of the work.

        Args:
            n: the step number.
        """
        with lock:
            calls["n"] += 1
        return f"step {n} done"

    root = Path(trajectory_dir or tempfile.mkdtemp(prefix="agentkit-soak-"))
    cfg = root / "agentkit.toml"
    root.mkdir(parents=True, exist_ok=True)
    cfg.write_text("")
    settings = Settings.resolve(env={}, config_path=cfg, trajectory_dir=str(root / "runs"))

    gc.collect()
    fds0, threads0, rss0 = _fds(), threading.active_count(), _rss_mb()
    t0 = time.monotonic()
    results: list[Any] = []
    hangs = 0
    with LocalServer(model, max_recorded=100) as srv:
        fds0, threads0 = _fds(), threading.active_count()  # the server's own thread and socket

        async def main() -> None:
            nonlocal hangs
            async with httpx.AsyncClient() as http:
                backend = OpenAICompatBackend(
                    srv.base_url,
                    settings=settings,
                    http_client=http,
                    # generous: on a small machine 32 agents share the CPU with the server
                    first_token_timeout_s=15.0,
                    idle_timeout_s=2.0,
                    max_retries=3,
                    retry_backoff_s=0.02,
                )
                agent: Agent[Any] = Agent(
                    backend,
                    tools=[step],
                    settings=settings,
                    limits=Limits(max_steps=steps_per_run * 3 + 5, stream_retries=2),
                )
                gate = asyncio.Semaphore(concurrency)

                async def one(i: int) -> None:
                    nonlocal hangs
                    async with gate:
                        try:
                            r = await asyncio.wait_for(
                                agent.run_async(f"soak task {i}"), run_timeout_s
                            )
                            # keep only the record, not the conversation: memory growth must
                            # show leaks, not results the harness holds on to
                            results.append(
                                _Outcome(r.status, r.steps, r.tool_calls, r.error, r.trajectory_dir)
                            )
                        except TimeoutError:
                            hangs += 1

                await asyncio.gather(*(one(i) for i in range(runs)))

        asyncio.run(main())
    gc.collect()
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    recorded = 0
    replayed = 0
    for r in results:
        if r.tool_calls > steps_per_run:  # a call executed twice would show here
            replayed += 1
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.error is not None:
            errors[type(r.error).__name__] = errors.get(type(r.error).__name__, 0) + 1
        try:
            assert r.trajectory_dir is not None
            meta = json.loads((r.trajectory_dir / "run.json").read_text())
            last = (r.trajectory_dir / "steps.jsonl").read_text().splitlines()[-1]
            if meta["status"] == r.status and json.loads(last)["type"] == "end":
                recorded += 1
        except (OSError, ValueError, KeyError, IndexError):
            pass
    return SoakReport(
        runs=runs,
        steps=sum(r.steps for r in results),
        requests=counts["requests"],
        faults_injected=counts["faults"],
        statuses=statuses,
        recorded=recorded,
        hangs=hangs,
        duration_s=round(time.monotonic() - t0, 2),
        fds_before=fds0,
        fds_after=_fds(),
        threads_before=threads0,
        threads_after=threading.active_count(),
        rss_before_mb=round(rss0, 1),
        rss_after_mb=round(_rss_mb(), 1),
        tool_calls=calls["n"],
        replayed=replayed,
        errors=errors,
    )
