"""The embedded transformers backend on the tiny MiniCPM-V 4.6, and agentkit's chat template."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest_tiny import (  # noqa: F401  (the tiny_model_dir fixture)
    require_transformers_backend,
    tiny_model_dir_fixture,
)

from agentkit.backends._base import ModelRequest, ModelResponse, TextDelta
from agentkit.errors import ConfigurationError
from agentkit.messages import FunctionCall, ImagePart, Message, TextPart

pytest.importorskip("jinja2")

CLICK_SCHEMA = {
    "type": "function",
    "function": {
        "name": "click",
        "description": "Click at a point of the screen.",
        "parameters": {
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
            "required": ["x", "y"],
        },
    },
}
CLICK_REPLY = (
    "I will press the button.\n\n<tool_call>\n<function=click>\n<parameter=x>\n512\n</parameter>\n"
    "<parameter=y>\n300\n</parameter>\n</function>\n</tool_call>"
)


def _png(width: int, height: int) -> ImagePart:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, "PNG")
    return ImagePart(buf.getvalue(), "image/png", width, height, frame_id="step1-0")


def _request(
    mode: str = "16x", *, image: tuple[int, int] | None = (640, 480), **kw: Any
) -> ModelRequest:
    content: list[Any] = [TextPart("Press the blue button.")]
    if image is not None:
        content.append(_png(*image))
    return ModelRequest(
        messages=[Message("system", "You operate a desktop."), Message("user", content)],
        tools=[CLICK_SCHEMA],
        mode=mode,  # type: ignore[arg-type]
        **kw,
    )


async def _collect(backend: Any, request: ModelRequest) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    final: ModelResponse | None = None
    async for item in backend.stream(request):
        if isinstance(item, TextDelta):
            assert final is None, "a delta after the final response"
            deltas.append(item.text)
        else:
            assert isinstance(item, ModelResponse)
            final = item
    assert final is not None
    return deltas, final


# -- the chat template (no model needed) ---------------------------------------------------------


def _render(messages: list[Message], tools: list[dict[str, Any]] | None = None, **kw: Any) -> str:
    from agentkit.backends._chat_template import render, to_template_messages

    converted, _ = to_template_messages(messages)
    return render(converted, tools, **kw)


def test_template_tools_go_into_the_system_turn() -> None:
    text = _render([Message("system", "Be brief."), Message("user", "hi")], [CLICK_SCHEMA])
    assert text.startswith(
        "<|im_start|>system\n# Tools\n\nYou have access to the following functions:"
    )
    assert '\n<tools>\n{"type": "function", "function": {"name": "click"' in text
    assert "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>" in text
    assert text.count("<|im_start|>system") == 1
    assert "</IMPORTANT>\n\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n" in text
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_template_without_tools_and_with_thinking() -> None:
    text = _render([Message("system", "S"), Message("user", "Q")], enable_thinking=True)
    assert text == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )


def test_template_history_calls_responses_and_images() -> None:
    history = [
        Message("user", [TextPart("Look: "), _png(64, 64), TextPart(" and "), _png(32, 32)]),
        Message(
            "assistant",
            "On it.",
            tool_calls=[
                FunctionCall("c1", "click", {"x": 5, "y": 7}),
                FunctionCall("c2", "type_text", {"text": "two\nlines", "enter": True}),
            ],
        ),
        Message("tool", "clicked", tool_call_id="c1", name="click"),
        Message("tool", [TextPart("typed "), _png(16, 16)], tool_call_id="c2", name="type_text"),
        Message("user", "thanks"),
    ]
    text = _render(history, [CLICK_SCHEMA], add_generation_prompt=False)
    assert "<|im_start|>user\nLook: <|image_pad|> and <|image_pad|><|im_end|>\n" in text
    assert (
        "<|im_start|>assistant\nOn it.\n\n<tool_call>\n<function=click>\n<parameter=x>\n5\n</parameter>\n"
        "<parameter=y>\n7\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=type_text>\n"
        "<parameter=text>\ntwo\nlines\n</parameter>\n<parameter=enter>\ntrue\n</parameter>\n</function>\n"
        "</tool_call><|im_end|>\n"
    ) in text
    # Consecutive tool messages share one user turn of <tool_response> blocks.
    assert (
        "<|im_start|>user\n<tool_response>\nclicked\n</tool_response>\n<tool_response>\ntyped "
        "<|image_pad|>\n</tool_response><|im_end|>\n<|im_start|>user\nthanks<|im_end|>\n"
    ) in text
    assert not text.endswith("<|im_start|>assistant\n")


def test_template_refuses_a_history_without_user_message() -> None:
    with pytest.raises(ConfigurationError, match="No user query"):
        _render([Message("system", "S"), Message("assistant", "hello")])


def test_template_matches_transformers_apply_chat_template(tiny_model_dir: Path) -> None:
    """agentkit's renderer and transformers' give the same prompt (so vLLM's will too)."""
    from transformers import AutoTokenizer

    from agentkit.backends._chat_template import render, to_template_messages

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages, _ = to_template_messages(
        [
            Message("system", "sys ✓"),
            Message("user", [TextPart("see"), _png(8, 8)]),
            Message("assistant", "", tool_calls=[FunctionCall("a", "click", {"x": 1, "y": 2})]),
            Message("tool", "ok", tool_call_id="a"),
        ]
    )
    for thinking in (False, True):
        ours = render(messages, [CLICK_SCHEMA], enable_thinking=thinking)
        theirs = tok.apply_chat_template(
            messages,
            tools=[CLICK_SCHEMA],
            add_generation_prompt=True,
            enable_thinking=thinking,
            tokenize=False,
        )
        assert ours == theirs


# -- the backend ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["16x", "4x"])
async def test_streams_a_scripted_tool_call(tiny_model_dir: Path, mode: str) -> None:
    from agentkit.parsing import parse_tool_calls
    from agentkit.testing.tiny_model import tiny_transformers_backend
    from agentkit.tools import ToolSet, tool
    from agentkit.vision import image_tokens

    @tool
    def click(x: int, y: int) -> str:
        """Click at a point of the screen.

        Args:
            x: horizontal pixel.
            y: vertical pixel.
        """
        return "ok"

    backend = tiny_transformers_backend([CLICK_REPLY, "All done."], path=tiny_model_dir)
    deltas, final = await _collect(backend, _request(mode))
    assert len(deltas) > 3  # really streamed, not one block
    assert "".join(deltas) == CLICK_REPLY == final.text
    assert final.finish_reason == "stop"
    parsed = parse_tool_calls(final.text, ToolSet([click]))
    assert not parsed.errors
    assert [(c.name, c.arguments) for c in parsed.calls] == [("click", {"x": 512, "y": 300})]

    tok = backend.tokenizer
    script_ids = tok.encode(CLICK_REPLY, add_special_tokens=False)
    assert final.usage.completion_tokens == len(script_ids) + 1  # the reply and <|im_end|>
    major, minor = (int(v) for v in __import__("transformers").__version__.split(".")[:2])
    profile = "transformers-5.23" if (major, minor) >= (5, 21) else "vllm"
    expected = image_tokens(640, 480, mode, profile=profile)
    assert final.usage.visual_tokens == expected.visual
    assert final.usage.requests == 1
    assert final.first_token_s is not None and final.first_token_s <= final.duration_s

    # The second request gets the second script; prompt tokens are the processor's input length.
    deltas, final = await _collect(backend, _request(mode, image=None))
    assert final.text == "All done."
    messages = backend.processor(
        text=[backend_prompt(_request(mode, image=None))], return_tensors="pt"
    )
    assert final.usage.prompt_tokens == messages["input_ids"].shape[1]
    assert final.usage.visual_tokens == 0


def backend_prompt(request: ModelRequest) -> str:
    from agentkit.backends._chat_template import render, to_template_messages

    messages, _ = to_template_messages(request.messages)
    return render(messages, request.tools, enable_thinking=request.enable_thinking)


async def test_max_slice_nums_reaches_the_processor(tiny_model_dir: Path) -> None:
    from agentkit.testing.tiny_model import tiny_transformers_backend
    from agentkit.vision import image_tokens

    backend = tiny_transformers_backend(["a", "b"], path=tiny_model_dir)
    counts = []
    for slices in (1, 2):
        _, final = await _collect(
            backend, _request("16x", image=(1280, 720), max_slice_nums=slices)
        )
        counts.append(final.usage.visual_tokens)
    assert counts == [image_tokens(1280, 720, "16x", max_slice_nums=n).visual for n in (1, 2)]
    assert counts[0] < counts[1]


async def test_max_tokens_ends_with_length(tiny_model_dir: Path) -> None:
    from agentkit.testing.tiny_model import tiny_transformers_backend

    backend = tiny_transformers_backend(["one two three four five six seven"], path=tiny_model_dir)
    _, final = await _collect(backend, _request(image=None, max_tokens=3))
    assert final.finish_reason == "length"
    assert final.usage.completion_tokens == 3
    assert final.text == backend.tokenizer.decode(
        backend.tokenizer.encode("one two three four five six seven", add_special_tokens=False)[:3]
    )


async def test_streaming_does_not_block_the_loop_and_close_stops_generation(
    tiny_model_dir: Path,
) -> None:
    from transformers import AutoTokenizer

    from agentkit.backends.transformers_backend import TransformersBackend
    from agentkit.testing.tiny_model import ScriptedLogitsProcessor

    long_reply = " ".join(f"word{i}" for i in range(300))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    script_len = len(tok.encode(long_reply, add_special_tokens=False))
    scripted = ScriptedLogitsProcessor(tok, [long_reply, "next"])
    calls = 0

    def counting(input_ids: Any, scores: Any) -> Any:
        nonlocal calls
        calls += 1
        return scripted(input_ids, scores)

    backend = TransformersBackend(tiny_model_dir, device="cpu", logits_processor=counting)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    stream = backend.stream(_request(image=None, max_tokens=2000))
    received = []
    async for item in stream:
        received.append(item)
        if len(received) == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    stop.set()
    await task
    assert all(isinstance(i, TextDelta) for i in received)
    assert len(gaps) > 3 and max(gaps) < 1.0  # the loop kept running during generation

    # Generation stops at the next token: once the worker releases the model, the step count is
    # far below the script's length (without the stop it runs all ~script_len steps).
    lock = backend._generate_lock
    assert await asyncio.to_thread(lock.acquire, True, 60)
    lock.release()
    assert calls < script_len // 4

    # The next request is served, with the next script.
    _, final = await _collect(backend, _request(image=None))
    assert final.text == "next"


async def test_video_needs_torchvision(tiny_model_dir: Path) -> None:
    import importlib.util

    from agentkit.backends.transformers_backend import (
        TransformersBackend,
        VideoNeedsTorchvisionError,
    )

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed: the stock processor handles video")
    backend = TransformersBackend(tiny_model_dir, device="cpu")
    processor = backend.processor
    import numpy as np

    frames = [np.zeros((64, 64, 3), dtype=np.uint8)] * 2
    with pytest.raises(VideoNeedsTorchvisionError, match="torchvision"):
        processor(text=["<|video_pad|>"], videos=[frames])


def test_device_and_dtype_selection() -> None:
    require_transformers_backend()
    import torch

    from agentkit.backends.transformers_backend import _pick_device, _pick_dtype

    assert _pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert _pick_device("cpu") == "cpu"
    assert _pick_dtype("auto", "cpu") is torch.float32
    assert _pick_dtype("auto", "cuda:0") is torch.bfloat16
    assert _pick_dtype("float16", "cpu") is torch.float16
    with pytest.raises(ConfigurationError, match="unknown dtype"):
        _pick_dtype("float7", "cpu")


async def test_missing_weights_is_an_actionable_configuration_error(tmp_path: Path) -> None:
    require_transformers_backend()
    from agentkit.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend(tmp_path / "nowhere", device="cpu", local_files_only=True)
    with pytest.raises(ConfigurationError) as info:
        await _collect(backend, _request(image=None))
    message = str(info.value)
    assert "hf download" in message and "AGENTKIT_MODEL" in message and "--base-url" in message


def test_import_agentkit_imports_no_torch() -> None:
    code = (
        "import sys, agentkit, agentkit.backends._select, agentkit.backends.transformers_backend, "
        "agentkit.backends.vllm_backend, agentkit.testing.tiny_model\n"
        "heavy = [m for m in ('torch', 'transformers', 'vllm') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_default_model_name_loads_offline_from_the_hf_cache(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The embedded default finds weights in the Hugging Face cache, with no hub access."""
    import os
    import shutil

    snapshot = tmp_path / "hub" / "models--openbmb--MiniCPM-V-4.6" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dir, snapshot)
    refs = tmp_path / "hub" / "models--openbmb--MiniCPM-V-4.6" / "refs"
    refs.mkdir()
    (refs / "main").write_text("0123abcd")
    code = (
        "import asyncio\n"
        "from agentkit.backends._base import ModelRequest, complete\n"
        "from agentkit.backends._select import default_backend, local_checkpoint\n"
        "from agentkit.backends.transformers_backend import TransformersBackend\n"
        "from agentkit.messages import Message\n"
        "from agentkit.settings import Settings\n"
        f"assert local_checkpoint('openbmb/MiniCPM-V-4.6') == {str(snapshot)!r}\n"
        "backend = default_backend(Settings(model='openbmb/MiniCPM-V-4.6'))\n"
        "assert isinstance(backend, TransformersBackend), backend\n"
        "request = ModelRequest(messages=[Message('user', 'hi')], max_tokens=3)\n"
        "final = asyncio.run(complete(backend, request))\n"
        "assert final.usage.prompt_tokens > 0 and 1 <= final.usage.completion_tokens <= 3\n"
        "print('ok')\n"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AGENTKIT_", "HF_", "HUGGINGFACE"))
    }
    paths = [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]
    env.update(
        HF_HUB_CACHE=str(tmp_path / "hub"),
        HF_HUB_OFFLINE="1",
        AGENTKIT_CONFIG=str(tmp_path / "none.toml"),
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
