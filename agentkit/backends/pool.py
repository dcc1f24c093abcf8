"""Several replicas of one model behind one backend: health checks, least-outstanding choice and
failover.

A vLLM deployment scales out either with data parallelism inside one server
(``vllm serve --data-parallel-size N``: one URL, nothing to do here) or with several servers, each
on its own GPU(s), with or without a router in front. ``EndpointPool`` is the client side of the
second case: give it every replica's base URL (or backends) and it spreads the agents' requests
over them, sending each request to the healthy replica with the fewest requests in flight.

Failover is safe because a model request has no side effect: a request that fails before any of
its output reached the caller is sent to the next replica. Once text has streamed, an error is
raised as is (the loop may repeat the turn, since none of its calls has run).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentkit.backends._base import Backend, ModelRequest, StreamItem, TextDelta
from agentkit.errors import (
    BackendError,
    BackendTimeoutError,
    ConfigurationError,
    ModelNotFoundError,
    OverloadedError,
    ServerError,
    ServerUnavailableError,
    StreamInterruptedError,
)

__all__ = ["Endpoint", "EndpointPool"]

# Errors after which another replica may well succeed with the same request.
_FAILOVER = (
    ServerUnavailableError,
    ServerError,
    OverloadedError,
    BackendTimeoutError,
    StreamInterruptedError,
    ModelNotFoundError,
)


@dataclass
class Endpoint:
    """One replica and what the pool knows of it."""

    backend: Backend
    name: str
    outstanding: int = 0
    healthy: bool = True
    down_until: float = 0.0
    failures: int = 0
    served: int = 0
    last_error: str = field(default="", repr=False)

    def available(self, now: float) -> bool:
        return self.healthy or now >= self.down_until


class EndpointPool:
    """A :class:`~agentkit.backends.Backend` over several replicas of the same model.

    Args:
        endpoints: backends, or base URLs (each becomes an ``OpenAICompatBackend`` sharing
            ``http_client`` when given).
        cooldown_s: how long a failed replica is skipped before it is tried again.
        model: the model name (taken from the first backend when omitted).
        http_client: one ``httpx.AsyncClient`` for every URL endpoint (one connection pool).
        **backend_kw: passed to ``OpenAICompatBackend`` for URL endpoints.

    Example:
        >>> pool = EndpointPool(["http://gpu1:8000/v1", "http://gpu2:8000/v1"])  # doctest: +SKIP
        >>> agent = Agent(pool, tools=[...])                                       # doctest: +SKIP
    """

    def __init__(
        self,
        endpoints: Sequence[Backend | str],
        *,
        cooldown_s: float = 10.0,
        model: str | None = None,
        http_client: Any = None,
        **backend_kw: Any,
    ) -> None:
        if not endpoints:
            raise ConfigurationError(
                "EndpointPool needs at least one endpoint (a base URL or a backend)"
            )
        self.endpoints: list[Endpoint] = []
        for i, ep in enumerate(endpoints):
            if isinstance(ep, str):
                from agentkit.backends.openai_compat import OpenAICompatBackend

                backend: Backend = OpenAICompatBackend(
                    ep, model, http_client=http_client, **backend_kw
                )
                name = ep
            else:
                backend, name = ep, getattr(ep, "base_url", f"endpoint-{i}")
            self.endpoints.append(Endpoint(backend, str(name)))
        self.cooldown_s = cooldown_s
        self.model = model or str(getattr(self.endpoints[0].backend, "model", ""))

    def _choose(self, exclude: set[int]) -> Endpoint | None:
        now = time.monotonic()
        candidates = [
            (ep.outstanding, ep.failures, i)
            for i, ep in enumerate(self.endpoints)
            if i not in exclude and ep.available(now)
        ]
        if not candidates:
            # every replica is cooling down: try the one that failed longest ago anyway
            rest = [(ep.down_until, i) for i, ep in enumerate(self.endpoints) if i not in exclude]
            if not rest:
                return None
            return self.endpoints[min(rest)[1]]
        return self.endpoints[min(candidates)[2]]

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        tried: set[int] = set()
        last: BackendError | None = None
        while True:
            ep = self._choose(tried)
            if ep is None:
                assert last is not None
                raise last
            index = self.endpoints.index(ep)
            tried.add(index)
            ep.outstanding += 1
            yielded = False
            try:
                async with contextlib.aclosing(ep.backend.stream(request)) as items:  # type: ignore[type-var]
                    async for item in items:
                        if isinstance(item, TextDelta):
                            yielded = True
                        yield item
                ep.healthy, ep.failures = True, 0
                ep.served += 1
                return
            except _FAILOVER as exc:
                self._mark_down(ep, exc)
                if yielded:
                    raise
                last = exc
            finally:
                ep.outstanding -= 1

    def _mark_down(self, ep: Endpoint, exc: BackendError) -> None:
        ep.healthy = False
        ep.failures += 1
        ep.down_until = time.monotonic() + self.cooldown_s
        ep.last_error = str(exc)

    async def check_health(self, timeout_s: float = 2.0) -> dict[str, bool]:
        """Probe every replica (``wait_until_ready`` where the backend has it); update the pool."""

        async def probe(ep: Endpoint) -> bool:
            wait = getattr(ep.backend, "wait_until_ready", None)
            if wait is None:
                return ep.healthy
            try:
                await wait(timeout_s, interval_s=min(0.2, timeout_s / 2))
            except BackendError as exc:
                self._mark_down(ep, exc)
                return False
            ep.healthy, ep.failures, ep.down_until = True, 0, 0.0
            return True

        results = await asyncio.gather(*(probe(ep) for ep in self.endpoints))
        return {ep.name: ok for ep, ok in zip(self.endpoints, results, strict=True)}

    def stats(self) -> list[dict[str, Any]]:
        """Per replica: requests in flight, served, failures, health."""
        return [
            {
                "name": ep.name,
                "outstanding": ep.outstanding,
                "served": ep.served,
                "failures": ep.failures,
                "healthy": ep.healthy,
                "last_error": ep.last_error,
            }
            for ep in self.endpoints
        ]

    async def aclose(self) -> None:
        for ep in self.endpoints:
            close = getattr(ep.backend, "aclose", None)
            if close is not None:
                await close()
