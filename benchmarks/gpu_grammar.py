"""Real vLLM on the GPU machine: grammar-constrained tool calls, counted and timed.

Run on the GPU machine once `.gpu/run/dev_run.sh` has vLLM serving (BASE_URL and MODEL exported):

    CHAT_TEMPLATE=agentkit/templates/minicpmv46.jinja \\
    BENCH_CMD="python benchmarks/gpu_grammar.py" bash .gpu/run/dev_run.sh main

It needs only the repository on PYTHONPATH and httpx, pydantic and jsonschema (all vLLM deps).
On a fresh machine the server start leaves about 4 minutes of the call: the run stops at
``--budget-s`` (default 480 s, or ``BENCH_BUDGET_S``) and saves after each section, so either pass
``--budget-s 200`` there, or run it again as a second ``dev_run.sh main`` call while the server is
still up (the full run takes roughly 3-5 minutes; estimate, not measured).

What it does, for N random tool sets (default 100, seeded):
  1. Builds the request fields exactly as an agent with ``grammar=GrammarPolicy("always",
     require_call=True)`` would (``structured_outputs: {"regex": ...}``, ``tool_choice: "auto"``;
     client compile time measured) and sends them, non-streaming and streaming.
     A request passes when agentkit's validation (``validate_server_calls`` over the server's
     ``tool_calls`` plus the ``content``) yields exactly one valid call and no error.
  2. Times each constrained request against the same request unconstrained, generating the same
     number of tokens (``ignore_eos`` and ``max_tokens`` = the constrained completion's length):
     first-token time and total time, paired.
  3. Repeats a few constrained requests with the same tool set (the server's grammar cache warm)
     and sends a few grammars as GBNF (``{"grammar": ...}``) to check that form is accepted.

The weights are random (``--load-format dummy``): the model's own choices are noise, so the tool
sets have bounded values (strings with ``maxLength``, bounded integers and arrays). An unbounded
string would rarely be closed by a random model before ``max_tokens``: that is the weights, not
the grammar. Writes JSON to ``$OUT/gpu_grammar.json`` or ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import httpx

from agentkit.backends._base import ServerToolCall
from agentkit.grammar import GrammarPolicy, compile_tool_grammar
from agentkit.parsing import validate_server_calls
from agentkit.tools import Tool, ToolSet

STOP_TOKEN_IDS = [248044, 248046]
WORDS = "open the settings window click button type answer scroll down find save file now".split()
TOOL_NAMES = ["click", "type_text", "scroll", "press_key", "open_app", "drag", "wait", "zoom"]
PARAM_NAMES = ["x", "y", "text", "amount", "key", "mode", "items", "target", "flag", "delay"]


def _noop(args: Any) -> None:
    return None


def random_schema(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(
        ["int", "int", "number", "bool", "enum", "string", "nullable", "array", "object"]
    )
    if kind == "int":
        lo = rng.randint(-100, 100)
        return {"type": "integer", "minimum": lo, "maximum": lo + rng.randint(1, 2000)}
    if kind == "number":
        return {"type": "number", "minimum": -10, "maximum": 10}
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "enum":
        return {
            "enum": rng.sample(
                ["left", "right", "middle", "up", "down", "enter", "tab"], rng.randint(1, 4)
            )
        }
    if kind == "string":
        return {"type": "string", "minLength": rng.randint(0, 2), "maxLength": rng.randint(3, 16)}
    if kind == "nullable":
        return {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 99}, {"type": "null"}]}
    if kind == "array":
        return {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 9},
            "maxItems": 3,
        }
    return {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": 0, "maximum": 9},
            "b": {"type": "boolean"},
        },
        "required": ["a"],
    }


def random_toolset(rng: random.Random) -> ToolSet:
    tools = []
    for name in rng.sample(TOOL_NAMES, rng.randint(1, 4)):
        names = rng.sample(PARAM_NAMES, rng.randint(0, 4))
        props = {n: random_schema(rng) for n in names}
        required = [n for n in names if rng.random() < 0.6]
        schema = {"type": "object", "properties": props, "required": required}
        tools.append(Tool.from_json_schema(name, f"The {name} action.", schema, _noop))
    return ToolSet(tools)


def body(
    model: str,
    tools: ToolSet,
    prompt: str,
    *,
    structured: dict[str, Any] | None,
    stream: bool,
    max_tokens: int,
    ignore_eos: bool = False,
    tool_choice: str = "auto",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "tools": tools.openai_schemas(),
        "tool_choice": tool_choice,
        "temperature": 0.7,
        "max_tokens": max_tokens,
        "stream": stream,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    if not ignore_eos:  # vLLM stops on stop_token_ids even with ignore_eos
        out["stop_token_ids"] = STOP_TOKEN_IDS
    if stream:
        out["stream_options"] = {"include_usage": True}
    if structured is not None:
        out["structured_outputs"] = structured
    if ignore_eos:
        out["ignore_eos"] = True
    return out


async def _sse_lines(resp: httpx.Response) -> Any:
    """SSE lines split on b"\\n" only: a U+2028 inside a JSON string must not end a line."""
    buffer = b""
    async for chunk in resp.aiter_bytes():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8")
    if buffer:
        yield buffer.decode("utf-8")


async def send(client: httpx.AsyncClient, base: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One request; returns content, server tool calls, finish reason, usage, timings or an error."""
    started = time.perf_counter()
    try:
        return await _send(client, base, payload, started)
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        return {
            "error": f"{type(exc).__name__}: {exc}"[:400],
            "total_s": time.perf_counter() - started,
        }


async def _send(
    client: httpx.AsyncClient, base: str, payload: dict[str, Any], started: float
) -> dict[str, Any]:
    url = f"{base}/chat/completions"
    if not payload["stream"]:
        resp = await client.post(url, json=payload)
        elapsed = time.perf_counter() - started
        if resp.status_code != 200:
            return {"error": f"HTTP {resp.status_code}: {resp.text[:400]}", "total_s": elapsed}
        data = resp.json()
        choice = data["choices"][0]
        msg = choice["message"]
        calls = [
            ServerToolCall(c.get("id", ""), c["function"]["name"], c["function"]["arguments"])
            for c in msg.get("tool_calls") or []
        ]
        return {
            "content": msg.get("content") or "",
            "calls": calls,
            "finish_reason": choice.get("finish_reason"),
            "completion_tokens": data.get("usage", {}).get("completion_tokens"),
            "first_token_s": None,
            "total_s": elapsed,
        }
    content: list[str] = []
    partial: dict[int, dict[str, str]] = {}
    finish = None
    usage: dict[str, Any] = {}
    first = None
    async with client.stream("POST", url, json=payload) as resp:
        if resp.status_code != 200:
            text = (await resp.aread()).decode("utf-8", "replace")
            return {
                "error": f"HTTP {resp.status_code}: {text[:400]}",
                "total_s": time.perf_counter() - started,
            }
        async for line in _sse_lines(resp):
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if (delta.get("content") or delta.get("tool_calls")) and first is None:
                    first = time.perf_counter() - started
                if delta.get("content"):
                    content.append(delta["content"])
                for tc in delta.get("tool_calls") or []:
                    slot = partial.setdefault(
                        tc.get("index", 0), {"id": "", "name": "", "arguments": ""}
                    )
                    slot["id"] = tc.get("id") or slot["id"]
                    fn = tc.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["arguments"] += fn.get("arguments") or ""
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
    calls = [ServerToolCall(s["id"], s["name"], s["arguments"]) for _, s in sorted(partial.items())]
    return {
        "content": "".join(content),
        "calls": calls,
        "finish_reason": finish,
        "completion_tokens": usage.get("completion_tokens"),
        "first_token_s": first,
        "total_s": time.perf_counter() - started,
    }


def judge(result: dict[str, Any], tools: ToolSet) -> dict[str, Any]:
    if "error" in result:
        return {"ok": False, "why": result["error"]}
    parsed = validate_server_calls(
        result["calls"], tools, finish_reason=result["finish_reason"], content=result["content"]
    )
    ok = len(parsed.calls) == 1 and not parsed.errors
    return {
        "ok": ok,
        "why": None
        if ok
        else "; ".join(e.message[:200] for e in parsed.errors) or f"{len(parsed.calls)} calls",
        "where": "tool_calls" if result["calls"] else "content",
        "call": {"name": parsed.calls[0].name, "arguments": parsed.calls[0].arguments}
        if parsed.calls
        else None,
    }


def summary(values: list[float]) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    ordered = sorted(values)
    return {
        "n": len(values),
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "max": ordered[-1],
    }


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100, help="random tool sets (requests per mode)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--max-tokens", type=int, default=768)
    ap.add_argument(
        "--budget-s", type=float, default=float(os.environ.get("BENCH_BUDGET_S", "480"))
    )
    ap.add_argument("--out", default=None, help="JSON path (default $OUT/gpu_grammar.json)")
    args = ap.parse_args()
    base = os.environ.get("BASE_URL", "http://127.0.0.1:8000/v1").rstrip("/")
    model = os.environ.get("MODEL", "minicpmv46")
    out_path = Path(args.out or Path(os.environ.get("OUT", ".")) / "gpu_grammar.json")
    deadline = time.monotonic() + args.budget_s
    rng = random.Random(args.seed)
    policy = GrammarPolicy("always", require_call=True)
    cases = []
    for _ in range(args.n):
        tools = random_toolset(rng)
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        t0 = time.perf_counter()
        grammar = compile_tool_grammar(tools, allow_text=False)
        compile_s = time.perf_counter() - t0
        fields = policy.request_fields(tools, after_invalid=False)
        assert fields == {"structured_outputs": grammar.structured_outputs(), "tool_choice": "auto"}
        cases.append((tools, prompt, grammar, compile_s))
    report: dict[str, Any] = {
        "base_url": base,
        "model": model,
        "n": args.n,
        "seed": args.seed,
        "python": platform.python_version(),
        "client_compile_s": summary([c[3] for c in cases]),
        "regex_chars": summary([float(len(c[2].regex)) for c in cases]),
        "modes": {},
        "samples": [],
    }

    def save() -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")

    timeout = httpx.Timeout(120.0, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout) as client:
        # non_stream / stream: what agentkit's policy sends (tool_choice "auto"; the server's
        # qwen3_coder parser may return the call in tool_calls). non_stream_raw: tool_choice
        # "none", so the server leaves the grammar's output in content and agentkit parses it
        # (vLLM renders the tools in the prompt unless --exclude-tools-when-tool-choice-none).
        for label, stream, choice, timed in (
            ("non_stream", False, "auto", True),
            ("stream", True, "auto", True),
            ("non_stream_raw", False, "none", False),
        ):
            passed = 0
            done = 0
            where: dict[str, int] = {}
            finishes: dict[str, int] = {}
            failures: list[dict[str, Any]] = []
            failed_in: dict[str, int] = {}
            pairs: list[dict[str, Any]] = []
            for i, (tools, prompt, grammar, _) in enumerate(cases):
                if time.monotonic() > deadline:
                    break
                constrained = await send(
                    client,
                    base,
                    body(
                        model,
                        tools,
                        prompt,
                        structured=grammar.structured_outputs(),
                        stream=stream,
                        max_tokens=args.max_tokens,
                        tool_choice=choice,
                    ),
                )
                verdict = judge(constrained, tools)
                done += 1
                passed += verdict["ok"]
                if verdict.get("where"):
                    where[verdict["where"]] = where.get(verdict["where"], 0) + 1
                finishes[str(constrained.get("finish_reason"))] = (
                    finishes.get(str(constrained.get("finish_reason")), 0) + 1
                )
                if not verdict["ok"] and len(failures) < 10:
                    failures.append(
                        {
                            "i": i,
                            "why": verdict["why"],
                            "content": constrained.get("content", "")[:600],
                            "server_calls": [
                                {"name": c.name, "arguments": c.arguments[:300]}
                                for c in constrained.get("calls", [])
                            ],
                        }
                    )
                if not verdict["ok"]:
                    failed_in[str(verdict.get("where"))] = (
                        failed_in.get(str(verdict.get("where")), 0) + 1
                    )
                if len(report["samples"]) < 6:
                    report["samples"].append(
                        {
                            "mode": label,
                            "content": constrained.get("content", "")[:600],
                            "verdict": verdict,
                        }
                    )
                tokens = constrained.get("completion_tokens")
                if tokens and timed:
                    free = await send(
                        client,
                        base,
                        body(
                            model,
                            tools,
                            prompt,
                            structured=None,
                            stream=stream,
                            max_tokens=int(tokens),
                            ignore_eos=True,
                        ),
                    )
                    if "error" not in free:
                        pairs.append(
                            {
                                "tokens": tokens,
                                "free_tokens": free.get("completion_tokens"),
                                "constrained_total_s": constrained["total_s"],
                                "free_total_s": free["total_s"],
                                "constrained_first_s": constrained.get("first_token_s"),
                                "free_first_s": free.get("first_token_s"),
                            }
                        )
            report["modes"][label] = {
                "requests": done,
                "valid_calls": passed,
                "found_in": where,
                "failed_in": failed_in,
                "finish_reasons": finishes,
                "failures": failures,
                "timing_pairs": len(pairs),
                "constrained_total_s": summary([p["constrained_total_s"] for p in pairs]),
                "unconstrained_total_s": summary([p["free_total_s"] for p in pairs]),
                "extra_total_s_per_request": summary(
                    [p["constrained_total_s"] - p["free_total_s"] for p in pairs]
                ),
                "extra_ms_per_token": summary(
                    [
                        1000 * (p["constrained_total_s"] - p["free_total_s"]) / p["tokens"]
                        for p in pairs
                    ]
                ),
                "tokens": summary([float(p["tokens"]) for p in pairs]),
                "constrained_first_token_s": summary([p["constrained_first_s"] for p in pairs])
                if stream
                else None,
                "unconstrained_first_token_s": summary([p["free_first_s"] for p in pairs])
                if stream
                else None,
            }
            save()
        # The same grammar again: vLLM caches compiled grammars, so this isolates compile cost.
        warm: list[float] = []
        cold: list[float] = []
        for _tools, prompt, _grammar, _ in cases[:10]:
            if time.monotonic() > deadline:
                break
            fresh_tools = random_toolset(random.Random(zlib.crc32(prompt.encode())))
            fresh = compile_tool_grammar(fresh_tools, allow_text=False)
            r1 = await send(
                client,
                base,
                body(
                    model,
                    fresh_tools,
                    prompt,
                    structured=fresh.structured_outputs(),
                    stream=True,
                    max_tokens=args.max_tokens,
                ),
            )
            r2 = await send(
                client,
                base,
                body(
                    model,
                    fresh_tools,
                    prompt,
                    structured=fresh.structured_outputs(),
                    stream=True,
                    max_tokens=args.max_tokens,
                ),
            )
            if r1.get("first_token_s") and r2.get("first_token_s"):
                cold.append(r1["first_token_s"])
                warm.append(r2["first_token_s"])
        report["grammar_cache"] = {
            "first_token_s_first_use": summary(cold),
            "first_token_s_repeat": summary(warm),
        }
        # GBNF form: does this server accept {"grammar": ...}?
        ebnf_ok = 0
        ebnf_done = 0
        ebnf_errors: list[str] = []
        for tools, prompt, _, _ in cases[:10]:
            if time.monotonic() > deadline:
                break
            grammar = compile_tool_grammar(tools, allow_text=False, form="ebnf")
            r = await send(
                client,
                base,
                body(
                    model,
                    tools,
                    prompt,
                    structured=grammar.structured_outputs(),
                    stream=False,
                    max_tokens=args.max_tokens,
                ),
            )
            ebnf_done += 1
            verdict = judge(r, tools)
            ebnf_ok += verdict["ok"]
            if not verdict["ok"] and len(ebnf_errors) < 3:
                ebnf_errors.append(str(verdict["why"])[:400])
        report["ebnf"] = {"requests": ebnf_done, "valid_calls": ebnf_ok, "errors": ebnf_errors}
        report["finished_within_budget"] = time.monotonic() <= deadline
        save()
    print(
        json.dumps(
            {k: report[k] for k in ("modes", "ebnf", "grammar_cache")}, indent=1, default=str
        )[:6000]
    )
    print(f"wrote {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
