"""The run directory: a complete, valid record of a run, whatever way it ends.

Layout of ``<root>/<run_id>/``::

    run.json      metadata, rewritten atomically at the start and the end (status "running" until then)
    steps.jsonl   one JSON object per completed step, then one {"type": "end", ...} line
    frames/       the frames the model saw, as image files

Each line of ``steps.jsonl`` is flushed as soon as its step completes, so a crash loses at most the
step in progress; ``run.json`` says "running" if the process died before it could write the end.
Everything written passes through a redaction function first (registered secrets never land here).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentkit.vision._frame import Frame

__all__ = ["TrajectoryWriter", "new_run_id", "read_steps"]

log = logging.getLogger(__name__)


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _jsonable(obj: Any) -> Any:
    """Best-effort conversion for json.dumps(default=...): never raises."""
    if hasattr(obj, "model_dump"):
        try:
            return obj.model_dump(mode="json")
        except Exception:  # noqa: BLE001 - a record must never fail to serialise
            pass
    if hasattr(obj, "to_dict"):
        try:
            return obj.to_dict()
        except Exception:  # noqa: BLE001
            pass
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, bytes):
        return f"<{len(obj)} bytes>"
    return repr(obj)


class TrajectoryWriter:
    """Writes one run directory.

    Args:
        root: the parent directory; the run directory is ``root / run_id``.
        run_id: the run's id (see :func:`new_run_id`).
        redact: applied to every object before it is written.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        run_id: str,
        *,
        redact: Callable[[Any], Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.dir = Path(root) / run_id
        self.frames_dir = self.dir / "frames"
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self._redact = redact or (lambda o: o)
        self._steps = open(self.dir / "steps.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._meta: dict[str, Any] = {}
        self._closed = False

    # -- metadata ---------------------------------------------------------------------------------
    def start(self, **meta: Any) -> None:
        self._meta = {"run_id": self.run_id, "status": "running", "started_at": _now(), **meta}
        self._write_meta()

    def finish(self, *, status: str, error: BaseException | None = None, **meta: Any) -> None:
        """Write the end line and the final ``run.json``. Never raises."""
        if self._closed:
            return
        err = None
        if error is not None:
            err = {"type": type(error).__name__, "message": str(error)}
        try:
            self._line({"type": "end", "status": status, "error": err, "at": _now()})
        except Exception as exc:  # noqa: BLE001 - keep going to run.json
            log.warning("could not write the end of %s: %s", self.dir, exc)
        try:
            self._steps.close()
        except Exception:  # noqa: BLE001
            pass
        self._closed = True
        self._meta.update(meta)
        self._meta.update({"status": status, "error": err, "finished_at": _now()})
        try:
            self._write_meta()
        except Exception as exc:  # noqa: BLE001
            log.warning("could not write %s/run.json: %s", self.dir, exc)

    def _write_meta(self) -> None:
        tmp = self.dir / "run.json.tmp"
        tmp.write_text(
            json.dumps(self._redact(self._meta), default=_jsonable, indent=2, ensure_ascii=False),
            encoding="utf-8",
        )
        os.replace(tmp, self.dir / "run.json")

    # -- steps --------------------------------------------------------------------------------------
    def write_step(self, record: dict[str, Any]) -> None:
        self._line({"type": "step", **record})

    def _line(self, record: dict[str, Any]) -> None:
        if self._closed:
            return
        text = json.dumps(self._redact(record), default=_jsonable, ensure_ascii=False)
        self._steps.write(text + "\n")
        self._steps.flush()

    def save_frame(
        self,
        frame: Frame,
        frame_id: str,
        *,
        encoded: tuple[bytes, str, int, int] | None = None,
    ) -> dict[str, Any]:
        """Save a frame; returns its record for ``steps.jsonl``.

        Args:
            frame: the frame observed.
            frame_id: its name in the run (``step0003-0``).
            encoded: ``(bytes, media_type, width, height)`` of the image as sent to the model;
                saved as is (what the model saw, no second encoding). Otherwise a PNG of the frame.
        """
        if encoded is not None:
            data, media_type, width, height = encoded
            ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(
                media_type, "bin"
            )
        else:
            buf = io.BytesIO()
            frame.image.save(buf, format="PNG", compress_level=1)
            data, ext, (width, height) = buf.getvalue(), "png", frame.size
        path = self.frames_dir / f"{frame_id}.{ext}"
        path.write_bytes(data)
        g = frame.geometry
        return {
            "id": frame_id,
            "path": f"frames/{path.name}",
            "width": width,
            "height": height,
            "frame_width": frame.width,
            "frame_height": frame.height,
            "source": frame.source,
            "timestamp": frame.timestamp,
            "geometry": {
                "left": g.left,
                "top": g.top,
                "scale": g.scale,
                "crop_left": g.crop_left,
                "crop_top": g.crop_top,
                "monitor": g.monitor,
            },
        }


def read_steps(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read ``steps.jsonl`` (tolerating a last line cut by a crash)."""
    out: list[dict[str, Any]] = []
    path = Path(run_dir) / "steps.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out
