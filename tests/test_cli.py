"""The command line: parser, exit codes, error lines, renderers, transcripts, serve, docs."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from agentkit.cli import ExitCode, main
from agentkit.cli._exit import error_line, exit_code_for, exit_code_for_status, report_error
from agentkit.cli._transcript import load_transcript, save_transcript
from agentkit.cli.render import (
    ChatRenderer,
    ProgressRenderer,
    clean,
    format_call,
    tool_call_panel,
    tool_result_panel,
    usage_table,
)
from agentkit.errors import (
    AgentkitError,
    AuthenticationError,
    CaptureError,
    ConfigurationError,
    LimitExceededError,
    MissingExtraError,
    RunCancelledError,
    ServerUnavailableError,
    UnknownToolError,
)
from agentkit.events import (
    ModelTextDelta,
    Retry,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    ToolCallFinished,
    ToolCallRejected,
    ToolCallStarted,
)
from agentkit.messages import FunctionCall, ImagePart, Message, TextPart, Usage
from agentkit.tools import Risk, ToolCall, tool

ROOT = Path(__file__).resolve().parent.parent


def console() -> Console:
    return Console(file=io.StringIO(), width=80, color_system=None)


def text_of(c: Console) -> str:
    return c.file.getvalue()  # type: ignore[attr-defined]


@tool(risk=Risk.DESTRUCTIVE)
def delete_file(path: str) -> str:
    """Delete a file.

    Args:
        path: the file.
    """
    return f"deleted {path}"


def make_call(**arguments: object) -> ToolCall:
    args = arguments or {"path": "notes.txt"}
    return ToolCall(
        "call_1_0", "delete_file", dict(args), delete_file.validate(dict(args)), delete_file
    )


class _Result:
    def __init__(self, status: str, error: AgentkitError | None = None) -> None:
        self.status = status
        self.error = error


# ----------------------------------------------------------------------------- exit codes, errors


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigurationError("x"), ExitCode.USAGE),
        (MissingExtraError("vllm", "the thing"), ExitCode.USAGE),
        (CaptureError("no display"), ExitCode.USAGE),
        (ServerUnavailableError("down", url="http://h:1/v1"), ExitCode.BACKEND),
        (AuthenticationError("401"), ExitCode.BACKEND),
        (LimitExceededError("too many", limit="max_steps"), ExitCode.LIMIT),
        (RunCancelledError("stop"), ExitCode.INTERRUPTED),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
        (AgentkitError("other"), ExitCode.FAILED),
        (RuntimeError("bug"), ExitCode.FAILED),
    ],
)
def test_exit_code_for(exc: BaseException, code: ExitCode) -> None:
    assert exit_code_for(exc) == code


def test_exit_code_for_status() -> None:
    assert exit_code_for_status("completed") == 0
    assert exit_code_for_status("limit", LimitExceededError("x", limit="max_steps")) == 4
    assert exit_code_for_status("stopped") == 130
    assert exit_code_for_status("failed", ServerUnavailableError("down")) == 3
    assert exit_code_for_status("failed", None) == 1
    assert exit_code_for_status("failed", AgentkitError("x")) == 1


def test_error_line_is_one_line_and_names_the_url() -> None:
    exc = ServerUnavailableError(
        "Connection refused\n  while connecting", url="http://127.0.0.1:8000/v1"
    )
    line = error_line(exc)
    assert "\n" not in line
    assert "http://127.0.0.1:8000/v1" in line
    # a message that already names the URL does not repeat it
    named = ServerUnavailableError("Could not reach vLLM at http://h:1/v1", url="http://h:1/v1")
    assert error_line(named).count("http://h:1/v1") == 1
    assert "--debug" in error_line(ValueError("boom"))


def test_report_error_debug_shows_traceback() -> None:
    try:
        raise ConfigurationError("bad setting")
    except ConfigurationError as exc:
        quiet, loud = io.StringIO(), io.StringIO()
        assert report_error(exc, quiet) == ExitCode.USAGE
        report_error(exc, loud, debug=True)
    assert quiet.getvalue() == "error: bad setting\n"
    assert "Traceback" in loud.getvalue() and loud.getvalue().endswith("error: bad setting\n")


# ----------------------------------------------------------------------------- parser and main


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in (
        "chat",
        "run",
        "serve",
        "doctor",
        "models",
        "tools",
        "capture",
        "report",
        "replay",
        "calibrate",
    ):
        assert command in out
    assert "exit codes" in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("agentkit ")


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2  # TASK missing
    assert "TASK" in capsys.readouterr().err
    assert main(["chat", "--mode", "8x"]) == 2
    assert main([]) == 2  # no command: help on stderr


@pytest.mark.parametrize(
    "command", ["chat", "run", "serve", "doctor", "tools", "capture", "calibrate"]
)
def test_every_command_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert f"agentkit {command}" in out


def test_configuration_error_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["models", "--base-url", "ftp://nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_debug_flag_shows_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--base-url", "ftp://nope", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: " in err


def test_models_needs_a_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTKIT_BASE_URL", raising=False)
    monkeypatch.setenv("AGENTKIT_CONFIG", str(ROOT / "pyproject.toml.missing"))
    monkeypatch.delenv("AGENTKIT_CONFIG")
    assert main(["models"]) == 2
    assert "--base-url" in capsys.readouterr().err


def test_python_dash_m_agentkit() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agentkit", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("agentkit ")


# ----------------------------------------------------------------------------- renderers


def test_clean_neutralises_terminal_controls() -> None:
    hostile = "ok\x1b[2J\x1b]0;title\x07 \u202eevil\u202c\tx\ny"
    shown = clean(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\x1b[2J" in shown and "\t" in shown and "\n" in shown


def test_format_call_caps_length() -> None:
    assert format_call("click", {"x": 512, "y": 300}) == "click(x=512, y=300)"
    assert format_call("type_text", {"text": "a\nb"}) == 'type_text(text="a\\nb")'
    long = format_call("type_text", {"text": "x" * 1000})
    assert len(long) <= 160 and long.endswith("…)")
    many = format_call("f", {f"p{i}": "v" * 50 for i in range(10)})
    assert len(many) == 160 and many.endswith("…")


def test_tool_panels_plain_text() -> None:
    c = console()
    c.print(tool_call_panel(make_call()))
    event = ToolCallFinished(1, make_call(), "deleted notes.txt", None, 0.0123, "ok")
    c.print(tool_result_panel(event))
    refused = ToolCallFinished(1, make_call(), "Refused: no", "said no", 0.0, "refused")
    c.print(tool_result_panel(refused))
    out = text_of(c)
    assert "tool call · destructive" in out
    assert 'delete_file(path="notes.txt")' in out
    assert "✓ delete_file · ok · 0.01s" in out
    assert "deleted notes.txt" in out
    assert "⊘ delete_file · refused" in out


def test_tool_result_panel_cuts_long_output() -> None:
    c = console()
    event = ToolCallFinished(
        1, make_call(), "\n".join(f"line {i}" for i in range(50)), None, 0.1, "ok"
    )
    c.print(tool_result_panel(event))
    out = text_of(c)
    assert "line 7" in out and "line 8" not in out and "…" in out


def test_markup_in_model_text_is_not_interpreted() -> None:
    c = console()
    event = ToolCallFinished(
        1, make_call(), "[bold red]x[/] [link=file:///etc]y[/link]", None, 0.1, "ok"
    )
    c.print(tool_result_panel(event))
    assert "[bold red]x[/]" in text_of(c)


def test_chat_renderer_draws_a_turn() -> None:
    from agentkit.agent import RunResult

    c = console()
    r = ChatRenderer(c)
    call = make_call()
    result = RunResult(
        "r1", "completed", output="Done.", text="Done.", steps=2, usage=Usage(100, 20, 64, 2)
    )
    events = [
        RunStarted("r1", "task", Path("runs/r1")),
        StepStarted(1, "16x", None, "default", 64, ("step1-0",)),
        ModelTextDelta(1, "I will **delete** "),
        ModelTextDelta(1, "the file."),
        ToolCallStarted(1, call),
        ToolCallFinished(1, call, "deleted notes.txt", None, 0.02, "ok"),
        StepFinished(1, Usage(50, 10, 64, 1), {"step_s": 0.5}),
        StepStarted(2, "16x", None, "default", 0),
        ModelTextDelta(2, "# Done\n\n- one\n- two"),
        RunFinished(result),
    ]
    r.start()
    for e in events:
        r.handle(e)
    out = text_of(c)
    assert "I will delete the file." in out  # Markdown rendered: no ** left
    assert "**" not in out
    assert 'delete_file(path="notes.txt")' in out
    assert "deleted notes.txt" in out
    assert "Done" in out and "• one" in out
    assert out.index("I will") < out.index("tool call") < out.index("Done")
    assert r.result is result


def test_chat_renderer_spinner_until_the_first_token() -> None:
    """On a terminal: a spinner with the step, mode and visual tokens, then the answer replaces it."""
    import re

    c = Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)
    r = ChatRenderer(c, refresh_per_second=50)
    r.start()
    r.handle(StepStarted(1, "4x", None, "small text", 812, ("step1-0",)))
    r.handle(ModelTextDelta(1, "Hello **there**"))
    r.finish()
    raw = text_of(c)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    assert "thinking" in plain  # drawn at once by start()
    assert "step 1 · 4x · 812 visual tokens" in plain
    spinner_at = plain.index("812 visual tokens")
    assert plain.index("Hello there") > spinner_at
    assert plain.rstrip().endswith("Hello there")  # the final, permanent print


def test_chat_renderer_failed_and_cancelled() -> None:
    from agentkit.agent import RunResult

    c = console()
    r = ChatRenderer(c)
    r.handle(ModelTextDelta(1, "partial"))
    r.handle(
        ToolCallRejected(1, UnknownToolError("no tool named 'clik'; tools: click", tool="clik"))
    )
    r.handle(Retry(1, "ServerError", "the model turn was interrupted"))
    err = ServerUnavailableError("Could not reach vLLM", url="http://127.0.0.1:9/v1")
    r.handle(RunFinished(RunResult("r", "failed", error=err)))
    out = text_of(c)
    assert "partial" in out
    assert "invalid tool call: no tool named 'clik'" in out
    assert "retrying: the model turn was interrupted" in out
    assert "(failed: Could not reach vLLM (http://127.0.0.1:9/v1))" in out

    c2 = console()
    r2 = ChatRenderer(c2)
    r2.start()
    r2.handle(ModelTextDelta(1, "a long answer that is cut"))
    r2.finish(cancelled=True)
    assert "a long answer that is cut" in text_of(c2)
    assert "(answer cancelled)" in text_of(c2)


def test_progress_renderer_lines() -> None:
    from agentkit.agent import RunResult

    c = console()
    p = ProgressRenderer(c)
    call = make_call()
    for e in [
        RunStarted("r1", "clean up", Path("runs/r1")),
        StepStarted(1, "4x", None, "small text", 812, ("step1-0",)),
        ModelTextDelta(1, "Deleting it."),
        ToolCallStarted(1, call),
        ToolCallFinished(1, call, "Dry run: delete_file was recorded", None, 0.0, "dry_run"),
        StepFinished(1, Usage(900, 30, 812, 1), {"step_s": 1.25}),
        StepStarted(2, "16x", None, "default 16x", 203, ("step2-0",)),
        ModelTextDelta(2, "All clean."),
        StepFinished(2, Usage(1500, 40, 1015, 2), {"step_s": 0.5}),
        RunFinished(RunResult("r1", "completed")),
    ]:
        p.handle(e)
    out = text_of(c)
    assert "All clean." not in out  # the final answer goes to stdout, not into the progress
    assert "step 2 · mode 16x · 1 frame(s)" in out
    assert "run r1: clean up" in out
    assert "step 1 · mode 4x (small text) · 1 frame(s), 812 visual tokens" in out
    assert "model: Deleting it." in out
    assert '→ delete_file(path="notes.txt")' in out
    assert "○ dry run (0.00s): Dry run" in out
    assert "tokens: 900 prompt + 30 completion · 1.2s" in out
    assert "tokens: 600 prompt + 10 completion" in out  # per step, from the running totals


def test_usage_table() -> None:
    c = console()
    c.print(
        usage_table(Usage(1234, 56, 578, 3), seconds=4.25, turns=2, last=Usage(600, 20, 289, 1))
    )
    out = text_of(c)
    assert "1,234" in out and "578" in out and "4.2 s" in out and "last turn" in out


# ----------------------------------------------------------------------------- transcript


def test_transcript_round_trip(tmp_path: Path) -> None:
    messages = [
        Message("system", "be brief"),
        Message(
            "user",
            [
                TextPart("what is this?"),
                ImagePart(b"\x89PNG...", "image/png", 4, 3, frame_id="input-0"),
            ],
        ),
        Message(
            "assistant", "deleting", tool_calls=[FunctionCall("c1", "delete_file", {"path": "a"})]
        ),
        Message("tool", "deleted a", tool_call_id="c1", name="delete_file"),
    ]
    path = save_transcript(tmp_path / "sub" / "chat.json", messages, mode="4x")
    loaded, meta = load_transcript(path)
    assert loaded == messages
    assert meta["mode"] == "4x"


def test_transcript_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"messages": []}))
    with pytest.raises(ConfigurationError, match="not a conversation"):
        load_transcript(bad)
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not JSON"):
        load_transcript(bad)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_transcript(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- serve


def test_serve_print_shows_the_vllm_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["serve", "--print", "--port", "8123", "--", "--gpu-memory-utilization", "0.8"]) == 0
    )
    line = capsys.readouterr().out.strip()
    assert "serve openbmb/MiniCPM-V-4.6 --trust-remote-code" in line
    for flag in (
        "--host 127.0.0.1",
        "--port 8123",
        "--max-model-len 8192",
        "--enable-auto-tool-choice",
        "--tool-call-parser qwen3_coder",
        """--default-chat-template-kwargs '{"enable_thinking": false}'""",
        "--gpu-memory-utilization 0.8",
    ):
        assert flag in line


def test_serve_builds_an_argv_list() -> None:
    from agentkit.cli.serve import build_command

    argv = build_command("m; rm -rf /", port=1, extra=["--x"], prefix=["/opt/vllm"])
    assert argv[:3] == ["/opt/vllm", "serve", "m; rm -rf /"]  # one argument, no shell
    assert argv[argv.index("--default-chat-template-kwargs") + 1] == '{"enable_thinking": false}'
    # the measured serving settings for many agents are the default, and can be turned off
    assert argv[argv.index("--api-server-count") + 1] == "4" and "--enable-prefix-caching" in argv
    plain = build_command("m", api_server_count=1, prefix_caching=False, prefix=["vllm"])
    assert "--api-server-count" not in plain and "--enable-prefix-caching" not in plain


def test_serve_without_vllm_says_how_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentkit.cli.serve as serve

    monkeypatch.setattr(serve, "_vllm_prefix", lambda: None)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'agentkit[vllm]'" in err and "Traceback" not in err


def test_serve_waits_for_health_with_a_fake_vllm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in `vllm` (a tiny HTTP server) proves the argv, the /health wait and the ready line."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = tmp_path / "vllm"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import http.server, json, sys\n"
        "args = sys.argv[1:]\n"
        "open(sys.argv[0] + '.args', 'w').write(json.dumps(args))\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200 if self.path == '/health' else 404); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "port = int(args[args.index('--port') + 1])\n"
        "http.server.HTTPServer(('127.0.0.1', port), H).handle_request()\n"
    )
    fake.chmod(0o755)
    env_path = f"{tmp_path}:{__import__('os').environ.get('PATH', '')}"
    proc = subprocess.run(
        [sys.executable, "-m", "agentkit", "serve", "--port", str(port), "--ready-timeout", "20"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**__import__("os").environ, "PATH": env_path},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"ready: openbmb/MiniCPM-V-4.6 at http://127.0.0.1:{port}/v1" in proc.stderr
    args = json.loads((tmp_path / "vllm.args").read_text())
    assert args[:2] == ["serve", "openbmb/MiniCPM-V-4.6"]
    assert "--tool-call-parser" in args


# ----------------------------------------------------------------------------- docs


def _load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_cli_md_is_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    made_with = doc.split("(Python ", 1)[1].split(")", 1)[0]
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if made_with != here:
        pytest.skip(
            f"docs/cli.md was generated with Python {made_with}; argparse output differs between versions"
        )
    monkeypatch.setenv("COLUMNS", "100")
    generator = _load_generator()
    assert generator.render() == doc, (
        "docs/cli.md is out of date: run python scripts/gen_cli_docs.py"
    )
