"""OpenAICompatBackend against an injected httpx.MockTransport: request JSON, assembly, errors."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from agentkit.backends import ModelRequest, ModelResponse, TextDelta, complete
from agentkit.backends._http_errors import context_numbers, parse_retry_after
from agentkit.backends._openai_wire import render_tools_prompt
from agentkit.backends.openai_compat import OpenAICompatBackend
from agentkit.errors import (
    AuthenticationError,
    BackendTimeoutError,
    BadRequestError,
    ConfigurationError,
    ContextLengthError,
    ModelNotFoundError,
    OverloadedError,
    ProtocolError,
    ServerError,
    ServerUnavailableError,
    StreamInterruptedError,
)
from agentkit.messages import FunctionCall, ImagePart, Message, TextPart
from agentkit.settings import Settings

URL = "http://vllm.test:8000/v1"
MODEL = "openbmb/MiniCPM-V-4.6"
PNG = b"\x89PNG\r\n\x1a\nfake"
CLICK = {
    "type": "function",
    "function": {
        "name": "click",
        "description": "Click a point.",
        "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}},
    },
}

Handler = Callable[[httpx.Request], Any]


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [choice],
        **extra,
    }


def sse(*events: Any, done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return out + (b"data: [DONE]\n\n" if done else b"")


def stream_response(body: bytes | AsyncIterator[bytes]) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def ok_stream(text: str = "ok") -> httpx.Response:
    return stream_response(
        sse(
            chunk({"role": "assistant", "content": ""}), chunk({"content": text}), chunk({}, "stop")
        )
    )


class Recorder:
    """A MockTransport handler: records requests, answers chat requests from a list."""

    def __init__(self, *answers: Any, routes: dict[str, Any] | None = None) -> None:
        self.answers = list(answers)
        self.routes = routes or {}
        self.requests: list[httpx.Request] = []

    @property
    def chats(self) -> list[dict[str, Any]]:
        return [
            json.loads(r.content) for r in self.requests if r.url.path.endswith("/chat/completions")
        ]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path in self.routes:
            route = self.routes[request.url.path]
            return route() if callable(route) else route
        if not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404, json={"detail": "Not Found"})
        answer = self.answers.pop(0)
        if callable(answer):
            answer = answer(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
        return answer


def backend(handler: Handler, **kw: Any) -> tuple[OpenAICompatBackend, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    kw.setdefault("retry_backoff_s", 0.001)
    return OpenAICompatBackend(URL, MODEL, http_client=client, **kw), client


async def run(handler: Handler, request: ModelRequest | None = None, **kw: Any) -> ModelResponse:
    b, client = backend(handler, **kw)
    async with client:
        return await complete(b, request or ModelRequest(messages=[Message("user", "hi")]))


async def run_error(
    handler: Handler, request: ModelRequest | None = None, **kw: Any
) -> BaseException:
    with pytest.raises(Exception) as info:
        await run(handler, request, **kw)
    return info.value


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"error": {"message": message, "type": "X", "param": None, "code": status}}
    return httpx.Response(status, json=body, headers=headers)


# ---------------------------------------------------------------------------- request body


async def test_request_body_has_the_exact_vllm_fields() -> None:
    rec = Recorder(ok_stream())
    image = ImagePart(PNG, "image/png", 4, 3)
    history = [
        Message("system", "Be brief."),
        Message("user", [TextPart("Where?"), image]),
        Message("assistant", "I click.", tool_calls=[FunctionCall("call_1", "click", {"x": 5})]),
        Message("tool", "clicked", tool_call_id="call_1"),
    ]
    await run(rec, ModelRequest(messages=history, tools=[CLICK]), api_key="sk-1")
    (body,) = rec.chats
    assert rec.requests[0].headers["authorization"] == "Bearer sk-1"
    assert body["model"] == MODEL
    assert body["mm_processor_kwargs"] == {"downsample_mode": "16x"}
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["stop_token_ids"] == [248044, 248046]
    assert body["skip_special_tokens"] is True
    assert body["temperature"] == 0.0 and body["max_tokens"] == 1024
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [CLICK] and body["tool_choice"] == "auto"
    assert "structured_outputs" not in body
    system, user, assistant, tool = body["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    assert user["content"][0] == {"type": "text", "text": "Where?"}
    assert user["content"][1] == {"type": "image_url", "image_url": {"url": image.data_url()}}
    assert user["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert assistant["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "click", "arguments": '{"x": 5}'}}
    ]
    assert tool == {"role": "tool", "content": "clicked", "tool_call_id": "call_1"}


async def test_4x_mode_and_max_slice_nums_only_when_safe() -> None:
    versions = {"/version": httpx.Response(404)}
    rec = Recorder(ok_stream(), ok_stream(), routes=versions)
    req = ModelRequest(messages=[Message("user", "hi")], mode="4x", max_slice_nums=36)
    b, client = backend(rec)
    async with client:
        await complete(b, req)
        await complete(b, req)
    for body in rec.chats:  # unknown server version: never sent (vLLM 0.22 dies on it)
        assert body["mm_processor_kwargs"] == {"downsample_mode": "4x"}
    assert [r.url.path for r in rec.requests].count("/version") == 1  # probed once, cached

    rec = Recorder(
        ok_stream(), routes={"/version": httpx.Response(200, json={"version": "0.33.1"})}
    )
    await run(rec, req)
    assert rec.chats[0]["mm_processor_kwargs"] == {"downsample_mode": "4x", "max_slice_nums": 36}

    rec = Recorder(ok_stream())
    await run(rec, req, server_version="0.22")
    assert rec.chats[0]["mm_processor_kwargs"] == {"downsample_mode": "4x"}
    assert not any(r.url.path == "/version" for r in rec.requests)


async def test_structured_outputs_extra_body_and_settings() -> None:
    rec = Recorder(ok_stream())
    req = ModelRequest(
        messages=[Message("user", "hi")],
        structured_outputs={"regex": "[0-9]+"},
        skip_special_tokens=False,
        enable_thinking=True,
        temperature=0.7,
        max_tokens=5,
        extra_body={"top_k": 1},
    )
    await run(rec, req, settings=Settings(tool_mode="request"))
    body = rec.chats[0]
    assert body["structured_outputs"] == {"regex": "[0-9]+"}
    assert body["skip_special_tokens"] is False
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0.7, 5, 1)
    assert "tools" not in body


async def test_prompt_tool_mode_renders_tools_into_the_system_message() -> None:
    rec = Recorder(ok_stream(), ok_stream())
    with_system = [Message("system", "Be brief."), Message("user", "hi")]
    await run(rec, ModelRequest(messages=with_system, tools=[CLICK]), tool_mode="prompt")
    await run(
        rec, ModelRequest(messages=[Message("user", "hi")], tools=[CLICK]), tool_mode="prompt"
    )
    first, second = rec.chats
    for body in (first, second):
        assert "tools" not in body and "tool_choice" not in body
        system = body["messages"][0]
        assert system["role"] == "system"
        text = system["content"]
        assert text.startswith(
            "# Tools\n\nYou have access to the following functions:\n\n<tools>\n"
        )
        assert "\n" + json.dumps(CLICK, ensure_ascii=False) + "\n</tools>" in text
        assert (
            "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>" in text
        )
    assert first["messages"][0]["content"].endswith("</IMPORTANT>\n\nBe brief.")
    assert second["messages"][0]["content"].endswith("</IMPORTANT>")
    assert render_tools_prompt([CLICK], "  x  ").endswith("\n\nx")


async def test_openai_api_key_from_the_environment_is_never_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key")
    rec = Recorder(ok_stream())
    await run(rec)
    assert rec.requests[0].headers["authorization"] == "Bearer EMPTY"


def test_base_url_is_required() -> None:
    with pytest.raises(ConfigurationError, match="AGENTKIT_BASE_URL"):
        OpenAICompatBackend(model=MODEL)
    b = OpenAICompatBackend.from_settings(Settings(base_url="http://h:1/v1", model="m"))
    assert (b.base_url, b.model, b.root_url) == ("http://h:1/v1", "m", "http://h:1")


# ---------------------------------------------------------------------------- assembly


async def test_stream_assembly_of_text_reasoning_tool_calls_and_usage() -> None:
    body = sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "let me "}),
        chunk({"reasoning": "think"}),
        chunk({"content": "Clicking "}),
        chunk({"content": "now."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "t0",
                        "type": "function",
                        "function": {"name": "click", "arguments": ""},
                    }
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "t1", "function": {"name": "type", "arguments": '{"text"'}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "5}"}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": ': "hi"}'}}]}),
        chunk({}, "tool_calls"),
        {
            "id": "c",
            "choices": [],
            "usage": {"prompt_tokens": 70, "completion_tokens": 9, "total_tokens": 79},
        },
    )
    b, client = backend(Recorder(stream_response(body)))
    items = []
    async with client:
        async for item in b.stream(ModelRequest(messages=[Message("user", "hi")])):
            items.append(item)
    assert items[:-1] == [TextDelta("Clicking "), TextDelta("now.")]
    final = items[-1]
    assert isinstance(final, ModelResponse)
    assert final.text == "Clicking now."
    assert final.reasoning == "let me think"
    assert [(c.id, c.name, c.arguments) for c in final.tool_calls] == [
        ("t0", "click", '{"x": 5}'),
        ("t1", "type", '{"text": "hi"}'),
    ]
    assert final.finish_reason == "tool_calls"
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.requests) == (
        70,
        9,
        1,
    )
    assert final.model == MODEL and final.attempts == 1
    assert final.first_token_s is not None and final.duration_s >= final.first_token_s


async def test_invalid_json_arguments_are_passed_on_verbatim() -> None:
    bad = '{"x": 5,,'
    body = sse(
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "a", "function": {"name": "click", "arguments": bad}}
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "b", "function": {"name": "click", "arguments": bad}}
                ]
            }
        ),
        chunk({}, "tool_calls"),
    )
    final = await run(Recorder(stream_response(body)))
    assert [c.arguments for c in final.tool_calls] == [bad, bad]  # validation is the parser's job


async def test_a_non_streamed_json_completion_is_accepted() -> None:
    completion = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "whole"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    final = await run(Recorder(httpx.Response(200, json=completion)))
    assert (final.text, final.finish_reason, final.usage.prompt_tokens) == ("whole", "stop", 3)


# ---------------------------------------------------------------------------- errors


async def test_401_is_an_authentication_error_without_the_key() -> None:
    rec = Recorder(error_response(401, "bad key sk-secret-123"))
    err = await run_error(rec, api_key="sk-secret-123")
    assert isinstance(err, AuthenticationError) and err.status == 401
    assert "sk-secret-123" not in str(err) and "AGENTKIT_API_KEY" in str(err)
    assert len(rec.chats) == 1  # no retry
    err = await run_error(Recorder(httpx.Response(403, json={"error": "Forbidden"})))
    assert isinstance(err, AuthenticationError)


async def test_404_lists_the_served_models() -> None:
    models = {"object": "list", "data": [{"id": "other/model", "object": "model"}]}
    rec = Recorder(
        error_response(404, "The model `x` does not exist."),
        routes={"/v1/models": httpx.Response(200, json=models)},
    )
    err = await run_error(rec)
    assert isinstance(err, ModelNotFoundError)
    assert err.available == ["other/model"]
    assert "other/model" in str(err) and "AGENTKIT_MODEL" in str(err)


@pytest.mark.parametrize(
    ("message", "prompt", "limit"),
    [
        (
            "This model's maximum context length is 8192 tokens. However, your request has 9001 input tokens. Please reduce the length of the input messages.",
            9001,
            8192,
        ),
        (
            "'max_tokens' or 'max_completion_tokens' is too large: 1024. This model's maximum context length is 8192 tokens and your request has 7500 input tokens (1024 > 8192 - 7500).",
            7500,
            8192,
        ),
        (
            "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion).",
            4000,
            4096,
        ),
        (
            "The decoder prompt (length 9500) is longer than the maximum model length of 8192. Make sure that `max_model_len` is no smaller than the number of text tokens plus multimodal tokens.",
            9500,
            8192,
        ),
    ],
)
async def test_context_length_400_carries_the_numbers(
    message: str, prompt: int, limit: int
) -> None:
    rec = Recorder(error_response(400, message))
    err = await run_error(rec)
    assert isinstance(err, ContextLengthError)
    assert (err.prompt_tokens, err.max_model_len) == (prompt, limit)
    assert len(rec.chats) == 1
    assert context_numbers(message) == (prompt, limit)


async def test_other_400_is_a_bad_request_with_the_server_message() -> None:
    rec = Recorder(error_response(400, "tool_choice 'required' needs tools"))
    err = await run_error(rec)
    assert isinstance(err, BadRequestError) and not isinstance(err, ContextLengthError)
    assert "tool_choice 'required' needs tools" in str(err)
    assert len(rec.chats) == 1


async def test_429_honours_a_short_retry_after_then_succeeds() -> None:
    rec = Recorder(error_response(429, "slow down", {"Retry-After": "0.05"}), ok_stream("fine"))
    start = time.monotonic()
    final = await run(rec)
    assert final.text == "fine" and final.attempts == 2
    assert time.monotonic() - start >= 0.05


async def test_absurd_retry_after_fails_at_once() -> None:
    rec = Recorder(error_response(503, "busy", {"Retry-After": "999"}), ok_stream())
    start = time.monotonic()
    err = await run_error(rec)
    assert time.monotonic() - start < 1.0
    assert isinstance(err, OverloadedError) and err.retry_after == 999
    assert "max_retry_after_s" in str(err)
    assert len(rec.chats) == 1


async def test_503_without_retry_after_backs_off_then_gives_up() -> None:
    rec = Recorder(*[error_response(503, "busy")] * 3)
    err = await run_error(rec, max_retries=2)
    assert isinstance(err, OverloadedError) and "3 attempts" in str(err)
    assert len(rec.chats) == 3


async def test_500_is_retried_a_bounded_number_of_times() -> None:
    rec = Recorder(error_response(500, "oops"), ok_stream("back"))
    final = await run(rec)
    assert (final.text, final.attempts) == ("back", 2)
    rec = Recorder(*[error_response(500, "oops")] * 4)
    err = await run_error(rec, max_retries=3)
    assert isinstance(err, ServerError) and err.status == 500 and len(rec.chats) == 4
    rec = Recorder(error_response(500, "oops"))
    err = await run_error(rec, max_retries=0)
    assert isinstance(err, ServerError) and len(rec.chats) == 1


async def test_connection_refused_names_the_url_and_the_fix() -> None:
    with socket.socket() as sock:  # bound but not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        async with OpenAICompatBackend(url, MODEL, connect_timeout_s=1) as b:
            with pytest.raises(ServerUnavailableError) as info:
                await complete(b, ModelRequest(messages=[Message("user", "hi")]))
    message = str(info.value)
    assert url in message
    assert "vllm serve" in message and "AGENTKIT_BASE_URL" in message
    assert info.value.__cause__ is not None


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def test_transport_errors_before_a_response() -> None:
    err = await run_error(raising(httpx.ConnectTimeout("slow")))
    assert isinstance(err, BackendTimeoutError) and err.phase == "connect"
    assert "connect_timeout_s" in str(err)
    err = await run_error(raising(httpx.ConnectError("refused")))
    assert isinstance(err, ServerUnavailableError)
    calls: list[int] = []

    def dies_once(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return ok_stream("second try")

    final = await run(dies_once)
    assert (final.text, final.attempts) == ("second try", 2)


async def test_html_body_is_a_protocol_error_with_a_capped_excerpt() -> None:
    page = "<html><body>" + "x" * 5000 + "</body></html>"
    err = await run_error(
        Recorder(httpx.Response(200, text=page, headers={"content-type": "text/html"}))
    )
    assert isinstance(err, ProtocolError) and "<html>" in str(err)
    assert len(str(err)) < 700
    err = await run_error(Recorder(stream_response(b"data: <html>oops</html>\n\n")))
    assert isinstance(err, ProtocolError) and "not a JSON object" in str(err)
    err = await run_error(Recorder(httpx.Response(200, content=b"<h1>hello</h1>\n")))
    assert isinstance(err, ProtocolError) and "not an event stream: <h1>hello</h1>" in str(err)
    err = await run_error(
        Recorder(httpx.Response(502, text=page, headers={"content-type": "text/html"})),
        max_retries=0,
    )
    assert isinstance(err, ServerError) and "HTML" in str(err) and len(str(err)) < 700


async def test_in_band_error_events_are_typed() -> None:
    event = {
        "error": {
            "message": "This model's maximum context length is 100 tokens. However, your request has 120 input tokens.",
            "code": 400,
        }
    }
    err = await run_error(Recorder(stream_response(sse(chunk({"content": "a"}), event))))
    assert isinstance(err, ContextLengthError) and err.prompt_tokens == 120
    event = {"error": {"message": "engine died", "code": 500}}
    err = await run_error(Recorder(stream_response(sse(chunk({"content": "a"}), event))))
    assert isinstance(err, ServerError) and "engine died" in str(err)


@pytest.mark.parametrize(
    ("events", "done", "missing"),
    [
        ([chunk({"content": "a"})], True, "finish_reason"),
        ([chunk({"content": "a"}), chunk({}, "stop")], False, "[DONE]"),
    ],
)
async def test_stream_without_finish_reason_or_done_is_interrupted(
    events: list[Any], done: bool, missing: str
) -> None:
    rec = Recorder(stream_response(sse(*events, done=done)))
    err = await run_error(rec)
    assert isinstance(err, StreamInterruptedError) and missing in str(err)
    assert len(rec.chats) == 1  # text was yielded: never replayed


async def cut_after(first: bytes) -> AsyncIterator[bytes]:
    yield first
    raise httpx.ReadError("connection reset")


async def test_cut_after_text_is_not_retried_but_before_text_is() -> None:
    rec = Recorder(stream_response(cut_after(sse(chunk({"content": "partial"}), done=False))))
    b, client = backend(rec)
    seen: list[str] = []
    async with client:
        with pytest.raises(StreamInterruptedError) as info:
            async for item in b.stream(ModelRequest(messages=[Message("user", "hi")])):
                if isinstance(item, TextDelta):
                    seen.append(item.text)
    assert seen == ["partial"] and len(rec.chats) == 1
    assert isinstance(info.value.__cause__, httpx.ReadError)

    rec = Recorder(
        stream_response(cut_after(sse(chunk({"role": "assistant"}), done=False))),
        ok_stream("again"),
    )
    final = await run(rec)
    assert (final.text, final.attempts) == ("again", 2)


# ---------------------------------------------------------------------------- deadlines


async def slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return ok_stream()


async def test_first_token_deadline() -> None:
    start = time.monotonic()
    err = await run_error(Recorder(slow), first_token_timeout_s=0.2)
    assert isinstance(err, BackendTimeoutError) and err.phase == "first_token"
    assert "first_token_timeout_s" in str(err)
    assert time.monotonic() - start < 1.5


async def stalling() -> AsyncIterator[bytes]:
    yield sse(chunk({"content": "a"}), done=False)
    await asyncio.sleep(5)
    yield sse(chunk({}, "stop"))


async def test_idle_deadline_and_total_deadline() -> None:
    start = time.monotonic()
    err = await run_error(Recorder(stream_response(stalling())), idle_timeout_s=0.2)
    assert isinstance(err, BackendTimeoutError) and err.phase == "idle"
    err = await run_error(
        Recorder(stream_response(stalling())), idle_timeout_s=3, total_timeout_s=0.2
    )
    assert isinstance(err, BackendTimeoutError) and err.phase == "total"
    assert time.monotonic() - start < 1.5


async def test_closing_the_stream_early_closes_the_response() -> None:
    closed = asyncio.Event()

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield sse(chunk({"content": "a"}), done=False)
            while True:
                await asyncio.sleep(0.01)
                yield sse(chunk({"content": "b"}), done=False)

        async def aclose(self) -> None:
            closed.set()

    response = httpx.Response(200, stream=Endless(), headers={"content-type": "text/event-stream"})
    b, client = backend(Recorder(response))
    async with client:
        agen = b.stream(ModelRequest(messages=[Message("user", "hi")]))
        first = await agen.__anext__()
        assert first == TextDelta("a")
        assert not closed.is_set()
        await agen.aclose()
        assert closed.is_set()


# ---------------------------------------------------------------------------- readiness


async def test_wait_until_ready_polls_health_then_models() -> None:
    health = iter([httpx.Response(503), httpx.Response(503), httpx.Response(200)])
    models = httpx.Response(
        200, json={"object": "list", "data": [{"id": MODEL, "object": "model"}]}
    )
    rec = Recorder(routes={"/health": lambda: next(health), "/v1/models": lambda: models})
    b, client = backend(rec)
    async with client:
        assert await b.wait_until_ready(2, interval_s=0.01) == [MODEL]
        assert await b.check_model() == [MODEL]
        b.model = "other"
        with pytest.raises(ModelNotFoundError, match="Served models: openbmb/MiniCPM-V-4.6"):
            await b.check_model()
    assert [r.url.path for r in rec.requests][:3] == ["/health"] * 3


async def test_wait_until_ready_gives_up_with_a_reason() -> None:
    rec = Recorder(routes={"/health": lambda: httpx.Response(503)})
    b, client = backend(rec)
    async with client:
        with pytest.raises(ServerUnavailableError, match="not ready within 0.1 s .*503"):
            await b.wait_until_ready(0.1, interval_s=0.02)


async def test_owned_client_is_closed_and_injected_one_is_not() -> None:
    b, client = backend(Recorder())
    await b.aclose()
    assert not client.is_closed
    await client.aclose()
    async with OpenAICompatBackend(URL, MODEL) as owned:
        inner = owned._http
    assert inner.is_closed


def test_retry_after_parsing() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    date = parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert date == 0.0  # in the past
