"""Turning command-line arguments into library objects: settings, backend, tools, frame sources.

Every command resolves its settings here, once, with the same precedence as the library
(flag > ``AGENTKIT_*`` environment > config file).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentkit.errors import ConfigurationError

__all__ = [
    "grab_one",
    "load_tools",
    "make_backend",
    "make_source",
    "preflight",
    "resolve_settings",
    "split_names",
    "state_dir",
]


def resolve_settings(args: argparse.Namespace, **overrides: Any) -> Any:
    """``Settings.resolve`` with the flags every command shares (``--base-url``, ``--model``, ``--config``)."""
    from agentkit.settings import Settings

    given = {
        "base_url": getattr(args, "base_url", None),
        "model": getattr(args, "model", None),
        **overrides,
    }
    return Settings.resolve(
        config_path=getattr(args, "config", None),
        **{k: v for k, v in given.items() if v is not None},
    )


def make_backend(settings: Any) -> Any:
    """The backend the settings select (remote when a base URL is set, else the embedded default)."""
    from agentkit.backends._select import default_backend

    return default_backend(settings)


async def preflight(backend: Any, settings: Any, *, wait_s: float = 0.0) -> list[str]:
    """Check a remote server before the first request: reachable (waiting up to ``wait_s`` for
    one that is still loading) and serving the configured model. Fails fast with the URL in the
    message instead of after the loop's retries. Returns the served models ([] when embedded).

    Raises:
        ServerUnavailableError: not reachable (in time).
        ModelNotFoundError: the model is not among those served (the message lists them).
    """
    from agentkit.errors import ModelNotFoundError

    if not settings.base_url:
        return []
    wait = getattr(backend, "wait_until_ready", None)
    list_models = getattr(backend, "list_models", None)
    if wait_s > 0 and wait is not None:
        models = await wait(timeout_s=wait_s)
    elif list_models is not None:
        models = await list_models()
    else:
        return []
    models = list(models or [])
    if models and settings.model not in models:
        raise ModelNotFoundError(
            f"the server at {settings.base_url} does not serve {settings.model}; it offers "
            f"{', '.join(models)}: pass --model {models[0]} (or set AGENTKIT_MODEL)",
            available=models,
            url=settings.base_url,
        )
    return models


def state_dir() -> Path:
    """``$XDG_STATE_HOME/agentkit`` (``~/.local/state/agentkit``): REPL history, chat runs."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "agentkit"


def split_names(value: str | None) -> list[str]:
    """``"desktop, files"`` -> ``["desktop", "files"]``."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def _import_spec(spec: str) -> Any:
    """``package.module:attribute`` -> a ToolSet (the user's own code, named on the command line)."""
    from agentkit.tools import Tool, ToolSet

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigurationError(f"--tools {spec!r}: write a pack name or module:attribute")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: modules of the current directory
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"--tools {spec!r}: cannot import it: {exc}") from exc
    if callable(obj) and not isinstance(obj, (Tool, ToolSet)):
        obj = obj()
    if isinstance(obj, ToolSet):
        return obj
    if isinstance(obj, Tool):
        return ToolSet([obj], name=spec)
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)):
        return ToolSet(list(obj), name=spec)
    raise ConfigurationError(
        f"--tools {spec!r} is a {type(obj).__name__}; expected a ToolSet, a Tool, a list of tools "
        "or a function returning one"
    )


def load_tools(names: Iterable[str]) -> Any:
    """One ToolSet from pack names (entry points) and ``module:attribute`` specs; ``none`` is empty."""
    from agentkit.tools import ToolSet, load_tool_packs

    toolset = ToolSet()
    packs: list[str] = []
    for name in names:
        if name == "none":
            continue
        if ":" in name:
            toolset = toolset + _import_spec(name)
        else:
            packs.append(name)
    if packs:
        toolset = load_tool_packs(packs) + toolset
    return toolset


def available_pack_names() -> list[str]:
    from agentkit.tools import available_tool_packs

    return list(available_tool_packs())


def parse_region(values: list[str] | list[int] | None) -> tuple[int, int, int, int] | None:
    """``["10", "20", "300", "200"]`` -> ``(10, 20, 300, 200)`` (left, top, width, height)."""
    if not values:
        return None
    try:
        left, top, width, height = (int(v) for v in values)
    except ValueError:
        raise ConfigurationError(
            f"a region is four integers: x y width height, not {' '.join(map(str, values))!r}"
        ) from None
    if width <= 0 or height <= 0:
        raise ConfigurationError(
            f"a region needs a positive width and height, not {width}x{height}"
        )
    return left, top, width, height


def make_source(
    kind: str,
    *,
    monitor: int | None = None,
    region: tuple[int, int, int, int] | None = None,
    camera: int | str | None = None,
    images: list[str] | None = None,
) -> Any:
    """A frame source: ``"screen"``, ``"camera"``, ``"image"`` (the ``images`` files) or ``"none"``."""
    if kind == "none":
        return None
    import agentkit.vision as vision

    if kind == "screen":
        cls = _require(vision, "ScreenSource", "screen capture")
        kwargs: dict[str, Any] = {}
        if monitor is not None:
            kwargs["monitor"] = monitor
        if region is not None:
            kwargs["region"] = region
        return cls(**kwargs)
    if kind == "camera":
        cls = _require(vision, "CameraSource", "camera capture")
        if isinstance(camera, str) and camera.isdigit():
            camera = int(camera)  # "0" is the first camera, not a file named 0
        return cls(camera if camera is not None else 0)
    if kind == "image":
        if not images:
            raise ConfigurationError("--source image needs at least one --image PATH")
        for path in images:
            if not Path(path).is_file():
                raise ConfigurationError(f"image file {path} does not exist")
        cls = _require(vision, "ImageSource", "image files as a source")
        return cls(images[0] if len(images) == 1 else images)
    raise ConfigurationError(f"unknown source {kind!r}: use screen, camera, image or none")


def grab_one(source: Any) -> tuple[Any, list[str]]:
    """One frame from a source, and the warnings it raised (a blank frame...) as notes to show."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grabbed = source.grab()
    frame = grabbed[-1] if isinstance(grabbed, list) else grabbed
    return frame, [str(w.message) for w in caught]


def _require(module: Any, name: str, what: str) -> Any:
    cls = getattr(module, name, None)
    if cls is None:
        raise ConfigurationError(
            f"{what} is not available in this agentkit build (agentkit.vision.{name} is missing)"
        )
    return cls
