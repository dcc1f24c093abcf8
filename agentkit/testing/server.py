"""``LocalServer``: a real HTTP server on 127.0.0.1 that behaves like vLLM, with scripted replies.

Test an agent end to end, over real HTTP and server-sent events, without a GPU::

    from agentkit.testing.server import LocalServer, Reply, HttpError

    with LocalServer(replies=["Hello!", HttpError(500), Reply(text="Done.")]) as srv:
        backend = OpenAICompatBackend(srv.base_url, srv.model)
        ...
        assert srv.requests[-1].json["mm_processor_kwargs"] == {"downsample_mode": "16x"}

It serves ``GET /health``, ``GET /version``, ``GET /v1/models`` and ``POST /v1/chat/completions``
(JSON, or SSE with small token-like deltas). Each chat request takes the next entry of the script:
a :class:`Reply`, a string (shorthand for ``Reply(text=...)``), a callable ``(request_json) ->
Reply`` or a :class:`Fault`. ``replies`` may also be one callable: a *function model* that answers
every request. When the script runs out the server answers 500 "LocalServer: no scripted reply
left".

The server runs its own event loop in a background thread, written on raw asyncio streams so that
faults can be injected at the byte level (a connection cut mid-chunk, a stream that ends without
``[DONE]``...). It needs nothing beyond the standard library (Pillow, optionally, to size images).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agentkit.testing._lax_parser import parse_lax

__all__ = [
    "ContextLength",
    "Cut",
    "Fault",
    "Garbage",
    "Hang",
    "HttpError",
    "InBandError",
    "Kill",
    "LocalServer",
    "NoDone",
    "NotReady",
    "RecordedRequest",
    "Reply",
    "Stall",
    "estimate_usage",
]

from agentkit.testing._script import (
    _ERROR_TYPES,
    _REASONS,
    DEFAULT_MODEL,
    NO_REPLY_LEFT,
    ContextLength,
    Cut,
    Fault,
    Garbage,
    Hang,
    HttpError,
    InBandError,
    Kill,
    NoDone,
    NotReady,
    RecordedRequest,
    Reply,
    ScriptItem,
    Stall,
    UsageFn,
    context_length_message,
    estimate_usage,
)


class _Closed(Exception):
    """The connection must be closed after this response."""


class LocalServer:
    """A vLLM-like OpenAI-compatible server on ``127.0.0.1`` (a free port), in a thread.

    Args:
        replies: the script (see the module docstring), or one callable answering every request.
        model: the served model name; other names get vLLM's 404.
        parse_tool_calls: emulate ``--enable-auto-tool-choice --tool-call-parser qwen3_coder``:
            ``<tool_call>`` blocks in a reply become ``tool_calls``, coerced laxly like vLLM.
        api_key: when set, ``/v1/*`` requires ``Authorization: Bearer <api_key>`` (else 401).
        max_model_len: when set, requests whose estimated prompt plus ``max_tokens`` exceed it get
            vLLM's context-length 400 (before a reply is taken from the script).
        usage_fn: ``(request_json, reply_text) -> {"prompt_tokens", "completion_tokens"}``;
            default :func:`estimate_usage`.
        server_version: what ``GET /version`` reports.
        max_recorded: keep only the newest requests in ``requests`` (long runs); None keeps all.
        start_delay_s: the port is reserved at start but only listens after this delay
            (connection refused meanwhile: a server that is not started yet).

    Attributes:
        base_url: ``"http://127.0.0.1:PORT/v1"`` (after start).
        url: ``"http://127.0.0.1:PORT"``.
        requests: every :class:`RecordedRequest`, oldest first.
        errors: exceptions raised inside the server while handling requests (should stay empty).
    """

    def __init__(
        self,
        replies: Iterable[ScriptItem] | Callable[[dict[str, Any]], Any] = (),
        *,
        model: str = DEFAULT_MODEL,
        parse_tool_calls: bool = False,
        api_key: str | None = None,
        max_model_len: int | None = None,
        usage_fn: UsageFn | None = None,
        server_version: str = "0.33.0",
        start_delay_s: float = 0.0,
        max_recorded: int | None = None,
    ) -> None:
        self.model = model
        self.parse_tool_calls = parse_tool_calls
        self.api_key = api_key
        self.max_model_len = max_model_len
        self.usage_fn: UsageFn = usage_fn or estimate_usage
        self.server_version = server_version
        self.start_delay_s = start_delay_s
        self.max_recorded = max_recorded
        self.requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []
        self._function: Callable[[dict[str, Any]], Any] | None = None
        self._script: collections.deque[ScriptItem] = collections.deque()
        if callable(replies):
            self._function = replies
        else:
            self._script.extend(replies)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._not_ready_until = 0.0
        self._not_ready_retry_after = True
        self._port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._delayed: asyncio.TimerHandle | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._killed = False
        self._stopping: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat-completion requests received, oldest first."""
        return [r.json for r in self.requests if r.path.startswith("/v1/chat/completions")]

    @property
    def open_connections(self) -> int:
        """Client connections currently open."""
        return len(self._writers)

    @property
    def remaining(self) -> int:
        """Script entries not used yet."""
        with self._lock:
            return len(self._script)

    def start(self) -> LocalServer:
        """Start the server thread and listen (after ``start_delay_s``); returns ``self``.

        A stopped or killed server can be started again, on a new port.
        """
        if self._thread is not None:
            return self
        self._killed = False
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            self._port = sock.getsockname()[1]
        except OSError:
            sock.close()
            raise
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name=f"LocalServer:{self._port}", daemon=True
        )
        self._thread.start()
        ready = asyncio.run_coroutine_threadsafe(self._begin(sock), loop)
        ready.result(timeout=10)
        return self

    async def _begin(self, sock: socket.socket) -> None:
        # A bound socket that does not listen yet refuses connections: a server not started.
        # Accepting happens in a reader callback, not asyncio.start_server (on Python 3.11,
        # closing a Server while it accepts a connection leaks that socket) nor a cancellable
        # sock_accept (cancelling it can drop a just-accepted socket).
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._sock = sock
        if self.start_delay_s > 0:
            self._delayed = loop.call_later(self.start_delay_s, self._listen_now)
        else:
            self._listen_now()

    def _listen_now(self) -> None:
        sock = self._sock
        if sock is None or self._killed:
            return
        sock.listen(128)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept_ready)

    def _accept_ready(self) -> None:
        sock = self._sock
        if sock is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            conn.setblocking(False)
            task = loop.create_task(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _close_listener(self) -> None:
        if self._delayed is not None:
            self._delayed.cancel()
            self._delayed = None
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(sock.fileno())
            finally:
                sock.close()

    async def _serve(self, conn: socket.socket) -> None:
        if self._killed:
            conn.close()
            return
        try:
            reader, writer = await asyncio.open_connection(sock=conn)
        except OSError:
            conn.close()
            return
        await self._connection(reader, writer)

    def stop(self) -> None:
        """Stop the server: drop connections, stop the thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed() and thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                future.result(timeout=10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
        loop.close()
        self._loop = None
        self._thread = None

    def kill(self) -> None:
        """Die now: drop every connection and stop listening (connection refused afterwards)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._kill(), loop).result(timeout=10)

    async def _kill(self) -> None:
        self._killed = True
        if self._stopping is not None:
            self._stopping.set()  # wakes hanging and stalled handlers
        self._close_listener()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _shutdown(self) -> None:
        await self._kill()
        # Handlers end by themselves once their connections are aborted and sleeps are woken.
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)

    async def _sleep(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: forever), cut short when the server stops or dies."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise _Closed

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> LocalServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------------ scripting

    def push(self, *items: ScriptItem) -> None:
        """Append replies or faults to the end of the script."""
        with self._lock:
            self._script.extend(items)

    def inject(self, fault: Fault) -> None:
        """Apply a fault: :class:`NotReady` and :class:`Kill` act now; any other fault is served
        to the next chat request (ahead of the script)."""
        if isinstance(fault, NotReady):
            self._set_not_ready(fault)
        elif isinstance(fault, Kill):
            self.kill()
        else:
            with self._lock:
                self._script.appendleft(fault)

    def _set_not_ready(self, fault: NotReady) -> None:
        self._not_ready_until = time.monotonic() + fault.seconds
        self._not_ready_retry_after = fault.retry_after

    def _next_item(self, request: dict[str, Any]) -> Any:
        if self._function is not None:
            return self._function(request)
        with self._lock:
            if not self._script:
                return None
            item = self._script.popleft()
        if callable(item) and not isinstance(item, (Reply, Fault)):
            return item(request)
        return item

    # ------------------------------------------------------------------ HTTP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while not self._killed:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    break
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    break
                method, target, _ = parts
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                try:
                    length = int(headers.get("content-length", "0") or "0")
                    body = await reader.readexactly(length) if length > 0 else b""
                except (ValueError, asyncio.IncompleteReadError, ConnectionError):
                    break
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                path = target.split("?", 1)[0]
                self.requests.append(RecordedRequest(method, path, headers, body, parsed))
                if self.max_recorded is not None and len(self.requests) > self.max_recorded:
                    del self.requests[: len(self.requests) - self.max_recorded]
                try:
                    await self._route(method, path, headers, body, parsed, writer)
                except _Closed:
                    break
                if headers.get("connection", "").lower() == "close":
                    break
        except ConnectionError:
            pass
        except Exception as exc:  # a bug here must not go unnoticed, nor crash the loop
            self.errors.append(exc)
        finally:
            self._writers.discard(writer)
            if self._killed:
                writer.transport.abort()
            else:
                writer.close()
            # Let the transport really close its socket before the loop can stop (no
            # ResourceWarning); a peer that does not read cannot hold this up for long.
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (ConnectionError, TimeoutError):
                writer.transport.abort()

    async def _route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        parsed: Any,
        writer: asyncio.StreamWriter,
    ) -> None:
        not_ready = time.monotonic() < self._not_ready_until
        if path == "/health":
            await _send_bytes(writer, 503 if not_ready else 200, b"", "text/plain")
            return
        if path == "/version":
            await _send_json(writer, 200, {"version": self.server_version})
            return
        if not path.startswith("/v1/"):
            await _send_json(writer, 404, {"detail": "Not Found"})
            return
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await _send_json(writer, 401, {"error": "Unauthorized"})
            return
        if path == "/v1/models" and method == "GET":
            await _send_json(writer, 200, self._models())
            return
        if path != "/v1/chat/completions":
            await _send_json(writer, 404, {"detail": "Not Found"})
            return
        if method != "POST":
            await _send_json(writer, 405, {"detail": "Method Not Allowed"})
            return
        if not_ready:
            extra = {}
            if self._not_ready_retry_after:
                remaining = self._not_ready_until - time.monotonic()
                extra["retry-after"] = f"{max(remaining, 0.0):.3f}"
            await _send_error(writer, 503, "The model is still loading", extra)
            return
        if not isinstance(parsed, dict):
            await _send_error(writer, 400, "The request body is not a JSON object")
            return
        if parsed.get("model") != self.model:
            await _send_error(writer, 404, f"The model `{parsed.get('model')}` does not exist.")
            return
        if self.max_model_len is not None:
            prompt = int(self.usage_fn(parsed, "")["prompt_tokens"])
            wanted = parsed.get("max_tokens") or 0
            if prompt + int(wanted) > self.max_model_len:
                await _send_error(writer, 400, context_length_message(prompt, self.max_model_len))
                return
        try:
            item = self._next_item(parsed)
        except Exception as exc:  # a function model's bug becomes the server's 500
            await _send_error(writer, 500, f"LocalServer: the reply function raised {exc!r}")
            return
        await self._answer(item, parsed, writer)

    def _models(self) -> dict[str, Any]:
        entry = {
            "id": self.model,
            "object": "model",
            "created": 0,
            "owned_by": "vllm",
            "root": self.model,
            "max_model_len": self.max_model_len or 8192,
        }
        return {"object": "list", "data": [entry]}

    async def _answer(
        self, item: Any, request: dict[str, Any], writer: asyncio.StreamWriter
    ) -> None:
        if item is None:
            await _send_error(writer, 500, NO_REPLY_LEFT)
            return
        if isinstance(item, str):
            item = Reply(text=item)
        stream = bool(request.get("stream"))
        if isinstance(item, Reply):
            if stream:
                await self._stream(writer, self._events(item, request))
            else:
                await _send_json(writer, 200, self._completion(item, request))
            return
        if isinstance(item, HttpError):
            extra = {} if item.retry_after is None else {"retry-after": str(item.retry_after)}
            await _send_error(writer, item.status, item.message, extra)
        elif isinstance(item, ContextLength):
            await _send_error(
                writer, 400, context_length_message(item.prompt_tokens, item.max_model_len)
            )
        elif isinstance(item, Garbage):
            await _send_bytes(writer, item.status, item.body.encode(), item.content_type)
        elif isinstance(item, Hang):
            await self._sleep(item.seconds)
            raise _Closed
        elif isinstance(item, Stall):
            events = self._events(item.reply, request)
            await self._stream(writer, events, pause_at=item.after_chunks, pause_s=item.seconds)
        elif isinstance(item, Cut):
            await self._stream(writer, self._events(item.reply, request), cut_at=item.after_chunks)
        elif isinstance(item, NoDone):
            events = self._events(item.reply, request)[:-1]  # no [DONE]
            if not item.keep_finish_reason:
                events = [e for e in events if b'"finish_reason": "' not in e]
            await self._stream(writer, events)
        elif isinstance(item, InBandError):
            events = self._events(item.reply, request)[: item.after_chunks]
            error = {"error": _error_body(item.code, item.message)}
            events += [_sse(error), b"data: [DONE]\n\n"]
            await self._stream(writer, events)
        elif isinstance(item, Kill):
            await self._kill()
            raise _Closed
        elif isinstance(item, NotReady):
            self._set_not_ready(item)
            await _send_error(writer, 503, "The model is still loading")
        else:
            await _send_error(writer, 500, f"LocalServer: cannot serve script item {item!r}")

    # ------------------------------------------------------------------ replies

    def _calls_and_content(
        self, reply: Reply, request: dict[str, Any], streaming: bool
    ) -> tuple[str, list[dict[str, Any]], str]:
        """``(content, calls, trailing text)`` as the server would return them."""
        if reply.tool_calls is not None:
            calls = [self._call(c) for c in reply.tool_calls]
            return reply.text, calls, ""
        parse = self.parse_tool_calls if reply.parse is None else reply.parse
        if not parse or "<tool_call>" not in reply.text:
            return reply.text, [], ""
        result = parse_lax(reply.text, request.get("tools"))
        if not result.calls:
            return reply.text, [], ""
        calls = [self._call({"name": c.name, "arguments": c.arguments}) for c in result.calls]
        return result.content, calls, (result.trailing if streaming else "")

    def _call(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        arguments = spec.get("arguments", {})
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        return {
            "id": spec.get("id") or f"chatcmpl-tool-{next(self._ids):08x}",
            "type": "function",
            "function": {"name": str(spec.get("name", "")), "arguments": arguments},
        }

    def _usage(self, reply: Reply, request: dict[str, Any]) -> dict[str, int]:
        if reply.usage is not None:
            usage = dict(reply.usage)
        else:
            usage = dict(self.usage_fn(request, reply.reasoning + reply.text))
        usage.setdefault(
            "total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        )
        return usage

    def _finish(self, reply: Reply, calls: list[dict[str, Any]]) -> str:
        return "tool_calls" if calls and reply.finish_reason == "stop" else reply.finish_reason

    def _completion(self, reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
        content, calls, _ = self._calls_and_content(reply, request, streaming=False)
        message: dict[str, Any] = {"role": "assistant", "content": content or None}
        if calls:
            message["tool_calls"] = calls
        if reply.reasoning:
            message["reasoning"] = reply.reasoning
        return {
            "id": f"chatcmpl-{next(self._ids):08x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": self._finish(reply, calls)}
            ],
            "usage": self._usage(reply, request),
        }

    def _events(self, reply: Reply, request: dict[str, Any]) -> list[bytes]:
        """Every SSE event of a streamed reply, ``[DONE]`` last."""
        content, calls, trailing = self._calls_and_content(reply, request, streaming=True)
        base = {
            "id": f"chatcmpl-{next(self._ids):08x}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**base, "choices": [choice]})

        size = max(1, reply.chunk_chars)
        events = [chunk({"role": "assistant", "content": ""})]
        for i in range(0, len(reply.reasoning), size):
            events.append(chunk({"reasoning": reply.reasoning[i : i + size]}))
        for i in range(0, len(content), size):
            events.append(chunk({"content": content[i : i + size]}))
        for index, call in enumerate(calls):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            events.append(chunk({"tool_calls": [head]}))
            arguments = call["function"]["arguments"]
            for i in range(0, len(arguments), size):
                piece = {"index": index, "function": {"arguments": arguments[i : i + size]}}
                events.append(chunk({"tool_calls": [piece]}))
        for i in range(0, len(trailing), size):
            events.append(chunk({"content": trailing[i : i + size]}))
        events.append(chunk({}, self._finish(reply, calls)))
        options = request.get("stream_options") or {}
        if isinstance(options, dict) and options.get("include_usage"):
            events.append(_sse({**base, "choices": [], "usage": self._usage(reply, request)}))
        events.append(b"data: [DONE]\n\n")
        if reply.delay_s > 0:
            return [_Delayed(e, reply.delay_s) for e in events]
        return events

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        events: list[bytes],
        *,
        pause_at: int | None = None,
        pause_s: float | None = None,
        cut_at: int | None = None,
    ) -> None:
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        writer.write(head.encode())
        for n, event in enumerate(events):
            if n == pause_at:
                await writer.drain()
                await self._sleep(pause_s)
            if isinstance(event, _Delayed):
                await self._sleep(event.delay_s)
            data = bytes(event)
            if n == cut_at:
                half = max(1, len(data) // 2)
                writer.write(f"{len(data):x}\r\n".encode() + data[:half])
                await writer.drain()
                raise _Closed
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        if cut_at is not None:  # fewer events than the cut point: still close abruptly
            raise _Closed


class _Delayed(bytes):
    """An SSE event sent after a pause (per-chunk delay of a :class:`Reply`)."""

    delay_s: float

    def __new__(cls, data: bytes, delay_s: float) -> _Delayed:
        obj = super().__new__(cls, data)
        obj.delay_s = delay_s
        return obj


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "message": message,
        "type": _ERROR_TYPES.get(status, "InternalServerError" if status >= 500 else "Error"),
        "param": None,
        "code": status,
    }


async def _send_bytes(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str,
    extra: Mapping[str, str] | None = None,
) -> None:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        f"content-type: {content_type}",
        f"content-length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


async def _send_json(
    writer: asyncio.StreamWriter,
    status: int,
    obj: Any,
    extra: Mapping[str, str] | None = None,
) -> None:
    await _send_bytes(writer, status, json.dumps(obj).encode(), "application/json", extra)


async def _send_error(
    writer: asyncio.StreamWriter, status: int, message: str, extra: Mapping[str, str] | None = None
) -> None:
    await _send_json(writer, status, {"error": _error_body(status, message)}, extra)
