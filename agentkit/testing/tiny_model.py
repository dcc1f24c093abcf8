"""A tiny random-weight MiniCPM-V 4.6 built locally, for tests that run the real model code path.

:func:`build_tiny_minicpmv` writes a checkpoint directory with the real architecture classes of
``transformers`` (``MiniCPMV4_6ForConditionalGeneration``: a SigLIP-style vision tower with the
window-attention merger, a Qwen3.5 text model with three linear-attention layers and one
full-attention layer) at toy sizes, a small byte-level BPE tokenizer that declares the special
tokens the processor needs, agentkit's chat template, the image processor and generation config.
It loads offline with ``from_pretrained(path)``. The weights are random, so tests force the decoded
tokens with :class:`ScriptedLogitsProcessor`; the frames, the processor, the forward passes and the
decoding stay real.

Needs the ``transformers`` extra (``torch``, ``transformers``, ``tokenizers``, ``safetensors``).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentkit.backends._chat_template import chat_template
from agentkit.backends.transformers_backend import _module, quiet_progress_bars
from agentkit.errors import MissingExtraError

if TYPE_CHECKING:
    from agentkit.backends.transformers_backend import TransformersBackend

__all__ = [
    "CHAT_TOKENS",
    "PROCESSOR_TOKENS",
    "ScriptedLogitsProcessor",
    "build_tiny_minicpmv",
    "tiny_transformers_backend",
]

#: The processor's named special tokens (``tokenizer.image_token`` etc.), as the real checkpoint has.
PROCESSOR_TOKENS: dict[str, str] = {
    "image_token": "<|image_pad|>",
    "video_token": "<|video_pad|>",
    "image_start_token": "<image>",
    "image_end_token": "</image>",
    "slice_start_token": "<slice>",
    "slice_end_token": "</slice>",
    "image_id_start_token": "<image_id>",
    "image_id_end_token": "</image_id>",
}

#: Chat tokens. The tool-call and think tags are ordinary (non-special) tokens, as in MiniCPM-V 4.6:
#: they survive ``skip_special_tokens``.
CHAT_TOKENS: dict[str, bool] = {
    "<|im_start|>": True,
    "<|im_end|>": True,
    "<|endoftext|>": True,
    "<tool_call>": False,
    "</tool_call>": False,
    "<think>": False,
    "</think>": False,
}

_VOCAB_SIZE = (
    384  # embedding rows; the tokenizer uses fewer (byte alphabet + merges + added tokens)
)
_BPE_SIZE = 320

# Text the toy BPE learns its merges from: the chat and tool-call format, so prompts stay short.
_CORPUS = [
    "<|im_start|>system\n# Tools\n\nYou have access to the following functions:\n\n<tools>\n",
    '{"type": "function", "function": {"name": "click", "description": "Click at a point.", '
    '"parameters": {"type": "object", "properties": {"x": {"type": "integer"}, '
    '"y": {"type": "integer"}}, "required": ["x", "y"]}}}',
    "<tool_call>\n<function=click>\n<parameter=x>\n512\n</parameter>\n<parameter=y>\n300\n"
    "</parameter>\n</function>\n</tool_call>",
    "If you choose to call a function ONLY reply in the following format with NO suffix:",
    "<|im_start|>user\nOpen the settings window and type the answer.<|im_end|>\n",
    "<|im_start|>assistant\n<think>\n\n</think>\n\nThe task is done.<|im_end|>\n",
    "<tool_response>\nok\n</tool_response>",
    "the screen shows a button, a text field and a window title; the answer is 42.",
]

_cache: dict[Path | None, Path] = {}
_lock = threading.Lock()


def _require() -> None:
    try:
        import tokenizers  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            "transformers", "the tiny MiniCPM-V 4.6 test model", str(exc)
        ) from exc


def _build_tokenizer() -> Any:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_BPE_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer)
    added = [
        AddedToken(text, special=special, normalized=False) for text, special in CHAT_TOKENS.items()
    ]
    added += [
        AddedToken(text, special=True, normalized=False) for text in PROCESSOR_TOKENS.values()
    ]
    tok.add_tokens(added)
    return tok


def _write_checkpoint(directory: Path) -> None:
    torch = _module("torch")
    tf = _module("transformers")

    tokenizer = tf.PreTrainedTokenizerFast(
        tokenizer_object=_build_tokenizer(),
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=dict(PROCESSOR_TOKENS),
        model_max_length=8192,
    )
    tokenizer.chat_template = chat_template()
    ids = {
        text: tokenizer.convert_tokens_to_ids(text)
        for text in (*CHAT_TOKENS, *PROCESSOR_TOKENS.values())
    }
    if len(tokenizer) > _VOCAB_SIZE:  # pragma: no cover - a construction bug
        raise RuntimeError(f"tiny tokenizer has {len(tokenizer)} tokens > {_VOCAB_SIZE}")
    eos = [ids["<|im_end|>"], ids["<|endoftext|>"]]

    text_config = {
        "model_type": "qwen3_5_text",
        "vocab_size": _VOCAB_SIZE,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 4,
        "layer_types": ["linear_attention"] * 3 + ["full_attention"],
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 32,
        "linear_conv_kernel_dim": 4,
        "linear_key_head_dim": 16,
        "linear_value_head_dim": 16,
        "linear_num_key_heads": 2,
        "linear_num_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10_000_000.0,
            "partial_rotary_factor": 0.25,
            "mrope_section": [2, 1, 1],
            "mrope_interleaved": True,
        },
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": eos,
    }
    vision_config = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_channels": 3,
        "image_size": 980,
        "patch_size": 14,
        "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-6,
        "insert_layer_id": 1,
        "window_kernel_size": [2, 2],
    }
    config = tf.MiniCPMV4_6Config(
        text_config=text_config,
        vision_config=vision_config,
        insert_layer_id=1,
        image_size=448,
        drop_vision_last_layer=False,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        tie_word_embeddings=True,
        downsample_mode="16x",
        merge_kernel_size=[2, 2],
        merger_times=1,
    )
    torch.manual_seed(0)
    model = tf.MiniCPMV4_6ForConditionalGeneration(config).eval()
    model.generation_config = tf.GenerationConfig(
        eos_token_id=eos,
        pad_token_id=ids["<|endoftext|>"],
        do_sample=False,
        max_new_tokens=256,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / "chat_template.jinja").write_text(chat_template(), encoding="utf-8")

    # The processor configuration a real checkpoint carries. The video part is described (so a
    # machine with torchvision can load the stock processor with AutoProcessor), but agentkit's
    # backend builds an image-only processor from the PIL image processor.
    image_processor = tf.MiniCPMV4_6ImageProcessorPil(
        max_slice_nums=9,
        scale_resolution=448,
        patch_size=14,
        slice_mode=True,
        downsample_mode="16x",
    )
    image_dict = image_processor.to_dict()
    image_dict["image_processor_type"] = "MiniCPMV4_6ImageProcessor"
    video_dict = {
        "video_processor_type": "MiniCPMV4_6VideoProcessor",
        "max_slice_nums": 1,
        "scale_resolution": 448,
        "patch_size": 14,
        "slice_mode": True,
        "downsample_mode": "16x",
    }
    processor_config = {
        "processor_class": "MiniCPMV4_6Processor",
        "image_processor": image_dict,
        "video_processor": video_dict,
    }
    (directory / "processor_config.json").write_text(
        json.dumps(processor_config, indent=2, sort_keys=True, default=str), encoding="utf-8"
    )


def build_tiny_minicpmv(path: Path | None = None) -> Path:
    """Build (once per process and path) a tiny random MiniCPM-V 4.6 checkpoint directory.

    Args:
        path: where to write it; a fresh temporary directory when None.

    Returns:
        The checkpoint directory, loadable with ``from_pretrained(path)`` offline.

    Raises:
        MissingExtraError: ``transformers``/``torch``/``tokenizers`` are not installed.
    """
    _require()
    key = None if path is None else Path(path).resolve()
    with _lock:
        cached = _cache.get(key)
        if cached is not None and (cached / "config.json").is_file():
            return cached
        if key is None:
            directory = Path(tempfile.mkdtemp(prefix="agentkit-tiny-minicpmv-"))
            atexit.register(shutil.rmtree, directory, True)
        else:
            directory = key
        directory.mkdir(parents=True, exist_ok=True)
        with quiet_progress_bars():
            _write_checkpoint(directory)
        _cache[key] = directory
        return directory


class ScriptedLogitsProcessor:
    """Force generation to a scripted reply, token by token, then an end-of-turn token.

    A ``transformers`` logits processor: at each decoding step every logit but the scripted
    token's is set to ``-inf``. With several scripts, each new generation (detected from the
    ``input_ids`` it is given: not a one-token continuation of the previous call) takes the next
    script, so one processor can serve a whole multi-step agent run.

    Args:
        tokenizer: the model's tokenizer.
        text: one scripted reply or a sequence of them, served in order.
        eos_token: the token that ends each reply.
    """

    def __init__(
        self, tokenizer: Any, text: str | Sequence[str], eos_token: str = "<|im_end|>"
    ) -> None:
        scripts = [text] if isinstance(text, str) else list(text)
        self._scripts = [list(tokenizer.encode(s, add_special_tokens=False)) for s in scripts]
        self._eos = int(tokenizer.convert_tokens_to_ids(eos_token))
        self._next_script = 0
        self._current: list[int] | None = None
        self._prompt_len = 0
        self._last: Any = None
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        """How many scripted replies have not been started."""
        return len(self._scripts) - self._next_script

    def _is_continuation(self, input_ids: Any) -> bool:
        last = self._last
        if last is None or input_ids.shape[1] != last.shape[1] + 1:
            return False
        return bool((input_ids[:, :-1] == last).all())

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        with self._lock:
            if self._current is None or not self._is_continuation(input_ids):
                if self._next_script >= len(self._scripts):
                    raise RuntimeError(
                        f"ScriptedLogitsProcessor: all {len(self._scripts)} scripted replies were used"
                    )
                self._current = self._scripts[self._next_script]
                self._next_script += 1
                self._prompt_len = int(input_ids.shape[1])
            self._last = input_ids.clone()
            step = int(input_ids.shape[1]) - self._prompt_len
            token = self._current[step] if step < len(self._current) else self._eos
        forced = scores.new_full(scores.shape, float("-inf"))
        forced[:, token] = 0.0
        return forced


def tiny_transformers_backend(
    script_texts: list[str], *, path: Path | None = None, **kwargs: Any
) -> TransformersBackend:
    """A :class:`TransformersBackend` on the tiny model that replies with ``script_texts`` in order.

    Each model request gets the next scripted reply (forced through real decoding).

    Args:
        script_texts: one raw assistant reply per request (may contain ``<tool_call>`` blocks).
        path: where the tiny checkpoint lives (built when missing); a cached temporary one when None.
        **kwargs: passed to :class:`TransformersBackend` (``device``, ``max_new_tokens``...).
    """
    from agentkit.backends.transformers_backend import TransformersBackend

    directory = build_tiny_minicpmv(path)
    tokenizer = _module("transformers").AutoTokenizer.from_pretrained(directory)
    processor = ScriptedLogitsProcessor(tokenizer, script_texts)
    kwargs.setdefault("device", "cpu")
    return TransformersBackend(directory, logits_processor=processor, **kwargs)
