"""The remote backend: any OpenAI-compatible chat-completions server, tuned for vLLM.

Built on ``openai.AsyncOpenAI`` (its own retries off, an injectable ``httpx.AsyncClient`` so many
agents can share one connection pool), with agentkit's own deadlines, retries and error types:

* deadlines: *connect* (the HTTP client), *first token* (request sent -> first streamed event),
  *idle* (silence between events) and an optional *total*, enforced with asyncio timeouts around
  the stream rather than the client's 600 s default;
* retries, only before any text reached the caller: 5xx with backoff, 429/503 honouring
  ``Retry-After`` up to ``max_retry_after_s`` (a longer one fails at once), a stream cut before
  any output; the count lands in :attr:`ModelResponse.attempts`;
* a stream is *complete* only with a ``finish_reason`` and ``[DONE]``; anything else is a
  :class:`~agentkit.errors.StreamInterruptedError`.

Example:
    async with OpenAICompatBackend("http://127.0.0.1:8000/v1", "openbmb/MiniCPM-V-4.6") as b:
        await b.wait_until_ready(60)
        async for item in b.stream(ModelRequest(messages=[Message("user", "Hi")])):
            ...
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from typing import Any, cast

import httpx
import openai

from agentkit.backends._base import ModelRequest, ModelResponse, StreamItem, TextDelta
from agentkit.backends._http_errors import (
    error_from_status,
    excerpt,
    in_band_error,
    transport_errors,
    unavailable,
)
from agentkit.backends._openai_wire import ChunkAccumulator, SSEReader, build_body
from agentkit.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    ConfigurationError,
    ModelNotFoundError,
    OverloadedError,
    ProtocolError,
    ServerError,
    ServerUnavailableError,
    StreamInterruptedError,
)
from agentkit.messages import Usage
from agentkit.settings import Settings, server_version_at_least

__all__ = ["OpenAICompatBackend"]

log = logging.getLogger("agentkit.backends.openai")

_TRANSPORT_ERRORS = transport_errors()
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    openai.APIConnectionError,
    *_TRANSPORT_ERRORS,
)
_VERSION_PROBE_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    ValueError,
    AttributeError,
    *_TRANSPORT_ERRORS,
)
_MAX_NON_STREAM_BODY = 4 * 1024 * 1024


class OpenAICompatBackend:
    """Streams model turns from an OpenAI-compatible server (vLLM).

    Args:
        base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"``; default ``settings.base_url``.
        model: the served model name; default ``settings.model``.
        api_key: the server's key (``vllm serve --api-key``); default ``settings.api_key``.
        http_client: a shared ``httpx.AsyncClient`` (never closed by this backend; use it within
            one event loop); by default the backend makes and owns one without keep-alive, so the
            backend works from any event loop (the sync facade starts one per run).
        settings: timeouts, retries, ``tool_mode`` and ``server_version``; the keyword arguments
            below override single fields of it.

    Raises:
        ConfigurationError: no base URL, or an invalid setting.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        settings: Settings | None = None,
        tool_mode: str | None = None,
        server_version: str | None = None,
        connect_timeout_s: float | None = None,
        first_token_timeout_s: float | None = None,
        idle_timeout_s: float | None = None,
        total_timeout_s: float | None = None,
        max_retries: int | None = None,
        max_retry_after_s: float | None = None,
        retry_backoff_s: float | None = None,
    ) -> None:
        overrides = {
            "base_url": base_url,
            "model": model,
            "api_key": api_key,
            "tool_mode": tool_mode,
            "server_version": server_version,
            "connect_timeout_s": connect_timeout_s,
            "first_token_timeout_s": first_token_timeout_s,
            "idle_timeout_s": idle_timeout_s,
            "total_timeout_s": total_timeout_s,
            "max_retries": max_retries,
            "max_retry_after_s": max_retry_after_s,
            "retry_backoff_s": retry_backoff_s,
        }
        base = settings if settings is not None else Settings()
        self.settings = base.replace(**{k: v for k, v in overrides.items() if v is not None})
        if self.settings.base_url is None:
            raise ConfigurationError(
                "OpenAICompatBackend needs a server URL: pass base_url= "
                "(e.g. http://127.0.0.1:8000/v1), set AGENTKIT_BASE_URL or pass --base-url"
            )
        self.base_url: str = self.settings.base_url
        self.model: str = self.settings.model
        root = self.base_url
        self.root_url = root[: -len("/v1")] if root.endswith("/v1") else root
        self._detected_version: str | None = None
        self._version_probed = False
        timeout = httpx.Timeout(None, connect=self.settings.connect_timeout_s)
        self._owns_http = http_client is None
        if http_client is None:
            # No keep-alive in the backend's own client: a pooled connection belongs to the event
            # loop that opened it, and the sync facade runs every run in a new loop (a connection
            # left in the pool would outlive its loop and leak its socket). Share a client through
            # ``http_client`` to pool connections within one long-lived loop.
            http_client = httpx.AsyncClient(
                timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0)
            )
        self._http: httpx.AsyncClient = http_client
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            # A placeholder, never None: the openai client would otherwise pick up
            # OPENAI_API_KEY from the environment and send it to this server.
            api_key=self.settings.api_key or "EMPTY",
            # openai >= 3 types these as httpx2 objects but accepts httpx ones (it converts).
            http_client=cast(Any, self._http),
            max_retries=0,
            timeout=cast(Any, timeout),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, http_client: httpx.AsyncClient | None = None
    ) -> OpenAICompatBackend:
        """A backend configured entirely by ``settings`` (``settings.base_url`` must be set)."""
        return cls(settings=settings, http_client=http_client)

    def __repr__(self) -> str:
        return f"OpenAICompatBackend(base_url={self.base_url!r}, model={self.model!r})"

    async def __aenter__(self) -> OpenAICompatBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this backend created it (an injected one stays open)."""
        if self._owns_http:
            await self._http.aclose()

    # ------------------------------------------------------------------ streaming

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """Run one model turn: :class:`TextDelta` items, then exactly one :class:`ModelResponse`.

        Raises:
            BackendError: a subclass naming what failed (see :mod:`agentkit.errors`).
        """
        body = build_body(
            request,
            model=self.model,
            tool_mode=self.settings.tool_mode,
            send_max_slice_nums=await self._may_send_max_slice_nums(request),
        )
        started = time.monotonic()
        total_deadline = (
            started + self.settings.total_timeout_s if self.settings.total_timeout_s else None
        )
        attempt = 0
        while True:
            attempt += 1
            acc = ChunkAccumulator()
            yielded = False
            sent = time.monotonic()
            first_output: list[float] = []
            try:
                exchange = self._exchange(body, acc, sent, total_deadline, first_output)
                async with aclosing(exchange):  # closing this generator closes the HTTP stream
                    async for text in exchange:
                        yielded = True
                        yield TextDelta(text)
                break
            except BackendError as exc:
                if yielded:
                    raise
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise
                if total_deadline is not None and time.monotonic() + delay >= total_deadline:
                    raise
                log.info("retrying model request (attempt %d): %s", attempt + 1, exc)
                await asyncio.sleep(delay)
        usage = acc.usage or Usage(requests=1)
        yield ModelResponse(
            text=acc.text,
            reasoning=acc.reasoning,
            tool_calls=acc.tool_calls(),
            finish_reason=acc.finish_reason,
            usage=usage,
            model=acc.model or self.model,
            first_token_s=(first_output[0] - sent) if first_output else None,
            duration_s=time.monotonic() - started,
            attempts=attempt,
        )

    def _retry_delay(self, exc: BackendError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``exc``, or None to give up (``exc`` updated)."""
        cfg = self.settings
        if isinstance(exc, OverloadedError) and exc.retry_after is not None:
            if exc.retry_after > cfg.max_retry_after_s:
                exc.args = (
                    f"{exc.args[0]}; Retry-After {exc.retry_after:g} s is over "
                    f"max_retry_after_s={cfg.max_retry_after_s:g}, not waiting",
                )
                return None
        if not isinstance(exc, (OverloadedError, ServerError, StreamInterruptedError)):
            return None
        if attempt > cfg.max_retries:
            if cfg.max_retries:
                exc.args = (f"{exc.args[0]} (gave up after {attempt} attempts)",)
            return None
        if isinstance(exc, OverloadedError) and exc.retry_after is not None:
            return exc.retry_after
        return float(min(cfg.retry_backoff_s * 2 ** (attempt - 1), cfg.max_retry_after_s))

    async def _exchange(
        self,
        body: dict[str, Any],
        acc: ChunkAccumulator,
        sent: float,
        total_deadline: float | None,
        first_output: list[float],
    ) -> AsyncGenerator[str, None]:
        """One HTTP request: yields content deltas, fills ``acc``; raises typed errors only."""
        url = self.base_url + "/chat/completions"
        stack = AsyncExitStack()
        events: SSEReader | None = None
        try:
            timeout, phase = self._budget(
                sent + self.settings.first_token_timeout_s, total_deadline
            )
            try:
                async with _deadline(timeout):
                    raw = await stack.enter_async_context(
                        self._client.chat.completions.with_streaming_response.create(
                            **_openai_kwargs(body)
                        )
                    )
            except TimeoutError:
                raise self._timeout(phase, url) from None
            except openai.APIStatusError as exc:
                raise await self._status_error(exc, url) from exc
            except _CONNECTION_ERRORS as exc:
                raise self._connection_error(exc, url) from exc
            except openai.OpenAIError as exc:
                raise ProtocolError(
                    f"Unexpected client error talking to {url}: {exc}", url=url
                ) from exc

            response = raw.http_response
            ctype = response.headers.get("content-type", "").lower()
            if "text/event-stream" not in ctype and ctype:
                text = await self._read_small_body(response, sent, total_deadline, url)
                for piece in self._whole_body(text, ctype, acc, url):
                    first_output.append(time.monotonic())
                    yield piece
                return

            events = SSEReader(response.aiter_bytes())
            got_first = False
            done = False
            while True:
                if got_first:
                    timeout, phase = self._budget(
                        time.monotonic() + self.settings.idle_timeout_s, total_deadline, "idle"
                    )
                else:
                    timeout, phase = self._budget(
                        sent + self.settings.first_token_timeout_s, total_deadline
                    )
                try:
                    async with _deadline(timeout):
                        data = await events.next()
                except TimeoutError:
                    raise self._timeout(phase, url) from None
                except _TRANSPORT_ERRORS as exc:
                    raise StreamInterruptedError(
                        f"The stream from {url} was cut after {acc.chunks} chunks "
                        f"({type(exc).__name__}); the partial turn was discarded",
                        url=url,
                    ) from exc
                if data is None:
                    if not got_first and events.head.strip():
                        raise ProtocolError(
                            f"The server at {url} sent a body that is not an event stream: "
                            f"{excerpt(events.head.decode('utf-8', 'replace'), self.settings.api_key)}",
                            url=url,
                        )
                    break
                got_first = True
                if data.strip() == "[DONE]":
                    done = True
                    break
                chunk = self._parse_event(data, url)
                try:
                    text, output = acc.add(chunk)
                except ValueError as exc:
                    raise ProtocolError(
                        f"A stream event from {url} is not a chat completion chunk ({exc}): "
                        f"{excerpt(data, self.settings.api_key)}",
                        url=url,
                    ) from exc
                if output and not first_output:
                    first_output.append(time.monotonic())
                if text:
                    yield text
            if not done or acc.finish_reason is None:
                missing = " and ".join(
                    m
                    for m, ok in (("finish_reason", acc.finish_reason), ("[DONE]", done))
                    if not ok
                )
                raise StreamInterruptedError(
                    f"The stream from {url} ended without {missing} after {acc.chunks} chunks; "
                    "the partial turn was discarded",
                    url=url,
                )
        finally:
            if events is not None:
                await events.aclose()
            await stack.aclose()

    def _budget(
        self, phase_deadline: float, total_deadline: float | None, phase: str = "first_token"
    ) -> tuple[float, str]:
        now = time.monotonic()
        if total_deadline is not None and total_deadline < phase_deadline:
            return max(0.0, total_deadline - now), "total"
        return max(0.0, phase_deadline - now), phase

    def _timeout(self, phase: str, url: str) -> BackendTimeoutError:
        cfg = self.settings
        seconds = {
            "first_token": cfg.first_token_timeout_s,
            "idle": cfg.idle_timeout_s,
            "total": cfg.total_timeout_s,
        }.get(phase)
        what = {
            "first_token": "no response or first token",
            "idle": "the stream stalled (no event)",
            "total": "the turn did not finish",
        }[phase]
        return BackendTimeoutError(
            f"Timed out waiting for {url}: {what} within {seconds:g} s (setting {phase}_timeout_s)",
            phase=phase,
            url=url,
        )

    def _connection_error(self, exc: BaseException, url: str) -> BackendError:
        cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
        if isinstance(exc, openai.APITimeoutError) or _is_connect_timeout(cause):
            return BackendTimeoutError(
                f"Timed out connecting to {url} within {self.settings.connect_timeout_s:g} s "
                "(setting connect_timeout_s): is the host reachable?",
                phase="connect",
                url=url,
            )
        if _is_connect_error(cause):
            return unavailable(self.base_url, type(cause).__name__ if cause else "")
        return StreamInterruptedError(
            f"The connection to {url} broke before a response "
            f"({type(cause).__name__ if cause else type(exc).__name__}): did the server die?",
            url=url,
        )

    async def _status_error(self, exc: openai.APIStatusError, url: str) -> BackendError:
        response = exc.response
        try:
            text = response.text
        except Exception:  # the body could not be read; the status still says enough
            text = ""
        available = None
        if response.status_code == 404:
            available = await self._try_list_models()
        return error_from_status(
            response.status_code,
            text,
            dict(response.headers),
            url=url,
            model=self.model,
            secret=self.settings.api_key,
            available=available,
        )

    async def _read_small_body(
        self, response: Any, sent: float, total_deadline: float | None, url: str
    ) -> str:
        timeout, phase = self._budget(sent + self.settings.first_token_timeout_s, total_deadline)
        chunks: list[bytes] = []
        size = 0
        try:
            async with _deadline(timeout):
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > _MAX_NON_STREAM_BODY:
                        break
        except TimeoutError:
            raise self._timeout(phase, url) from None
        except _TRANSPORT_ERRORS as exc:
            raise StreamInterruptedError(f"The response from {url} was cut", url=url) from exc
        return b"".join(chunks).decode("utf-8", errors="replace")

    def _whole_body(self, text: str, ctype: str, acc: ChunkAccumulator, url: str) -> list[str]:
        """A non-streamed answer: a JSON completion (a server that ignored ``stream``) or garbage."""
        data: Any = None
        if "json" in ctype:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
        if isinstance(data, dict) and "error" in data:
            raise in_band_error(data, url=url, model=self.model, secret=self.settings.api_key)
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise ProtocolError(
                f"The server at {url} answered with {ctype or 'no content type'} instead of an "
                f"event stream; is it an OpenAI-compatible API? Body: "
                f"{excerpt(text, self.settings.api_key)}",
                url=url,
            )
        try:
            piece, _ = acc.add(data)
        except ValueError as exc:
            raise ProtocolError(f"Malformed completion from {url}: {exc}", url=url) from exc
        if acc.finish_reason is None:
            raise StreamInterruptedError(f"The completion from {url} has no finish_reason", url=url)
        return [piece] if piece else []

    def _parse_event(self, data: str, url: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            raise ProtocolError(
                f"The stream from {url} carried an event that is not a JSON object: "
                f"{excerpt(data, self.settings.api_key)}",
                url=url,
            )
        if chunk.get("error") is not None:
            raise in_band_error(chunk, url=url, model=self.model, secret=self.settings.api_key)
        return chunk

    # ------------------------------------------------------------------ server state

    async def wait_until_ready(
        self, timeout_s: float = 60.0, *, interval_s: float = 0.5
    ) -> list[str]:
        """Poll ``/health`` (the base URL without ``/v1``), then ``/v1/models``, until both answer.

        Returns:
            The served model names.

        Raises:
            ServerUnavailableError: not ready within ``timeout_s`` (the message says why).
            AuthenticationError: the server rejected the key (no point waiting).
        """
        deadline = time.monotonic() + timeout_s
        reason = "no answer"
        while True:
            remaining = deadline - time.monotonic()
            try:
                async with _deadline(max(0.05, min(remaining, self.settings.idle_timeout_s))):
                    response = await self._http.get(self.root_url + "/health")
                if response.status_code in (200, 404):  # 404: a server without /health
                    return await self.list_models()
                reason = f"/health answered {response.status_code}"
            except TimeoutError:
                reason = "/health did not answer"
            except (
                ServerUnavailableError,
                OverloadedError,
                ServerError,
                StreamInterruptedError,
                BackendTimeoutError,
            ) as exc:
                reason = str(exc)
            except _TRANSPORT_ERRORS as exc:
                reason = type(exc).__name__
            if time.monotonic() + interval_s >= deadline:
                raise ServerUnavailableError(
                    f"vLLM at {self.base_url} was not ready within {timeout_s:g} s ({reason}): "
                    "is `vllm serve` running and done loading? Set AGENTKIT_BASE_URL or pass "
                    "--base-url",
                    url=self.base_url,
                )
            await asyncio.sleep(interval_s)

    async def list_models(self) -> list[str]:
        """The model names the server offers (``GET /v1/models``)."""
        url = self.base_url + "/models"
        try:
            async with _deadline(self.settings.idle_timeout_s):
                page = await self._client.models.list()
        except TimeoutError:
            raise self._timeout("idle", url) from None
        except openai.APIStatusError as exc:
            raise await self._status_error_plain(exc, url) from exc
        except _CONNECTION_ERRORS as exc:
            raise self._connection_error(exc, url) from exc
        except openai.OpenAIError as exc:
            raise ProtocolError(f"{url} did not return a model list: {exc}", url=url) from exc
        return [m.id for m in page.data]

    async def check_model(self) -> list[str]:
        """Check the configured model is served; return the served names.

        Raises:
            ModelNotFoundError: it is not (the message lists what is).
        """
        available = await self.list_models()
        if self.model not in available:
            raise ModelNotFoundError(
                f"The server at {self.base_url} does not serve model {self.model!r}. "
                f"Served models: {', '.join(available) or '(none)'}. "
                "Set AGENTKIT_MODEL or pass --model.",
                available=available,
                url=self.base_url,
            )
        return available

    async def server_version(self) -> str | None:
        """The vLLM version from ``GET /version`` (cached), or None when the server has none."""
        if self._version_probed:
            return self._detected_version
        self._version_probed = True
        try:
            async with _deadline(self.settings.connect_timeout_s):
                response = await self._http.get(self.root_url + "/version")
            if response.status_code == 200:
                version = response.json().get("version")
                if isinstance(version, str):
                    self._detected_version = version
        except _VERSION_PROBE_ERRORS:
            pass
        return self._detected_version

    async def _may_send_max_slice_nums(self, request: ModelRequest) -> bool:
        if request.max_slice_nums is None:
            return False
        version = self.settings.server_version or await self.server_version()
        if server_version_at_least(version, (0, 33)):
            return True
        # vLLM 0.22 kills its engine on a per-request max_slice_nums (every later request 500s).
        log.warning(
            "not sending max_slice_nums=%s: server version %s is not known to be >= 0.33 "
            "(set server_version in Settings to enable it)",
            request.max_slice_nums,
            version or "unknown",
        )
        return False

    async def _try_list_models(self) -> list[str] | None:
        try:
            return await self.list_models()
        except BackendError:
            return None

    async def _status_error_plain(self, exc: openai.APIStatusError, url: str) -> BackendError:
        status = exc.response.status_code
        error = error_from_status(
            status,
            exc.response.text,
            dict(exc.response.headers),
            url=url,
            model=self.model,
            secret=self.settings.api_key,
        )
        if isinstance(error, (AuthenticationError, OverloadedError, ServerError)):
            return error
        return ProtocolError(f"{url} answered {status}: {excerpt(exc.response.text)}", url=url)


@asynccontextmanager
async def _deadline(seconds: float) -> AsyncIterator[None]:
    """Raise ``TimeoutError`` if the block runs longer than ``seconds`` (``asyncio.timeout``)."""
    async with asyncio.timeout(seconds):
        yield


def _openai_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """Split a body into the ``create()`` keywords the openai client knows and ``extra_body``."""
    known = {
        "model",
        "messages",
        "temperature",
        "max_tokens",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
    }
    kwargs = {k: v for k, v in body.items() if k in known}
    kwargs["extra_body"] = {k: v for k, v in body.items() if k not in known}
    return kwargs


def _is_connect_error(exc: BaseException | None) -> bool:
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return True
    return type(exc).__name__ == "ConnectError"  # httpx2's


def _is_connect_timeout(exc: BaseException | None) -> bool:
    if isinstance(exc, httpx.ConnectTimeout):
        return True
    return type(exc).__name__ == "ConnectTimeout"
