"""The tiny MiniCPM-V 4.6: builds, saves, reloads offline; the real processor's image-token count
matches agentkit's own; scripted decoding."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest_tiny import (
    require_transformers_backend,
    tiny_model_dir_fixture,  # noqa: F401  (the tiny_model_dir fixture)
)

try:
    require_transformers_backend()
except pytest.skip.Exception as exc:
    pytest.skip(str(exc), allow_module_level=True)

import transformers  # noqa: E402

from agentkit.backends._chat_template import render  # noqa: E402
from agentkit.testing.tiny_model import (  # noqa: E402
    CHAT_TOKENS,
    PROCESSOR_TOKENS,
    ScriptedLogitsProcessor,
    build_tiny_minicpmv,
)


def _processor(path: Path) -> object:
    from agentkit.backends.transformers_backend import TransformersBackend

    return TransformersBackend(path, device="cpu", local_files_only=True).processor


def _token_profile() -> str:
    # transformers >= 5.21 rounds 4x tile sides to 28 px instead of 56 (see vision/_tokens.py).
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "transformers-5.23" if (major, minor) >= (5, 21) else "vllm"


def test_builds_and_reloads_offline(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    assert {"generation_config.json", "chat_template.jinja", "tokenizer_config.json"} <= names

    config = transformers.AutoConfig.from_pretrained(tiny_model_dir, local_files_only=True)
    assert type(config).__name__ == "MiniCPMV4_6Config"
    assert config.vision_config.patch_size == 14
    assert config.vision_config.hidden_size == 32
    assert config.insert_layer_id < config.vision_config.num_hidden_layers
    assert config.text_config.model_type == "qwen3_5_text"
    assert config.text_config.layer_types == ["linear_attention"] * 3 + ["full_attention"]

    model = transformers.AutoModelForImageTextToText.from_pretrained(
        tiny_model_dir, local_files_only=True
    )
    assert type(model).__name__ == "MiniCPMV4_6ForConditionalGeneration"
    assert sum(p.numel() for p in model.parameters()) < 2_000_000

    tok = transformers.AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    assert len(tok) <= config.text_config.vocab_size
    for name, text in PROCESSOR_TOKENS.items():
        assert getattr(tok, name) == text
        assert tok.convert_tokens_to_ids(text) != tok.unk_token_id
    assert config.image_token_id == tok.image_token_id
    # Tool-call and think tags are single, ordinary tokens: they survive skip_special_tokens.
    for text, special in CHAT_TOKENS.items():
        ids = tok.encode(text, add_special_tokens=False)
        assert len(ids) == 1, text
        kept = tok.decode(ids, skip_special_tokens=True)
        assert kept == ("" if special else text)
    sample = "Go to <tool_call>\n<function=click> ünïcode ✓"
    assert tok.decode(tok.encode(sample, add_special_tokens=False)) == sample

    generation = json.loads((tiny_model_dir / "generation_config.json").read_text())
    assert sorted(generation["eos_token_id"]) == sorted(
        tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")
    )


def test_build_is_cached_per_path(tiny_model_dir: Path) -> None:
    started = time.monotonic()
    assert build_tiny_minicpmv(tiny_model_dir) == tiny_model_dir
    assert time.monotonic() - started < 0.5


def test_builds_in_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    path = build_tiny_minicpmv(tmp_path / "fresh")
    assert (path / "model.safetensors").is_file()
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("mode", ["16x", "4x"])
@pytest.mark.parametrize("size", [(1280, 720), (640, 480), (448, 448)])
def test_image_token_count_matches_agentkit(
    tiny_model_dir: Path, mode: str, size: tuple[int, int]
) -> None:
    from PIL import Image

    from agentkit.vision import image_tokens

    processor = _processor(tiny_model_dir)
    tok = processor.tokenizer  # type: ignore[attr-defined]
    prompt = render(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}]
    )
    image = Image.new("RGB", size, (30, 60, 90))
    inputs = processor(  # type: ignore[operator]
        text=[prompt], images=[[image]], downsample_mode=mode, return_tensors="pt"
    )
    ids = inputs["input_ids"][0].tolist()
    expected = image_tokens(size[0], size[1], mode, profile=_token_profile())
    assert ids.count(tok.image_token_id) == expected.visual
    # The whole replacement (visual tokens and the tags around them) replaced one placeholder.
    plain = tok(prompt, add_special_tokens=False)["input_ids"]
    assert len(ids) - (len(plain) - 1) == expected.total


def test_reference_counts_for_1280x720(tiny_model_dir: Path) -> None:
    """The published numbers: 444 visual tokens at 16x; 4x is 1776 (vLLM) or 1782 (transformers 5.23)."""
    from PIL import Image

    processor = _processor(tiny_model_dir)
    tok = processor.tokenizer  # type: ignore[attr-defined]
    prompt = render([{"role": "user", "content": [{"type": "image"}]}])
    image = Image.new("RGB", (1280, 720))
    counts = {}
    for mode in ("16x", "4x"):
        inputs = processor(text=[prompt], images=[[image]], downsample_mode=mode)  # type: ignore[operator]
        counts[mode] = inputs["input_ids"][0].tolist().count(tok.image_token_id)
    assert counts["16x"] == 444
    assert counts["4x"] == (1782 if _token_profile() == "transformers-5.23" else 1776)


def test_scripted_logits_processor_serves_scripts_in_order(tiny_model_dir: Path) -> None:
    import torch

    tok = transformers.AutoTokenizer.from_pretrained(tiny_model_dir)
    model = transformers.AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    scripted = ScriptedLogitsProcessor(tok, ["first reply", "second ✓"])
    lp = transformers.LogitsProcessorList([scripted])
    prompt = tok(render([{"role": "user", "content": "hi"}]), return_tensors="pt")
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    for expected in ("first reply", "second ✓"):
        with torch.inference_mode():
            out = model.generate(
                **prompt,
                logits_processor=lp,
                max_new_tokens=40,
                do_sample=False,
                eos_token_id=[eos],
            )
        new = out[0, prompt["input_ids"].shape[1] :].tolist()
        assert new[-1] == eos
        assert tok.decode(new[:-1]) == expected
    assert scripted.remaining == 0
    with pytest.raises(RuntimeError, match="scripted replies were used"):
        model.generate(**prompt, logits_processor=lp, max_new_tokens=5, do_sample=False)
