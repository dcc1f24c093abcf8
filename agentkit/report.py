"""A run directory as one static HTML page people can read: ``agentkit report RUN_DIR``.

For every step the page shows the frames the model saw, with the step's actions drawn over the
last one (a ring for a click or a move, an arrow for a drag, a rectangle for a zoom or a box the
model wrote), the model's text, each call with its arguments, status, result or error, the
compression mode (16x/4x) and why, the tokens, and the timings.

Everything read from the run directory is treated as hostile (the model's text may repeat what an
attacker put on the screen): every string is HTML-escaped, the page contains no script at all and
a Content-Security-Policy forbids any, and frame paths must stay inside the run directory.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from agentkit.errors import ConfigurationError

__all__ = ["load_run", "render_report", "write_report"]

_MAX_TEXT = 20_000
_MAX_ARGS = 4_000
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_POINT_TOOLS = frozenset({"click", "move", "scroll", "mouse_down"})
_STATUS_COLOURS = {
    "ok": "#1a7f37",
    "error": "#cf222e",
    "refused": "#bc4c00",
    "dry_run": "#0969da",
}


def load_run(
    run_dir: str | os.PathLike[str],
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """Read ``run.json`` and ``steps.jsonl`` of a run directory, tolerating a crash-cut last line.

    Returns:
        ``(meta, steps, end)``: run.json's object (empty when missing), the step records in order,
        and the final ``{"type": "end"}`` record (None when the run did not finish).

    Raises:
        ConfigurationError: ``run_dir`` is not a run directory.
    """
    root = Path(run_dir)
    if not (root / "steps.jsonl").is_file() and not (root / "run.json").is_file():
        raise ConfigurationError(
            f"{root} is not a run directory (no run.json or steps.jsonl); pass a directory "
            "under the trajectory directory, e.g. runs/20250101-120000-abc123"
        )
    meta: dict[str, Any] = {}
    try:
        loaded = json.loads((root / "run.json").read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            meta = loaded
    except (OSError, ValueError):
        pass
    steps: list[dict[str, Any]] = []
    end: dict[str, Any] | None = None
    try:
        lines = (root / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            break  # a line cut by a crash: the record ends there
        if not isinstance(record, dict):
            continue
        if record.get("type") == "end":
            end = record
        elif record.get("type", "step") == "step":
            steps.append(record)
    return meta, steps, end


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (records may be damaged)."""
    return value if isinstance(value, dict) else {}


def _e(value: Any, limit: int = _MAX_TEXT) -> str:
    """Escape anything for HTML text or a quoted attribute, capped in length."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[:limit] + f"\u2026 [{len(text) - limit} more characters]"
    return html.escape(text, quote=True)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _safe_frame_path(root: Path, rel: Any) -> Path | None:
    """The frame file, when ``rel`` is a plain relative path that stays inside ``root``."""
    if not isinstance(rel, str) or not rel or "\\" in rel or ":" in rel:
        return None
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    path = root / Path(*pure.parts)
    return path if path.is_file() else None


class _Scale:
    """Model coordinates -> pixels of one frame."""

    def __init__(self, width: float, height: float, coords: str, extent: float) -> None:
        self.w, self.h, self.coords, self.extent = width, height, coords, extent

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        if self.coords == "pixels":
            return x, y
        return x * self.w / self.extent, y * self.h / self.extent


def _markers(step: dict[str, Any], scale: _Scale) -> list[str]:
    """SVG elements for the step's calls (and the boxes in the model's text), in frame pixels."""
    out: list[str] = []
    r = max(6.0, min(scale.w, scale.h) / 60)
    stroke = max(2.0, r / 3)
    calls = step.get("calls") or []
    for index, call in enumerate(calls if isinstance(calls, list) else [], start=1):
        if not isinstance(call, dict):
            continue
        args = _dict(call.get("arguments"))
        name = str(call.get("name", ""))
        colour = _STATUS_COLOURS.get(str(call.get("status")), "#6e7781")
        label = _e(f"{index} {name}", 60)
        x, y = _num(args.get("x")), _num(args.get("y"))
        x1, y1, x2, y2 = (_num(args.get(k)) for k in ("x1", "y1", "x2", "y2"))
        if x1 is not None and y1 is not None and x2 is not None and y2 is not None:
            (px1, py1), (px2, py2) = scale(x1, y1), scale(x2, y2)
            if "drag" in name:
                out.append(
                    f'<line x1="{px1:.1f}" y1="{py1:.1f}" x2="{px2:.1f}" y2="{py2:.1f}" '
                    f'stroke="{colour}" stroke-width="{stroke:.1f}" marker-end="url(#arrow)"/>'
                    f'<circle cx="{px1:.1f}" cy="{py1:.1f}" r="{r:.1f}" fill="none" '
                    f'stroke="{colour}" stroke-width="{stroke:.1f}"/>'
                )
            else:
                left, top = min(px1, px2), min(py1, py2)
                out.append(
                    f'<rect x="{left:.1f}" y="{top:.1f}" width="{abs(px2 - px1):.1f}" '
                    f'height="{abs(py2 - py1):.1f}" fill="none" stroke="{colour}" '
                    f'stroke-width="{stroke:.1f}"/>'
                )
            tx, ty = px1, py1
        elif x is not None and y is not None:
            px, py = scale(x, y)
            double = args.get("double") is True
            out.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{r:.1f}" fill="none" stroke="{colour}" '
                f'stroke-width="{stroke:.1f}"/>'
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{stroke:.1f}" fill="{colour}"/>'
            )
            if double:
                out.append(
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{r * 1.6:.1f}" fill="none" '
                    f'stroke="{colour}" stroke-width="{stroke / 2:.1f}"/>'
                )
            if name == "scroll":
                dy = _num(args.get("dy")) or 0.0
                dx = _num(args.get("dx")) or 0.0
                length = 3 * r
                norm = math.hypot(dx, dy) or 1.0
                out.append(
                    f'<line x1="{px:.1f}" y1="{py:.1f}" x2="{px + dx / norm * length:.1f}" '
                    f'y2="{py + dy / norm * length:.1f}" stroke="{colour}" '
                    f'stroke-width="{stroke:.1f}" marker-end="url(#arrow)"/>'
                )
            tx, ty = px, py
        else:
            continue
        out.append(
            f'<text x="{tx + r + 2:.1f}" y="{ty - r - 2:.1f}" fill="{colour}" '
            f'font-size="{max(12.0, r * 1.6):.0f}" font-family="sans-serif" '
            f'stroke="white" stroke-width="3" paint-order="stroke">{label}</text>'
        )
    out.extend(_grounding_boxes(step, scale, stroke))
    return out


def _grounding_boxes(step: dict[str, Any], scale: _Scale, stroke: float) -> list[str]:
    response = _dict(step.get("response"))
    text = response.get("text") if isinstance(response, dict) else None
    if not isinstance(text, str) or ("<box>" not in text and "<point>" not in text):
        return []
    from agentkit.vision import Box, parse_grounding

    out = []
    for target in parse_grounding(text)[:32]:
        if isinstance(target, Box):
            (x1, y1), (x2, y2) = scale(target.x1, target.y1), scale(target.x2, target.y2)
            out.append(
                f'<rect x="{x1:.1f}" y="{y1:.1f}" width="{abs(x2 - x1):.1f}" '
                f'height="{abs(y2 - y1):.1f}" fill="none" stroke="#8250df" '
                f'stroke-dasharray="6 4" stroke-width="{stroke:.1f}"/>'
            )
        else:
            px, py = scale(target.x, target.y)
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{stroke * 2:.1f}" fill="#8250df"/>')
    return out


def _image_src(root: Path, frame: dict[str, Any], embed: bool) -> str | None:
    path = _safe_frame_path(root, frame.get("path"))
    if path is None:
        return None
    if not embed:
        return "/".join(PurePosixPath(str(frame["path"])).parts)
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        return None
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _frame_html(
    root: Path,
    step: dict[str, Any],
    frame: dict[str, Any],
    marked: bool,
    embed: bool,
    coords: str,
    extent: float,
) -> str:
    width, height = _num(frame.get("width")), _num(frame.get("height"))
    caption = f"{_e(frame.get('id', ''), 100)} \u00b7 {_e(frame.get('source', ''), 200)}"
    src = _image_src(root, frame, embed)
    if src is None or not width or not height:
        return f'<figure class="missing"><figcaption>{caption} (frame file not available)</figcaption></figure>'
    svg = ""
    if marked:
        markers = _markers(step, _Scale(width, height, coords, extent))
        if markers:
            svg = (
                f'<svg class="overlay" viewBox="0 0 {width:.0f} {height:.0f}" '
                'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
                '<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" '
                'markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
                'fill="context-stroke"/></marker></defs>' + "".join(markers) + "</svg>"
            )
    return (
        f'<figure><div class="shot" style="aspect-ratio:{width:.0f}/{height:.0f}">'
        f'<img src="{_e(src, 10**9)}" alt="frame {_e(frame.get("id", ""), 100)}" '
        f'width="{width:.0f}" height="{height:.0f}">{svg}</div>'
        f"<figcaption>{caption} \u00b7 {width:.0f}\u00d7{height:.0f}</figcaption></figure>"
    )


def _kv(items: Iterable[tuple[str, Any]]) -> str:
    cells = [
        f"<span><b>{_e(k, 100)}</b> {_e(v, 500)}</span>"
        for k, v in items
        if v not in (None, "", {}, [])
    ]
    return f'<div class="kv">{"".join(cells)}</div>' if cells else ""


def _step_html(root: Path, step: dict[str, Any], embed: bool, coords: str, extent: float) -> str:
    number = step.get("step", "?")
    response = _dict(step.get("response"))
    usage = _dict(response.get("usage"))
    timings = _dict(step.get("timings"))
    parts = [f'<section class="step" id="step-{_e(number, 20)}"><h2>Step {_e(number, 20)}</h2>']
    parts.append(
        _kv(
            [
                ("mode", step.get("mode")),
                ("max_slice_nums", step.get("max_slice_nums")),
                ("why", step.get("mode_reason")),
                ("visual tokens", step.get("visual_tokens")),
                ("prompt tokens", usage.get("prompt_tokens")),
                ("completion tokens", usage.get("completion_tokens")),
                ("finish", response.get("finish_reason")),
                ("first token", _seconds(response.get("first_token_s"))),
            ]
        )
    )
    if timings:
        parts.append(_kv((k, _seconds(v)) for k, v in timings.items()))
    frames = [f for f in (step.get("frames") or []) if isinstance(f, dict)]
    if frames:
        parts.append('<div class="frames">')
        for i, frame in enumerate(frames):
            parts.append(
                _frame_html(root, step, frame, i == len(frames) - 1, embed, coords, extent)
            )
        parts.append("</div>")
    text = step.get("visible_text")
    if not isinstance(text, str):
        text = response.get("text")
    if isinstance(text, str) and text.strip():
        parts.append(f'<h3>Model</h3><pre class="text">{_e(text)}</pre>')
    reasoning = response.get("reasoning")
    if isinstance(reasoning, str) and reasoning.strip():
        parts.append(
            f'<details><summary>Reasoning</summary><pre class="text">{_e(reasoning)}</pre></details>'
        )
    calls = [c for c in (step.get("calls") or []) if isinstance(c, dict)]
    if calls:
        rows = []
        for index, call in enumerate(calls, start=1):
            status = str(call.get("status", ""))
            colour = _STATUS_COLOURS.get(status, "#6e7781")
            result = call.get("error") if call.get("error") else call.get("output")
            rows.append(
                f"<tr><td>{index}</td><td><code>{_e(call.get('name', ''), 100)}</code></td>"
                f"<td><code>{_e(call.get('arguments', {}), _MAX_ARGS)}</code></td>"
                f"<td>{_e(call.get('risk', ''), 40)}</td>"
                f'<td><span class="status" style="background:{colour}">{_e(status, 40)}</span></td>'
                f'<td><pre class="text">{_e(result if result is not None else "", 4000)}</pre></td>'
                f"<td>{_e(_seconds(call.get('duration_s')), 40)}</td></tr>"
            )
        parts.append(
            "<h3>Calls</h3><table><thead><tr><th>#</th><th>tool</th><th>arguments</th><th>risk</th>"
            "<th>status</th><th>result</th><th>time</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )
    errors = [e for e in (step.get("errors") or []) if isinstance(e, dict)]
    if errors:
        items = "".join(
            f"<li><b>{_e(err.get('kind', 'error'), 60)}</b> {_e(err.get('message', ''), 4000)}</li>"
            for err in errors
        )
        parts.append(f'<h3>Rejected calls</h3><ul class="errors">{items}</ul>')
    if isinstance(step.get("retry"), str) and step["retry"]:
        parts.append(
            f'<details><summary>Retry prompt</summary><pre class="text">{_e(step["retry"])}</pre></details>'
        )
    if step.get("final") is not None:
        parts.append(f'<h3>Final answer</h3><pre class="text">{_e(step["final"])}</pre>')
    parts.append("</section>")
    return "".join(parts)


def _seconds(value: Any) -> str | None:
    number = _num(value)
    return None if number is None else f"{number:.3f} s"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:0 0 .4rem}h3{font-size:1rem;margin:.8rem 0 .3rem}
.step{border:1px solid #d0d7de;border-radius:8px;padding:1rem;margin:1rem 0}
.kv{display:flex;flex-wrap:wrap;gap:.3rem .9rem;font-size:.85rem;color:#57606a;margin:.2rem 0}
.frames{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0;max-width:100%}
.shot{position:relative;width:min(100%,900px)}.shot img{display:block;width:100%;height:auto}
.overlay{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
figcaption{font-size:.8rem;color:#57606a}.missing{color:#cf222e}
pre.text{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.5rem;margin:0;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:.85rem}td,th{border:1px solid #d0d7de;padding:.3rem;vertical-align:top;text-align:left}
code{word-break:break-all}.status{color:#fff;border-radius:4px;padding:0 .4rem}
.errors{color:#cf222e}
"""


def render_report(
    run_dir: str | os.PathLike[str],
    *,
    embed_images: bool = False,
    coords: Literal["normalized", "pixels"] = "normalized",
    extent: float = 1000.0,
) -> str:
    """The report page of a run directory, as an HTML string.

    Args:
        run_dir: the run directory (``<trajectory_dir>/<run_id>``).
        embed_images: put the frames into the page as ``data:`` URIs (one file to share)
            instead of linking ``frames/...`` relative to the page.
        coords: how the calls' x/y were written: ``"normalized"`` (0-``extent`` of the frame's
            width and height) or ``"pixels"``.
        extent: the normalisation range (1000 for MiniCPM-V).

    Raises:
        ConfigurationError: ``run_dir`` is not a run directory.
    """
    if coords not in ("normalized", "pixels"):
        raise ConfigurationError(f"coords must be 'normalized' or 'pixels', not {coords!r}")
    root = Path(run_dir)
    meta, steps, end = load_run(root)
    title = f"agentkit run {meta.get('run_id') or root.name}"
    usage = _dict(meta.get("usage"))
    error = meta.get("error") or (end or {}).get("error")
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No script may run in this page, whatever the trajectory contains.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data: file: 'self'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title, 200)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title, 200)}</h1>",
        f'<pre class="text">{_e(meta.get("task", ""))}</pre>',
        _kv(
            [
                ("status", meta.get("status") or (end or {}).get("status")),
                ("model", meta.get("model")),
                ("started", meta.get("started_at")),
                ("finished", meta.get("finished_at")),
                ("steps", len(steps)),
                *usage.items(),
            ]
        ),
    ]
    if error:
        head.append(f'<p class="errors">Error: {_e(error, 4000)}</p>')
    if meta.get("output") not in (None, ""):
        head.append(f'<h3>Output</h3><pre class="text">{_e(meta.get("output"))}</pre>')
    body = [_step_html(root, step, embed_images, coords, float(extent)) for step in steps]
    if not steps:
        body.append("<p>No completed steps were recorded.</p>")
    return "\n".join(head + body + ["</body></html>", ""])


def write_report(
    run_dir: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    embed_images: bool = False,
    coords: Literal["normalized", "pixels"] = "normalized",
    extent: float = 1000.0,
) -> Path:
    """Write the report page of a run directory and return its path.

    Args:
        run_dir: the run directory.
        out: where to write; ``RUN_DIR/report.html`` by default. With linked (not embedded)
            frames the page must stay in the run directory for its images to load.
        embed_images: see :func:`render_report`.
        coords: see :func:`render_report`.
        extent: see :func:`render_report`.

    Raises:
        ConfigurationError: ``run_dir`` is not a run directory.
    """
    root = Path(run_dir)
    target = Path(out) if out is not None else root / "report.html"
    page = render_report(root, embed_images=embed_images, coords=coords, extent=extent)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target
