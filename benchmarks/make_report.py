"""Generate docs/BENCHMARKS.md and its plots (docs/img/bench_*.png) from the committed JSON.

    python benchmarks/make_report.py [--results benchmarks/results] [--docs docs]

Reads what exists of: overhead.json, concurrency.json, vision.json, parser.json, soak.json,
soak_short.json, run_all.json (CPU, from ``benchmarks/run_all.py``) and gpu*.json (from
``benchmarks/gpu_bench.py`` on the GPU machine; a file from ``benchmarks/gpu_embedded.py``, e.g.
gpu_embedded.json, gets its own section). A missing file gives "not measured yet" in its
section, never an invented number. Plots need matplotlib (the ``bench`` extra); without it the page
is written without them and says so.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

NOT_MEASURED = "_Not measured yet._"
GPU_COMMAND = (
    'CHAT_TEMPLATE=agentkit/templates/minicpmv46.jinja BENCH_CMD="python benchmarks/gpu_bench.py '
    '--out \\$OUT/gpu.json" bash .gpu/run/dev_run.sh main'
)


# -- small helpers -------------------------------------------------------------------------------------


def get(d: Any, *keys: Any, default: Any = None) -> Any:
    for k in keys:
        if isinstance(d, dict) and k in d:
            d = d[k]
        elif isinstance(d, list) and isinstance(k, int) and -len(d) <= k < len(d):
            d = d[k]
        else:
            return default
    return d


def fmt(x: Any, nd: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        if x != 0 and abs(x) < 10 ** (-nd):
            return f"{x:.2g}"
        return f"{x:,.{nd}f}"
    if isinstance(x, (list, tuple)):
        return "x".join(str(v) for v in x)
    return str(x).replace("|", "\\|")


def ms(seconds: Any, nd: int = 1) -> str:
    return fmt(seconds * 1000, nd) if isinstance(seconds, (int, float)) else "–"


def table(header: list[str], rows: Iterable[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in r) + " |")
    return "\n".join(lines)


def load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def machine_line(data: dict[str, Any]) -> str:
    m = data.get("machine")
    if isinstance(m, dict):
        bits = [
            f"{m['cpus']} CPUs" if m.get("cpus") else "",
            str(m.get("cpu_model") or m.get("processor") or ""),
            f"Python {m['python']}" if m.get("python") else "",
            f"Pillow {m['pillow']}" if m.get("pillow") else "",
            f"agentkit {m['agentkit']}" if m.get("agentkit") else "",
            str(m.get("platform") or ""),
            f"1-minute load average {m['load_average_1m']:g} at the start"
            if m.get("load_average_1m") is not None
            else "",
        ]
        text = ", ".join(b for b in bits if b)
    else:
        text = str(m or "unknown machine")
        if data.get("python") and "python" not in text.lower():
            text += f", Python {data['python']}"
    return text


def meta(data: dict[str, Any], command: str | None = None) -> str:
    cmd = data.get("command") or command or ""
    lines = [f"- Machine: {machine_line(data)}", f"- Date: {data.get('date', 'unknown')}"]
    if cmd:
        lines.append(f"- Reproduce: `{cmd}`")
    return "\n".join(lines)


# -- plots ------------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_overhead(data: dict[str, Any], path: Path) -> bool:
    plt = _pyplot()
    if plt is None:
        return False
    parts = data.get("parts") or {}
    steps = data.get("steps") or {}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = list(parts)
    med = [parts[n]["median_ms"] for n in names]
    p95 = [parts[n]["p95_ms"] for n in names]
    y = range(len(names))
    ax1.barh([i + 0.2 for i in y], med, height=0.4, label="median", color="#4c72b0")
    ax1.barh([i - 0.2 for i in y], p95, height=0.4, label="p95", color="#a1c9f4")
    ax1.set_yticks(list(y), names)
    ax1.invert_yaxis()
    ax1.set_xscale("log")
    ax1.set_xlabel("ms per step (log scale)")
    ax1.set_title("Parts of a step, timed directly")
    ax1.legend(loc="lower right")
    labels, keys = [], ["observe_s", "model_s", "tools_s"]
    colors = {"observe_s": "#55a868", "model_s": "#c44e52", "tools_s": "#8172b2"}
    bars: list[tuple[str, dict[str, Any]]] = []
    for workload, r in steps.items():
        for backend in ("scripted", "local_server"):
            if backend in r:
                bars.append((f"{workload}\n{backend.replace('_', ' ')}", r[backend]))
    for i, (label, r) in enumerate(bars):
        left = 0.0
        labels.append(label)
        for k in keys:
            v = get(r, k, "median_ms", default=0.0) or 0.0
            ax2.barh(
                i, v, left=left, color=colors[k], label=k.replace("_s", "") if i == 0 else None
            )
            left += v
        ax2.text(
            left, i, f" {get(r, 'step_s', 'median_ms', default=0):.1f} ms", va="center", fontsize=8
        )
    widest = max((get(r, "step_s", "median_ms", default=0) or 0 for _, r in bars), default=0)
    if widest:
        ax2.set_xlim(0, widest * 1.2)
    ax2.set_yticks(range(len(labels)), labels, fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlabel("ms per step (median; model = zero-latency)")
    ax2.set_title("Whole steps, from the trajectory")
    ax2.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _agents_axis(ax: Any, levels: list[int]) -> None:
    ax.set_xscale("log", base=2)
    if levels:
        ax.set_xticks(levels, [str(n) for n in levels])
        ax.minorticks_off()
    ax.set_xlabel("concurrent agents")


def plot_concurrency(data: dict[str, Any], path: Path) -> bool:
    plt = _pyplot()
    if plt is None:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for workload, rows in (data.get("workloads") or {}).items():
        xs = [r["agents"] for r in rows]
        ax1.plot(xs, [r["client_cpu_ms_per_step"] for r in rows], "o-", label=f"client, {workload}")
        ax1.plot(
            xs, [r["server_cpu_ms_per_step"] for r in rows], "x:", label=f"LocalServer, {workload}"
        )
        ax2.plot(xs, [r["steps_per_s"] for r in rows], "o-", label=workload)
    ref = data.get("server_preprocess_ms_per_1080p_gpu")
    if ref:
        ax1.axhline(
            ref,
            color="#c44e52",
            ls="--",
            label=f"vLLM preprocessing of one 1080p image ({ref:g} ms)",
        )
        ax1.set_ylim(0, ref * 1.6)
        ax2.axhline(
            1000 / ref,
            color="#c44e52",
            ls="--",
            label=f"vLLM preprocessing cap ({1000 / ref:.1f} screenshots/s)",
        )
    levels = sorted({r["agents"] for rows in (data.get("workloads") or {}).values() for r in rows})
    for ax, where in ((ax1, "upper right"), (ax2, "center right")):
        _agents_axis(ax, levels)
        ax.legend(fontsize=8, loc=where)
    ax1.set_ylabel("CPU ms per step")
    ax1.set_title("CPU per step: agent side vs server side")
    ax2.set_ylabel("steps per second (zero-latency server)")
    ax2.set_title("Throughput on this machine")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def gpu_series(
    gpus: dict[str, dict[str, Any]],
) -> list[tuple[str, list[int], list[float], list[float]]]:
    """(label, agents, median ttft s, p95 ttft s) per file and mode."""
    series = []
    for name, data in gpus.items():
        by_mode: dict[str, list[dict[str, Any]]] = {}
        for row in data.get("concurrency") or []:
            mode = (
                row.get("mode")
                or row.get("policy")
                or data.get("mode")
                or data.get("policy")
                or "16x"
            )
            by_mode.setdefault(str(mode), []).append(row)
        for mode, rows in by_mode.items():
            rows = [r for r in rows if get(r, "ttft", "median") is not None]
            if not rows:
                continue
            label = mode if len(gpus) == 1 else f"{mode} ({name})"
            series.append(
                (
                    label,
                    [r["agents"] for r in rows],
                    [r["ttft"]["median"] for r in rows],
                    [get(r, "ttft", "p95", default=r["ttft"]["median"]) for r in rows],
                )
            )
    return series


def plot_gpu_ttft(gpus: dict[str, dict[str, Any]], path: Path) -> bool:
    series = gpu_series(gpus)
    plt = _pyplot()
    if plt is None or not series:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, xs, med, p95 in series:
        line = ax.plot(xs, med, "o-", label=f"{label}: median")[0]
        ax.plot(xs, p95, "^:", color=line.get_color(), label=f"{label}: p95")
    _agents_axis(ax, sorted({x for _, xs, _, _ in series for x in xs}))
    ax.set_xlabel("concurrent agents (one screenshot each)")
    ax.set_ylabel("time to first token (s)")
    ax.set_title("Time to first token vs concurrency, real vLLM on the GPU")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# -- sections -------------------------------------------------------------------------------------------

PART_WHAT = {
    "encode_frame": "encode the screenshot for the request (`encode_frame`, default format)",
    "history_view": "apply the history policy to the conversation (`BoundedHistory.apply`, thumbnails cached)",
    "downgrade_image": "once per step, one older frame becomes a one-tile thumbnail (`downgrade_image`, in the history policy's worker thread)",
    "estimate_tokens": "count visual tokens and estimate text tokens (`estimate_prompt_tokens`)",
    "build_body": "build the request body and serialise it (`build_body` + `json.dumps`)",
    "parse_stream": "parse the streamed reply, 4-character deltas (`ToolCallParser.feed/finish`)",
    "validate": "validate the call's arguments (`Tool.validate`)",
    "dispatch": "run the (no-op) tool (`Tool.invoke`)",
    "save_frame": "write the frame as sent to the trajectory (`TrajectoryWriter.save_frame`)",
    "write_step": "append the step record to `steps.jsonl` (`TrajectoryWriter.write_step`)",
}


def section_overhead(data: dict[str, Any] | None, img: str | None) -> str:
    out = ["## Step overhead on the CPU", ""]
    if data is None:
        return "\n".join(out + [NOT_MEASURED, ""])
    w = data.get("workload", {})
    out += [
        meta(data),
        "",
        f"What the SDK itself costs per step, without the model and without the capture: a "
        f"{w.get('frame', '1920x1080')} synthetic desktop screenshot "
        f"(sent as {get(w, 'encoded', 'format', default='?')}, {fmt(get(w, 'encoded', 'bytes'))} bytes), "
        f"four desktop tools, a one-call reply of {w.get('reply_chars', '?')} characters streamed in "
        f"{w.get('reply_chunks', '?')} deltas, the request of step {w.get('request_at_step', '?')} "
        f"({w.get('request_messages', '?')} messages, {w.get('request_images', '?')} images after the "
        f"bounded history, {fmt(w.get('request_body_bytes'))} bytes of JSON). Medians over "
        f"{get(data, 'config', 'runs', default='?')} runs of {get(data, 'config', 'reps', default='?')} "
        "timings each; p95 over all timings.",
        "",
        table(
            ["part", "median ms", "p95 ms", "what is timed"],
            [
                [name, fmt(p["median_ms"], 3), fmt(p["p95_ms"], 3), PART_WHAT.get(name, "")]
                for name, p in (data.get("parts") or {}).items()
            ],
        ),
        "",
        table(
            ["group", "median ms"],
            [[g, fmt(v, 3)] for g, v in (data.get("groups_median_ms") or {}).items()],
        ),
        "",
        f"All parts together: **{fmt(data.get('parts_total_median_ms'), 2)} ms** per step, of which "
        f"**{fmt(data.get('parts_total_without_encode_ms'), 2)} ms** is not image work (encoding the new screenshot, downgrading an older one).",
        "",
    ]
    loop_ms = data.get("event_loop_ms_per_step")
    if loop_ms:
        out += [
            f"Where it runs: {', '.join(f'`{n}`' for n in data.get('threaded_parts', []))} run in worker "
            f"threads ({fmt(data.get('worker_thread_ms_per_step'), 1)} ms); the other parts, "
            f"**{fmt(loop_ms, 1)} ms**, run on the event loop that all agents of one process share, "
            f"so one process carries at most about {fmt(1000 / loop_ms, 0)} such steps per second "
            "(before the HTTP client's own share, see the concurrency section)."
            + (
                f" The largest share of the thread work after encoding is `downgrade_image` "
                f"({fmt(get(data, 'parts', 'downgrade_image', 'median_ms'), 1)} ms): the bounded "
                "history re-encodes one older frame as a thumbnail each step."
                if (get(data, "parts", "downgrade_image", "median_ms") or 0) > loop_ms / 2
                else ""
            ),
            "",
        ]
    out += [
        "Whole steps of a real `Agent` run (the loop's own `timings` in `steps.jsonl`; medians over "
        "runs, p95 over all steps). The model answers at once: `ScriptedBackend` in the same process, "
        "or `LocalServer` over real HTTP/SSE in a separate process. With a frame source, `observe` is "
        "the encoding and recording of the screenshot, plus a stand-in for the capture (a copy of a "
        f"pre-rendered frame stamped with a counter, {fmt(w.get('grab_ms'), 1)} ms, so that no two "
        "frames are equal); `model` includes building the request, the bounded history, streaming "
        "and parsing.",
        "",
    ]
    rows = []
    for workload, r in (data.get("steps") or {}).items():
        for backend in ("scripted", "local_server"):
            s = r.get(backend)
            if not s:
                continue
            rows.append(
                [
                    workload,
                    backend.replace("_", " "),
                    *(fmt(get(s, k, "median_ms"), 2) for k in ("observe_s", "model_s", "tools_s")),
                    fmt(get(s, "step_s", "median_ms"), 2),
                    fmt(get(s, "step_s", "p95_ms"), 2),
                ]
            )
    out += [
        table(
            [
                "workload",
                "backend",
                "observe ms",
                "model ms",
                "tools ms",
                "step ms (median)",
                "step ms (p95)",
            ],
            rows,
        ),
        "",
    ]
    for workload, r in (data.get("steps") or {}).items():
        out.append(
            f"- {workload}: HTTP client plus the round trip to a zero-latency server add "
            f"{fmt(r.get('http_cost_ms'), 1)} ms per step (local server minus scripted, same run)."
        )
    out.append("")
    if img:
        out += [f"![Overhead breakdown]({img})", ""]
    return "\n".join(out)


def section_concurrency(
    data: dict[str, Any] | None, img: str | None, overhead: dict[str, Any] | None = None
) -> str:
    out = ["## Concurrent agents on the CPU", ""]
    if data is None:
        return "\n".join(out + [NOT_MEASURED, ""])
    cfg = data.get("config", {})
    out += [
        meta(data),
        "",
        f"N agents at once through `Agent.run_many_async(tasks, concurrency=N)` against a "
        f"zero-latency `LocalServer` in a separate process; each run makes {cfg.get('steps', '?')} tool "
        "calls and then answers. Client CPU is `time.process_time()` of the agent process (event "
        "loop, HTTP, parsing and the image-encoding threads); server CPU is the LocalServer process's, "
        "reported apart. `screenshot`: a fresh 1920x1080 screenshot encoded and sent every step; "
        "`text_only`: no frame source.",
        "",
    ]
    for workload, rows in (data.get("workloads") or {}).items():
        out += [
            f"**{workload}**",
            "",
            table(
                [
                    "agents",
                    "runs ok",
                    "steps",
                    "steps/s",
                    "client CPU ms/step",
                    "server CPU ms/step",
                    "client CPU use (cores)",
                    "step ms (median)",
                    "event-loop lag ms (p95)",
                    "load avg",
                ],
                [
                    [
                        r["agents"],
                        f"{r['completed']}/{r['runs']}",
                        r["steps"],
                        fmt(r["steps_per_s"], 1),
                        fmt(r["client_cpu_ms_per_step"], 2),
                        fmt(r["server_cpu_ms_per_step"], 2),
                        fmt(r["client_cpu_utilisation"], 2),
                        fmt(r.get("step_s_median_ms"), 1),
                        fmt(get(r, "loop_lag_ms", "p95"), 1),
                        fmt(r.get("load_average_1m"), 1),
                    ]
                    for r in rows
                ],
            ),
            "",
        ]
    worst = data.get("client_cpu_ms_per_step_worst_screenshot")
    ref = data.get("server_preprocess_ms_per_1080p_gpu")
    workloads = data.get("workloads") or {}
    if worst and ref:
        shot = workloads.get("screenshot") or []
        text = workloads.get("text_only") or []
        cpu = [r["client_cpu_ms_per_step"] for r in shot]
        util = [r["client_cpu_utilisation"] for r in shot + text]
        loads = [r["load_average_1m"] for r in shot + text if r.get("load_average_1m") is not None]
        lines = [
            "**The client is not the bottleneck.**",
            "",
            f"- Per step the agent side spends {_span(cpu)} ms of CPU with a "
            f"fresh 1080p screenshot, from {shot[0]['agents']} to {shot[-1]['agents']} agents: the "
            "cost per step does not grow with concurrency. Most of it is image work (see the step "
            "overhead above): encoding the new screenshot, in a worker thread"
            + (
                ", and downgrading an older frame for the bounded history, also in a worker thread."
                if get(overhead, "parts", "downgrade_image") is not None
                else "."
            ),
        ]
        if text:
            tcpu = [r["client_cpu_ms_per_step"] for r in text]
            lines.append(
                f"- Without a screenshot the whole SDK side of a step (request, HTTP, streaming, "
                f"parsing, tools, trajectory) costs {_span(tcpu)} ms of CPU."
            )
        lines += [
            f"- vLLM spends about **{fmt(ref, 0)} ms of serial CPU preprocessing per 1080p "
            f"screenshot** in its one API-server process (measured on the H100 machine, "
            f"`../shared/gpu/README.md`): {fmt(ref / worst, 1)}x the client's worst CPU per step, "
            f"and on one core. One client core feeds about {fmt(1000 / worst, 0)} screenshot steps "
            f"per second; the server's preprocessing caps near {fmt(1000 / ref, 1)}.",
            f"- Against a server that answers at once, the client's CPU is by construction what "
            f"bounds the steps/s column: the agent process used {_span(util, 2)} "
            f"cores of this {get(data, 'machine', 'cpus', default='?')}-core machine"
            + (
                f", shared with other jobs (1-minute load average {_span(loads)})."
                if loads
                else "."
            )
            + " Against a real server the figure that matters is the CPU per step above, next to the "
            "server's own per-step cost.",
        ]
        loop_ms = get(overhead, "event_loop_ms_per_step")
        lag = [
            (r["agents"], get(r, "loop_lag_ms", "p95"))
            for r in shot
            if get(r, "loop_lag_ms", "p95") is not None
        ]
        if loop_ms:
            text_loop = max((r["client_cpu_ms_per_step"] for r in text), default=0.0)
            per_step = loop_ms + text_loop
            lines.append(
                f"- The one serial point on the client is the event loop, shared by all agents of a "
                f"process. Per screenshot step it carries about {fmt(loop_ms, 1)} ms of the parts above "
                f"plus at most {fmt(text_loop, 1)} ms of HTTP, streaming and loop bookkeeping (the "
                f"text-only CPU per step): one process tops out near {fmt(1000 / per_step, 0)} screenshot "
                f"steps per second, {fmt(ref / per_step, 1)}x the server's preprocessing cap."
                + (
                    f" When many agents step in lockstep, the loop's timers run late: p95 event-loop "
                    f"lag {fmt(lag[-1][1], 0)} ms at {lag[-1][0]} agents here."
                    if lag
                    else ""
                )
            )
        lines.append("")
        out += lines
    if img:
        out += [f"![Client CPU per step vs concurrency]({img})", ""]
    return "\n".join(out)


def _span(values: list[float], nd: int = 1) -> str:
    lo, hi = fmt(min(values), nd), fmt(max(values), nd)
    return lo if lo == hi else f"{lo}-{hi}"


def _encode_rows(rows: list[dict[str, Any]]) -> str:
    return table(
        ["format", "resize", "sent size", "encode ms", "bytes", "PSNR dB", "tokens 16x"],
        [
            [
                r.get("format"),
                fmt(r.get("resize")),
                fmt(r.get("size")),
                fmt(r.get("encode_ms"), 1),
                fmt(r.get("bytes")),
                "lossless" if r.get("psnr_db") is None else fmt(r.get("psnr_db"), 1),
                fmt(r.get("tokens_16x")),
            ]
            for r in rows
        ],
    )


def section_vision(data: dict[str, Any] | None) -> str:
    out = ["## Capture and encoding", ""]
    if data is None:
        return "\n".join(out + [NOT_MEASURED, ""] + _tokens_missing())
    out += [meta(data), ""]
    screen = data.get("screen") or {}
    if "skipped" in screen:
        out += [f"Capture of a real 1920x1080 screen: skipped ({screen['skipped']}).", ""]
    else:
        out += [
            f"A 1920x1080 synthetic desktop shown full-screen on {screen.get('display', 'Xvfb')} and "
            f"captured with `ScreenSource`: **{fmt(screen.get('capture_ms'), 1)} ms** per capture "
            f"(captured pixels equal the shown ones: {fmt(screen.get('captured_equals_shown'))}). "
            "Encoding per format and quality (median ms; PSNR against the frame before encoding):",
            "",
            _encode_rows(screen.get("encode") or []),
            "",
        ]
        if screen.get("png_levels"):
            out += [
                "PNG compression level (the default is the first that stays cheap):",
                "",
                table(
                    ["level", "encode ms", "bytes"],
                    [
                        [r["compress_level"], fmt(r["encode_ms"], 1), fmt(r["bytes"])]
                        for r in screen["png_levels"]
                    ],
                ),
                "",
            ]
    big = data.get("screen_2560x1440") or {}
    if big.get("encode"):
        out += ["A drawn 2560x1440 desktop:", "", _encode_rows(big["encode"]), ""]
    photo = data.get("photo") or {}
    if photo.get("encode"):
        out += [
            "A camera-like photo (smooth shapes and sensor noise), 1920x1080:",
            "",
            _encode_rows(photo["encode"]),
            "",
        ]
    out += _tokens(data)
    return "\n".join(out)


def _tokens_missing() -> list[str]:
    return ["## Visual tokens per step", "", NOT_MEASURED, ""]


def _tokens(data: dict[str, Any]) -> list[str]:
    out = ["## Visual tokens per step", ""]
    hist = data.get("history") or {}
    if hist.get("steps"):
        out += [
            f"Prompt tokens of step k of a scripted run that sends a screenshot every step "
            f"({hist.get('image', '')}), with and without `{hist.get('policy', 'BoundedHistory')}` "
            "(visual tokens exact, text estimated). From `benchmarks/bench_vision.py`.",
            "",
            table(
                [
                    "mode",
                    "step",
                    "images (all)",
                    "prompt tokens (all)",
                    "images (bounded)",
                    "prompt tokens (bounded)",
                ],
                [
                    [
                        r["mode"],
                        r["step"],
                        get(r, "unbounded", "images"),
                        get(r, "unbounded", "total"),
                        get(r, "bounded", "images"),
                        get(r, "bounded", "total"),
                    ]
                    for r in hist["steps"]
                ],
            ),
            "",
        ]
    c2f = data.get("coarse_to_fine") or []
    if c2f:
        out += [
            "Coarse-to-fine (the full frame at 16x plus one crop at 4x) against the full frame at 4x:",
            "",
            table(
                [
                    "frame",
                    "crop",
                    "coarse 16x + crop 4x",
                    "full 4x",
                    "full 16x",
                    "saving vs full 4x",
                ],
                [
                    [
                        fmt(r.get("frame")),
                        f"{r.get('crop')}x{r.get('crop')}",
                        r.get("coarse_16x_plus_crop_4x"),
                        r.get("full_4x"),
                        r.get("full_16x"),
                        f"{100 * r['saving']:.0f}%"
                        if isinstance(r.get("saving"), (int, float))
                        else "–",
                    ]
                    for r in c2f
                ],
            ),
            "",
        ]
    return out


def section_parser(data: dict[str, Any] | None) -> str:
    out = ["## Tool-call parser throughput", ""]
    if data is None:
        return "\n".join(out + [NOT_MEASURED, ""])
    r = data.get("realistic") or {}
    out += [
        meta(data, "python benchmarks/bench_parser.py --runs 5"),
        "",
        f"A corpus of {fmt(r.get('outputs'))} realistic model outputs ({fmt(r.get('calls'))} calls, "
        f"{fmt(r.get('chars'))} characters); median of {data.get('runs', '?')} runs.",
        "",
        table(
            ["path", "calls/s", "MB/s"],
            [
                [
                    "whole text (`parse_tool_calls`)",
                    fmt(r.get("whole_calls_per_s"), 0),
                    fmt(r.get("whole_mb_per_s"), 2),
                ],
                [
                    "streaming, 4-character deltas (`ToolCallParser`)",
                    fmt(r.get("streaming_calls_per_s"), 0),
                    fmt(r.get("streaming_mb_per_s"), 2),
                ],
                [
                    "server-parsed calls (`validate_server_calls`)",
                    fmt(r.get("server_calls_per_s"), 0),
                    "–",
                ],
            ],
        ),
        "",
    ]
    hostile = data.get("hostile") or {}
    if hostile:
        rows = []
        for kind, h in hostile.items():
            if not isinstance(h, dict):
                continue
            rows.append(
                [
                    kind,
                    *(ms(get(h, size, "whole_s"), 1) for size in ("64KiB", "256KiB")),
                    *(ms(get(h, size, "streaming_s"), 1) for size in ("64KiB", "256KiB")),
                    fmt(h.get("ratio_256_64_whole"), 2),
                    fmt(h.get("ratio_256_64_streaming"), 2),
                ]
            )
        out += [
            "Hostile inputs (time in ms; 4x the input should take about 4x the time: linear, no "
            "quadratic blow-up):",
            "",
            table(
                [
                    "input",
                    "whole 64 KiB",
                    "whole 256 KiB",
                    "streaming 64 KiB",
                    "streaming 256 KiB",
                    "ratio whole",
                    "ratio streaming",
                ],
                rows,
            ),
            "",
        ]
    if data.get("note"):
        out += [f"Note: {data['note']}", ""]
    return "\n".join(out)


def section_soak(long: dict[str, Any] | None, short: dict[str, Any] | None) -> str:
    out = ["## Soak", ""]
    if long is None and short is None:
        return "\n".join(out + [NOT_MEASURED, ""])
    out += [
        "Many scripted agents against a `LocalServer` that injects faults (500, 503 with Retry-After, "
        "cut and stalled streams, garbage bodies, in-band errors) into a fraction of the requests: "
        "nothing may hang, leak file descriptors or threads, replay a tool call, or end without a "
        "recorded status. Failed runs are expected (a fault can outlast the retries); what is checked "
        "is that every run ends cleanly and recorded.",
        "",
    ]
    rows = []
    for label, d in (("long", long), ("short (run_all)", short)):
        if d is None:
            continue
        statuses = ", ".join(f"{k} {v}" for k, v in (d.get("statuses") or {}).items())
        rows.append(
            [
                label,
                f"`{d.get('command', '')}`",
                d.get("date", ""),
                d.get("runs"),
                d.get("steps"),
                d.get("faults_injected"),
                statuses,
                d.get("hangs"),
                f"{d.get('recorded')}/{d.get('runs')}",
                f"{d.get('fds_before')} → {d.get('fds_after')}",
                f"{d.get('threads_before')} → {d.get('threads_after')}",
                f"{fmt(d.get('rss_before_mb'))} → {fmt(d.get('rss_after_mb'))}",
                fmt(d.get("duration_s"), 1),
                fmt(d.get("ok")),
            ]
        )
    out += [
        table(
            [
                "soak",
                "command",
                "date",
                "runs",
                "steps",
                "faults",
                "statuses",
                "hangs",
                "recorded",
                "fds",
                "threads",
                "RSS MB",
                "seconds",
                "ok",
            ],
            rows,
        ),
        "",
        f"Machine: {machine_line(long or short or {})}.",
        "",
    ]
    return "\n".join(out)


def _summary_s(s: Any) -> str:
    if not isinstance(s, dict) or s.get("median") is None:
        return "–"
    return f"{ms(s['median'], 0)} / {ms(s.get('p95'), 0)}"


GPU_KNOWN = {
    "pair32",
    "command",
    "versions",
    "date",
    "machine",
    "python",
    "weights",
    "out_tokens",
    "server_args",
    "overhead",
    "modes",
    "concurrency",
    "raw_concurrency",
    "images",
    "errors",
    "section_s",
    "vllm",
    "mode",
    "policy",
}


def section_gpu(gpus: dict[str, dict[str, Any]], img: str | None) -> str:
    out = [
        "## Real vLLM on the GPU",
        "",
        "**The GPU figures use random weights** (`--load-format dummy`): the full-size MiniCPM-V 4.6 "
        "architecture served by vLLM 0.22.0, so timing, memory, request handling and token counts are "
        "real, and the text the model writes is meaningless. Generation uses `ignore_eos` with a fixed "
        "`max_tokens`, so every request generates the same length.",
        "",
    ]
    if not gpus:
        return "\n".join(
            out
            + [
                NOT_MEASURED + " Run on the GPU machine (see `../shared/gpu/README.md`):",
                "",
                f"    {GPU_COMMAND}",
                "",
                "and commit the JSON as `benchmarks/results/gpu.json` (more runs, e.g. with other "
                "server flags: `gpu_<name>.json`), then rerun `python benchmarks/make_report.py`.",
                "",
            ]
        )
    for name, data in gpus.items():
        out += [f"### {name}", ""]
        out += [
            f"- Machine: {data.get('machine', 'unknown')}, Python {data.get('python', '?')}"
            + (
                f", vLLM {data['vllm']}"
                if data.get("vllm")
                else ", vLLM 0.22.0 (per the GPU recipe)"
            ),
            f"- Date: {data.get('date', 'unknown')}",
            f"- Server flags beyond the recipe: `{data.get('server_args') or 'none'}`",
            f"- Weights: {data.get('weights', 'random')}; {data.get('out_tokens', '?')} output tokens per request",
            f"- Reproduce: `{data.get('command') or GPU_COMMAND}`",
            "",
        ]
        ov = data.get("overhead")
        if isinstance(ov, dict):
            out += [
                "**agentkit vs a bare `openai` client**, identical requests (a fresh 1280x720 screenshot "
                "each, 16x), alternating order. Times in ms, median / p95:",
                "",
                table(
                    ["", "agentkit", "bare client", "ratio (median)"],
                    [
                        [
                            "time to first token",
                            _summary_s(ov.get("ak_ttft")),
                            _summary_s(ov.get("raw_ttft")),
                            fmt(ov.get("ratio_ttft"), 3),
                        ],
                        [
                            "step (whole request)",
                            _summary_s(ov.get("ak_total")),
                            _summary_s(ov.get("raw_total")),
                            fmt(ov.get("ratio_step"), 3),
                        ],
                    ],
                ),
                "",
            ]
            if isinstance(ov.get("ratio_ttft"), (int, float)):
                verdict = (
                    "within"
                    if max(ov["ratio_ttft"], ov.get("ratio_step") or 0) <= 1.05
                    else "outside"
                )
                out += [f"Goal ≤ 1.05: {verdict}.", ""]
        modes = data.get("modes")
        if isinstance(modes, dict) and modes.get("rows"):
            out += [
                f"**16x vs 4x.** Prompt tokens a fresh screenshot adds (server usage minus a text-only "
                f"request of {fmt(modes.get('text_only_prompt_tokens'))} tokens) against agentkit's own "
                "count; time to first token in ms (median / p95):",
                "",
                table(
                    [
                        "screenshot",
                        "mode",
                        "server tokens",
                        "agentkit tokens",
                        "equal",
                        "first token ms",
                    ],
                    [
                        [
                            r.get("size"),
                            r.get("mode"),
                            r.get("server_image_tokens"),
                            r.get("agentkit_image_tokens"),
                            fmt(r.get("equal")),
                            _summary_s(r.get("ttft")),
                        ]
                        for r in modes["rows"]
                    ],
                ),
                "",
            ]
        conc = data.get("concurrency")
        if isinstance(conc, list) and conc:
            out += [
                "**Concurrent agents** through `Agent.run_many_async`, one step each with a fresh "
                "1280x720 screenshot:",
                "",
                table(
                    [
                        "agents",
                        "mode",
                        "completed",
                        "wall s",
                        "output tokens/s",
                        "steps/s",
                        "first token ms (median / p95)",
                        "max",
                    ],
                    [
                        [
                            r.get("agents"),
                            r.get("mode") or r.get("policy") or data.get("mode") or "16x",
                            r.get("completed"),
                            fmt(r.get("wall_s"), 2),
                            fmt(r.get("output_tokens_per_s"), 1),
                            fmt(r.get("steps_per_s"), 2),
                            _summary_s(r.get("ttft")),
                            ms(get(r, "ttft", "max"), 0),
                        ]
                        for r in conc
                    ],
                ),
                "",
            ]
        raw = data.get("raw_concurrency")
        if isinstance(raw, dict):
            n = raw.get("requests")
            ak = next((r for r in conc or [] if r.get("agents") == n), None)
            frac = None
            if ak and raw.get("output_tokens_per_s"):
                frac = ak["output_tokens_per_s"] / raw["output_tokens_per_s"]
            out += [
                f"The bare client with {n} concurrent requests: {fmt(raw.get('output_tokens_per_s'), 1)} "
                f"output tokens/s, first token {_summary_s(raw.get('ttft'))} ms."
                + (
                    f" agentkit at {n} agents reaches **{100 * frac:.0f}%** of the bare client's throughput."
                    " The comparison is not like for like: the bare client's request bodies (PNG "
                    "already encoded) were built before its clock started, while each agent "
                    "captures, encodes and records its screenshot and writes its trajectory inside "
                    "the measured window; the single-request ratios above compare identical work."
                    if frac is not None
                    else ""
                ),
                "",
            ]
        images = data.get("images")
        if isinstance(images, dict) and images:
            header_keys = sorted(
                {k for v in images.values() for k in v if k.startswith("concurrent")}
            )
            ttft_key = next((k for k in header_keys if k.endswith("_ttft")), None)
            tps_key = next((k for k in header_keys if k.endswith("tokens_per_s")), None)
            out += [
                "**Image variants** (1920x1080 screenshots, 16x): as captured vs pre-sized to the "
                "processor's own size, PNG vs JPEG. First token ms (median / p95):",
                "",
                table(
                    [
                        "variant",
                        "sent size",
                        "bytes per image",
                        "first token, alone",
                        f"first token, {''.join(c for c in (ttft_key or '') if c.isdigit()) or 'many'} at once",
                        "output tokens/s, all at once",
                    ],
                    [
                        [
                            name,
                            v.get("sent_size"),
                            v.get("bytes_per_image"),
                            _summary_s(v.get("single_ttft")),
                            _summary_s(v.get(ttft_key)) if ttft_key else "–",
                            fmt(v.get(tps_key), 1) if tps_key else "–",
                        ]
                        for name, v in images.items()
                    ],
                ),
                "",
            ]
        for key in sorted(k for k in data if k.startswith("pair")):
            pr = data[key]
            out += [
                f"**agentkit vs the bare client at {pr.get('agents')}, like for like** (both encode "
                "the same pre-rendered screenshots inside the clock; agentkit also records every "
                f"frame and step), {pr.get('rounds')} alternating rounds, output tokens/s: agentkit "
                f"{', '.join(fmt(x, 1) for x in pr.get('agentkit_output_tokens_per_s', []))}; bare "
                f"client {', '.join(fmt(x, 1) for x in pr.get('raw_output_tokens_per_s', []))}; "
                f"ratio of medians **{fmt(pr.get('fraction'), 3)}**.",
                "",
            ]
        if data.get("errors"):
            out += [
                "Sections that failed: "
                + "; ".join(f"{k}: {v}" for k, v in data["errors"].items()),
                "",
            ]
        extra = {k: v for k, v in data.items() if k not in GPU_KNOWN}
        if extra:
            # sections this page has no layout for yet (e.g. the embedded backend): shown raw
            out += [
                "Other results in this file (raw):",
                "",
                "```json",
                json.dumps(extra, indent=1)[:6000],
                "```",
                "",
            ]
    if len(gpus) > 1:
        rows = []
        for name, data in gpus.items():
            at32 = next((r for r in data.get("concurrency") or [] if r.get("agents") == 32), None)
            at64 = next((r for r in data.get("concurrency") or [] if r.get("agents") == 64), None)
            rows.append(
                [
                    name,
                    f"`{data.get('server_args') or 'recipe defaults'}`",
                    fmt(get(at32, "output_tokens_per_s"), 1),
                    _summary_s(get(at32, "ttft")),
                    fmt(get(at64, "output_tokens_per_s"), 1),
                ]
            )
        out += [
            "**Server settings compared** (agentkit, one screenshot per agent):",
            "",
            table(
                [
                    "run",
                    "server flags",
                    "32 agents: tokens/s",
                    "32 agents: first token ms",
                    "64 agents: tokens/s",
                ],
                rows,
            ),
            "",
        ]
    if img:
        out += [f"![Time to first token vs concurrency]({img})", ""]
    elif gpus:
        out += ["(No first-token-vs-concurrency plot: no concurrency rows in the GPU results.)", ""]
    return "\n".join(out)


def is_embedded(data: dict[str, Any]) -> bool:
    """Results of benchmarks/gpu_embedded.py (the in-process vLLM engine)."""
    return "engine_start_s" in data or any(k.startswith("batch") for k in data)


def section_embedded(embedded: dict[str, dict[str, Any]], gpus: dict[str, dict[str, Any]]) -> str:
    out = ["## Embedded vLLM backend on the GPU", ""]
    if not embedded:
        return "\n".join(
            out
            + [
                NOT_MEASURED + " On the GPU machine, with the server stopped: "
                "`python benchmarks/gpu_embedded.py --out $OUT/gpu_embedded.json`, committed as "
                "`benchmarks/results/gpu_embedded.json`.",
                "",
            ]
        )
    server = next(iter(gpus.values()), {})
    for name, d in embedded.items():
        out += [
            f"### {name}",
            "",
            f"- Date: {d.get('date', 'unknown')}; random weights; {d.get('out_tokens', '?')} output "
            "tokens per request; the same checkpoint as the server, in-process (`VllmBackend`).",
            f"- Reproduce: `{d.get('command') or 'python benchmarks/gpu_embedded.py --out $OUT/gpu_embedded.json'}`",
            f"- Engine start: {fmt(d.get('engine_start_s'), 1)} s"
            + (
                f" (engine argument refused: {d['engine_kwargs_error']})"
                if d.get("engine_kwargs_error")
                else ""
            ),
            "",
            "This backend does not stream tokens: times are to the whole answer.",
            "",
        ]
        rows = []
        for mode in ("16x", "4x"):
            times = d.get(f"single_{mode}_s")
            if isinstance(times, list) and times:
                rows.append(
                    [
                        f"one request, {mode}",
                        ", ".join(fmt(t * 1000, 0) for t in times) + " ms",
                        fmt(d.get(f"prompt_tokens_{mode}")),
                        fmt(d.get(f"visual_tokens_{mode}")),
                    ]
                )
        if rows:
            out += [
                table(["", "time to the whole answer", "prompt tokens", "visual tokens"], rows),
                "",
            ]
        rows = []
        for key in sorted(
            (k for k in d if k.startswith("batch")),
            key=lambda k: int("".join(c for c in k if c.isdigit()) or 0),
        ):
            n = int("".join(c for c in key.split("_")[0] if c.isdigit()) or 0)
            srv = next((r for r in server.get("concurrency") or [] if r.get("agents") == n), None)
            rows.append(
                [
                    key,
                    fmt(get(d, key, "wall_s"), 2),
                    fmt(get(d, key, "output_tokens_per_s"), 1),
                    ms(get(d, key, "median_request_s"), 0),
                    fmt(get(srv, "output_tokens_per_s"), 1),
                ]
            )
        if rows:
            out += [
                "Concurrent requests in one process, beside the server's agents at the same count "
                "(first server results file; both send a fresh 1280x720 screenshot at 16x and "
                "generate the same number of tokens per request):",
                "",
                table(
                    [
                        "batch",
                        "wall s",
                        "output tokens/s",
                        "median request ms",
                        "server: output tokens/s",
                    ],
                    rows,
                ),
                "",
            ]
        run = d.get("agent_run")
        if isinstance(run, dict):
            out += [
                f"An agent run through the loop on this backend: status {run.get('status')}, "
                f"{run.get('steps')} steps, {fmt(run.get('wall_s'), 2)} s, {fmt(run.get('prompt_tokens'))} "
                f"prompt tokens ({fmt(run.get('visual_tokens'))} visual). {run.get('note', '')}",
                "",
            ]
    return "\n".join(out)


def section_summary(
    overhead: dict[str, Any] | None,
    conc: dict[str, Any] | None,
    parser: dict[str, Any] | None,
    vision: dict[str, Any] | None,
    soak: dict[str, dict[str, Any]],
    gpus: dict[str, dict[str, Any]],
) -> str:
    rows: list[list[str]] = []
    if overhead:
        rows.append(
            [
                "SDK cost per step, image work excluded (CPU)",
                f"{fmt(overhead.get('parts_total_without_encode_ms'), 2)} ms",
            ]
        )
        rows.append(
            [
                "encoding one 1920x1080 screenshot (CPU, worker thread)",
                f"{fmt(get(overhead, 'parts', 'encode_frame', 'median_ms'), 1)} ms",
            ]
        )
        if get(overhead, "parts", "downgrade_image") is not None:
            rows.append(
                [
                    "downgrading one older frame for the bounded history (CPU, worker thread)",
                    f"{fmt(get(overhead, 'parts', 'downgrade_image', 'median_ms'), 1)} ms",
                ]
            )
        http = get(overhead, "steps", "text_only", "http_cost_ms")
        if http is not None:
            rows.append(
                ["HTTP client + zero-latency round trip per step (CPU)", f"{fmt(http, 1)} ms"]
            )
    else:
        rows.append(["SDK cost per step (CPU)", "not measured yet"])
    if conc:
        rows.append(
            [
                "client CPU per step with a 1080p screenshot, worst level (CPU)",
                f"{fmt(conc.get('client_cpu_ms_per_step_worst_screenshot'), 1)} ms vs ~{fmt(conc.get('server_preprocess_ms_per_1080p_gpu'), 0)} ms server preprocessing",
            ]
        )
    else:
        rows.append(["concurrent agents (CPU)", "not measured yet"])
    if parser:
        rows.append(
            [
                "parser, realistic outputs",
                f"{fmt(get(parser, 'realistic', 'whole_calls_per_s'), 0)} calls/s whole, {fmt(get(parser, 'realistic', 'streaming_calls_per_s'), 0)} streaming",
            ]
        )
    else:
        rows.append(["parser throughput", "not measured yet"])
    if vision:
        steps = get(vision, "history", "steps", default=[]) or []
        last = [r for r in steps if r.get("mode") == "16x"]
        if last:
            r = max(last, key=lambda x: x["step"])
            rows.append(
                [
                    f"prompt tokens at step {r['step']}, 16x",
                    f"{fmt(get(r, 'bounded', 'total'))} bounded vs {fmt(get(r, 'unbounded', 'total'))} unbounded",
                ]
            )
    else:
        rows.append(["visual tokens per step", "not measured yet"])
    for label, d in soak.items():
        rows.append(
            [
                f"soak ({label})",
                f"{d.get('runs')} runs, {d.get('hangs')} hangs, ok: {fmt(d.get('ok'))}",
            ]
        )
    if gpus:
        for name, g in gpus.items():
            ov = g.get("overhead") or {}
            if ov.get("ratio_ttft") is not None:
                rows.append(
                    [
                        f"GPU ({name}): agentkit / bare client, first token",
                        fmt(ov.get("ratio_ttft"), 3),
                    ]
                )
                rows.append(
                    [f"GPU ({name}): agentkit / bare client, step", fmt(ov.get("ratio_step"), 3)]
                )
            raw = g.get("raw_concurrency") or {}
            ak = next(
                (r for r in g.get("concurrency") or [] if r.get("agents") == raw.get("requests")),
                None,
            )
            if ak and raw.get("output_tokens_per_s"):
                rows.append(
                    [
                        f"GPU ({name}): throughput at {raw['requests']} agents, agentkit / bare "
                        "client (bare client's bodies built before its clock)",
                        f"{100 * ak['output_tokens_per_s'] / raw['output_tokens_per_s']:.0f}%",
                    ]
                )
            for key in sorted(k for k in g if k.startswith("pair")):
                pr = g[key]
                rows.append(
                    [
                        f"GPU ({name}): throughput at {pr.get('agents')} agents, agentkit / bare "
                        "client, like for like",
                        f"{100 * pr.get('fraction', 0):.0f}%",
                    ]
                )
    else:
        rows.append(["GPU figures (real vLLM)", "not measured yet"])
    return "\n".join(["## Summary", "", table(["figure", "value"], rows), ""])


def is_grammar(data: dict[str, Any]) -> bool:
    """Results of benchmarks/gpu_grammar.py (constrained tool calls on real vLLM)."""
    return isinstance(data.get("modes"), dict) and "non_stream" in data["modes"]


def section_grammar(grammar: dict[str, dict[str, Any]]) -> str:
    out = ["## Constrained tool calls on the GPU", ""]
    if not grammar:
        return "\n".join(out + ["No results committed yet: run `benchmarks/gpu_grammar.py`.", ""])
    for name, d in grammar.items():
        out += [
            f"### {name}",
            "",
            f"- Machine: {d.get('machine', 'unknown')}; {d.get('versions', '')}",
            f"- Reproduce: `{d.get('command', 'python benchmarks/gpu_grammar.py')}`",
            f"- {d.get('n', '?')} random tool sets (seed {d.get('seed', '?')}); each request "
            'constrained by agentkit\'s grammar as `structured_outputs: {"regex": ...}`; a request '
            "passes when agentkit's own validation finds exactly one valid call and no error. "
            "Random weights: the grammar, not the model, makes the calls valid.",
            "",
            "Timing pairs: the same request constrained and unconstrained, generating the same "
            "number of tokens (`ignore_eos`). Medians.",
            "",
        ]
        rows = []
        for mode, m in d["modes"].items():
            rows.append(
                [
                    mode,
                    m.get("requests"),
                    m.get("valid_calls"),
                    ", ".join(f"{k} {v}" for k, v in (m.get("found_in") or {}).items()),
                    ms(get(m, "unconstrained_total_s", "median")),
                    ms(get(m, "constrained_total_s", "median")),
                    ms(get(m, "extra_total_s_per_request", "median")),
                    fmt(get(m, "extra_ms_per_token", "median"), 2),
                    ms(get(m, "unconstrained_first_token_s", "median")),
                    ms(get(m, "constrained_first_token_s", "median")),
                ]
            )
        out += [
            table(
                [
                    "mode",
                    "requests",
                    "valid calls",
                    "calls found in",
                    "unconstrained ms",
                    "constrained ms",
                    "extra ms / request",
                    "extra ms / token",
                    "first token ms, unconstrained",
                    "constrained",
                ],
                rows,
            ),
            "",
        ]
        ebnf = d.get("ebnf") or {}
        if ebnf:
            out += [
                f'GBNF form (`structured_outputs: {{"grammar": ...}}`): {ebnf.get("valid_calls")} '
                f"valid calls of {ebnf.get('requests')} requests.",
                "",
            ]
    return "\n".join(out)


def render(results: Path, docs: Path) -> str:
    overhead = load(results / "overhead.json")
    conc = load(results / "concurrency.json")
    vision = load(results / "vision.json")
    parser = load(results / "parser.json")
    soak_long = load(results / "soak.json")
    soak_short = load(results / "soak_short.json")
    found = {p.stem: d for p in sorted(results.glob("gpu*.json")) if (d := load(p)) is not None}
    embedded = {k: v for k, v in found.items() if is_embedded(v)}
    grammar = {k: v for k, v in found.items() if is_grammar(v)}
    gpus = {k: v for k, v in found.items() if k not in embedded and k not in grammar}

    img_dir = docs / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, str | None] = {}
    plots_ok = _pyplot() is not None
    for key, fn, data in (
        ("overhead", plot_overhead, overhead),
        ("concurrency", plot_concurrency, conc),
    ):
        path = img_dir / f"bench_{key}.png"
        images[key] = f"img/{path.name}" if data is not None and fn(data, path) else None
    gpu_path = img_dir / "bench_gpu_ttft.png"
    images["gpu"] = f"img/{gpu_path.name}" if gpus and plot_gpu_ttft(gpus, gpu_path) else None

    head = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/make_report.py from benchmarks/results/*.json: do not edit by hand. -->",
        "",
        "What a step of an agentkit agent costs, how many agents one client carries, and how the "
        "real model server behaves under them. Every figure below comes from raw JSON committed in "
        "`benchmarks/results/`, with the machine, date, versions and the command that reproduces it.",
        "",
        "Reproduce the CPU figures and this page:",
        "",
        "    pip install -e '.[bench]'              # matplotlib, for the plots",
        "    python benchmarks/run_all.py           # every CPU benchmark, JSON into benchmarks/results/",
        "    python benchmarks/make_report.py       # this page and docs/img/bench_*.png",
        "",
        "**About the CPU figures:** they were measured on a small shared machine (2 cores, other "
        "processes running at the same time), so absolute times are noisy. Compare figures taken in "
        "the same run (each JSON is one run: scripted vs HTTP, client vs server CPU, parts vs whole "
        "steps were measured side by side) rather than across files. **The GPU figures use random "
        "weights:** real timing and token counts, meaningless text.",
        "",
    ]
    if not plots_ok:
        head += [
            "(matplotlib is not installed: the plots were not generated; `pip install -e '.[bench]'`.)",
            "",
        ]
    run_all = load(results / "run_all.json")
    if run_all and run_all.get("benchmarks"):
        head += [
            "The CPU benchmarks as `benchmarks/run_all.py` last ran them:",
            "",
            table(
                ["benchmark", "command", "date", "seconds", "ok"],
                [
                    [
                        name,
                        f"`{b.get('command', '')}`"
                        + (" (quick: figures meaningless)" if b.get("quick") else ""),
                        b.get("date", run_all.get("date", "")),
                        fmt(b.get("seconds"), 1),
                        fmt(b.get("ok")),
                    ]
                    for name, b in run_all["benchmarks"].items()
                ],
            ),
            "",
        ]
    parts = [
        "\n".join(head),
        section_summary(
            overhead,
            conc,
            parser,
            vision,
            {k: v for k, v in (("long", soak_long), ("short", soak_short)) if v is not None},
            gpus,
        ),
        section_overhead(overhead, images["overhead"]),
        section_concurrency(conc, images["concurrency"], overhead),
        section_vision(vision),
        section_parser(parser),
        section_soak(soak_long, soak_short),
        section_gpu(gpus, images["gpu"]),
        section_grammar(grammar),
        section_embedded(embedded, gpus),
    ]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--docs", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    docs = Path(args.docs)
    page = render(Path(args.results), docs)
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "BENCHMARKS.md").write_text(page, encoding="utf-8")
    print(f"wrote {docs / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
