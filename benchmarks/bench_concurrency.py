"""Benchmark of N concurrent agents against a zero-latency local server (not a test).

For N in ``--levels`` (default 1, 8, 32, 64) one ``Agent`` runs ``max(N, --min-runs)`` tasks
through ``Agent.run_many_async(tasks, concurrency=N)`` against a ``LocalServer`` that answers at
once (``--steps`` tool calls, then a final answer). The server runs in a child process so that
its CPU is measured apart: the client's CPU per step (``time.process_time`` of this process, all
threads: the event loop, HTTP, parsing, and the encoder threads) is the agent side only.

Two workloads: ``screenshot`` (a fresh 1920x1080 desktop screenshot encoded and sent every step,
with the default bounded history) and ``text_only`` (no frame source: the SDK's own cost).

The point: the client is never the bottleneck. On the GPU machine the server spends about 130 ms
of serial CPU preprocessing each 1080p screenshot (../shared/gpu/README.md); the report sets the
client's CPU per step beside that figure.

    python benchmarks/bench_concurrency.py [--levels 1,8,32,64] [--steps 4] [--min-runs 8]
                                           [--workloads screenshot,text_only]
                                           [--out benchmarks/results/concurrency.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench_overhead import (  # noqa: E402
    SERVER_MODEL,
    load_average,
    machine,
    make_agent,
    screenshots,
    server_process,
    settings_for,
)

# Measured on the H100 with vLLM 0.22 (../shared/gpu/README.md): serial CPU preprocessing of one
# fresh 1920x1080 screenshot in the API-server process.
SERVER_PREPROCESS_MS_PER_1080P = 130.0


def _rusage_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _level(
    base_url: str, n: int, runs: int, steps: int, frames: Any, settings: Any
) -> dict[str, Any]:
    import httpx

    from agentkit.backends.openai_compat import OpenAICompatBackend

    limits = httpx.Limits(max_connections=max(n, 10), max_keepalive_connections=max(n, 10))
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120, connect=10)) as http:
        backend = OpenAICompatBackend(
            base_url,
            SERVER_MODEL,
            settings=settings,
            http_client=http,
            first_token_timeout_s=120,
            idle_timeout_s=60,
        )
        agent = make_agent(backend, frames, settings, steps)
        lags: list[float] = []
        monitor = asyncio.create_task(_watch_loop(lags))
        t0 = time.perf_counter()
        try:
            results = await agent.run_many_async([f"task {i}" for i in range(runs)], concurrency=n)
        finally:
            wall = time.perf_counter() - t0
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
    step_times = []
    for r in results:
        if r.trajectory_dir is None:
            continue
        for line in (r.trajectory_dir / "steps.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if rec.get("type") == "step":
                step_times.append(rec["timings"]["step_s"])
    return {
        "completed": sum(r.status == "completed" for r in results),
        "statuses": sorted({r.status for r in results}),
        "steps": sum(r.steps for r in results),
        "wall_s": wall,
        "step_s_median_ms": round(statistics.median(step_times) * 1000, 2) if step_times else None,
        "loop_lag_ms": _lag_stats(lags),
    }


LAG_TICK_S = 0.005


async def _watch_loop(lags: list[float]) -> None:
    """How late a 5 ms timer fires: the time the event loop spent blocked by other work."""
    while True:
        t = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        lags.append(max(0.0, time.perf_counter() - t - LAG_TICK_S))


def _lag_stats(lags: list[float]) -> dict[str, float | None]:
    if not lags:
        return {"median": None, "p95": None, "max": None}
    s = sorted(lags)
    return {
        "median": round(statistics.median(s) * 1000, 2),
        "p95": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))] * 1000, 2),
        "max": round(s[-1] * 1000, 2),
    }


def measure(levels: list[int], steps: int, min_runs: int, workloads: list[str]) -> dict[str, Any]:
    frames = screenshots(4)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="agentkit-bench-") as tmp:
        settings = settings_for(Path(tmp))
        with server_process(steps) as srv:
            # warm-up: imports, the first connection, the encoder
            asyncio.run(_level(srv.base_url, 1, 1, 1, frames, settings))
            for workload in workloads:
                rows = []
                for n in levels:
                    runs = max(n, min_runs)
                    use = frames if workload == "screenshot" else None
                    s0, c0, r0, w0 = (
                        srv.cpu_s(),
                        time.process_time(),
                        _rusage_s(),
                        time.perf_counter(),
                    )
                    got = asyncio.run(_level(srv.base_url, n, runs, steps, use, settings))
                    s1, c1, r1, w1 = (
                        srv.cpu_s(),
                        time.process_time(),
                        _rusage_s(),
                        time.perf_counter(),
                    )
                    k = max(1, got["steps"])
                    client_ms = (c1 - c0) * 1000 / k
                    rows.append(
                        {
                            "agents": n,
                            "runs": runs,
                            "completed": got["completed"],
                            "statuses": got["statuses"],
                            "steps": got["steps"],
                            "wall_s": round(got["wall_s"], 3),
                            "steps_per_s": round(got["steps"] / got["wall_s"], 2),
                            "client_cpu_ms_per_step": round(client_ms, 3),
                            "client_rusage_ms_per_step": round((r1 - r0) * 1000 / k, 3),
                            "server_cpu_ms_per_step": round((s1 - s0) * 1000 / k, 3),
                            "client_cpu_utilisation": round((c1 - c0) / (w1 - w0), 3),
                            "step_s_median_ms": got["step_s_median_ms"],
                            "loop_lag_ms": got["loop_lag_ms"],
                            "client_steps_per_cpu_s": round(1000 / client_ms, 1)
                            if client_ms > 0
                            else None,
                            "load_average_1m": load_average(),
                        }
                    )
                    print(
                        f"[{workload}] {n:3d} agents: {rows[-1]['steps_per_s']:7.1f} steps/s, "
                        f"client {client_ms:6.2f} ms CPU/step, server {rows[-1]['server_cpu_ms_per_step']:6.2f}",
                        flush=True,
                    )
                out[workload] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--levels", default="1,8,32,64")
    ap.add_argument(
        "--steps", type=int, default=4, help="tool-call steps per run (plus the final answer)"
    )
    ap.add_argument(
        "--min-runs",
        type=int,
        default=8,
        help="runs per level at least (N agents run max(N, this))",
    )
    ap.add_argument("--workloads", default="screenshot,text_only")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "concurrency.json"))
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(workloads) - {"screenshot", "text_only"}
    if unknown:
        ap.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    machine_at_start = machine()
    rows = measure(levels, args.steps, args.min_runs, workloads)
    shot = rows.get("screenshot", [])
    worst = max((r["client_cpu_ms_per_step"] for r in shot), default=None)
    result = {
        "benchmark": "concurrency",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_at_start,
        "load_average_1m_at_end": load_average(),
        "command": "python benchmarks/bench_concurrency.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "config": {
            "levels": levels,
            "steps": args.steps,
            "min_runs": args.min_runs,
            "frame": "1920x1080",
        },
        "workloads": rows,
        "server_preprocess_ms_per_1080p_gpu": SERVER_PREPROCESS_MS_PER_1080P,
        "client_cpu_ms_per_step_worst_screenshot": worst,
        "server_to_client_cpu_ratio": round(SERVER_PREPROCESS_MS_PER_1080P / worst, 2)
        if worst
        else None,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
