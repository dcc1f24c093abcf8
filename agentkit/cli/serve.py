"""``agentkit serve``: start ``vllm serve`` with the flags MiniCPM-V 4.6 needs, wait until it is ready.

The command is an argv list (never a shell string). The flags: ``--trust-remote-code``,
``--enable-auto-tool-choice --tool-call-parser qwen3_coder`` (server-side tool-call parsing; agentkit
validates the result anyway), ``--default-chat-template-kwargs '{"enable_thinking": false}'`` (the
instruct model; without it text before a call may be filed as reasoning), ``--host 127.0.0.1``
(vLLM binds every interface by default) and ``--max-model-len 8192``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from agentkit.cli._exit import EXIT_CODES_HELP, ExitCode

__all__ = ["build_command", "register", "serve_command", "wait_for_health"]

DEFAULT_MODEL = "openbmb/MiniCPM-V-4.6"

EPILOG = f"""\
examples:
  agentkit serve                                     # openbmb/MiniCPM-V-4.6 on 127.0.0.1:8000
  agentkit serve --print                             # show the vllm command, do not run it
  agentkit serve --model openbmb/MiniCPM-V-4.6-Thinking --port 8001
  agentkit serve --max-model-len 16384 -- --gpu-memory-utilization 0.8
  agentkit serve --host 0.0.0.0 -- --api-key "$VLLM_KEY"   # reachable from other machines

Once it prints "ready", point agentkit at it:
  export AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1

vLLM >= 0.22 serves MiniCPM-V 4.6; use >= 0.33 for mixed 4x/16x traffic.
Ctrl-C stops the server.

{EXIT_CODES_HELP}
"""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from agentkit.cli._app import HelpFormatter, wrap

    p = subparsers.add_parser(
        "serve",
        help="start a vLLM server for the model and wait until it is ready",
        description=wrap(
            "Start `vllm serve` with the flags MiniCPM-V 4.6 needs (tool parser, chat "
            "template settings, localhost only) and wait for /health."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        default=None,
        help=f"model to serve (default: AGENTKIT_MODEL or {DEFAULT_MODEL})",
    )
    p.add_argument("--port", metavar="PORT", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--host", metavar="HOST", default="127.0.0.1", help="interface to bind (default 127.0.0.1)"
    )
    p.add_argument(
        "--max-model-len", metavar="N", type=int, default=8192, help="context length (default 8192)"
    )
    p.add_argument(
        "--api-server-count",
        metavar="N",
        type=int,
        default=4,
        help="API server processes that preprocess images in parallel (default 4; 1 = vLLM's default)",
    )
    p.add_argument(
        "--no-prefix-caching",
        dest="prefix_caching",
        action="store_false",
        default=True,
        help="leave vLLM's prefix caching off (on by default: agents share prompts and tools)",
    )
    p.add_argument(
        "--wait",
        dest="wait",
        action="store_true",
        default=True,
        help="wait until /health answers, then print the base URL (default)",
    )
    p.add_argument(
        "--no-wait", dest="wait", action="store_false", help="start vLLM and do not wait for it"
    )
    p.add_argument(
        "--ready-timeout",
        metavar="SECONDS",
        type=float,
        default=900.0,
        help="how long to wait for /health (default 900)",
    )
    p.add_argument(
        "--print", dest="print_only", action="store_true", help="print the command and exit"
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    p.add_argument(
        "extra",
        nargs=argparse.REMAINDER,
        metavar="-- VLLM_ARGS",
        help="more `vllm serve` arguments, after --",
    )
    p.set_defaults(handler=serve_command)


def _vllm_prefix() -> list[str] | None:
    """How to invoke vLLM's CLI: the ``vllm`` script on PATH, else the module of this interpreter."""
    exe = shutil.which("vllm")
    if exe:
        return [exe]
    try:
        found = importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return [sys.executable, "-m", "vllm.entrypoints.cli.main"]
    return None


def build_command(
    model: str,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    max_model_len: int = 8192,
    extra: list[str] | None = None,
    prefix: list[str] | None = None,
    api_server_count: int = 4,
    prefix_caching: bool = True,
) -> list[str]:
    """The ``vllm serve`` argv for the model (no shell involved).

    ``--api-server-count`` and ``--enable-prefix-caching`` are on by default: measured on an H100
    with 64 agents sending 1280x720 screenshots (docs/BENCHMARKS.md), four API servers spread
    the image preprocessing that one server process does serially (605 -> 906 output tokens/s),
    and prefix caching on top reuses the system prompt and tool schemas of every agent
    (1,137 tokens/s, median first token 3.5 s -> 2.4 s).
    """
    tuning = ["--api-server-count", str(api_server_count)] if api_server_count > 1 else []
    if prefix_caching:
        tuning.append("--enable-prefix-caching")
    return [
        *(prefix or ["vllm"]),
        "serve",
        model,
        "--trust-remote-code",
        "--host",
        host,
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "qwen3_coder",
        "--default-chat-template-kwargs",
        json.dumps({"enable_thinking": False}),
        *tuning,
        *(extra or []),
    ]


def wait_for_health(url: str, proc: subprocess.Popen[Any] | None, timeout_s: float) -> bool:
    """Poll ``url`` until it answers 200; False when the process exits or the deadline passes."""
    import httpx

    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return False
            try:
                if client.get(url).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    return False


def serve_command(args: argparse.Namespace) -> int:
    from agentkit.errors import ConfigurationError
    from agentkit.settings import Settings

    model = Settings.resolve(model=args.model).model
    extra = list(args.extra or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    prefix = _vllm_prefix()
    argv = build_command(
        model,
        port=args.port,
        host=args.host,
        max_model_len=args.max_model_len,
        extra=extra,
        prefix=prefix,
        api_server_count=args.api_server_count,
        prefix_caching=args.prefix_caching,
    )
    if args.print_only:
        shown = argv if prefix is not None else argv
        sys.stdout.write(shlex.join(shown) + "\n")
        return int(ExitCode.OK)
    if prefix is None:
        raise ConfigurationError(
            "vLLM is not installed here: pip install 'agentkit[vllm]' (needs a CUDA GPU; vLLM >= "
            "0.22), or run `agentkit serve --print` to get the command for a GPU machine"
        )
    host_for_url = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    base = f"http://{host_for_url}:{args.port}"
    sys.stderr.write(f"starting: {shlex.join(argv)}\n")
    sys.stderr.flush()
    try:
        proc = subprocess.Popen(argv)  # noqa: S603 - an argv list built above, no shell
    except OSError as exc:
        raise ConfigurationError(f"could not start vLLM ({argv[0]}): {exc}") from exc
    try:
        if args.wait:
            if wait_for_health(f"{base}/health", proc, args.ready_timeout):
                sys.stderr.write(
                    f"ready: {model} at {base}/v1\n"
                    f"  export AGENTKIT_BASE_URL={base}/v1\n"
                    f"  agentkit doctor --base-url {base}/v1\n"
                )
                sys.stderr.flush()
            elif proc.poll() is not None:
                sys.stderr.write(
                    f"error: vllm serve exited with status {proc.returncode} before it was ready (see its log above)\n"
                )
                return int(ExitCode.BACKEND)
            else:
                sys.stderr.write(
                    f"error: vLLM did not answer {base}/health within {args.ready_timeout:g} s; "
                    "it is still starting, or raise --ready-timeout\n"
                )
                _stop(proc)
                return int(ExitCode.BACKEND)
        code = proc.wait()
        return code if code >= 0 else 128 - code
    except KeyboardInterrupt:
        _stop(proc)
        return int(ExitCode.INTERRUPTED)


def _stop(proc: subprocess.Popen[Any]) -> None:
    """SIGINT (vLLM's clean shutdown), then SIGTERM, then SIGKILL."""
    for sig, wait_s in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(sig)
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        except (ProcessLookupError, OSError):
            return
