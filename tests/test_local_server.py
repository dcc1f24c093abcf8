"""LocalServer end to end over real HTTP, with the real OpenAICompatBackend: replies and faults."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from agentkit.backends import ModelRequest, ModelResponse, TextDelta, complete
from agentkit.backends.openai_compat import OpenAICompatBackend
from agentkit.errors import (
    AuthenticationError,
    BackendTimeoutError,
    BadRequestError,
    ContextLengthError,
    ModelNotFoundError,
    OverloadedError,
    ProtocolError,
    ServerError,
    ServerUnavailableError,
    StreamInterruptedError,
)
from agentkit.messages import ImagePart, Message, TextPart
from agentkit.testing._lax_parser import coerce, parse_lax
from agentkit.testing.server import (
    NO_REPLY_LEFT,
    ContextLength,
    Cut,
    Garbage,
    Hang,
    HttpError,
    InBandError,
    Kill,
    LocalServer,
    NoDone,
    NotReady,
    Reply,
    Stall,
    estimate_usage,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "click",
            "parameters": {
                "type": "object",
                "properties": {
                    "x": {"type": "integer"},
                    "y": {"type": "number"},
                    "double": {"type": "boolean"},
                    "opts": {"type": "object"},
                },
            },
        },
    }
]
CALL = (
    "I will click.\n<tool_call>\n<function=click>\n<parameter=x>\n12\n</parameter>\n"
    "<parameter=y>\n3.0\n</parameter>\n<parameter=double>\n1\n</parameter>\n"
    "</function>\n</tool_call>"
)


def request(text: str = "hi", **kw: Any) -> ModelRequest:
    return ModelRequest(messages=[Message("user", text)], **kw)


@pytest.fixture
async def make() -> AsyncIterator[Any]:
    """Start LocalServers and matching backends; everything is closed after the test."""
    servers: list[LocalServer] = []
    backends: list[OpenAICompatBackend] = []

    def factory(
        *replies: Any, backend_kw: dict[str, Any] | None = None, **server_kw: Any
    ) -> tuple[LocalServer, OpenAICompatBackend]:
        srv = LocalServer(list(replies), **server_kw).start()
        servers.append(srv)
        kw = {"retry_backoff_s": 0.001, "first_token_timeout_s": 2.0, "idle_timeout_s": 2.0}
        kw.update(backend_kw or {})
        b = OpenAICompatBackend(srv.base_url, srv.model, **kw)
        backends.append(b)
        return srv, b

    yield factory
    for b in backends:
        await b.aclose()
    for srv in servers:
        await asyncio.to_thread(srv.stop)


async def collect(b: OpenAICompatBackend, req: ModelRequest) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    final = None
    async for item in b.stream(req):
        if isinstance(item, TextDelta):
            deltas.append(item.text)
        else:
            final = item
    assert final is not None
    return deltas, final


# ---------------------------------------------------------------------------- replies


async def test_scripted_text_streams_in_small_deltas(make: Any) -> None:
    srv, b = make(Reply(text="Hello, wonderful world", chunk_chars=5), "second")
    deltas, final = await collect(b, request(mode="4x"))
    assert deltas == ["Hello", ", won", "derfu", "l wor", "ld"]
    assert final.text == "Hello, wonderful world" and final.finish_reason == "stop"
    assert final.usage.prompt_tokens > 0 and final.usage.completion_tokens == 6
    assert final.model == srv.model and final.attempts == 1
    assert (await complete(b, request())).text == "second"
    first = srv.requests[-2]
    assert first.method == "POST" and first.path == "/v1/chat/completions"
    assert first.headers["content-type"] == "application/json"
    assert first.json["mm_processor_kwargs"] == {"downsample_mode": "4x"}
    assert srv.chat_requests[1]["mm_processor_kwargs"] == {"downsample_mode": "16x"}
    assert srv.remaining == 0


async def test_reasoning_usage_override_and_per_chunk_delay(make: Any) -> None:
    srv, b = make(
        Reply(
            text="ok",
            reasoning="hmm",
            usage={"prompt_tokens": 7, "completion_tokens": 2},
            delay_s=0.02,
        )
    )
    start = time.monotonic()
    final = await complete(b, request())
    assert time.monotonic() - start >= 0.1  # 6 events, each after 20 ms
    assert (final.reasoning, final.text) == ("hmm", "ok")
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (7, 2)


async def test_function_model_push_and_script_exhaustion(make: Any) -> None:
    seen: list[int] = []

    def model(body: dict[str, Any]) -> Reply:
        seen.append(len(body["messages"]))
        return Reply(text=f"{len(body['messages'])} messages")

    with LocalServer(model) as srv:
        async with OpenAICompatBackend(srv.base_url, srv.model) as b:
            req = ModelRequest(messages=[Message("system", "s"), Message("user", "u")])
            assert (await complete(b, req)).text == "2 messages"
            assert (await complete(b, req)).text == "2 messages"
    assert seen == [2, 2]

    srv, b = make("one", backend_kw={"max_retries": 0})
    srv.push(Reply(text="pushed"), lambda body: "from a callable")
    assert [(await complete(b, request())).text for _ in range(3)] == [
        "one",
        "pushed",
        "from a callable",
    ]
    with pytest.raises(ServerError, match=NO_REPLY_LEFT):
        await complete(b, request())


async def test_server_parsed_tool_calls_are_lax_like_vllm(make: Any) -> None:
    srv, b = make(Reply(text=CALL + "\ntrailing words"), parse_tool_calls=True)
    deltas, final = await collect(b, request(tools=TOOLS))
    assert final.finish_reason == "tool_calls"
    assert final.text == "I will click.\n\ntrailing words"  # streamed: text after the call kept
    (call,) = final.tool_calls
    assert call.name == "click" and call.id.startswith("chatcmpl-tool-")
    assert json.loads(call.arguments) == {"x": 12, "y": 3, "double": True}

    # Not streamed: vLLM drops the text after the last call.
    srv.push(Reply(text=CALL + "\ntrailing words"))
    body = {"model": srv.model, "messages": [{"role": "user", "content": "hi"}], "tools": TOOLS}
    async with httpx.AsyncClient() as client:
        data = (await client.post(srv.base_url + "/chat/completions", json=body)).json()
    message = data["choices"][0]["message"]
    assert message["content"] == "I will click.\n"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"])["x"] == 12
    assert (
        data["choices"][0]["finish_reason"] == "tool_calls" and data["usage"]["prompt_tokens"] > 0
    )


def test_lax_parser_keeps_vllm_defects() -> None:
    text = (
        "<tool_call>\n<function=nope>\n<parameter=a>\n1\n</parameter>\n</function>\n</tool_call>"
        "<tool_call>\n<function=click>\n<parameter=x>\n1\n</parameter>\n<parameter=x>\n2\n"
        "<parameter=opts>\n{'a': 1}\n</parameter>\n"
    )
    result = parse_lax(text, TOOLS)
    assert [c.name for c in result.calls] == ["nope", "click"]  # unknown names are kept
    assert result.calls[0].arguments == {"a": "1"}  # no schema: stays a string
    assert result.calls[1].arguments == {
        "x": 2,
        "opts": "{'a': 1}",
    }  # last wins; repr dict stays text
    assert coerce("1_000", {"type": "integer"}) == 1000
    assert coerce("yes", {"type": "boolean"}) == "yes"
    assert coerce("0", {"type": "boolean"}) is False
    assert coerce("2.5", {"type": "number"}) == 2.5
    assert coerce("inf", {"type": "number"}) == "inf"
    assert coerce("null", {"type": "integer"}) is None
    assert coerce('{"k": [1]}', {"type": "object"}) == {"k": [1]}
    assert parse_lax("no calls here").content == "no calls here"


async def test_parser_defects_duplicate_invalid_json_and_call_left_in_content(make: Any) -> None:
    dup = {"name": "click", "arguments": {"x": 1}}
    srv, b = make(
        Reply(tool_calls=[dup, dup]),
        Reply(tool_calls=[{"name": "click", "arguments": '{"x": 1,'}]),
        Reply(text=CALL, parse=False),
        parse_tool_calls=True,
    )
    first = await complete(b, request(tools=TOOLS))
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("click", '{"x": 1}')] * 2
    assert first.tool_calls[0].id != first.tool_calls[1].id
    second = await complete(b, request(tools=TOOLS))
    assert second.tool_calls[0].arguments == '{"x": 1,'
    third = await complete(b, request(tools=TOOLS))
    assert third.tool_calls == [] and "<tool_call>" in third.text and third.finish_reason == "stop"


def png(width: int, height: int) -> ImagePart:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, format="PNG")
    return ImagePart(buf.getvalue(), "image/png", width, height)


async def test_usage_counts_images_by_mode(make: Any) -> None:
    pytest.importorskip("PIL")
    srv, b = make("a", "b", "c")
    image = png(1280, 720)
    req16 = ModelRequest(messages=[Message("user", [TextPart("look"), image])], mode="16x")
    req4 = ModelRequest(messages=[Message("user", [TextPart("look"), image])], mode="4x")
    u16 = (await complete(b, req16)).usage.prompt_tokens
    u4 = (await complete(b, req4)).usage.prompt_tokens
    plain = (await complete(b, request("look"))).usage.prompt_tokens
    assert plain < u16 < u4
    assert estimate_usage(srv.chat_requests[0], "")["prompt_tokens"] == u16
    try:
        from agentkit.vision import image_tokens
    except ImportError:
        return
    assert u16 - plain == image_tokens(1280, 720, "16x").total


async def test_usage_function_is_overridable(make: Any) -> None:
    srv, b = make(
        "x", usage_fn=lambda body, text: {"prompt_tokens": 42, "completion_tokens": len(text)}
    )
    final = await complete(b, request())
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (42, 1)


# ---------------------------------------------------------------------------- status faults


async def test_status_faults_map_to_typed_errors(make: Any) -> None:
    srv, b = make(
        HttpError(401, "Unauthorized"),
        HttpError(400, "bad stop_token_ids"),
        ContextLength(prompt_tokens=9100, max_model_len=8192),
        backend_kw={"max_retries": 0},
    )
    with pytest.raises(AuthenticationError):
        await complete(b, request())
    with pytest.raises(BadRequestError, match="bad stop_token_ids"):
        await complete(b, request())
    with pytest.raises(ContextLengthError) as info:
        await complete(b, request())
    assert (info.value.prompt_tokens, info.value.max_model_len) == (9100, 8192)


async def test_wrong_model_and_wrong_key(make: Any) -> None:
    srv, _ = make("unused", api_key="right-key")
    async with OpenAICompatBackend(srv.base_url, "some/other-model", api_key="right-key") as b:
        with pytest.raises(ModelNotFoundError) as info:
            await complete(b, request())
    assert info.value.available == [srv.model]
    async with OpenAICompatBackend(srv.base_url, srv.model, api_key="wrong-key") as b:
        with pytest.raises(AuthenticationError) as auth:
            await complete(b, request())
    assert "wrong-key" not in str(auth.value)
    assert srv.remaining == 1


async def test_overload_retry_after_and_500_recovery(make: Any) -> None:
    srv, b = make(
        HttpError(429, "slow down", retry_after=0.05),
        "after 429",
        HttpError(500),
        HttpError(502, "bad gateway"),
        "after 5xx",
        HttpError(503, "busy", retry_after=999),
        "never reached",
    )
    first = await complete(b, request())
    assert (first.text, first.attempts) == ("after 429", 2)
    second = await complete(b, request())
    assert (second.text, second.attempts) == ("after 5xx", 3)
    start = time.monotonic()
    with pytest.raises(OverloadedError) as info:
        await complete(b, request())
    assert time.monotonic() - start < 1.0 and info.value.retry_after == 999
    assert srv.remaining == 1


async def test_max_model_len_is_enforced_before_taking_a_reply(make: Any) -> None:
    srv, b = make("fits", max_model_len=300)
    with pytest.raises(ContextLengthError) as info:
        await complete(b, request("word " * 400, max_tokens=10))
    assert (
        info.value.max_model_len == 300
        and info.value.prompt_tokens
        and info.value.prompt_tokens > 300
    )
    assert (await complete(b, request("short", max_tokens=10))).text == "fits"


# ---------------------------------------------------------------------------- stream faults


async def test_hang_hits_the_first_token_deadline(make: Any) -> None:
    srv, b = make(Hang(), backend_kw={"first_token_timeout_s": 0.2})
    with pytest.raises(BackendTimeoutError) as info:
        await complete(b, request())
    assert info.value.phase == "first_token"


async def test_stall_hits_the_idle_deadline_and_a_short_stall_recovers(make: Any) -> None:
    srv, b = make(
        Stall(after_chunks=2),
        Stall(after_chunks=2, seconds=0.05),
        backend_kw={"idle_timeout_s": 0.2},
    )
    deltas: list[str] = []
    with pytest.raises(BackendTimeoutError) as info:
        async for item in b.stream(request()):
            if isinstance(item, TextDelta):
                deltas.append(item.text)
    assert info.value.phase == "idle" and deltas == ["a re"]
    assert (await complete(b, request())).text == "a reply that stops halfway"


async def test_cut_no_done_and_in_band_error(make: Any) -> None:
    srv, b = make(
        Cut(after_chunks=2),
        NoDone(),
        NoDone(keep_finish_reason=True),
        InBandError(after_chunks=2, message="engine failed"),
        backend_kw={"max_retries": 0},
    )
    with pytest.raises(StreamInterruptedError, match="cut"):
        await complete(b, request())
    with pytest.raises(StreamInterruptedError, match="finish_reason and"):
        await complete(b, request())
    with pytest.raises(StreamInterruptedError, match=r"without \[DONE\]"):
        await complete(b, request())
    with pytest.raises(ServerError, match="engine failed"):
        await complete(b, request())


async def test_cut_before_any_text_is_retried(make: Any) -> None:
    srv, b = make(Cut(after_chunks=1), "clean")
    final = await complete(b, request())
    assert (final.text, final.attempts) == ("clean", 2)


async def test_garbage_body_is_a_protocol_error(make: Any) -> None:
    srv, b = make(Garbage(), Garbage(body="not json", status=200, content_type="application/json"))
    with pytest.raises(ProtocolError, match="502 Bad Gateway"):
        await complete(b, request())
    with pytest.raises(ProtocolError, match="not json"):
        await complete(b, request())


async def test_killed_server_mid_stream_and_afterwards(make: Any) -> None:
    srv, b = make(Stall(after_chunks=2), backend_kw={"idle_timeout_s": 5})
    agen = b.stream(request())
    first = await agen.__anext__()
    assert first == TextDelta("a re")
    killer = threading.Timer(0.05, srv.kill)
    killer.start()
    with pytest.raises(StreamInterruptedError):
        async for _ in agen:
            pass
    killer.join()
    with pytest.raises(ServerUnavailableError, match="vllm serve"):
        await complete(b, request())


async def test_kill_fault_in_the_script(make: Any) -> None:
    srv, b = make(Kill(), backend_kw={"max_retries": 1})
    with pytest.raises((StreamInterruptedError, ServerUnavailableError)):
        await complete(b, request())
    with pytest.raises(ServerUnavailableError):
        await complete(b, request())


async def test_not_ready_then_ready(make: Any) -> None:
    srv, b = make("loaded", backend_kw={"max_retry_after_s": 0.01, "max_retries": 0})
    srv.inject(NotReady(seconds=0.3))
    with pytest.raises(OverloadedError):
        await complete(b, request())
    async with httpx.AsyncClient() as client:
        assert (await client.get(srv.url + "/health")).status_code == 503
    assert await b.wait_until_ready(3, interval_s=0.05) == [srv.model]
    assert (await complete(b, request())).text == "loaded"


async def test_connection_refused_before_start_then_ready() -> None:
    with LocalServer(["up"], start_delay_s=0.3) as srv:
        async with OpenAICompatBackend(srv.base_url, srv.model) as b:
            with pytest.raises(ServerUnavailableError, match=srv.base_url):
                await complete(b, request())
            await b.wait_until_ready(3, interval_s=0.05)
            assert (await complete(b, request())).text == "up"


async def test_inject_puts_a_fault_ahead_of_the_script(make: Any) -> None:
    srv, b = make("later", backend_kw={"max_retries": 0})
    srv.inject(HttpError(400, "injected"))
    with pytest.raises(BadRequestError, match="injected"):
        await complete(b, request())
    assert (await complete(b, request())).text == "later"


async def test_closing_the_client_stream_drops_the_server_connection(make: Any) -> None:
    srv, b = make(Reply(text="x" * 400, chunk_chars=1, delay_s=0.01))
    agen = b.stream(request())
    assert await agen.__anext__() == TextDelta("x")
    await agen.aclose()
    deadline = time.monotonic() + 2
    while srv.open_connections and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert srv.open_connections == 0


# ---------------------------------------------------------------------------- lifecycle


def test_one_backend_works_across_event_loops() -> None:
    # The sync facade runs each run in a new event loop: nothing may stay pooled in a dead loop.
    with LocalServer(["a", "b"]) as srv:
        b = OpenAICompatBackend(srv.base_url, srv.model)
        texts = [asyncio.run(complete(b, request())).text for _ in range(2)]
        assert texts == ["a", "b"]
        deadline = time.monotonic() + 2
        while srv.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.open_connections == 0
        del b
        gc.collect()  # an unclosed socket would be an (error-level) ResourceWarning here


def test_many_servers_start_and_stop_cleanly() -> None:
    before = threading.active_count()
    start = time.monotonic()
    for _ in range(10):
        with LocalServer(["x"]) as srv:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=1):
                pass
    assert threading.active_count() == before
    assert time.monotonic() - start < 5
    srv.stop()  # idempotent


async def test_async_context_manager_and_health_routes() -> None:
    async with LocalServer([], model="m", server_version="0.22.0") as srv:
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        async with httpx.AsyncClient() as client:
            assert (await client.get(srv.url + "/health")).status_code == 200
            assert (await client.get(srv.url + "/version")).json() == {"version": "0.22.0"}
            models = (await client.get(srv.base_url + "/models")).json()
            assert [m["id"] for m in models["data"]] == ["m"]
            assert (await client.get(srv.url + "/nope")).status_code == 404


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("LocalServer:")]
    assert not leaked
