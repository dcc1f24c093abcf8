"""The embedded vLLM backend: MiniCPM-V 4.6 in this process on a CUDA GPU, no server.

Needs the ``vllm`` extra (``pip install 'agentkit[vllm]'``) and a CUDA GPU; ``vllm`` is imported when
the engine is first needed, never by ``import agentkit``.

Each request becomes one ``llm.generate`` prompt dict: the prompt text rendered with agentkit's
MiniCPM-V 4.6 chat template, the images as ``multi_modal_data`` and the request's
``mm_processor_kwargs`` (``downsample_mode`` exactly ``"16x"`` or ``"4x"``) *per prompt*, so 4x and
16x requests share one batch. Concurrent requests (several agents, or parallel steps) are gathered
by a small batching queue into one ``generate`` call, which runs in a worker thread so the event
loop never blocks. ``generate`` runs no tool parser: the raw text goes back and agentkit's own
parser reads the ``<tool_call>`` blocks, like it does for any server.

Known limits: no token streaming (the whole turn arrives as one :class:`TextDelta`); closing the
stream drops the result but does not abort a batch already running; mixed 4x/16x batches need
vLLM >= 0.33 (0.22 miscounts embeddings when both land in one encoder batch).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from agentkit.backends._base import ModelRequest, ModelResponse, StreamItem, TextDelta
from agentkit.backends._chat_template import render_request
from agentkit.backends._select import local_checkpoint, missing_weights_message
from agentkit.errors import (
    AgentkitError,
    BackendError,
    BadRequestError,
    ConfigurationError,
    MissingExtraError,
    ProtocolError,
)
from agentkit.messages import ImagePart, Usage
from agentkit.settings import server_version_at_least

__all__ = ["DEFAULT_MODEL", "IMAGE_PAD_ID", "VllmBackend"]

DEFAULT_MODEL = "openbmb/MiniCPM-V-4.6"
#: ``<|image_pad|>`` in the MiniCPM-V 4.6 vocabulary (visual tokens are counted from it).
IMAGE_PAD_ID = 248056


def _no_gpu_message() -> str:
    return (
        "the embedded vLLM backend needs a CUDA GPU and none is visible: use the transformers "
        "backend instead (pip install 'agentkit[transformers]'; it runs on a CPU), or point agentkit "
        "at a vLLM server (--base-url / AGENTKIT_BASE_URL, or start one with `agentkit serve`)"
    )


@dataclass
class _Job:
    prompt: dict[str, Any]
    params: Any
    future: concurrent.futures.Future[Any]


class VllmBackend:
    """MiniCPM-V 4.6 on an in-process ``vllm.LLM``.

    Args:
        model: a Hugging Face model id or a local checkpoint directory.
        max_model_len: the engine's context length.
        gpu_memory_utilization: the fraction of GPU memory vLLM may take.
        engine: an already built engine (``vllm.LLM`` or anything with the same
            ``generate(prompts, sampling_params)``); built lazily from the other arguments when None.
        chat_template: Jinja source of the chat template; agentkit's MiniCPM-V 4.6 template when None.
        max_images_per_prompt: the engine's ``limit_mm_per_prompt`` for images (video: 0).
        max_batch_size: most requests gathered into one ``generate`` call.
        batch_window_s: how long the first request of a batch waits for company.
        sampling_params_factory: builds sampling parameters from keyword arguments
            (``vllm.SamplingParams`` when None).
        engine_kwargs: more ``vllm.LLM`` arguments (``tensor_parallel_size``, ``enforce_eager``...).
        vllm_version: the engine's vLLM version; read from ``vllm`` when the backend builds the
            engine. ``max_slice_nums`` goes per request only to vLLM >= 0.33 (0.22 dies on it).
        image_token_id: the id of ``<|image_pad|>``, to count visual tokens in the prompt.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        max_model_len: int = 8192,
        gpu_memory_utilization: float = 0.85,
        engine: Any = None,
        chat_template: str | None = None,
        max_images_per_prompt: int = 8,
        max_batch_size: int = 32,
        batch_window_s: float = 0.01,
        sampling_params_factory: Callable[..., Any] | None = None,
        engine_kwargs: dict[str, Any] | None = None,
        vllm_version: str | None = None,
        image_token_id: int = IMAGE_PAD_ID,
    ) -> None:
        if max_batch_size < 1:
            raise ConfigurationError("max_batch_size must be at least 1")
        self.model_name = os.fspath(model)
        self.max_model_len = max_model_len
        self.gpu_memory_utilization = gpu_memory_utilization
        self.chat_template = chat_template
        self.max_images_per_prompt = max_images_per_prompt
        self.max_batch_size = max_batch_size
        self.batch_window_s = batch_window_s
        self.engine_kwargs = dict(engine_kwargs or {})
        self.image_token_id = image_token_id
        self._engine = engine
        self._owns_engine = engine is None
        self._vllm_version = vllm_version
        self._sampling_params_factory = sampling_params_factory
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"VllmBackend({self.model_name!r})"

    @property
    def model(self) -> str:
        """The model name or path, as reported in responses."""
        return self.model_name

    # -- the engine ---------------------------------------------------------------------------

    def engine(self) -> Any:
        """The engine, built on first use (blocking: loading takes a while).

        Raises:
            MissingExtraError: vLLM is not installed.
            ConfigurationError: no CUDA GPU, or the weights are not available.
        """
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._build_engine()
            return self._engine

    def _build_engine(self) -> Any:
        try:
            import vllm
        except ImportError as exc:
            raise MissingExtraError("vllm", "the embedded vLLM backend", str(exc)) from exc
        try:
            import torch

            has_gpu = bool(torch.cuda.is_available())
        except ImportError:  # pragma: no cover - vllm depends on torch
            has_gpu = False
        if not has_gpu:
            raise ConfigurationError(_no_gpu_message())
        if local_checkpoint(self.model_name) is None:
            from huggingface_hub import is_offline_mode

            if is_offline_mode():
                raise ConfigurationError(missing_weights_message(self.model_name))
        self._vllm_version = self._vllm_version or str(getattr(vllm, "__version__", ""))
        kwargs: dict[str, Any] = {
            "model": self.model_name,
            "trust_remote_code": True,
            "max_model_len": self.max_model_len,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "limit_mm_per_prompt": {"image": self.max_images_per_prompt, "video": 0},
        }
        kwargs.update(self.engine_kwargs)
        try:
            return vllm.LLM(**kwargs)
        except OSError as exc:  # weights not found / no hub access
            raise ConfigurationError(f"{missing_weights_message(self.model_name)} ({exc})") from exc

    def _make_sampling_params(self, **kwargs: Any) -> Any:
        factory = self._sampling_params_factory
        if factory is None:
            try:
                from vllm import SamplingParams
            except ImportError as exc:
                raise MissingExtraError("vllm", "the embedded vLLM backend", str(exc)) from exc
            factory = SamplingParams
        return factory(**kwargs)

    # -- requests -----------------------------------------------------------------------------

    def build_prompt(self, request: ModelRequest) -> dict[str, Any]:
        """The ``llm.generate`` prompt dict for one request (text, images, mm_processor_kwargs)."""
        text, parts = render_request(request, template=self.chat_template)
        prompt: dict[str, Any] = {"prompt": text}
        mm_kwargs: dict[str, Any] = {"downsample_mode": "4x" if request.mode == "4x" else "16x"}
        if request.max_slice_nums is not None and self._sends_max_slice_nums():
            mm_kwargs["max_slice_nums"] = int(request.max_slice_nums)
        prompt["mm_processor_kwargs"] = mm_kwargs
        if parts:
            if len(parts) > self.max_images_per_prompt:
                raise BadRequestError(
                    f"{len(parts)} images in one prompt; the engine takes at most "
                    f"{self.max_images_per_prompt} (VllmBackend(max_images_per_prompt=...))"
                )
            prompt["multi_modal_data"] = {"image": [_decode_image(p) for p in parts]}
        return prompt

    def _sends_max_slice_nums(self) -> bool:
        # vLLM 0.22 kills the engine on a per-request max_slice_nums; 0.33 resolves it per request.
        # An injected engine of unknown version is trusted to be new enough.
        if self._vllm_version is None:
            return not self._owns_engine
        return server_version_at_least(self._vllm_version, (0, 33))

    def build_sampling_params(self, request: ModelRequest) -> Any:
        """The sampling parameters of one request."""
        kwargs: dict[str, Any] = {
            "temperature": float(request.temperature),
            "max_tokens": int(request.max_tokens),
            "stop_token_ids": [int(i) for i in request.stop_token_ids],
            "skip_special_tokens": bool(request.skip_special_tokens),
        }
        if request.structured_outputs:
            try:
                from vllm.sampling_params import StructuredOutputsParams
            except ImportError as exc:
                raise BadRequestError(
                    "structured outputs need vLLM with StructuredOutputsParams (>= 0.11)"
                ) from exc
            kwargs["structured_outputs"] = StructuredOutputsParams(**request.structured_outputs)
        return self._make_sampling_params(**kwargs)

    def _submit(self, prompt: dict[str, Any], params: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._state_lock:
            if self._closed:
                raise BackendError("the embedded vLLM backend is closed")
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run_batches, name="agentkit-vllm", daemon=True
                )
                self._worker.start()
            self._jobs.put(_Job(prompt, params, future))
        return future

    def _next_batch(self, first: _Job) -> tuple[list[_Job], bool]:
        batch = [first]
        closing = False
        deadline = time.monotonic() + self.batch_window_s
        while len(batch) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                job = (
                    self._jobs.get(timeout=remaining) if remaining > 0 else self._jobs.get_nowait()
                )
            except queue.Empty:
                break
            if job is None:
                closing = True
                break
            batch.append(job)
        return batch, closing

    def _run_batches(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch, closing = self._next_batch(first)
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if live:
                self._run_one_batch(live)
            if closing:
                return

    def _run_one_batch(self, jobs: list[_Job]) -> None:
        try:
            engine = self.engine()
            extra: dict[str, Any] = {"use_tqdm": False} if self._owns_engine else {}
            outputs = list(
                engine.generate([j.prompt for j in jobs], [j.params for j in jobs], **extra)
            )
            if len(outputs) != len(jobs):
                raise ProtocolError(f"vLLM returned {len(outputs)} outputs for {len(jobs)} prompts")
        except BaseException as exc:
            for job in jobs:
                job.future.set_exception(exc)
            return
        for job, output in zip(jobs, outputs, strict=True):
            job.future.set_result(output)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """Run one model turn: one :class:`TextDelta` with the whole text, then the response.

        Raises:
            MissingExtraError: vLLM is not installed.
            ConfigurationError: no CUDA GPU, or the weights are missing.
            BackendError: the engine failed.
        """
        started = time.monotonic()
        prompt = await asyncio.to_thread(self.build_prompt, request)
        params = self.build_sampling_params(request)
        future = self._submit(prompt, params)
        try:
            output = await asyncio.wrap_future(future)
        except AgentkitError:
            raise
        except Exception as exc:
            raise BackendError(f"vLLM generate failed: {exc}") from exc
        response = self._response(output, started)
        if response.text:
            yield TextDelta(response.text)
        yield response

    def _response(self, output: Any, started: float) -> ModelResponse:
        try:
            completion = output.outputs[0]
            prompt_ids = list(output.prompt_token_ids or [])
            text = str(completion.text)
            completion_ids = list(completion.token_ids or [])
            finish = completion.finish_reason
        except (AttributeError, IndexError, TypeError) as exc:
            raise ProtocolError(f"unexpected vLLM output {type(output).__name__}: {exc}") from exc
        elapsed = time.monotonic() - started
        return ModelResponse(
            text=text,
            finish_reason=str(finish) if finish is not None else None,
            usage=Usage(
                prompt_tokens=len(prompt_ids),
                completion_tokens=len(completion_ids),
                visual_tokens=sum(1 for i in prompt_ids if i == self.image_token_id),
                requests=1,
            ),
            model=self.model_name,
            first_token_s=elapsed,
            duration_s=elapsed,
        )

    def close(self) -> None:
        """Stop the batching thread (after the running batch) and drop the engine it built."""
        with self._state_lock:
            self._closed = True
            worker = self._worker
            self._worker = None
        if worker is not None and worker.is_alive():
            self._jobs.put(None)
            worker.join(timeout=60)
        if self._owns_engine:
            self._engine = None


def _decode_image(part: ImagePart) -> Any:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(part.data)) as img:
            return img.convert("RGB")
    except Exception as exc:
        raise BadRequestError(
            f"cannot decode image {part.frame_id or ''} ({part.media_type}): {exc}"
        ) from exc
