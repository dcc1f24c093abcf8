"""The long soak run. Usage: python benchmarks/soak.py [--runs 400] [--steps 10] [--out PATH]"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from agentkit.testing.soak import run_soak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--steps", type=int, default=10, help="tool calls per run")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--fault-rate", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/soak.json")
    args = ap.parse_args()
    report = run_soak(
        runs=args.runs,
        steps_per_run=args.steps,
        concurrency=args.concurrency,
        fault_rate=args.fault_rate,
        seed=args.seed,
    )
    data = {
        "command": "python " + " ".join(sys.argv),
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        **report.to_dict(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(data, indent=2))
    print(json.dumps(data, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
