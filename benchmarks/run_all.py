"""Run every CPU benchmark, each writing its JSON under benchmarks/results/ (not a test).

    python benchmarks/run_all.py            # the full suite (a few minutes on 2 cores)
    python benchmarks/run_all.py --quick    # tiny configurations (a smoke run, figures meaningless)
    python benchmarks/run_all.py --only overhead,concurrency
    python benchmarks/make_report.py        # then regenerate docs/BENCHMARKS.md and its plots

Benchmarks: parser (bench_parser.py), vision (bench_vision.py, needs Xvfb for its capture part),
overhead (bench_overhead.py), concurrency (bench_concurrency.py), soak (soak.py, the short
version: 60 runs of 5 steps, written to soak_short.json so a longer soak.json is kept). The GPU
figures come from benchmarks/gpu_bench.py on the GPU machine (see its docstring).

A summary of what ran (command, exit status, seconds) goes to ``run_all.json``. The exit status is
non-zero when any benchmark failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"

# name -> (script, full arguments, quick arguments, output file name)
SUITE: dict[str, tuple[str, list[str], list[str], str]] = {
    "parser": (
        "bench_parser.py",
        ["--runs", "5"],
        ["--runs", "1", "--outputs", "20"],
        "parser.json",
    ),
    "vision": ("bench_vision.py", ["--runs", "15"], ["--runs", "1"], "vision.json"),
    "overhead": (
        "bench_overhead.py",
        ["--runs", "5", "--steps", "10", "--reps", "30"],
        ["--runs", "1", "--steps", "2", "--reps", "2", "--size", "640x360"],
        "overhead.json",
    ),
    "concurrency": (
        "bench_concurrency.py",
        ["--levels", "1,8,32,64", "--steps", "4", "--min-runs", "8"],
        ["--levels", "1,4", "--steps", "1", "--min-runs", "2"],
        "concurrency.json",
    ),
    "soak": (
        "soak.py",
        ["--runs", "60", "--steps", "5"],
        ["--runs", "4", "--steps", "2", "--concurrency", "4"],
        "soak_short.json",
    ),
}


def command(name: str, quick: bool, out_dir: Path) -> list[str]:
    script, full, small, out = SUITE[name]
    target = out_dir.resolve() / out
    try:  # relative to the repository root (the benchmarks run there), so recorded commands are portable
        shown = str(target.relative_to(ROOT))
    except ValueError:
        shown = str(target)
    return [sys.executable, f"benchmarks/{script}", *(small if quick else full), "--out", shown]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="tiny configurations, for smoke tests")
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(SUITE)}")
    ap.add_argument("--out-dir", default=str(BENCH / "results"))
    ap.add_argument("--timeout-s", type=float, default=1800, help="per benchmark")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SUITE)
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        ap.error(f"unknown benchmarks: {', '.join(unknown)} (known: {', '.join(SUITE)})")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    summary_path = out_dir / "run_all.json"
    previous: dict[str, Any] = {}
    try:
        previous = json.loads(summary_path.read_text(encoding="utf-8")).get("benchmarks", {})
    except (OSError, ValueError, AttributeError):
        pass
    # a partial run (--only) keeps the record of the benchmarks it did not run
    summary: dict[str, Any] = {"date": now, "quick": args.quick, "benchmarks": dict(previous)}
    failed = []
    for name in names:
        cmd = command(name, args.quick, out_dir)
        shown = " ".join(["python", *cmd[1:]])
        print(f"== {name}: {shown}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, env=env, timeout=args.timeout_s, capture_output=True, text=True
            )
            rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
        except subprocess.TimeoutExpired:
            rc, tail = -1, f"timed out after {args.timeout_s:g} s"
        seconds = round(time.perf_counter() - t0, 1)
        ok = rc == 0 and (out_dir / SUITE[name][3]).exists()
        if not ok:
            failed.append(name)
            print(tail, flush=True)
        print(f"   {'ok' if ok else 'FAILED'} in {seconds} s (exit {rc})", flush=True)
        summary["benchmarks"][name] = {
            "command": shown,
            "date": now,
            "quick": args.quick,
            "exit": rc,
            "seconds": seconds,
            "ok": ok,
        }
    summary["quick"] = any(b.get("quick") for b in summary["benchmarks"].values())
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
