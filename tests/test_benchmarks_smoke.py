"""Smoke test of the benchmark suite: each script runs in a tiny configuration and writes valid JSON.

Nothing here is timed: the figures of a quick run are meaningless, only their shape is checked.
The five benchmarks run in parallel (in their own processes) to keep this file fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import make_report  # noqa: E402
import run_all  # noqa: E402

EXPECTED_KEYS = {
    "parser": {"realistic", "hostile"},
    "vision": {"history", "coarse_to_fine"},
    "overhead": {"parts", "steps", "machine", "command"},
    "concurrency": {"workloads", "machine", "command"},
    "soak": {"runs", "hangs", "ok"},
}


@pytest.fixture(scope="module")
def quick_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, tuple[int, str]]]:
    out = tmp_path_factory.mktemp("bench-results")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    # bench_vision's capture part needs Xvfb and takes the longest; it has its own tests, so here
    # it runs with Xvfb out of sight (the part is then skipped and says so in the JSON)
    no_x = tmp_path_factory.mktemp("bin")
    procs = {}
    for name in run_all.SUITE:
        cmd = run_all.command(name, True, out)
        e = dict(env, PATH=str(no_x)) if name == "vision" else env
        procs[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    outcome = {}
    for name, proc in procs.items():
        try:
            text, _ = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            text, _ = proc.communicate()
        outcome[name] = (proc.returncode, text[-3000:])
    return out, outcome


@pytest.mark.parametrize("name", list(run_all.SUITE))
def test_benchmark_writes_valid_json(
    quick_results: tuple[Path, dict[str, tuple[int, str]]], name: str
) -> None:
    out, outcome = quick_results
    rc, text = outcome[name]
    assert rc == 0, text
    data = json.loads((out / run_all.SUITE[name][3]).read_text(encoding="utf-8"))
    assert EXPECTED_KEYS[name] <= set(data), sorted(data)


def test_overhead_and_concurrency_shapes(
    quick_results: tuple[Path, dict[str, tuple[int, str]]],
) -> None:
    out, _ = quick_results
    ov = json.loads((out / "overhead.json").read_text())
    for part in (
        "encode_frame",
        "build_body",
        "parse_stream",
        "validate",
        "dispatch",
        "save_frame",
        "write_step",
    ):
        assert ov["parts"][part]["median_ms"] > 0
    for workload in ("screenshot", "text_only"):
        for backend in ("scripted", "local_server"):
            assert ov["steps"][workload][backend]["step_s"]["median_ms"] > 0
    cc = json.loads((out / "concurrency.json").read_text())
    for rows in cc["workloads"].values():
        assert [r["agents"] for r in rows] == [1, 4]
        for r in rows:
            assert r["completed"] == r["runs"]
            assert r["steps"] == 2 * r["runs"]  # one tool call, then the answer
            assert r["client_cpu_ms_per_step"] > 0 and r["server_cpu_ms_per_step"] > 0


def test_run_all_refuses_unknown_names() -> None:
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nonsense"])


def test_run_all_runs_and_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_all.main(["--quick", "--only", "soak", "--out-dir", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "run_all.json").read_text())
    assert summary["quick"] is True
    assert summary["benchmarks"]["soak"]["ok"] is True
    assert (tmp_path / "soak_short.json").exists()
    assert "soak" in capsys.readouterr().out


def _fake_gpu() -> dict[str, Any]:
    """The shape benchmarks/gpu_bench.py writes, with made-up values (never committed)."""

    def s(m: float) -> dict[str, float]:
        return {"n": 4, "median": m, "p95": m * 1.2, "min": m * 0.9, "max": m * 1.3}

    return {
        "date": "2026-01-01 00:00:00 UTC",
        "machine": "test-gpu",
        "python": "3.11",
        "weights": "random",
        "out_tokens": 64,
        "server_args": "",
        "overhead": {
            "ak_ttft": s(0.2),
            "raw_ttft": s(0.19),
            "ak_total": s(0.4),
            "raw_total": s(0.39),
            "ratio_ttft": 1.0123,
            "ratio_step": 1.01,
        },
        "modes": {
            "text_only_prompt_tokens": 40,
            "rows": [
                {
                    "size": "1920x1080",
                    "mode": "4x",
                    "server_image_tokens": 2334,
                    "agentkit_image_tokens": 2334,
                    "equal": True,
                    "ttft": s(0.3),
                }
            ],
        },
        "concurrency": [
            {
                "agents": n,
                "completed": n,
                "wall_s": 1.0,
                "output_tokens_per_s": 100.0 * n,
                "steps_per_s": 1.0,
                "ttft": s(0.1 * n),
            }
            for n in (1, 8, 32)
        ],
        "raw_concurrency": {
            "requests": 32,
            "wall_s": 1.0,
            "output_tokens_per_s": 4000.0,
            "ttft": s(3.0),
        },
        "images": {
            "jpeg_presized": {
                "bytes_per_image": 1000,
                "sent_size": "1792x896",
                "single_ttft": s(0.2),
                "concurrent32_ttft": s(2.0),
                "concurrent32_output_tokens_per_s": 500.0,
            }
        },
    }


def test_make_report(
    quick_results: tuple[Path, dict[str, tuple[int, str]]], tmp_path: Path
) -> None:
    out, _ = quick_results
    results = tmp_path / "results"
    shutil.copytree(out, results)
    docs = tmp_path / "docs"
    assert make_report.main(["--results", str(results), "--docs", str(docs)]) == 0
    page = (docs / "BENCHMARKS.md").read_text(encoding="utf-8")
    for heading in (
        "## Summary",
        "## Step overhead",
        "## Concurrent agents",
        "## Visual tokens per step",
        "## Tool-call parser",
        "## Soak",
        "## Real vLLM on the GPU",
    ):
        assert heading in page
    assert "random weights" in page
    gpu_part = page.split("## Real vLLM on the GPU", 1)[1].split("## Embedded", 1)[0]
    assert "Not measured yet" in gpu_part
    assert "Reproduce: `python benchmarks/bench_overhead.py" in page
    assert not (docs / "img" / "bench_gpu_ttft.png").exists()

    (results / "gpu.json").write_text(json.dumps(_fake_gpu()))
    assert make_report.main(["--results", str(results), "--docs", str(docs)]) == 0
    page = (docs / "BENCHMARKS.md").read_text(encoding="utf-8")
    gpu_part = page.split("## Real vLLM on the GPU", 1)[1].split("## Embedded", 1)[0]
    assert "Not measured yet" not in gpu_part
    assert "1.012" in page  # the agentkit / bare client ratio
    assert "80%" in page  # 3200 / 4000 tokens/s at 32 agents
    assert "2,334" in gpu_part
    assert "## Embedded vLLM backend" in page

    embedded = {
        "date": "2026-01-01",
        "out_tokens": 64,
        "engine_start_s": 100.0,
        "single_16x_s": [0.5],
        "prompt_tokens_16x": 612,
        "batch32_16x": {"wall_s": 2.0, "output_tokens_per_s": 1024.0, "median_request_s": 1.9},
    }
    (results / "gpu_embedded.json").write_text(json.dumps(embedded))
    assert make_report.main(["--results", str(results), "--docs", str(docs)]) == 0
    page = (docs / "BENCHMARKS.md").read_text(encoding="utf-8")
    embedded_part = page.split("## Embedded vLLM backend", 1)[1]
    assert "Not measured yet" not in embedded_part
    assert "1,024.0" in embedded_part and "3,200.0" in embedded_part  # beside the server at 32
    assert "### gpu_embedded" not in page.split("## Embedded vLLM backend", 1)[0]
    if make_report._pyplot() is None:
        pytest.skip("matplotlib is not installed: plots not checked")
    for name in ("bench_overhead.png", "bench_concurrency.png", "bench_gpu_ttft.png"):
        assert (docs / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_make_report_with_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    assert make_report.main(["--results", str(tmp_path / "empty"), "--docs", str(docs)]) == 0
    page = (docs / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert page.count("Not measured yet") >= 6
    assert not list((docs / "img").glob("*.png"))
