"""Real vLLM on the GPU machine: agentkit's own remote backend and concurrency API, measured.

Run on the GPU machine after `.gpu/run/dev_run.sh` has vLLM serving (BASE_URL and MODEL set):

    BENCH_CMD='python benchmarks/gpu_bench.py --out $OUT/gpu.json' bash .gpu/run/dev_run.sh main

Sections (each bounded in time; results are written after every section):
  overhead     agentkit vs a bare `openai` client sending identical requests: first token, step time
  modes        16x vs 4x at 1920x1080 and 1280x720: prompt tokens (vs agentkit's count), first token
  concurrency  1, 8, 32, 64 agents through Agent.run_many_async: output tokens/s, first-token spread
  images       the same screenshots sent as-is (PNG), pre-sized to the processor's size, and as JPEG
  raw32        the bare client at 32 concurrent requests, bodies built before the clock
  pair32       agentkit at 32 agents vs the bare client at 32, the same work inside the clock

The weights are random (`--load-format dummy`): timings and token counts are real, text is noise.
Generation uses `ignore_eos` with a fixed `max_tokens` so both sides generate the same length.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from agentkit import Agent, Limits, Settings
from agentkit.backends import ModelRequest, complete
from agentkit.backends._openai_wire import build_body
from agentkit.backends.openai_compat import OpenAICompatBackend
from agentkit.messages import Message, TextPart
from agentkit.vision import Frame, encode_frame, image_tokens

OUT_TOKENS = 64


def screenshot(width: int, height: int, seed: int) -> Image.Image:
    """A synthetic desktop: windows, buttons and lines of text; different for every seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (rng.randint(200, 240),) * 3)
    d = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randint(0, width - 200), rng.randint(0, height - 120)
        w, h = rng.randint(150, width // 2), rng.randint(80, height // 2)
        d.rectangle(
            [x, y, x + w, y + h],
            fill=tuple(rng.randint(150, 255) for _ in range(3)),
            outline=(40, 40, 40),
        )
        for line in range(0, h - 14, 16):
            words = " ".join(
                rng.choice(["File", "Edit", "Save", "Open", "Cancel", "OK", "Settings", "42"])
                for _ in range(6)
            )
            d.text((x + 6, y + 4 + line), words, fill=(20, 20, 20))
    return img


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": round(statistics.median(values), 4) if values else None,
        "p95": round(pct(values, 0.95), 4) if values else None,
        "min": round(min(values), 4) if values else None,
        "max": round(max(values), 4) if values else None,
    }


class Bench:
    def __init__(self, base_url: str, model: str, out: Path, budget_s: float) -> None:
        self.base_url, self.model, self.out = base_url, model, out
        self.deadline = time.monotonic() + budget_s
        self.results: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": os.environ.get("GPU_NAME", "") or platform.node(),
            "python": platform.python_version(),
            "weights": "random (--load-format dummy): real timing and token counts, meaningless text",
            "out_tokens": OUT_TOKENS,
        }
        self.seed = 1000

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.results, indent=2))

    def fresh(self, width: int, height: int) -> Frame:
        self.seed += 1
        return Frame(screenshot(width, height, self.seed), "synthetic")

    def request(self, frame: Frame | None, mode: str = "16x", **encode_kw: Any) -> ModelRequest:
        parts: list[Any] = [TextPart("Describe the screen.")]
        if frame is not None:
            parts.append(encode_frame(frame, mode=mode, **encode_kw))
        return ModelRequest(
            messages=[Message("user", parts)],
            mode=mode,  # type: ignore[arg-type]
            max_tokens=OUT_TOKENS,
            extra_body={"ignore_eos": True},
        )

    # -- the bare client ----------------------------------------------------------------------
    async def raw(self, client: Any, body: dict[str, Any]) -> tuple[float, float, int]:
        """Send the exact body agentkit would send with the bare openai client, streamed."""
        known = {
            "model",
            "messages",
            "max_tokens",
            "temperature",
            "stream",
            "stream_options",
            "tools",
            "tool_choice",
        }
        kwargs = {k: v for k, v in body.items() if k in known}
        extra = {k: v for k, v in body.items() if k not in known}
        t0 = time.perf_counter()
        first = None
        tokens = 0
        stream = await client.chat.completions.create(**kwargs, extra_body=extra)
        async for chunk in stream:
            if (
                chunk.choices
                and chunk.choices[0].delta
                and chunk.choices[0].delta.content
                and first is None
            ):
                first = time.perf_counter() - t0
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
        return (first if first is not None else float("nan")), time.perf_counter() - t0, tokens

    async def agentkit_one(
        self, backend: OpenAICompatBackend, req: ModelRequest
    ) -> tuple[float, float, int, int]:
        t0 = time.perf_counter()
        resp = await complete(backend, req)
        return (
            (resp.first_token_s or float("nan")),
            time.perf_counter() - t0,
            resp.usage.completion_tokens,
            resp.usage.prompt_tokens,
        )

    # -- sections -----------------------------------------------------------------------------
    async def overhead(self, backend: OpenAICompatBackend, client: Any, pairs: int = 12) -> None:
        rows: dict[str, list[float]] = {
            "ak_ttft": [],
            "raw_ttft": [],
            "ak_total": [],
            "raw_total": [],
        }
        for i in range(pairs):
            if self.left() < 60:
                break
            # identical requests: the same body, with a fresh screenshot for each side (a repeated
            # image would hit the server's processor cache and flatter the second sender)
            reqs = [self.request(self.fresh(1280, 720)) for _ in range(2)]
            order = ["ak", "raw"] if i % 2 == 0 else ["raw", "ak"]
            for who, req in zip(order, reqs, strict=True):
                if who == "ak":
                    ttft, total, _, _ = await self.agentkit_one(backend, req)
                else:
                    body = build_body(req, model=self.model, send_max_slice_nums=False)
                    ttft, total, _ = await self.raw(client, body)
                rows[f"{who}_ttft"].append(ttft)
                rows[f"{who}_total"].append(total)
        r = {k: summary(v) for k, v in rows.items()}
        if rows["raw_ttft"]:
            r["ratio_ttft"] = round(
                statistics.median(rows["ak_ttft"]) / statistics.median(rows["raw_ttft"]), 4
            )
            r["ratio_step"] = round(
                statistics.median(rows["ak_total"]) / statistics.median(rows["raw_total"]), 4
            )
        self.results["overhead"] = r

    async def modes(self, backend: OpenAICompatBackend) -> None:
        base = await self.agentkit_one(backend, self.request(None))
        text_prompt = base[3]
        rows = []
        for w, h in [(1920, 1080), (1280, 720)]:
            for mode in ("16x", "4x"):
                ttfts, prompts = [], []
                for _ in range(4):
                    if self.left() < 40:
                        break
                    ttft, _, _, prompt = await self.agentkit_one(
                        backend, self.request(self.fresh(w, h), mode, resize=False)
                    )
                    ttfts.append(ttft)
                    prompts.append(prompt)
                expected = image_tokens(w, h, mode).total
                rows.append(
                    {
                        "size": f"{w}x{h}",
                        "mode": mode,
                        "server_image_tokens": (prompts[0] - text_prompt) if prompts else None,
                        "agentkit_image_tokens": expected,
                        "equal": bool(prompts) and prompts[0] - text_prompt == expected,
                        "ttft": summary(ttfts),
                    }
                )
        self.results["modes"] = {"text_only_prompt_tokens": text_prompt, "rows": rows}

    async def _agents_once(
        self, backend: OpenAICompatBackend, n: int, mode: str, root: Path
    ) -> tuple[float, int, list[float], int]:
        """n agents, one step each on a fresh 1280x720 screenshot: wall, tokens, first tokens."""
        frames = [self.fresh(1280, 720) for _ in range(n)]

        class One:
            def __init__(self, frames: list[Frame]) -> None:
                self.frames = list(frames)

            def grab(self) -> Frame:
                return self.frames.pop()

        settings = Settings(max_tokens=OUT_TOKENS, trajectory_dir=str(root))
        agent: Agent[Any] = Agent(
            backend,
            source=One(frames),
            policy=mode,
            settings=settings,
            limits=Limits(max_steps=1),
            extra_body={"ignore_eos": True},
            history=None,
        )
        t0 = time.perf_counter()
        results = await agent.run_many_async(
            [f"describe screen {i}" for i in range(n)], concurrency=n
        )
        wall = time.perf_counter() - t0
        ttfts = []
        for r in results:
            assert r.trajectory_dir is not None
            lines = (r.trajectory_dir / "steps.jsonl").read_text().splitlines()
            step = json.loads(lines[0])
            if step.get("type") == "step" and step["response"]["first_token_s"] is not None:
                ttfts.append(step["response"]["first_token_s"])
        out_tokens = sum(r.usage.completion_tokens for r in results)
        completed = sum(r.status == "completed" for r in results)
        return wall, out_tokens, ttfts, completed

    async def _raw_once(self, client: Any, n: int) -> tuple[float, int, list[float]]:
        """n bare-client requests doing the same work inside the clock: encode, build, send."""
        frames = [self.fresh(1280, 720) for _ in range(n)]

        async def one(frame: Frame) -> tuple[float, float, int]:
            req = await asyncio.to_thread(self.request, frame)
            body = build_body(req, model=self.model, send_max_slice_nums=False)
            return await self.raw(client, body)

        t0 = time.perf_counter()
        got = await asyncio.gather(*(one(f) for f in frames))
        wall = time.perf_counter() - t0
        return wall, sum(g[2] for g in got), [g[0] for g in got]

    async def pair(
        self, backend: OpenAICompatBackend, client: Any, n: int = 32, rounds: int = 3
    ) -> None:
        """agentkit's concurrency API vs the bare client at n, like for like, alternating."""
        root = Path(os.environ.get("OUT", "/tmp")) / "runs"
        ak: list[float] = []
        raw: list[float] = []
        for i in range(rounds):
            if self.left() < 40:
                break
            order = ["ak", "raw"] if i % 2 == 0 else ["raw", "ak"]
            for who in order:
                if who == "ak":
                    wall, toks, _, _ = await self._agents_once(backend, n, "16x", root)
                    ak.append(toks / wall)
                else:
                    wall, toks, _ = await self._raw_once(client, n)
                    raw.append(toks / wall)
        if ak and raw:
            self.results[f"pair{n}"] = {
                "agents": n,
                "rounds": min(len(ak), len(raw)),
                "agentkit_output_tokens_per_s": [round(x, 1) for x in ak],
                "raw_output_tokens_per_s": [round(x, 1) for x in raw],
                "fraction": round(statistics.median(ak) / statistics.median(raw), 3),
                "note": "both sides encode the same pre-rendered screenshots inside the clock; "
                "agentkit also records each frame and step in its trajectory",
            }

    async def concurrency(
        self, backend: OpenAICompatBackend, levels: list[int], modes: list[str]
    ) -> None:
        rows = []
        root = Path(os.environ.get("OUT", "/tmp")) / "runs"
        for mode, n in [(m, n) for m in modes for n in levels]:
            if self.left() < 30:
                break
            wall, out_tokens, ttfts, completed = await self._agents_once(backend, n, mode, root)
            rows.append(
                {
                    "mode": mode,
                    "agents": n,
                    "completed": completed,
                    "wall_s": round(wall, 3),
                    "output_tokens_per_s": round(out_tokens / wall, 1),
                    "steps_per_s": round(n / wall, 2),
                    "ttft": summary(ttfts),
                }
            )
            self.results["concurrency"] = rows
            self.save()

    async def raw_concurrency(self, client: Any, n: int = 32) -> None:
        if self.left() < 30:
            return
        bodies = [
            build_body(
                self.request(self.fresh(1280, 720)), model=self.model, send_max_slice_nums=False
            )
            for _ in range(n)
        ]
        t0 = time.perf_counter()
        got = await asyncio.gather(*(self.raw(client, b) for b in bodies))
        wall = time.perf_counter() - t0
        self.results["raw_concurrency"] = {
            "requests": n,
            "wall_s": round(wall, 3),
            "output_tokens_per_s": round(sum(g[2] for g in got) / wall, 1),
            "ttft": summary([g[0] for g in got]),
        }

    async def images(self, backend: OpenAICompatBackend, n: int = 32) -> None:
        variants = {
            "png_as_is": {"format": "png", "resize": False},
            "png_presized": {"format": "png", "resize": True},
            "jpeg_as_is": {"format": "jpeg", "resize": False},
            "jpeg_presized": {"format": "jpeg", "resize": True},
        }
        rows = {}
        for name, kw in variants.items():
            if self.left() < 30:
                break
            single = []
            for _ in range(3):
                ttft, *_ = await self.agentkit_one(
                    backend, self.request(self.fresh(1920, 1080), **kw)
                )
                single.append(ttft)
            reqs = [self.request(self.fresh(1920, 1080), **kw) for _ in range(n)]
            size = sum(len(r.messages[0].images[0].data) for r in reqs) / n
            t0 = time.perf_counter()
            got = await asyncio.gather(*(self.agentkit_one(backend, r) for r in reqs))
            wall = time.perf_counter() - t0
            rows[name] = {
                "bytes_per_image": int(size),
                "sent_size": f"{reqs[0].messages[0].images[0].width}x{reqs[0].messages[0].images[0].height}",
                "single_ttft": summary(single),
                f"concurrent{n}_ttft": summary([g[0] for g in got]),
                f"concurrent{n}_output_tokens_per_s": round(sum(g[2] for g in got) / wall, 1),
            }
            self.results["images"] = rows
            self.save()


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "gpu.json"))
    ap.add_argument(
        "--budget-s", type=float, default=float(os.environ.get("BENCH_BUDGET_S", "240"))
    )
    ap.add_argument("--sections", default="overhead,modes,concurrency,raw32,images")
    ap.add_argument("--levels", default="1,8,32,64")
    ap.add_argument("--modes", default="16x", help="modes of the concurrency section, e.g. 16x,4x")
    args = ap.parse_args()
    base_url = os.environ.get("BASE_URL", "http://127.0.0.1:8000/v1")
    model = os.environ.get("MODEL", "minicpmv46")
    bench = Bench(base_url, model, Path(args.out), args.budget_s)
    bench.results["server_args"] = os.environ.get("EXTRA_ARGS", "")
    import openai

    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with (
        httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(300, connect=10)) as http,
        httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(300, connect=10)) as http_raw,
    ):
        backend = OpenAICompatBackend(
            base_url,
            model,
            http_client=http,
            first_token_timeout_s=240,
            idle_timeout_s=120,
            server_version="0.22",
        )
        client = openai.AsyncOpenAI(
            base_url=base_url, api_key="EMPTY", http_client=http_raw, max_retries=0
        )
        # warm-up: compile paths for both modes and both senders
        for mode in ("16x", "4x"):
            await complete(backend, bench.request(bench.fresh(1280, 720), mode))
        sections = args.sections.split(",")
        for name in sections:
            t0 = time.perf_counter()
            try:
                if name == "overhead":
                    await bench.overhead(backend, client)
                elif name == "modes":
                    await bench.modes(backend)
                elif name == "concurrency":
                    await bench.concurrency(
                        backend, [int(x) for x in args.levels.split(",")], args.modes.split(",")
                    )
                elif name == "raw32":
                    await bench.raw_concurrency(client)
                elif name == "pair32":
                    await bench.pair(backend, client)
                elif name == "images":
                    await bench.images(backend)
            except Exception as exc:  # noqa: BLE001 - keep the other sections
                bench.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            bench.results.setdefault("section_s", {})[name] = round(time.perf_counter() - t0, 1)
            bench.save()
            print(
                f"[gpu_bench] {name} done in {time.perf_counter() - t0:.1f}s; {bench.left():.0f}s left",
                flush=True,
            )
    print(json.dumps(bench.results, indent=1)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
