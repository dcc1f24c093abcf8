"""The embedded vLLM backend against a fake engine at the vLLM API boundary, and the default backend
selection rule. Nothing here needs vLLM or a GPU except the tests that say so (they skip)."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentkit.backends._base import ModelRequest, ModelResponse, TextDelta
from agentkit.backends._select import (
    NO_ENGINE_MESSAGE,
    Engines,
    choose_embedded,
    default_backend,
    embedded_backend,
)
from agentkit.backends.vllm_backend import IMAGE_PAD_ID, VllmBackend
from agentkit.errors import BackendError, ConfigurationError, MissingExtraError
from agentkit.messages import ImagePart, Message, TextPart

pytest.importorskip("jinja2")

HAS_VLLM = importlib.util.find_spec("vllm") is not None


# -- a fake engine shaped like vllm.LLM / RequestOutput --------------------------------------------


@dataclass
class FakeCompletion:
    text: str
    token_ids: list[int]
    finish_reason: str = "stop"


@dataclass
class FakeRequestOutput:
    prompt_token_ids: list[int]
    outputs: list[FakeCompletion]


@dataclass
class FakeEngine:
    """Records every ``generate`` call; replies by a function of the prompt dict."""

    reply: Any = None
    calls: list[tuple[list[dict[str, Any]], list[Any]]] = field(default_factory=list)
    gate: threading.Event | None = None

    def generate(self, prompts: list[dict[str, Any]], sampling_params: list[Any]) -> list[Any]:
        if self.gate is not None:
            assert self.gate.wait(10)
        self.calls.append((list(prompts), list(sampling_params)))
        out = []
        for prompt in prompts:
            if self.reply is not None:
                out.append(self.reply(prompt))
                continue
            n_images = len(prompt.get("multi_modal_data", {}).get("image", []))
            mode = prompt["mm_processor_kwargs"]["downsample_mode"]
            per_image = 64 if mode == "16x" else 256
            ids = [1, 2, 3] + [IMAGE_PAD_ID] * (per_image * n_images)
            out.append(FakeRequestOutput(ids, [FakeCompletion(f"reply {mode}", [7, 8, 9, 248046])]))
        return out


def _png(width: int = 640, height: int = 480) -> ImagePart:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (0, 128, 255)).save(buf, "PNG")
    return ImagePart(buf.getvalue(), "image/png", width, height)


def _request(mode: str = "16x", images: int = 1, **kw: Any) -> ModelRequest:
    content: list[Any] = [TextPart("What is on the screen?")]
    content += [_png() for _ in range(images)]
    return ModelRequest(messages=[Message("user", content)], mode=mode, **kw)  # type: ignore[arg-type]


def _backend(engine: Any, **kw: Any) -> VllmBackend:
    kw.setdefault("sampling_params_factory", dict)
    kw.setdefault("batch_window_s", 0.05)
    return VllmBackend("openbmb/MiniCPM-V-4.6", engine=engine, **kw)


async def _collect(backend: VllmBackend, request: ModelRequest) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    final = None
    async for item in backend.stream(request):
        if isinstance(item, TextDelta):
            deltas.append(item.text)
        else:
            final = item
    assert isinstance(final, ModelResponse)
    return deltas, final


# -- request construction ---------------------------------------------------------------------------


async def test_one_request_prompt_sampling_params_and_usage() -> None:
    engine = FakeEngine()
    backend = _backend(engine)
    request = _request("4x", images=2, max_tokens=77, temperature=0.0)
    deltas, final = await _collect(backend, request)
    backend.close()

    [(prompts, params)] = engine.calls
    [prompt] = prompts
    assert prompt["mm_processor_kwargs"] == {"downsample_mode": "4x"}
    assert prompt["prompt"].count("<|image_pad|>") == 2
    assert prompt["prompt"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    images = prompt["multi_modal_data"]["image"]
    assert [im.size for im in images] == [(640, 480), (640, 480)]
    assert all(im.mode == "RGB" for im in images)
    assert params == [
        {
            "temperature": 0.0,
            "max_tokens": 77,
            "stop_token_ids": [248044, 248046],
            "skip_special_tokens": True,
        }
    ]
    assert deltas == ["reply 4x"]
    assert final.text == "reply 4x"
    assert final.finish_reason == "stop"
    assert final.usage.prompt_tokens == 3 + 2 * 256
    assert final.usage.completion_tokens == 4
    assert final.usage.visual_tokens == 2 * 256
    assert final.usage.requests == 1
    assert final.model == "openbmb/MiniCPM-V-4.6"


async def test_mixed_modes_share_one_batch() -> None:
    gate = threading.Event()
    engine = FakeEngine(gate=gate)
    backend = _backend(engine, batch_window_s=0.5)
    requests = [_request("16x"), _request("4x"), _request("16x", images=0), _request("4x")]
    tasks = [asyncio.create_task(_collect(backend, r)) for r in requests]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*tasks)
    backend.close()

    assert len(engine.calls) == 1  # one generate call for all four
    prompts, params = engine.calls[0]
    modes = [p["mm_processor_kwargs"]["downsample_mode"] for p in prompts]
    assert sorted(modes) == ["16x", "16x", "4x", "4x"]  # arrival order may vary
    assert all(isinstance(p["mm_processor_kwargs"]["downsample_mode"], str) for p in prompts)
    assert sum("multi_modal_data" not in p for p in prompts) == 1
    assert len(params) == 4
    # Each request got its own output back.
    assert [final.text for _, final in results] == [
        "reply 16x",
        "reply 4x",
        "reply 16x",
        "reply 4x",
    ]
    assert [final.usage.visual_tokens for _, final in results] == [64, 256, 0, 256]


async def test_batches_are_capped() -> None:
    engine = FakeEngine()
    backend = _backend(engine, max_batch_size=2, batch_window_s=0.2)
    await asyncio.gather(*(_collect(backend, _request(images=0)) for _ in range(5)))
    backend.close()
    assert sorted(len(prompts) for prompts, _ in engine.calls) == [1, 2, 2]


@pytest.mark.parametrize(
    ("version", "sent"),
    [("0.33.0", True), ("0.34.1", True), ("0.22.0", False), ("0.22.4rc1", False)],
)
async def test_max_slice_nums_only_to_vllm_033_and_later(version: str, sent: bool) -> None:
    engine = FakeEngine()
    backend = _backend(engine, vllm_version=version)
    await _collect(backend, _request("16x", max_slice_nums=36))
    backend.close()
    kwargs = engine.calls[0][0][0]["mm_processor_kwargs"]
    assert kwargs == (
        {"downsample_mode": "16x", "max_slice_nums": 36} if sent else {"downsample_mode": "16x"}
    )


async def test_sampling_and_template_options() -> None:
    engine = FakeEngine()
    backend = _backend(engine)
    tools = [{"type": "function", "function": {"name": "click", "parameters": {"type": "object"}}}]
    request = _request(
        images=0,
        temperature=0.7,
        stop_token_ids=(5,),
        skip_special_tokens=False,
        enable_thinking=True,
        tools=tools,
    )
    await _collect(backend, request)
    await _collect(backend, _request(images=0, tools=tools, tool_choice="none"))
    backend.close()
    (first, first_params), (second, _) = engine.calls
    assert first_params[0] == {
        "temperature": 0.7,
        "max_tokens": 1024,
        "stop_token_ids": [5],
        "skip_special_tokens": False,
    }
    assert first[0]["prompt"].startswith("<|im_start|>system\n# Tools")
    assert first[0]["prompt"].endswith("<|im_start|>assistant\n<think>\n")
    assert "# Tools" not in second[0]["prompt"]


async def test_engine_failures_become_backend_errors() -> None:
    def broken(prompt: dict[str, Any]) -> Any:
        raise RuntimeError("CUDA error: an illegal memory access")

    backend = _backend(FakeEngine(reply=broken))
    with pytest.raises(BackendError, match="illegal memory access"):
        await _collect(backend, _request(images=0))

    backend = _backend(FakeEngine(reply=lambda prompt: object()))
    with pytest.raises(BackendError, match="unexpected vLLM output"):
        await _collect(backend, _request(images=0))
    backend.close()


async def test_template_refusal_and_bad_images_are_reported() -> None:
    backend = _backend(FakeEngine())
    with pytest.raises(ConfigurationError, match="No user query"):
        await _collect(backend, ModelRequest(messages=[Message("system", "only a system turn")]))
    broken = ImagePart(b"not an image", "image/png", 1, 1)
    with pytest.raises(BackendError, match="cannot decode image"):
        await _collect(backend, ModelRequest(messages=[Message("user", [broken])]))
    with pytest.raises(BackendError, match="at most 8"):
        await _collect(backend, _request(images=9))
    backend.close()


async def test_closed_backend_refuses_requests() -> None:
    backend = _backend(FakeEngine())
    await _collect(backend, _request(images=0))
    backend.close()
    with pytest.raises(BackendError, match="closed"):
        await _collect(backend, _request(images=0))


# -- the real engine's errors -------------------------------------------------------------------------


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed")
async def test_missing_vllm_names_the_extra() -> None:
    backend = VllmBackend()
    with pytest.raises(MissingExtraError, match=r"pip install 'agentkit\[vllm\]'"):
        await _collect(backend, _request(images=0))
    backend.close()


@pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM installed")
async def test_no_gpu_says_use_transformers_or_a_server() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    backend = VllmBackend()
    with pytest.raises(ConfigurationError, match="transformers") as info:
        await _collect(backend, _request(images=0))
    assert "--base-url" in str(info.value)
    backend.close()


# -- the default backend --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engines", "choice"),
    [
        (Engines(vllm=True, transformers=True, cuda=True), "vllm"),
        (Engines(vllm=True, transformers=False, cuda=True), "vllm"),
        (Engines(vllm=True, transformers=True, cuda=False), "transformers"),
        (Engines(vllm=False, transformers=True, cuda=True), "transformers"),
        (Engines(vllm=True, transformers=False, cuda=False), None),
        (Engines(vllm=False, transformers=False, cuda=False), None),
    ],
)
def test_choose_embedded(engines: Engines, choice: str | None) -> None:
    assert choose_embedded(engines) == choice


def test_nothing_installed_says_how_to_install_or_point_at_a_server() -> None:
    with pytest.raises(ConfigurationError) as info:
        embedded_backend(
            "openbmb/MiniCPM-V-4.6", Engines(vllm=False, transformers=False, cuda=False)
        )
    message = str(info.value)
    assert message == NO_ENGINE_MESSAGE
    for needle in ("pip install 'agentkit[vllm]'", "pip install 'agentkit[transformers]'"):
        assert needle in message
    for needle in ("--base-url", "AGENTKIT_BASE_URL", "agentkit serve"):
        assert needle in message


def test_missing_weights_say_how_to_download_or_point_at_a_path(tmp_path: Path) -> None:
    engines = Engines(vllm=False, transformers=True, cuda=False)
    for model in ("nobody-here/No-Such-Model-4.6", str(tmp_path / "not-a-checkpoint")):
        with pytest.raises(ConfigurationError) as info:
            embedded_backend(model, engines)
        message = str(info.value)
        assert "transformers" in message and "hf download" in message
        assert "AGENTKIT_MODEL" in message and "--base-url" in message


def test_local_checkpoint_selects_the_embedded_backend(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    from agentkit.backends.transformers_backend import TransformersBackend

    chosen = embedded_backend(str(tmp_path), Engines(vllm=False, transformers=True, cuda=False))
    assert isinstance(chosen, TransformersBackend)
    assert chosen.model_path == str(tmp_path) and chosen.local_files_only
    chosen = embedded_backend(str(tmp_path), Engines(vllm=True, transformers=True, cuda=True))
    assert isinstance(chosen, VllmBackend)
    assert chosen.model == str(tmp_path)


def test_base_url_selects_the_remote_backend() -> None:
    pytest.importorskip("agentkit.backends.openai_compat")
    from agentkit.backends.openai_compat import OpenAICompatBackend
    from agentkit.settings import Settings

    backend = default_backend(Settings(base_url="http://127.0.0.1:9/v1", model="m"))
    assert isinstance(backend, OpenAICompatBackend)


def test_default_backend_without_server_or_weights_is_actionable() -> None:
    from agentkit.settings import Settings

    with pytest.raises(ConfigurationError) as info:
        default_backend(Settings(model="nobody-here/No-Such-Model-4.6"))
    message = str(info.value)
    assert "--base-url" in message
    assert "pip install" in message or "hf download" in message
