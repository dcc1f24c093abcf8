"""Benchmark of the tool-call parser (not a test).

Measures calls per second on a realistic set of model outputs, parsed whole and streamed in
chunks of about four characters (the size of a token), and the time to parse hostile inputs of
64, 128 and 256 KiB, to show that time grows linearly. Each number is the median of several runs.

    python benchmarks/bench_parser.py [--runs 5] [--out benchmarks/results/parser.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentkit.backends._base import ServerToolCall  # noqa: E402
from agentkit.parsing import ToolCallParser, parse_tool_calls, validate_server_calls  # noqa: E402
from agentkit.tools import Tool, ToolSet  # noqa: E402


def _noop(arguments: dict[str, Any]) -> None:
    return None


def desktop_tools() -> ToolSet:
    specs = json.loads((ROOT / "tests" / "corpus" / "tools.json").read_text(encoding="utf-8"))
    return ToolSet(
        [
            Tool.from_json_schema(s["name"], s["description"], s["parameters"], _noop)
            for s in specs["desktop"]
        ]
    )


def _call(name: str, **params: str) -> str:
    lines = ["<tool_call>", f"<function={name}>"]
    for key, value in params.items():
        lines += [f"<parameter={key}>", value, "</parameter>"]
    return "\n".join([*lines, "</function>", "</tool_call>"])


WORDS = (
    "the button at the top right opens the settings dialog so I will click it and then type the "
    "search query into the box before pressing enter to confirm the form"
).split()


def realistic_outputs(n: int, seed: int = 7) -> list[str]:
    """Typical agent turns: a sentence or two, sometimes reasoning, one to three calls."""
    rng = random.Random(seed)
    outputs = []
    for _ in range(n):
        parts = []
        if rng.random() < 0.3:
            parts.append(
                "<think>\n" + " ".join(rng.choices(WORDS, k=rng.randint(20, 80))) + "\n</think>\n"
            )
        parts.append(" ".join(rng.choices(WORDS, k=rng.randint(5, 30))).capitalize() + ".\n")
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            kind = rng.random()
            if kind < 0.5:
                parts.append(
                    _call("click", x=str(rng.randint(0, 1919)), y=str(rng.randint(0, 1079)))
                )
            elif kind < 0.75:
                text = " ".join(rng.choices(WORDS, k=rng.randint(3, 60)))
                parts.append(_call("type_text", text=text))
            elif kind < 0.9:
                parts.append(_call("press_key", key=rng.choice(["enter", "tab", "ctrl+a"])))
            else:
                parts.append(_call("scroll", dy=str(rng.randint(-10, 10))))
            parts.append("\n")
        outputs.append("".join(parts))
    return outputs


def chunk(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


HOSTILE: dict[str, Callable[[int], str]] = {
    "lt-flood": lambda n: "<" * n,
    "near-miss-tags": lambda n: ("<tool_cal<paramete</paramete<think" * (n // 34 + 1))[:n],
    "openers": lambda n: ("<tool_call>" * (n // 11 + 1))[:n],
    "value-close-ws": lambda n: (
        "<tool_call>\n<function=type_text>\n<parameter=text>\n"
        + ("</parameter> \n\t" * (n // 16 + 1))[:n]
    ),
    "value-nested": lambda n: (
        "<tool_call>\n<function=type_text>\n<parameter=text>\n"
        + ("<tool_call></parameter>" * (n // 23 + 1))[:n]
    ),
    "big-value": lambda n: _call("type_text", text="v" * n),
}


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    ap.add_argument("--outputs", type=int, default=400, help="realistic outputs to parse")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "parser.json"))
    args = ap.parse_args()
    tools = desktop_tools()

    outputs = realistic_outputs(args.outputs)
    chunked = [chunk(o) for o in outputs]
    n_calls = sum(len(parse_tool_calls(o, tools).calls) for o in outputs)
    n_chars = sum(len(o) for o in outputs)

    def whole() -> None:
        for o in outputs:
            parse_tool_calls(o, tools)

    def streamed() -> None:
        for pieces in chunked:
            parser = ToolCallParser(tools)
            for piece in pieces:
                parser.feed(piece)
            parser.finish("stop")

    server_batches = [
        [
            ServerToolCall(f"c{i}", c.name, json.dumps(c.arguments))
            for i, c in enumerate(parse_tool_calls(o, tools).calls)
        ]
        for o in outputs
    ]

    def server() -> None:
        for batch in server_batches:
            validate_server_calls(batch, tools)

    t_whole = median_time(whole, args.runs)
    t_stream = median_time(streamed, args.runs)
    t_server = median_time(server, args.runs)
    realistic = {
        "outputs": len(outputs),
        "calls": n_calls,
        "chars": n_chars,
        "whole_s": t_whole,
        "streaming_s": t_stream,
        "server_s": t_server,
        "whole_calls_per_s": n_calls / t_whole,
        "streaming_calls_per_s": n_calls / t_stream,
        "server_calls_per_s": n_calls / t_server,
        "whole_mb_per_s": n_chars / t_whole / 1e6,
        "streaming_mb_per_s": n_chars / t_stream / 1e6,
    }

    hostile: dict[str, dict[str, Any]] = {}
    for name, make in HOSTILE.items():
        rows = {}
        for kib in (64, 128, 256):
            text = make(kib * 1024)
            pieces = chunk(text)

            def run_whole(text: str = text) -> None:
                parse_tool_calls(text, tools, max_call_chars=10**7)

            def run_stream(pieces: list[str] = pieces) -> None:
                parser = ToolCallParser(tools, max_call_chars=10**7)
                for piece in pieces:
                    parser.feed(piece)
                parser.finish("stop")

            rows[f"{kib}KiB"] = {
                "whole_s": median_time(run_whole, args.runs),
                "streaming_s": median_time(run_stream, args.runs),
            }
        rows["ratio_256_64_whole"] = rows["256KiB"]["whole_s"] / rows["64KiB"]["whole_s"]
        rows["ratio_256_64_streaming"] = (
            rows["256KiB"]["streaming_s"] / rows["64KiB"]["streaming_s"]
        )
        hostile[name] = rows

    report = {
        "benchmark": "agentkit.parsing",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "runs": args.runs,
        "realistic": realistic,
        "hostile": hostile,
        "note": "hostile inputs parsed with max_call_chars=10**7 so the call-size cap does not cut them short",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    m = report["machine"]
    print(
        f"agentkit parser benchmark, {report['date']}, {m['cpus']} CPUs, {m['cpu_model']}, Python {m['python']}"
    )
    print(
        f"realistic: {n_calls} calls in {len(outputs)} outputs ({n_chars} chars), median of {args.runs} runs"
    )
    print(
        f"  {'whole':<28}{realistic['whole_calls_per_s']:>12,.0f} calls/s {realistic['whole_mb_per_s']:>8.2f} MB/s"
    )
    print(
        f"  {'streaming (4-char chunks)':<28}{realistic['streaming_calls_per_s']:>12,.0f} calls/s {realistic['streaming_mb_per_s']:>8.2f} MB/s"
    )
    print(f"  {'server tool_calls':<28}{realistic['server_calls_per_s']:>12,.0f} calls/s")
    print("hostile inputs (seconds, whole / streaming in 4-char chunks):")
    print(f"  {'input':<16}{'64 KiB':>18}{'128 KiB':>18}{'256 KiB':>18}{'256/64':>14}")
    for name, rows in hostile.items():
        cells = "".join(
            f"{rows[k]['whole_s']:>8.4f} / {rows[k]['streaming_s']:<7.4f}"
            for k in ("64KiB", "128KiB", "256KiB")
        )
        print(
            f"  {name:<16}{cells}  {rows['ratio_256_64_whole']:>5.1f} / {rows['ratio_256_64_streaming']:<5.1f}"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
