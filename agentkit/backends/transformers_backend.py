"""The embedded ``transformers`` backend: MiniCPM-V 4.6 in process, on a CPU or a GPU, no server.

Needs the ``transformers`` extra (``pip install 'agentkit[transformers]'``: torch, transformers >= 5.19,
tokenizers, safetensors). Everything heavy is imported when the model is first loaded, never by
``import agentkit``.

What it does per turn: render the conversation with agentkit's MiniCPM-V 4.6 chat template, run the
processor with the request's ``downsample_mode`` and ``max_slice_nums``, then ``generate`` with the
same ``downsample_mode`` (the two must agree: a mismatch is a shape error), streaming decoded text
from a worker thread into the event loop. Closing the stream stops generation at the next token.

Without torchvision (no CPU wheel exists on some machines) the stock processor cannot be built,
because its video part needs torchvision; the backend then builds it image-only, with the PIL
image processor. Video input reports that it needs torchvision.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import io
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from agentkit.backends._base import ModelRequest, ModelResponse, StreamItem, TextDelta
from agentkit.backends._chat_template import render_request
from agentkit.backends._select import missing_weights_message
from agentkit.errors import BackendError, ConfigurationError, MissingExtraError
from agentkit.messages import ImagePart, Usage

__all__ = [
    "DEFAULT_MODEL",
    "MIN_TRANSFORMERS",
    "TransformersBackend",
    "VideoNeedsTorchvisionError",
    "quiet_progress_bars",
]

DEFAULT_MODEL = "openbmb/MiniCPM-V-4.6"
#: The oldest transformers that runs MiniCPM-V 4.6 in both modes (5.7 has the classes; up to 5.18
#: 16x crashes on images with slices).
MIN_TRANSFORMERS = "5.19"

# The two end-of-turn tokens of the Qwen3.5 vocabulary, looked up by text so a tiny test
# tokenizer (other ids) works the same as the real one (248044, 248046).
_STOP_TOKENS = ("<|endoftext|>", "<|im_end|>")
_END = object()


class VideoNeedsTorchvisionError(ConfigurationError):
    """Video input reached the image-only processor (torchvision is not installed)."""

    def __init__(self) -> None:
        super().__init__(
            "video input needs torchvision (MiniCPM-V 4.6's video processor is torchvision-only): "
            "install the torchvision build that matches your torch, or send frames as images"
        )


def _module(name: str) -> Any:
    """Import a module of an optional dependency, untyped (its API is used dynamically)."""
    return importlib.import_module(name)


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Silence transformers' download/loading progress bars (the library never prints)."""
    hf_logging = _module("transformers.utils.logging")
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _import_transformers() -> Any:
    try:
        _module("torch")
        transformers = _module("transformers")
    except ImportError as exc:
        raise MissingExtraError(
            "transformers", "the embedded transformers backend", str(exc)
        ) from exc
    version = str(transformers.__version__)
    if not hasattr(transformers, "MiniCPMV4_6ForConditionalGeneration"):
        raise ConfigurationError(
            f"transformers {version} has no MiniCPM-V 4.6 classes: "
            f"pip install -U 'transformers>={MIN_TRANSFORMERS}'"
        )
    if _version_tuple(version) < _version_tuple(MIN_TRANSFORMERS):
        # transformers 5.7-5.18: the 16x vision merger assumes equal-sized tiles, so any image cut
        # into slices (the thumbnail is another size) fails with "shape [...] is invalid".
        raise ConfigurationError(
            f"transformers {version} cannot run MiniCPM-V 4.6 in 16x on sliced images (a bug fixed "
            f"in {MIN_TRANSFORMERS}): pip install -U 'transformers>={MIN_TRANSFORMERS}'"
        )
    return transformers


def _version_tuple(version: str) -> tuple[int, int]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = ""
        for ch in piece:
            if not (ch.isascii() and ch.isdigit()):
                break
            digits += ch
        parts.append(int(digits or 0))
    while len(parts) < 2:
        parts.append(0)
    return parts[0], parts[1]


def _image_only_processor(image_processor: Any, tokenizer: Any, chat_template: str | None) -> Any:
    """The stock ``MiniCPMV4_6Processor`` without its (torchvision-only) video processor."""
    base = _module("transformers").MiniCPMV4_6Processor
    mixin = _module("transformers.processing_utils").ProcessorMixin

    class ImageOnlyMiniCPMV4_6Processor(base):  # type: ignore[misc,valid-type]
        # ProcessorMixin finds its parts from this signature: image processor and tokenizer only.
        def __init__(
            self,
            image_processor: Any = None,
            tokenizer: Any = None,
            chat_template: str | None = None,
            **kwargs: Any,
        ) -> None:
            mixin.__init__(self, image_processor, tokenizer, chat_template=chat_template, **kwargs)
            # The stock __init__ without the video processor's settings.
            self.slice_mode = image_processor.slice_mode
            self.video_slice_mode = False
            self.default_use_image_id = image_processor.use_image_id
            self.image_token_divisor = 4 if image_processor.downsample_mode == "4x" else 16
            self.video_token_divisor = 16
            for name in (
                "image_token",
                "video_token",
                "image_token_id",
                "video_token_id",
                "image_start_token",
                "image_end_token",
                "slice_start_token",
                "slice_end_token",
                "image_id_start_token",
                "image_id_end_token",
            ):
                setattr(self, name, getattr(tokenizer, name))

        def _process_videos(self, videos: Any, **kwargs: Any) -> Any:
            raise VideoNeedsTorchvisionError()

    return ImageOnlyMiniCPMV4_6Processor(image_processor, tokenizer, chat_template=chat_template)


def _pick_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _pick_dtype(dtype: Any, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if isinstance(dtype, str):
        value = getattr(torch, dtype, None)
        if not isinstance(value, torch.dtype):
            raise ConfigurationError(
                f"unknown dtype {dtype!r}: use 'auto', 'bfloat16', 'float16' or 'float32'"
            )
        return value
    return dtype


class _Loaded:
    """The model, processor and tokenizer, loaded once."""

    def __init__(self, model: Any, processor: Any, tokenizer: Any, device: str) -> None:
        self.model = model
        self.processor = processor
        self.tokenizer = tokenizer
        self.device = device
        self.stop_ids = [
            int(i)
            for i in (tokenizer.convert_tokens_to_ids(t) for t in _STOP_TOKENS)
            if i is not None and i != tokenizer.unk_token_id
        ]
        self.image_token_id = int(tokenizer.image_token_id)
        self.vocab_size = int(model.config.text_config.vocab_size)


class TransformersBackend:
    """MiniCPM-V 4.6 with ``transformers`` in this process.

    Args:
        model_path: a local checkpoint directory or a Hugging Face model id.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), a name like ``"bfloat16"``, or a
            ``torch.dtype``.
        logits_processor: a ``transformers`` logits processor applied at every generation
            (tests force scripted replies with :class:`agentkit.testing.tiny_model.ScriptedLogitsProcessor`).
        max_new_tokens: an upper bound on completion tokens, over ``request.max_tokens``.
        chat_template: Jinja source of the chat template; agentkit's MiniCPM-V 4.6 template when None.
        local_files_only: never contact the Hugging Face hub when loading.

    The model loads on the first request (or :meth:`load`), in a worker thread. Requests run one at
    a time; each streams its text while the model decodes.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: str = "auto",
        dtype: Any = "auto",
        logits_processor: Any = None,
        max_new_tokens: int | None = None,
        chat_template: str | None = None,
        local_files_only: bool = False,
    ) -> None:
        self.model_path = os.fspath(model_path)
        self.device = device
        self.dtype = dtype
        self.logits_processor = logits_processor
        self.max_new_tokens = max_new_tokens
        self.chat_template = chat_template
        self.local_files_only = local_files_only
        self._loaded: _Loaded | None = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TransformersBackend({self.model_path!r}, device={self.device!r})"

    @property
    def model(self) -> str:
        """The model name or path, as reported in responses."""
        return self.model_path

    @property
    def processor(self) -> Any:
        """The loaded processor (loads the model first)."""
        return self.load().processor

    @property
    def tokenizer(self) -> Any:
        """The loaded tokenizer (loads the model first)."""
        return self.load().tokenizer

    def load(self) -> _Loaded:
        """Load the model, processor and tokenizer now (blocking); later calls return them.

        Raises:
            MissingExtraError: transformers or torch is not installed.
            ConfigurationError: transformers is too old, or the weights cannot be found.
        """
        with self._load_lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        transformers = _import_transformers()
        device = _pick_device(self.device)
        dtype = _pick_dtype(self.dtype, device)
        kwargs: dict[str, Any] = {"local_files_only": self.local_files_only}
        try:
            with quiet_progress_bars():
                tokenizer = transformers.AutoTokenizer.from_pretrained(self.model_path, **kwargs)
                processor = self._load_processor(transformers, tokenizer, kwargs)
                model = transformers.AutoModelForImageTextToText.from_pretrained(
                    self.model_path, dtype=dtype, **kwargs
                )
        except OSError as exc:
            raise ConfigurationError(
                f"cannot load {self.model_path!r}: {missing_weights_message(self.model_path)} "
                f"({exc})"
            ) from exc
        model.to(device)
        model.eval()
        return _Loaded(model, processor, tokenizer, device)

    def _load_processor(self, transformers: Any, tokenizer: Any, kwargs: dict[str, Any]) -> Any:
        if importlib.util.find_spec("torchvision") is not None:
            try:
                return transformers.AutoProcessor.from_pretrained(self.model_path, **kwargs)
            except (ImportError, ValueError, TypeError):
                pass  # fall back to the image-only processor below
        image_processor = transformers.MiniCPMV4_6ImageProcessorPil.from_pretrained(
            self.model_path, **kwargs
        )
        return _image_only_processor(image_processor, tokenizer, None)

    def _prepare(self, loaded: _Loaded, request: ModelRequest) -> tuple[Any, int, int]:
        """Render and process the request; returns (inputs on device, prompt tokens, visual tokens)."""
        from PIL import Image

        prompt, parts = render_request(request, template=self.chat_template)
        images = [_decode_image(part, Image) for part in parts]
        kwargs: dict[str, Any] = {"return_tensors": "pt"}
        if images:
            kwargs["downsample_mode"] = request.mode
            if request.max_slice_nums is not None:
                kwargs["max_slice_nums"] = request.max_slice_nums
        inputs = loaded.processor(text=[prompt], images=[images] if images else None, **kwargs)
        input_ids = inputs["input_ids"]
        prompt_tokens = int(input_ids.shape[1])
        visual = int((input_ids == loaded.image_token_id).sum().item())
        model_dtype = loaded.model.dtype
        moved = {}
        for key, value in inputs.items():
            if hasattr(value, "to"):
                value = value.to(loaded.device)
                if key.startswith("pixel_values"):
                    value = value.to(model_dtype)
            moved[key] = value
        return moved, prompt_tokens, visual

    def _generate(
        self,
        loaded: _Loaded,
        inputs: dict[str, Any],
        request: ModelRequest,
        streamer: Any,
        cancel: threading.Event,
    ) -> list[int]:
        import torch

        tf = _module("transformers")

        class _Cancelled(tf.StoppingCriteria):  # type: ignore[misc,name-defined]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],),
                    cancel.is_set(),
                    dtype=torch.bool,
                    device=input_ids.device,
                )

        stop_ids = list(loaded.stop_ids)
        stop_ids += [
            i for i in request.stop_token_ids if i < loaded.vocab_size and i not in stop_ids
        ]
        max_new = request.max_tokens
        if self.max_new_tokens is not None:
            max_new = min(max_new, self.max_new_tokens)
        gen: dict[str, Any] = {
            "max_new_tokens": max_new,
            "eos_token_id": stop_ids,
            "pad_token_id": loaded.tokenizer.pad_token_id,
            "streamer": streamer,
            "stopping_criteria": tf.StoppingCriteriaList([_Cancelled()]),
            "downsample_mode": request.mode,
        }
        if request.temperature > 0:
            gen.update(do_sample=True, temperature=request.temperature)
        else:
            gen.update(do_sample=False)
        processors: list[Any] = []
        if request.structured_outputs is not None:
            # the same grammar vLLM would get, applied at decoding time (the `grammar` extra)
            from agentkit.grammar import GrammarLogitsProcessor

            processors.append(
                GrammarLogitsProcessor(
                    request.structured_outputs, loaded.tokenizer, stop_token_ids=stop_ids
                )
            )
        if self.logits_processor is not None:
            processors.append(self.logits_processor)
        if processors:
            gen["logits_processor"] = tf.LogitsProcessorList(processors)
        with self._generate_lock, torch.inference_mode():
            output = loaded.model.generate(**inputs, **gen)
        prompt_len = int(inputs["input_ids"].shape[1])
        return [int(t) for t in output[0, prompt_len:].tolist()]

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """Run one model turn, streaming :class:`TextDelta` items, then one :class:`ModelResponse`.

        Raises:
            MissingExtraError: transformers is not installed.
            ConfigurationError: the weights cannot be found, or the template refused the messages.
            BackendError: generation failed.
        """
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        loaded = self._loaded if self._loaded is not None else await asyncio.to_thread(self.load)
        try:
            inputs, prompt_tokens, visual = await asyncio.to_thread(self._prepare, loaded, request)
        except ConfigurationError:
            raise
        except Exception as exc:
            raise BackendError(f"the MiniCPM-V processor failed: {exc}") from exc

        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        streamer = _make_streamer(loaded, loop, queue, request.skip_special_tokens)

        def work() -> list[int]:
            try:
                return self._generate(loaded, inputs, request, streamer, cancel)
            finally:
                _post(loop, queue, _END)

        future = loop.run_in_executor(None, work)
        pieces: list[str] = []
        first_token_s: float | None = None
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                assert isinstance(item, str)
                if first_token_s is None:
                    first_token_s = time.monotonic() - started
                pieces.append(item)
                yield TextDelta(item)
            try:
                generated = await future
            except ConfigurationError:
                raise
            except Exception as exc:
                raise BackendError(f"transformers generate failed: {exc}") from exc
        finally:
            cancel.set()  # stops a generation whose stream was closed early

        finish = "stop" if generated and generated[-1] in _stop_set(loaded, request) else "length"
        yield ModelResponse(
            text="".join(pieces),
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=len(generated),
                visual_tokens=visual,
                requests=1,
            ),
            model=self.model_path,
            first_token_s=first_token_s,
            duration_s=time.monotonic() - started,
        )


def _post(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object], item: object) -> None:
    try:
        loop.call_soon_threadsafe(queue.put_nowait, item)
    except RuntimeError:  # the event loop closed while a cancelled generation was winding down
        pass


def _stop_set(loaded: _Loaded, request: ModelRequest) -> set[int]:
    return set(loaded.stop_ids) | set(request.stop_token_ids)


def _decode_image(part: ImagePart, image_module: Any) -> Any:
    try:
        with image_module.open(io.BytesIO(part.data)) as img:
            return img.convert("RGB")
    except Exception as exc:
        raise BackendError(
            f"cannot decode image {part.frame_id or ''} ({part.media_type}): {exc}"
        ) from exc


def _make_streamer(
    loaded: _Loaded,
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[object],
    skip_special: bool,
) -> Any:
    """A ``TextStreamer`` that hands decoded text to the event loop and hides stop tokens."""
    stop = set(loaded.stop_ids)

    class _LoopStreamer(_module("transformers").TextStreamer):  # type: ignore[misc]
        def put(self, value: Any) -> None:
            if self.skip_prompt and self.next_tokens_are_prompt:
                super().put(value)
                return
            ids = [int(t) for t in value.reshape(-1).tolist() if int(t) not in stop]
            if ids:
                import torch

                super().put(torch.tensor(ids))

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                _post(loop, queue, text)

    return _LoopStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=skip_special)
