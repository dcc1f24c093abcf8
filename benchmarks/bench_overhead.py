"""Benchmark of the SDK's own cost per agent step, without the model and the capture (not a test).

Two views of the same step, on a 1920x1080 synthetic desktop screenshot and a four-tool desktop
toolset (the model always answers at once):

1. **parts**: each piece of a step timed directly with ``time.perf_counter`` around the real
   function: encoding the screenshot (``encode_frame``), estimating the prompt's tokens, building
   the request body (``build_body`` + JSON serialisation, with the conversation as the loop builds
   it at step 10 under the default ``BoundedHistory``), parsing a streamed reply
   (``ToolCallParser.feed``/``finish`` in token-sized chunks), validating the call
   (``Tool.validate``), dispatching it (``Tool.invoke``) and writing the trajectory
   (``TrajectoryWriter.save_frame`` + ``write_step``), and applying the history policy to the
   conversation (``BoundedHistory.apply``, cached) and the one new downgrade per step it makes
   (``downgrade_image``: an older frame re-encoded as a one-tile thumbnail). Median and p95 in ms.
2. **steps**: whole steps of a real ``Agent`` run, from the ``timings`` the loop writes to
   ``steps.jsonl`` (``observe_s``, ``model_s``, ``tools_s``, ``step_s``), against
   ``ScriptedBackend`` (in-process, no HTTP) and against ``LocalServer`` (real HTTP and SSE on
   127.0.0.1, in a separate process so that its CPU is not the client's). The difference between
   the two is the HTTP client plus the round trip to a zero-latency server.

Each figure is the median over ``--runs`` repetitions (steps: median over runs of each run's
median; p95 over all steps pooled).

    python benchmarks/bench_overhead.py [--runs 5] [--steps 10] [--reps 30]
                                        [--out benchmarks/results/overhead.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from agentkit import Agent, Limits, Settings, tool  # noqa: E402
from agentkit.tools import Risk, ToolSet  # noqa: E402
from agentkit.vision._frame import Frame  # noqa: E402

SERVER_MODEL = "openbmb/MiniCPM-V-4.6"

# -- the workload, shared with bench_concurrency.py ------------------------------------------------


def screenshot(width: int, height: int, seed: int) -> Image.Image:
    """A synthetic desktop (windows, title bars, lines of text); different for every seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (rng.randint(200, 235),) * 3)
    d = ImageDraw.Draw(img)
    d.rectangle([0, height - 40, width, height], fill=(30, 34, 40))  # task bar
    words = ["File", "Edit", "View", "Save", "Open", "Cancel", "OK", "Settings", "Search", "2026"]
    for _ in range(10):
        x, y = rng.randint(0, width - 300), rng.randint(0, height - 200)
        w, h = rng.randint(250, width // 2), rng.randint(150, height // 2)
        d.rectangle([x, y, x + w, y + h], fill=(250, 250, 250), outline=(60, 60, 60))
        d.rectangle([x, y, x + w, y + 24], fill=tuple(rng.randint(40, 200) for _ in range(3)))
        for line in range(30, h - 14, 17):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
            d.text((x + 8, y + line), text, fill=(20, 20, 20))
    return img


def screenshots(n: int = 3, size: tuple[int, int] = (1920, 1080)) -> list[Frame]:
    return [Frame(screenshot(size[0], size[1], seed), "synthetic") for seed in range(n)]


class CyclingSource:
    """A frame source without a real capture: pre-rendered frames in turn, each a copy stamped
    with a counter (like a clock in the task bar) so that no two frames are equal, as on a real
    screen (equal frames would hit caches that real runs do not hit). The copy and stamp cost a
    few ms (``grab_ms`` in the results), counted in ``observe``."""

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames
        self.i = 0

    def grab(self) -> Frame:
        self.i += 1
        base = self.frames[self.i % len(self.frames)]
        image = base.image.copy()
        ImageDraw.Draw(image).text((8, image.height - 30), f"{self.i:08d}", fill=(230, 230, 230))
        return Frame(image, base.source)


def desktop_tools() -> ToolSet:
    """Four desktop actions that do nothing (dispatch cost only)."""

    @tool(risk=Risk.READ_ONLY)
    def click(x: int, y: int, button: str = "left") -> str:
        """Click at a point of the screen.

        Args:
            x: horizontal pixel.
            y: vertical pixel.
            button: left, right or middle.
        """
        return f"clicked {button} at ({x}, {y})"

    @tool(risk=Risk.READ_ONLY)
    def type_text(text: str) -> str:
        """Type text into the focused field.

        Args:
            text: what to type.
        """
        return f"typed {len(text)} characters"

    @tool(risk=Risk.READ_ONLY)
    def press(keys: list[str]) -> str:
        """Press a key combination.

        Args:
            keys: key names, e.g. ["ctrl", "s"].
        """
        return "pressed " + "+".join(keys)

    @tool(risk=Risk.READ_ONLY)
    def scroll(dy: int) -> str:
        """Scroll the window under the pointer.

        Args:
            dy: lines to scroll, negative is up.
        """
        return f"scrolled {dy}"

    return ToolSet([click, type_text, press, scroll])


def reply_text(step: int) -> str:
    """A realistic model turn: a sentence of reasoning, then one call."""
    x, y = 100 + 37 * step % 1700, 80 + 53 * step % 900
    return (
        f"The Settings button is in the window at the top right, so I will click it (step {step}).\n"
        f"<tool_call>\n<function=click>\n<parameter=x>\n{x}\n</parameter>\n"
        f"<parameter=y>\n{y}\n</parameter>\n</function>\n</tool_call>"
    )


_STEP_RE = re.compile(r"\(step (\d+)\)")
FINAL_TEXT = "The settings dialog is open and the option is saved. The task is done."


def server_reply(request: dict[str, Any], steps: int) -> Any:
    """The function model of the LocalServer: ``steps`` tool calls, then a final answer."""
    from agentkit.testing.server import Reply

    # The bounded history drops old turns, so count the steps from the step numbers the replies
    # carry ("(step N)"), not from the number of tool messages left in the request.
    done = 0
    for m in request.get("messages", []):
        content = m.get("content")
        if m.get("role") == "assistant" and isinstance(content, str):
            for found in _STEP_RE.findall(content):
                done = max(done, int(found))
    if done >= steps:
        return Reply(FINAL_TEXT, chunk_chars=4)
    return Reply(reply_text(done + 1), chunk_chars=4)


def serve_forever(steps: int) -> None:
    """Child process mode: run a LocalServer, print its URL and CPU, wait for stdin to close."""
    from agentkit.testing.server import LocalServer

    holder: dict[str, Any] = {}

    def model(request: dict[str, Any]) -> Any:
        srv = holder.get("srv")
        if srv is not None and len(srv.requests) > 64:
            srv.requests.clear()  # the server records every request; keep memory flat
        return server_reply(request, steps)

    with LocalServer(model) as srv:
        holder["srv"] = srv
        print(json.dumps({"base_url": srv.base_url, "cpu_s": time.process_time()}), flush=True)
        for line in sys.stdin:
            if line.strip() == "cpu":
                print(
                    json.dumps({"cpu_s": time.process_time(), "errors": len(srv.errors)}),
                    flush=True,
                )
    print(json.dumps({"cpu_s": time.process_time()}), flush=True)


class ServerProcess:
    """A LocalServer in a child process; :meth:`cpu_s` reads the child's CPU time so far."""

    def __init__(self, steps: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", "--steps", str(steps)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first:
            self.proc.wait(5)
            raise RuntimeError("the LocalServer child process did not start")
        info = json.loads(first)
        self.base_url: str = info["base_url"]

    def cpu_s(self) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("cpu\n")
        self.proc.stdin.flush()
        return float(json.loads(self.proc.stdout.readline())["cpu_s"])

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextmanager
def server_process(steps: int) -> Iterator[ServerProcess]:
    srv = ServerProcess(steps)
    try:
        yield srv
    finally:
        srv.close()


def settings_for(root: Path) -> Settings:
    cfg = root / "agentkit.toml"
    root.mkdir(parents=True, exist_ok=True)
    cfg.write_text("")
    return Settings.resolve(env={}, config_path=cfg, trajectory_dir=str(root / "runs"))


def make_agent(
    backend: Any, frames: list[Frame] | None, settings: Settings, steps: int
) -> Agent[Any]:
    return Agent(
        backend,
        tools=desktop_tools(),
        source=CyclingSource(frames) if frames else None,
        policy="16x",
        settings=settings,
        limits=Limits(max_steps=steps + 5),
        settle_timeout_s=0,
    )


def machine() -> dict[str, Any]:
    import PIL

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
        "pillow": PIL.__version__,
        "agentkit": _agentkit_version(),
        "load_average_1m": load_average(),
        "note": "shared machine: other processes may run at the same time; compare figures of one run",
    }


def load_average() -> float | None:
    """The 1-minute load average (how busy the shared machine was), where the OS has one."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _agentkit_version() -> str:
    try:
        from agentkit._version import __version__

        return str(__version__)
    except Exception:  # noqa: BLE001 - a version is nice to have
        return "unknown"


def stats_ms(values_s: list[float]) -> dict[str, float | int | None]:
    """Median, p95, min, max in milliseconds."""
    if not values_s:
        return {"n": 0, "median_ms": None, "p95_ms": None, "min_ms": None, "max_ms": None}
    s = sorted(values_s)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return {
        "n": len(s),
        "median_ms": round(statistics.median(s) * 1000, 4),
        "p95_ms": round(p95 * 1000, 4),
        "min_ms": round(s[0] * 1000, 4),
        "max_ms": round(s[-1] * 1000, 4),
    }


# -- 1. the parts -------------------------------------------------------------------------------------


def _time(fn: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure_parts(frames: list[Frame], reps: int, workdir: Path) -> dict[str, Any]:
    """Each part of a step, timed around the real function."""
    from agentkit.backends._openai_wire import build_body
    from agentkit.parsing import ToolCallParser
    from agentkit.testing import ScriptedBackend
    from agentkit.tools import RunContext
    from agentkit.trajectory import TrajectoryWriter
    from agentkit.vision import encode_frame, estimate_prompt_tokens
    from agentkit.vision._history import downgrade_image

    toolset = desktop_tools()
    settings = settings_for(workdir / "parts")

    # a real request at step 10, as the loop builds it (history policy applied)
    scripted = ScriptedBackend([reply_text(i) for i in range(1, 10)] + [FINAL_TEXT])
    agent = make_agent(scripted, frames, settings, steps=9)
    first = agent.run("open the settings and save the option")
    request = scripted.requests[-1]
    assert first.trajectory_dir is not None
    step_record = [
        json.loads(x) for x in (first.trajectory_dir / "steps.jsonl").read_text().splitlines()
    ][-2]

    frame = frames[0]
    part = encode_frame(frame, mode="16x")
    text = reply_text(3)
    chunks = [text[i : i + 4] for i in range(0, len(text), 4)]

    def parse() -> Any:
        p = ToolCallParser(toolset, call_id_prefix="call_3")
        for c in chunks:
            p.feed(c)
        return p.finish("stop")

    parsed = parse()
    call = parsed.calls[0]
    click = toolset.get("click")
    assert click is not None
    writer = TrajectoryWriter(workdir / "parts" / "traj", "bench")
    writer.start(task="bench")
    ctx: RunContext[None] = RunContext(run_id="bench", step=3, settings=settings, frames=[frame])
    counter = iter(range(10**9))

    async def dispatch_all() -> list[float]:
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            await click.invoke(call.validated, ctx)
            out.append(time.perf_counter() - t0)
        return out

    history = agent.history
    conversation = list(first.messages)
    source = CyclingSource(frames)
    grab = _time(source.grab, reps)
    raw: dict[str, list[float]] = {
        "encode_frame": _time(lambda: encode_frame(frame, mode="16x"), reps),
        "history_view": _time(
            lambda: history.apply(conversation) if history is not None else conversation, reps
        ),
        "downgrade_image": _time(lambda: downgrade_image(part), reps),
        "estimate_tokens": _time(
            lambda: estimate_prompt_tokens(
                request.messages, request.mode, None, extra_text=json.dumps(request.tools)
            ),
            reps,
        ),
        "build_body": _time(
            lambda: json.dumps(build_body(request, model=SERVER_MODEL)).encode(), reps
        ),
        "parse_stream": _time(parse, reps),
        "validate": _time(lambda: click.validate(dict(call.arguments)), reps),
        "dispatch": asyncio.run(dispatch_all()),
        "save_frame": _time(
            lambda: writer.save_frame(
                frame,
                f"f{next(counter)}",
                encoded=(part.data, part.media_type, part.width, part.height),
            ),
            reps,
        ),
        "write_step": _time(lambda: writer.write_step(step_record), reps),
    }
    writer.finish(status="completed")
    body_bytes = len(json.dumps(build_body(request, model=SERVER_MODEL)).encode())
    return {
        "frame": f"{frame.width}x{frame.height}",
        "encoded": {
            "format": part.media_type,
            "bytes": len(part.data),
            "size": f"{part.width}x{part.height}",
        },
        "request_at_step": 10,
        "request_messages": len(request.messages),
        "request_images": sum(len(m.images) for m in request.messages),
        "request_body_bytes": body_bytes,
        "grab_ms": round(statistics.median(grab) * 1000, 3),
        "reply_chars": len(text),
        "reply_chunks": len(chunks),
        "parts": {k: stats_ms(v) for k, v in raw.items()},
        "_raw": raw,
    }


# -- 2. whole steps -----------------------------------------------------------------------------------

TIMING_KEYS = ("observe_s", "model_s", "tools_s", "step_s")


def _steps_of(result: Any) -> list[dict[str, float]]:
    out = []
    for line in (result.trajectory_dir / "steps.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") == "step":
            out.append(rec["timings"])
    return out


async def _run_scripted(
    frames: list[Frame] | None, settings: Settings, steps: int
) -> list[dict[str, float]]:
    from agentkit.testing import ScriptedBackend

    backend = ScriptedBackend([reply_text(i) for i in range(1, steps + 1)] + [FINAL_TEXT])
    agent = make_agent(backend, frames, settings, steps)
    result = await agent.run_async("open the settings and save the option")
    if result.status != "completed":
        raise RuntimeError(f"scripted run ended {result.status}: {result.error}")
    return _steps_of(result)


async def _run_http(
    base_url: str, frames: list[Frame] | None, settings: Settings, steps: int
) -> list[dict[str, float]]:
    import httpx

    from agentkit.backends.openai_compat import OpenAICompatBackend

    async with httpx.AsyncClient() as http:
        backend = OpenAICompatBackend(base_url, SERVER_MODEL, settings=settings, http_client=http)
        agent = make_agent(backend, frames, settings, steps)
        result = await agent.run_async("open the settings and save the option")
    if result.status != "completed":
        raise RuntimeError(f"HTTP run ended {result.status}: {result.error}")
    return _steps_of(result)


def _summarise_steps(per_run: list[list[dict[str, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(per_run), "steps_per_run": len(per_run[0]) if per_run else 0}
    for key in TIMING_KEYS:
        medians = [statistics.median(t.get(key, 0.0) for t in run) for run in per_run]
        pooled = [t.get(key, 0.0) for run in per_run for t in run]
        st = stats_ms(pooled)
        out[key] = {
            "median_ms": round(statistics.median(medians) * 1000, 3),
            "p95_ms": st["p95_ms"],
            "run_medians_ms": [round(m * 1000, 3) for m in medians],
        }
    return out


def measure_steps(frames: list[Frame], runs: int, steps: int, workdir: Path) -> dict[str, Any]:
    settings = settings_for(workdir / "steps")
    out: dict[str, Any] = {}
    with server_process(steps) as srv:
        for label, use_frames in (("screenshot", frames), ("text_only", None)):
            scripted: list[list[dict[str, float]]] = []
            http: list[list[dict[str, float]]] = []
            for _ in range(runs):  # interleaved, so both see the same machine load
                scripted.append(asyncio.run(_run_scripted(use_frames, settings, steps)))
                http.append(asyncio.run(_run_http(srv.base_url, use_frames, settings, steps)))
            s, h = _summarise_steps(scripted), _summarise_steps(http)
            out[label] = {
                "scripted": s,
                "local_server": h,
                "http_cost_ms": round(h["step_s"]["median_ms"] - s["step_s"]["median_ms"], 3),
            }
    return out


def run(runs: int, steps: int, reps: int, size: tuple[int, int]) -> dict[str, Any]:
    frames = screenshots(3, size)
    with tempfile.TemporaryDirectory(prefix="agentkit-bench-") as tmp:
        work = Path(tmp)
        part_runs = [measure_parts(frames, reps, work) for _ in range(runs)]
        steps_result = measure_steps(frames, runs, steps, work)
    first = part_runs[0]
    parts: dict[str, Any] = {}
    for name in first["parts"]:
        medians = [statistics.median(p["_raw"][name]) for p in part_runs]
        pooled = [v for p in part_runs for v in p["_raw"][name]]
        parts[name] = {
            "median_ms": round(statistics.median(medians) * 1000, 4),
            "p95_ms": stats_ms(pooled)["p95_ms"],
            "run_medians_ms": [round(m * 1000, 4) for m in medians],
        }
    groups = {
        "request build (encode, history, estimate, body)": [
            "encode_frame",
            "history_view",
            "downgrade_image",
            "estimate_tokens",
            "build_body",
        ],
        "parse": ["parse_stream"],
        "validation": ["validate"],
        "dispatch": ["dispatch"],
        "trajectory write": ["save_frame", "write_step"],
    }
    total = sum(parts[n]["median_ms"] for n in parts)
    # Where each part runs: the loop encodes frames, saves them and applies the history policy
    # (which downgrades older frames) in worker threads; the rest runs on the event loop, which all
    # agents of a process share (a serial point).
    threaded = ("encode_frame", "save_frame", "history_view", "downgrade_image")
    on_loop = round(sum(v["median_ms"] for n, v in parts.items() if n not in threaded), 4)
    return {
        "benchmark": "overhead",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "command": "python benchmarks/bench_overhead.py " + " ".join(sys.argv[1:]),
        "config": {"runs": runs, "steps": steps, "reps": reps, "size": f"{size[0]}x{size[1]}"},
        "workload": {k: v for k, v in first.items() if k not in ("parts", "_raw")},
        "parts": parts,
        "groups_median_ms": {
            g: round(sum(parts[n]["median_ms"] for n in names), 4) for g, names in groups.items()
        },
        "parts_total_median_ms": round(total, 4),
        "parts_total_without_encode_ms": round(
            total - parts["encode_frame"]["median_ms"] - parts["downgrade_image"]["median_ms"], 4
        ),
        "event_loop_ms_per_step": on_loop,
        "worker_thread_ms_per_step": round(sum(parts[n]["median_ms"] for n in threaded), 4),
        "threaded_parts": list(threaded),
        "steps": steps_result,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=5, help="repetitions (the median is reported)")
    ap.add_argument("--steps", type=int, default=10, help="tool-call steps per agent run")
    ap.add_argument("--reps", type=int, default=30, help="timings per part per run")
    ap.add_argument("--size", default="1920x1080", help="screenshot size WxH")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "overhead.json"))
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve_forever(args.steps)
        return 0
    w, h = (int(x) for x in args.size.lower().split("x"))
    result = run(args.runs, args.steps, args.reps, (w, h))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        "parts (median ms): "
        + ", ".join(f"{k} {v['median_ms']:.3f}" for k, v in result["parts"].items())
    )
    for label, r in result["steps"].items():
        print(
            f"{label}: step {r['scripted']['step_s']['median_ms']:.1f} ms scripted, "
            f"{r['local_server']['step_s']['median_ms']:.1f} ms over HTTP (+{r['http_cost_ms']:.1f})"
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
