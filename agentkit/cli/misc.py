"""The small commands: ``models``, ``tools``, ``capture``, ``report``, ``replay``, ``calibrate``."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from agentkit.cli._exit import ExitCode

__all__ = ["register"]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from agentkit.cli._app import HelpFormatter, wrap

    def add(
        name: str, help: str, description: str, epilog: str, handler: Any
    ) -> argparse.ArgumentParser:
        p = subparsers.add_parser(
            name,
            parents=parents,
            help=help,
            description=wrap(description),
            epilog=epilog,
            formatter_class=HelpFormatter,
        )
        p.set_defaults(handler=handler)
        parser: argparse.ArgumentParser = p
        return parser

    add(
        "models",
        "list the models the server offers",
        "List the models the OpenAI-compatible server offers (GET /v1/models); the configured one "
        "is marked with *.",
        "examples:\n  agentkit models --base-url http://127.0.0.1:8000/v1\n  AGENTKIT_BASE_URL=http://gpu-box:8000/v1 agentkit models\n",
        models_command,
    )

    p = add(
        "tools",
        "list tools and their schemas as the model sees them",
        "List the tools of the installed tool packs (or of --tools) with their risk and parameters; "
        "--json prints the exact function schemas sent to the model.",
        "examples:\n  agentkit tools\n  agentkit tools --tools desktop --json\n  agentkit tools --tools myproject.tools:toolset\n",
        tools_command,
    )
    p.add_argument(
        "--tools",
        metavar="PACK,...",
        help="packs or module:attribute (default: every installed pack)",
    )
    p.add_argument("--json", action="store_true", help="print the OpenAI-style function schemas")

    p = add(
        "capture",
        "save a frame from the screen (or a camera) and show its token cost",
        "Capture one frame and save it, with its size and its visual-token cost in both modes.",
        "examples:\n  agentkit capture\n  agentkit capture -o desktop.png --monitor 2\n"
        "  agentkit capture --region 0 0 800 600 -o corner.png\n  agentkit capture --camera 0 -o cam.jpg\n",
        capture_command,
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default="capture.png",
        help="where to save (default capture.png)",
    )
    p.add_argument("--monitor", metavar="N", type=int, help="monitor number (1 = primary, 0 = all)")
    p.add_argument("--region", metavar=("X", "Y", "W", "H"), nargs=4, help="only this rectangle")
    p.add_argument("--camera", metavar="DEV", help="capture from this camera instead of the screen")

    p = add(
        "report",
        "write an HTML report of a run directory",
        "Write a report page of a run (the frames with the actions drawn on them, the model's "
        "text, each call and its result, modes, tokens, timings) into the run directory.",
        "examples:\n  agentkit report runs/20260101-120000-abc123\n"
        "  agentkit report runs/20260101-120000-abc123 --embed -o ~/shared/run.html\n",
        report_command,
    )
    p.add_argument(
        "run_dir", metavar="RUN_DIR", help="a run directory (contains run.json and steps.jsonl)"
    )
    p.add_argument(
        "-o", "--output", metavar="PATH", help="where to write (default RUN_DIR/report.html)"
    )
    p.add_argument("--embed", action="store_true", help="embed the frames so the page can be moved")
    p.add_argument(
        "--coords",
        choices=("normalized", "pixels"),
        default="normalized",
        help="how the model's coordinates are read: 0-1000 normalised (default) or frame pixels",
    )

    p = add(
        "replay",
        "replay the actions of a recorded run (dry run unless --execute)",
        "Replay the tool calls a run recorded as successful, without the model: by default only "
        "lists them; --execute performs them again, validated again, each through the safety "
        "policy (destructive ones ask for confirmation on the terminal, or need --yes).",
        "examples:\n  agentkit replay runs/20260101-120000-abc123\n"
        "  agentkit replay runs/20260101-120000-abc123 --execute --tools desktop\n",
        replay_command,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--execute", action="store_true", help="perform the actions (default: dry run)")
    p.add_argument(
        "--tools",
        metavar="PACK,...",
        help="tool packs to replay with (default: every installed pack)",
    )
    p.add_argument(
        "-y", "--yes", action="store_true", help="confirm destructive calls without asking"
    )
    p.add_argument(
        "--delay",
        metavar="SECONDS",
        type=float,
        default=0.5,
        help="pause between executed calls (default 0.5)",
    )
    p.add_argument(
        "--keep-going", action="store_true", help="go on after a call fails (default: stop)"
    )

    p = add(
        "calibrate",
        "measure how far the model's points land from known targets",
        "Draw coloured targets on a test picture, ask the model to point at each, and report the "
        "error in pixels (hits, mean/median/max error, systematic offset).",
        "examples:\n  agentkit calibrate --base-url http://127.0.0.1:8000/v1\n  agentkit calibrate --mode 4x --count 10 --json\n",
        calibrate_command,
    )
    p.add_argument(
        "--mode",
        choices=("16x", "4x"),
        default="16x",
        help="downsample mode of the requests (default 16x)",
    )
    p.add_argument(
        "--count", metavar="N", type=int, default=5, help="number of targets (default 5)"
    )
    p.add_argument(
        "--size",
        metavar=("W", "H"),
        type=int,
        nargs=2,
        default=(1280, 800),
        help="test picture size (default 1280 800)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def models_command(args: argparse.Namespace) -> int:
    from agentkit.cli._wiring import make_backend, resolve_settings
    from agentkit.errors import ConfigurationError

    settings = resolve_settings(args)
    if not settings.base_url:
        raise ConfigurationError(
            "`agentkit models` asks a server: pass --base-url http://127.0.0.1:8000/v1 or set "
            f"AGENTKIT_BASE_URL (the embedded engine would load {settings.model})"
        )
    backend = make_backend(settings)
    list_models = getattr(backend, "list_models", None)
    if list_models is None:
        raise ConfigurationError(f"{type(backend).__name__} cannot list models")
    models = asyncio.run(_maybe_await(list_models()))
    for name in models:
        mark = "*" if name == settings.model else " "
        sys.stdout.write(f"{mark} {name}\n")
    if settings.model not in models:
        sys.stderr.write(
            f"note: the configured model {settings.model} is not among them; pass --model\n"
        )
    return int(ExitCode.OK)


def tools_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from agentkit.cli._wiring import available_pack_names, load_tools, split_names

    names = split_names(args.tools) if args.tools is not None else available_pack_names()
    toolset = load_tools(names)
    if args.json:
        sys.stdout.write(json.dumps(toolset.openai_schemas(), indent=2, ensure_ascii=False) + "\n")
        return int(ExitCode.OK)
    console = Console(highlight=False)
    if not len(toolset):
        console.print(
            "no tools: install a tool pack (pip install agentkit-desktop) or pass --tools module:attribute",
            markup=False,
        )
        return int(ExitCode.OK)
    table = Table(title=f"{len(toolset)} tools from {', '.join(names)}", title_justify="left")
    table.add_column("tool", no_wrap=True)
    table.add_column("risk", no_wrap=True)
    table.add_column("parameters")
    table.add_column("description")
    for t in toolset:
        props = t.parameters.get("properties", {})
        required = set(t.parameters.get("required", []))
        params = ", ".join(
            f"{name}{'' if name in required else '?'}: {spec.get('type', 'any')}"
            for name, spec in props.items()
        )
        risk = getattr(t.risk, "value", str(t.risk))
        table.add_row(
            t.name,
            Text(risk, style="red" if risk == "destructive" else ""),
            Text(params),
            Text(t.description.split("\n")[0]),
        )
    console.print(table)
    return int(ExitCode.OK)


def capture_command(args: argparse.Namespace) -> int:
    from agentkit.cli._wiring import grab_one, make_source, parse_region
    from agentkit.errors import ConfigurationError
    from agentkit.vision._tokens import image_tokens

    if args.camera is not None:
        source = make_source("camera", camera=_device(args.camera))
    else:
        source = make_source("screen", monitor=args.monitor, region=parse_region(args.region))
    frame, notes = grab_one(source)
    for note in notes:
        sys.stderr.write(f"note: {note}\n")
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.image.save(out)
    except (OSError, ValueError) as exc:  # ValueError: an unknown extension
        raise ConfigurationError(f"cannot save {out}: {exc}") from exc
    t16 = image_tokens(frame.width, frame.height, "16x")
    t4 = image_tokens(frame.width, frame.height, "4x")
    grid = f"{t16.grid[0]}x{t16.grid[1]} slices" if t16.grid else "one tile"
    sys.stdout.write(f"{out}\n")
    sys.stderr.write(
        f"{frame.width}x{frame.height} from {frame.source}; {grid}; visual tokens: "
        f"{t16.total} at 16x, {t4.total} at 4x\n"
    )
    return int(ExitCode.OK)


def _device(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def report_command(args: argparse.Namespace) -> int:
    from agentkit.errors import ConfigurationError

    try:
        from agentkit.report import write_report
    except ImportError:
        raise ConfigurationError(
            "reports are not available in this agentkit build (agentkit.report is missing)"
        ) from None
    written = write_report(
        args.run_dir, out=args.output, embed_images=args.embed, coords=args.coords
    )
    sys.stdout.write(f"{written}\n")
    return int(ExitCode.OK)


def replay_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.text import Text

    from agentkit.cli._wiring import available_pack_names, load_tools, split_names
    from agentkit.cli.render import clean
    from agentkit.errors import ConfigurationError
    from agentkit.safety import SafetyPolicy

    try:
        from agentkit.replay import replay_async
    except ImportError:
        raise ConfigurationError(
            "replay is not available in this agentkit build (agentkit.replay is missing)"
        ) from None
    names = split_names(args.tools) if args.tools is not None else available_pack_names()
    toolset = load_tools(names)
    err = Console(stderr=True, highlight=False)
    if args.yes:
        confirmer: Any = lambda call: True  # noqa: E731 - the user said yes to everything
    elif sys.stdin.isatty():
        from agentkit.cli.run import _terminal_confirmer

        confirmer = _terminal_confirmer(err)
    else:
        confirmer = None
    outcome = asyncio.run(
        replay_async(
            args.run_dir,
            toolset,
            dry_run=not args.execute,
            safety=SafetyPolicy(confirmer=confirmer),
            delay_s=args.delay,
            stop_on_error=not args.keep_going,
        )
    )
    out = Console(highlight=False, soft_wrap=True)
    style = {"ok": "green", "error": "red", "refused": "yellow", "skipped": "dim", "listed": ""}
    for item in outcome:
        detail = item.error if item.error else item.output
        line = f"{item.describe()} · {item.status}" + (
            f": {detail}" if detail and item.status != "listed" else ""
        )
        out.print(Text(clean(line), style=style.get(item.status, "")))
    if not len(outcome):
        err.print("the run recorded no successful calls", markup=False)
    elif args.execute:
        err.print(f"{outcome.executed} of {len(outcome)} call(s) executed", markup=False)
    return int(ExitCode.FAILED if outcome.failed else ExitCode.OK)


def calibrate_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from agentkit.cli._wiring import make_backend, resolve_settings
    from agentkit.errors import ConfigurationError

    try:
        from agentkit.vision import calibrate
    except ImportError:
        raise ConfigurationError(
            "calibration is not available in this agentkit build (agentkit.vision.calibrate is missing)"
        ) from None
    if args.count < 1:
        raise ConfigurationError("--count must be at least 1")
    settings = resolve_settings(args)
    report = asyncio.run(
        calibrate(make_backend(settings), mode=args.mode, count=args.count, size=tuple(args.size))
    )
    data = report.to_dict()
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return int(ExitCode.OK)
    table = Table(
        title=f"calibration · {args.mode} · {args.size[0]}x{args.size[1]}", title_justify="left"
    )
    for column in ("target", "at", "model said", "error px", "hit"):
        table.add_column(column)
    for r in data["results"]:
        found = r["found"]
        table.add_row(
            Text(str(r["label"])),
            f"{r['target'][0]:.0f},{r['target'][1]:.0f}",
            f"{found[0]:.0f},{found[1]:.0f}"
            if found
            else Text(str(r["answer"])[:30] or "-", style="yellow"),
            f"{r['error_px']:.1f}" if r["error_px"] is not None else "-",
            "yes" if r["hit"] else "no",
        )
    console = Console(highlight=False)
    console.print(table)

    def px(v: Any) -> str:
        return "-" if v is None else f"{v:.1f}"

    offset = data["mean_offset_px"]
    console.print(
        f"hits {data['hits']}/{data['targets']} · missing {data['missing']} · error mean "
        f"{px(data['mean_error_px'])} median {px(data['median_error_px'])} max {px(data['max_error_px'])} px"
        + (f" · mean offset ({offset[0]:+.1f}, {offset[1]:+.1f}) px" if offset else ""),
        markup=False,
    )
    return int(ExitCode.OK)
