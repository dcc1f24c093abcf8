"""``agentkit doctor``: check the setup and say how to fix what is not right.

Required checks (a failure makes the exit code non-zero): the model backend is reachable, the
model is listed, and a tiny image request succeeds in both modes (16x and 4x). The prompt tokens
the server reports for those two requests are set against agentkit's own visual-token count:
the text of both requests is identical, so the difference between the two modes is pure visual
tokens. Optional checks: screen capture, desktop actions, installed extras.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import inspect
import io
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any, Literal

from agentkit.cli._exit import EXIT_CODES_HELP, ExitCode

__all__ = ["Check", "register", "run_checks"]

Status = Literal["ok", "warn", "fail", "skip"]

EPILOG = f"""\
examples:
  agentkit doctor --base-url http://127.0.0.1:8000/v1
  agentkit doctor --wait 120          # give a server that is still loading two minutes
  agentkit doctor --json | jq '.[] | select(.status == "fail")'

{EXIT_CODES_HELP}
  (doctor: 1 when a required check fails)
"""

# Extras: (pip extra, module to look for, what it enables).
EXTRAS = (
    ("vllm", "vllm", "embedded vLLM engine and `agentkit serve`"),
    ("transformers", "transformers", "embedded transformers engine (CPU/GPU)"),
    ("camera", "cv2", "camera frames (CameraSource)"),
    ("cli", "prompt_toolkit", "line editing and history in `agentkit chat`"),
    ("testing", "uvicorn", "the local vLLM-like test server"),
)

PROBE_SIZE = (640, 480)


@dataclass
class Check:
    """One line of the doctor's table."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = False


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from agentkit.cli._app import HelpFormatter, wrap

    p = subparsers.add_parser(
        "doctor",
        parents=parents,
        help="check the server, the model, token counts, capture, actions and extras",
        description=wrap(
            "Check the setup: server reachable, model listed, a tiny image request in both "
            "modes (with the prompt tokens the server reports vs agentkit's own count), screen capture, "
            "desktop actions and installed extras. Each failure comes with a fix."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--wait",
        metavar="SECONDS",
        type=float,
        default=0.0,
        help="wait up to this long for the server to become ready",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--no-capture", action="store_true", help="skip the screen-capture check")
    p.set_defaults(handler=doctor_command)


def doctor_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from agentkit.cli._wiring import resolve_settings

    settings = resolve_settings(args)
    checks = asyncio.run(run_checks(settings, wait_s=args.wait, capture=not args.no_capture))
    if args.json:
        sys.stdout.write(json.dumps([asdict(c) for c in checks], indent=2) + "\n")
    else:
        Console(highlight=False).print(checks_table(checks, settings))
    failed = [c for c in checks if c.required and c.status == "fail"]
    return int(ExitCode.FAILED if failed else ExitCode.OK)


def checks_table(checks: list[Check], settings: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    where = settings.base_url or "embedded engine"
    table = Table(title=f"agentkit doctor · {settings.model} · {where}", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    table.add_column("fix")
    style = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
    for c in checks:
        label = c.status.upper() if c.required and c.status == "fail" else c.status
        table.add_row(Text(c.name), Text(label, style=style[c.status]), Text(c.detail), Text(c.fix))
    return table


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def run_checks(settings: Any, *, wait_s: float = 0.0, capture: bool = True) -> list[Check]:
    """Every check, in order; never raises for a failing check."""
    checks: list[Check] = []
    backend = await _backend_checks(settings, checks, wait_s)
    if backend is not None:
        await _probe_checks(backend, settings, checks)
    if capture:
        checks.append(await asyncio.to_thread(_capture_check))
    checks.append(_actions_check())
    checks.extend(_extras_checks())
    return checks


async def _backend_checks(settings: Any, checks: list[Check], wait_s: float) -> Any:
    from agentkit.cli._exit import error_line
    from agentkit.errors import AgentkitError

    try:
        from agentkit.backends._select import default_backend

        backend = default_backend(settings)
    except AgentkitError as exc:
        checks.append(
            Check("backend", "fail", error_line(exc), _fix_for(exc, settings), required=True)
        )
        return None
    if not settings.base_url:
        checks.append(
            Check(
                "backend",
                "ok",
                f"embedded engine ({type(backend).__name__}); the model loads on first use",
                "",
                required=True,
            )
        )
        checks.append(
            Check(
                "image request",
                "skip",
                "not run against the embedded engine (it would load the model)",
                "pass --base-url to check a server",
            )
        )
        return None
    if wait_s > 0 and hasattr(backend, "wait_until_ready"):
        try:
            await _maybe_await(backend.wait_until_ready(timeout_s=wait_s))
        except AgentkitError:
            pass  # the next check reports it
    list_models = getattr(backend, "list_models", None)
    if list_models is None:
        checks.append(
            Check("server reachable", "skip", f"{type(backend).__name__} cannot list models", "")
        )
        return backend
    try:
        models = list(await _maybe_await(list_models()))
    except AgentkitError as exc:
        checks.append(
            Check(
                "server reachable", "fail", error_line(exc), _fix_for(exc, settings), required=True
            )
        )
        checks.append(Check("model listed", "skip", "server not reachable", ""))
        return None
    version = None
    if hasattr(backend, "server_version"):
        with contextlib.suppress(AgentkitError):
            version = await _maybe_await(backend.server_version())
    detail = f"{settings.base_url} answers" + (f" (vLLM {version})" if version else "")
    checks.append(Check("server reachable", "ok", detail, "", required=True))
    if version:
        checks.append(_version_check(str(version)))
    if settings.model in models:
        checks.append(Check("model listed", "ok", f"{settings.model}", "", required=True))
    else:
        offered = ", ".join(models) or "none"
        checks.append(
            Check(
                "model listed",
                "fail",
                f"{settings.model} is not served (the server offers: {offered})",
                f"pass --model {models[0]}"
                if models
                else "start the server with the model: agentkit serve",
                required=True,
            )
        )
        return None
    return backend


def _version_check(version: str) -> Check:
    from agentkit.settings import server_version_at_least

    if server_version_at_least(version, (0, 33)):
        return Check(
            "server version", "ok", f"vLLM {version}: mixed 16x/4x traffic is batched correctly"
        )
    if server_version_at_least(version, (0, 22)):
        return Check(
            "server version",
            "warn",
            f"vLLM {version}: 4x and 16x requests batched together can get wrong embeddings; "
            "agentkit never sends it max_slice_nums",
            "upgrade the server to vLLM >= 0.33",
        )
    return Check(
        "server version",
        "warn",
        f"vLLM {version} predates MiniCPM-V 4.6 support",
        "upgrade the server to vLLM >= 0.33",
    )


def _probe_image() -> tuple[bytes, int, int]:
    """A small synthetic screen-like PNG: flat colours, boxes and a line of 'text'."""
    from PIL import Image, ImageDraw

    width, height = PROBE_SIZE
    image = Image.new("RGB", (width, height), (236, 239, 244))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 36), fill=(40, 44, 52))
    draw.rectangle((40, 80, 300, 130), outline=(30, 30, 30), width=2)
    draw.text((52, 96), "agentkit doctor", fill=(20, 20, 20))
    draw.rectangle((420, 380, 600, 440), fill=(52, 120, 246))
    draw.text((470, 402), "OK", fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue(), width, height


async def _probe_checks(backend: Any, settings: Any, checks: list[Check]) -> None:
    from agentkit.backends import ModelRequest, complete
    from agentkit.cli._exit import error_line
    from agentkit.errors import AgentkitError
    from agentkit.messages import ImagePart, Message, TextPart
    from agentkit.vision._tokens import image_tokens

    data, width, height = _probe_image()
    prompt: dict[str, int] = {}
    for mode in ("16x", "4x"):
        message = Message(
            "user", [ImagePart(data, "image/png", width, height), TextPart("Reply with OK.")]
        )
        request = ModelRequest(messages=[message], mode=mode, max_tokens=4)
        name = f"image request {mode}"
        try:
            response = await complete(backend, request)
        except AgentkitError as exc:
            checks.append(
                Check(name, "fail", error_line(exc), _fix_for(exc, settings), required=True)
            )
            continue
        count = image_tokens(width, height, mode)
        prompt[mode] = response.usage.prompt_tokens
        reply = " ".join(response.text.split())[:40]
        checks.append(
            Check(
                name,
                "ok",
                f"{width}x{height} PNG: server prompt_tokens={response.usage.prompt_tokens}, "
                f"agentkit visual={count.visual} (+{count.wrapper} wrapper); "
                f"{response.duration_s:.2f}s; reply {reply!r}",
                "",
                required=True,
            )
        )
    if len(prompt) == 2:
        checks.append(_token_check(prompt, width, height))


def _token_check(prompt: dict[str, int], width: int, height: int) -> Check:
    """Both requests have the same text, so the 4x-16x difference is visual tokens only."""
    from agentkit.vision._tokens import PROFILES, image_tokens

    server = prompt["4x"] - prompt["16x"]
    if prompt["16x"] == 0 and prompt["4x"] == 0:
        return Check(
            "visual token count",
            "warn",
            "the server reported no usage",
            "use a vLLM server (it reports usage.prompt_tokens)",
        )
    expected = {
        p: image_tokens(width, height, "4x", profile=p).visual
        - image_tokens(width, height, "16x", profile=p).visual
        for p in PROFILES
    }
    matches = [p for p, v in expected.items() if v == server]
    detail = f"4x - 16x: server {server}, agentkit {expected['vllm']}"
    if "vllm" in matches:
        return Check("visual token count", "ok", detail + " (match)")
    if matches:
        return Check(
            "visual token count",
            "warn",
            detail + f"; matches the {matches[0]!r} profile",
            "this server counts like another version; the server's usage is the truth",
        )
    return Check(
        "visual token count",
        "warn",
        detail + " (mismatch)",
        "a server version agentkit does not model; budgets use the server's usage.prompt_tokens",
    )


def _fix_for(exc: Exception, settings: Any) -> str:
    from agentkit.errors import (
        AuthenticationError,
        BackendTimeoutError,
        MissingExtraError,
        ModelNotFoundError,
        ServerUnavailableError,
    )

    if isinstance(exc, ServerUnavailableError):
        return "start it: agentkit serve (or vllm serve ...), or pass --base-url / set AGENTKIT_BASE_URL"
    if isinstance(exc, AuthenticationError):
        return "set AGENTKIT_API_KEY to the server's --api-key"
    if isinstance(exc, ModelNotFoundError):
        offered = getattr(exc, "available", [])
        return (
            f"pass --model {offered[0]}"
            if offered
            else "serve the model: agentkit serve --model NAME"
        )
    if isinstance(exc, BackendTimeoutError):
        return "the server is slow or still loading: agentkit doctor --wait 120"
    if isinstance(exc, MissingExtraError):
        return f"pip install 'agentkit[{exc.extra}]', or use a server: --base-url URL"
    return "see the detail; run with --debug for more"


def _capture_check() -> Check:
    import logging
    import warnings

    from agentkit.cli._exit import error_line

    vision_log = logging.getLogger("agentkit.vision")
    level = vision_log.level
    try:
        from agentkit.vision import ScreenSource

        vision_log.setLevel(logging.ERROR)  # the check reports the failure itself
        source = ScreenSource(retries=0, warn_blank=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grabbed = source.grab()
        frame = grabbed[-1] if isinstance(grabbed, list) else grabbed
    except Exception as exc:  # noqa: BLE001 - any failure is the check's result
        return Check(
            "screen capture",
            "warn",
            error_line(exc),
            "needed for screen tasks: run in a desktop session (DISPLAY set), under Xvfb, or grant "
            "screen-recording permission (macOS)",
        )
    finally:
        vision_log.setLevel(level)
    detail = f"{frame.width}x{frame.height} from {frame.source}"
    if getattr(source, "last_blank", False):
        return Check(
            "screen capture",
            "warn",
            detail + ", but every pixel has the same colour",
            "unlock the screen / stop the screensaver; on macOS grant screen-recording permission",
        )
    return Check("screen capture", "ok", detail)


def _actions_check() -> Check:
    from agentkit.cli._exit import error_line

    try:
        from agentkit.tools import available_tool_packs, load_tool_packs

        packs = available_tool_packs()
        if "desktop" not in packs:
            return Check(
                "desktop actions",
                "warn",
                f"the 'desktop' tool pack is not installed (installed: {', '.join(packs) or 'none'})",
                "pip install agentkit-desktop (tools/agentkit-desktop in the repository)",
            )
        toolset = load_tool_packs(["desktop"])
    except Exception as exc:  # noqa: BLE001
        return Check(
            "desktop actions",
            "warn",
            error_line(exc),
            "reinstall agentkit-desktop; run with --debug",
        )
    names = toolset.names()
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return Check("desktop actions", "ok", f"{len(names)} tools: {shown}")


def _extras_checks() -> list[Check]:
    checks = []
    for extra, module, what in EXTRAS:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            checks.append(Check(f"extra [{extra}]", "ok", f"installed: {what}"))
        else:
            checks.append(
                Check(
                    f"extra [{extra}]",
                    "skip",
                    f"not installed: {what}",
                    f"pip install 'agentkit[{extra}]'",
                )
            )
    return checks
