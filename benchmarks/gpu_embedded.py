"""The embedded vLLM backend (an in-process engine) on the GPU machine, beside the server's numbers.

Run on the GPU machine after stopping the vLLM server started by `.gpu/run/dev_run.sh` (the two do
not fit on one GPU together), with the weight-less checkpoint at $CKPT (default /root/ckpt):

    python benchmarks/gpu_embedded.py --out $OUT/gpu_embedded.json

It builds `VllmBackend` on the same checkpoint with random weights (`load_format="dummy"`), then
measures: one request per mode (time to the whole answer: this backend does not stream tokens),
a batch of 8 concurrent 16x requests (collected into one `generate` call), and a two-step agent
run through the loop with a tool call. Output length is fixed (`ignore_eos`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from agentkit import Agent, Limits, Settings, tool
from agentkit.backends import ModelRequest, complete
from agentkit.backends._chat_template import chat_template
from agentkit.backends.vllm_backend import VllmBackend
from agentkit.messages import Message, TextPart
from agentkit.testing import ScriptedReply  # noqa: F401 - documents the scripted alternative
from agentkit.vision import Frame, encode_frame

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_bench import screenshot  # noqa: E402

OUT_TOKENS = 64


def request(seed: int, mode: str) -> ModelRequest:
    frame = Frame(screenshot(1280, 720, seed), "synthetic")
    return ModelRequest(
        messages=[
            Message("user", [TextPart("Describe the screen."), encode_frame(frame, mode=mode)])
        ],
        mode=mode,  # type: ignore[arg-type]
        max_tokens=OUT_TOKENS,
        extra_body={"ignore_eos": True},
    )


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "gpu_embedded.json"))
    ap.add_argument("--ckpt", default=os.environ.get("CKPT", "/root/ckpt"))
    args = ap.parse_args()
    res: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "out_tokens": OUT_TOKENS}
    out = Path(args.out)

    def save() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2))

    t0 = time.perf_counter()
    backend = VllmBackend(
        args.ckpt,
        max_model_len=16384,
        gpu_memory_utilization=0.85,
        chat_template=chat_template(),
        max_batch_size=64,
        engine_kwargs={
            "load_format": "dummy",
            "enforce_eager": True,
            "dtype": "bfloat16",
            "served_model_name": "minicpmv46",
            "gdn_prefill_backend": "triton",
        },
    )
    try:
        await asyncio.to_thread(backend.engine)
    except TypeError as exc:  # an engine argument this vLLM does not know
        res["engine_kwargs_error"] = str(exc)
        backend.engine_kwargs.pop("gdn_prefill_backend", None)
        await asyncio.to_thread(backend.engine)
    res["engine_start_s"] = round(time.perf_counter() - t0, 1)
    save()
    seed = 5000
    for mode in ("16x", "4x", "16x", "4x"):
        seed += 1
        t = time.perf_counter()
        resp = await complete(backend, request(seed, mode))
        res.setdefault(f"single_{mode}_s", []).append(round(time.perf_counter() - t, 4))
        res[f"prompt_tokens_{mode}"] = resp.usage.prompt_tokens
        res[f"visual_tokens_{mode}"] = resp.usage.visual_tokens
    save()
    for n in (8, 32):
        reqs = [request(seed + i + 1, "16x") for i in range(n)]
        seed += n
        t = time.perf_counter()
        got = await asyncio.gather(*(complete(backend, r) for r in reqs))
        wall = time.perf_counter() - t
        res[f"batch{n}_16x"] = {
            "wall_s": round(wall, 3),
            "output_tokens_per_s": round(sum(g.usage.completion_tokens for g in got) / wall, 1),
            "median_request_s": round(statistics.median(g.duration_s for g in got), 4),
        }
        save()

    @tool
    def click(x: int, y: int) -> str:
        """Click a point.

        Args:
            x: horizontal, 0-1000.
            y: vertical, 0-1000.
        """
        return "clicked"

    class Shots:
        def __init__(self) -> None:
            self.n = 0

        def grab(self) -> Frame:
            self.n += 1
            return Frame(screenshot(1280, 720, 9000 + self.n), "synthetic")

    settings = Settings(
        max_tokens=48, trajectory_dir=os.path.join(os.environ.get("OUT", "/tmp"), "runs")
    )
    agent: Agent[Any] = Agent(
        backend,
        tools=[click],
        source=Shots(),
        settings=settings,
        limits=Limits(max_steps=2),
        settle_timeout_s=0,
    )
    t = time.perf_counter()
    result = await agent.run_async("click the OK button")
    res["agent_run"] = {
        "status": result.status,
        "steps": result.steps,
        "invalid_calls": result.invalid_calls,
        "error": str(result.error) if result.error else None,
        "wall_s": round(time.perf_counter() - t, 3),
        "prompt_tokens": result.usage.prompt_tokens,
        "visual_tokens": result.usage.visual_tokens,
        "note": "random weights write noise: a limit or invalid calls are expected; the path ran",
    }
    save()
    backend.close()
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
