"""Benchmark of the seeing path (not a test).

1. Capture + encode of a 1920x1080 screen on a real X display (Xvfb): a synthetic desktop with
   text, widgets and a photo is shown full-screen, captured with ``ScreenSource`` and encoded per
   format and quality, with and without the harmless resize to the server's own size (1792x896,
   forced here with ``resize=True``); median ms and bytes (and PSNR for lossy formats, against
   the image before encoding). The same for a drawn 2560x1440 desktop. A synthetic camera-like photo (smooth shapes plus sensor noise) is encoded the
   same way, to check the "JPEG for photos" rule.
2. Prompt tokens per step at steps 1, 5, 20 and 50 of a scripted run that sends a screenshot every
   step, with and without ``BoundedHistory`` (exact visual tokens, estimated text tokens).
3. Tokens of coarse-to-fine (full frame at 16x + a 448x448 crop at 4x) against the full frame at 4x.

    python benchmarks/bench_vision.py [--runs 15] [--out benchmarks/results/vision.json]

Needs Xvfb and tkinter for part 1 (part 1 is skipped, and said so, without them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from PIL import Image, ImageChops, ImageDraw, ImageFilter  # noqa: E402

from agentkit.messages import FunctionCall, ImagePart, Message, TextPart  # noqa: E402
from agentkit.vision import (  # noqa: E402
    BoundedHistory,
    Frame,
    ScreenSource,
    coarse_to_fine_tokens,
    encode_frame,
    estimate_prompt_tokens,
    image_tokens,
    server_size,
)

W, H = 1920, 1080


def synthetic_desktop(w: int = W, h: int = H, seed: int = 0) -> Image.Image:
    """A desktop-like picture: title bars, menus, lines of small text, buttons, a photo."""
    rng = random.Random(seed)
    img = Image.new("RGB", (w, h), (236, 239, 244))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 28), fill=(40, 44, 52))
    d.text(
        (10, 8),
        "Activities    Files    Terminal    Settings            12:34",
        fill=(230, 230, 230),
    )
    words = "the quick brown fox jumps over lazy dog settings display network sound 0123456789 OK Cancel".split()
    for wx, wy, ww, wh in ((40, 60, 900, 600), (980, 90, 900, 520), (200, 700, 1500, 340)):
        d.rectangle((wx, wy, wx + ww, wy + wh), fill=(255, 255, 255), outline=(180, 180, 190))
        d.rectangle((wx, wy, wx + ww, wy + 26), fill=(220, 223, 230))
        d.text(
            (wx + 8, wy + 8),
            "Window - " + " ".join(rng.choice(words) for _ in range(4)),
            fill=(20, 20, 20),
        )
        for ly in range(wy + 40, wy + wh - 20, 16):
            line = " ".join(rng.choice(words) for _ in range(rng.randrange(6, 16)))
            d.text((wx + 12, ly), line, fill=(30, 30, 30))
        for bx in range(wx + ww - 220, wx + ww - 20, 100):
            d.rounded_rectangle((bx, wy + wh - 40, bx + 86, wy + wh - 12), 6, fill=(52, 120, 246))
            d.text((bx + 30, wy + wh - 32), "OK", fill=(255, 255, 255))
    img.paste(synthetic_photo(420, 280, seed), (1420, 300))
    return img


def synthetic_photo(w: int = W, h: int = H, seed: int = 1) -> Image.Image:
    """Camera-like: smooth gradient, blurred shapes, then per-pixel sensor noise (sigma ~4)."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    d = ImageDraw.Draw(base)
    for _ in range(25):
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(20, max(21, w // 6))
        d.ellipse(
            (x - r, y - r, x + r, y + r),
            fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
        )
    base = base.filter(ImageFilter.GaussianBlur(6))
    noise = Image.effect_noise((w, h), 4).convert("RGB")
    return ImageChops.add(base, noise, 1.0, -128)


def psnr(a: Image.Image, b: Image.Image) -> float | None:
    hist = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    n = a.width * a.height * 3
    mse = sum(count * ((i % 256) ** 2) for i, count in enumerate(hist)) / n
    return None if mse == 0 else round(10 * math.log10(255**2 / mse), 2)


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    out = fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2), out


FORMATS: list[tuple[str, str, int | None]] = [
    ("png", "png", None),
    ("webp-lossless", "webp", None),
    ("jpeg-q95", "jpeg", 95),
    ("jpeg-q90", "jpeg", 90),
    ("jpeg-q75", "jpeg", 75),
    ("webp-q90", "webp", 90),
]


def encode_table(frame: Frame, runs: int) -> list[dict[str, Any]]:
    rows = []
    for name, fmt, quality in FORMATS:
        for resize in (False, True):

            def run(
                fmt: str = fmt, quality: int | None = quality, resize: bool = resize
            ) -> ImagePart:
                return encode_frame(frame, format=fmt, quality=quality, resize=resize)

            ms, part = median_ms(run, runs)
            with Image.open(io.BytesIO(part.data)) as im:
                decoded = im.convert("RGB")
            ref = (
                frame.image
                if not resize
                else frame.image.resize(decoded.size, Image.Resampling.BICUBIC)
            )
            rows.append(
                {
                    "format": name,
                    "resize": resize,
                    "size": [part.width, part.height],
                    "encode_ms": ms,
                    "bytes": len(part.data),
                    "psnr_db": psnr(ref, decoded),
                    "tokens_16x": image_tokens(part.width, part.height, "16x").total,
                }
            )
    return rows


def png_levels(frame: Frame, runs: int) -> list[dict[str, Any]]:
    rows = []
    for level in (1, 3, 6, 9):

        def enc(level: int = level) -> bytes:
            buf = io.BytesIO()
            frame.image.save(buf, "PNG", compress_level=level)
            return buf.getvalue()

        ms, data = median_ms(enc, max(3, runs // 3))
        rows.append({"compress_level": level, "encode_ms": ms, "bytes": len(data)})
    return rows


def capture_part(runs: int) -> dict[str, Any]:
    if shutil.which("Xvfb") is None:
        return {"skipped": "Xvfb is not installed"}
    try:
        import tkinter  # noqa: F401
    except ImportError:
        return {"skipped": "tkinter is not available"}
    import subprocess

    from conftest_xvfb import start_xvfb

    desktop = synthetic_desktop()
    with tempfile.TemporaryDirectory() as tmp, start_xvfb(W, H) as display:
        png = Path(tmp) / "desktop.png"
        desktop.save(png)
        show = (
            "import sys, tkinter as tk\n"
            f"r = tk.Tk(); r.overrideredirect(True); r.geometry('{W}x{H}+0+0')\n"
            "p = tk.PhotoImage(file=sys.argv[1]); tk.Label(r, image=p, borderwidth=0).pack()\n"
            "r.update(); print('ready', flush=True); sys.stdin.read()\n"
        )
        env = dict(os.environ, DISPLAY=display.name)
        proc = subprocess.Popen(
            [sys.executable, "-c", show, str(png)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            old = os.environ.get("DISPLAY")
            os.environ["DISPLAY"] = display.name
            try:
                src = ScreenSource(monitor=1, include_cursor=False)
                frame = src.grab()
                for _ in range(50):  # wait until the picture is on the screen
                    if frame.image.tobytes() == desktop.tobytes():
                        break
                    time.sleep(0.05)
                    frame = src.grab()
                exact = frame.image.tobytes() == desktop.tobytes()
                capture_ms, _ = median_ms(src.grab, runs)
                src.close()
            finally:
                if old is None:
                    os.environ.pop("DISPLAY", None)
                else:
                    os.environ["DISPLAY"] = old
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
    return {
        "display": f"Xvfb {W}x{H}x24",
        "captured_equals_shown": exact,
        "capture_ms": capture_ms,
        "encode": encode_table(frame, runs),
        "png_levels": png_levels(frame, runs),
    }


def large_screen_part(runs: int) -> dict[str, Any]:
    """A 2560x1440 desktop (drawn, not captured): where the resize to 1792x896 pays for PNG too."""
    frame = Frame(synthetic_desktop(2560, 1440), "screen:1")
    rows = [r for r in encode_table(frame, max(3, runs // 3)) if r["format"] in ("png", "jpeg-q90")]
    return {"size": [2560, 1440], "encode": rows}


def photo_part(runs: int) -> dict[str, Any]:
    frame = Frame(synthetic_photo(), "camera:synthetic")
    return {"encode": encode_table(frame, max(3, runs // 3))}


def scripted_history(steps: int, part: ImagePart) -> list[Message]:
    messages = [
        Message("system", "You operate a desktop. Use the tools to complete the task."),
        Message(
            "user", [TextPart("Task: open the display settings and set the scale to 125%."), part]
        ),
    ]
    for step in range(1, steps + 1):
        call = FunctionCall(f"call_{step}", "click", {"x": 100 + step, "y": 200 + step})
        messages.append(
            Message("assistant", f"I will click the next item (step {step}).", tool_calls=[call])
        )
        messages.append(
            Message(
                "tool",
                f"clicked at ({100 + step}, {200 + step})",
                tool_call_id=call.id,
                name="click",
            )
        )
        messages.append(Message("user", [TextPart(f"Current screen, step {step}:"), part]))
    return messages


def history_part() -> dict[str, Any]:
    part = encode_frame(Frame(synthetic_desktop(), "screen:1"), frame_id="s")
    rows = []
    policy = BoundedHistory()
    for mode in ("16x", "4x"):
        for step in (1, 5, 20, 50):
            msgs = scripted_history(step, part)
            full = estimate_prompt_tokens(msgs, mode)
            bounded = estimate_prompt_tokens(policy.apply(msgs), mode)
            rows.append(
                {
                    "mode": mode,
                    "step": step,
                    "unbounded": {
                        "visual": full.visual,
                        "text_estimate": full.text,
                        "total": full.total,
                        "images": full.images,
                    },
                    "bounded": {
                        "visual": bounded.visual,
                        "text_estimate": bounded.text,
                        "total": bounded.total,
                        "images": bounded.images,
                    },
                }
            )
    return {
        "policy": "BoundedHistory(keep_full=2, keep_downgraded=3, max_messages=24)",
        "image": f"{part.width}x{part.height} encoding of a {W}x{H} screen",
        "steps": rows,
    }


def coarse_to_fine_part() -> list[dict[str, Any]]:
    rows = []
    for size in ((1280, 720), (1920, 1080), (2560, 1440), (3840, 2160)):
        for crop in (448, 672):
            c2f, full = coarse_to_fine_tokens(size, crop)
            rows.append(
                {
                    "frame": list(size),
                    "crop": crop,
                    "coarse_16x_plus_crop_4x": c2f,
                    "full_4x": full,
                    "full_16x": image_tokens(*size, "16x").total,
                    "saving": round(1 - c2f / full, 3),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vision.json"))
    args = ap.parse_args()
    started = time.time()
    result = {
        "benchmark": "vision",
        "command": "python benchmarks/bench_vision.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pillow": Image.__version__,
        },
        "server_size_1920x1080": list(server_size(W, H)),
        "screen": capture_part(args.runs),
        "screen_2560x1440": large_screen_part(args.runs),
        "photo": photo_part(args.runs),
        "history": history_part(),
        "coarse_to_fine": coarse_to_fine_part(),
    }
    result["seconds"] = round(time.time() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
