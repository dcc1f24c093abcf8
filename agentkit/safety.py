"""The safety layer: what may run, what needs a person's yes, what is only recorded, what is hidden.

Nothing that reads the screen decides on its own to do something harmful; this module does. The
loop asks :meth:`SafetyPolicy.review` about every validated call before running it, and gets a
:class:`Verdict`:

- ``"refuse"``: the call is not run; the verdict's reason is sent to the model and recorded;
- ``"dry_run"``: the call is recorded and described, not performed;
- ``"run"``: the call runs.

The rules, in order: the deny list wins; a tool outside the allow list is refused; in dry-run mode
every tool that is not read-only is only recorded; a destructive call runs only when the confirmer
says yes in time (no confirmer, a "no", an error or a timeout all refuse).

Secrets registered with the policy are replaced by ``[secret]`` in anything passed through
:meth:`SafetyPolicy.redact` / :meth:`SafetyPolicy.redact_obj` (the loop redacts model-visible text,
events and the trajectory).

A :class:`KillSwitch` is the one stop signal that ``Agent.stop()``, SIGINT and a keyboard
combination (see the desktop tool pack) all trip.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from agentkit.errors import ConfigurationError
from agentkit.tools import Risk, ToolCall

__all__ = [
    "Confirmer",
    "KillSwitch",
    "RiskRule",
    "SafetyPolicy",
    "Verdict",
]

#: ``(call) -> bool``, sync or async: True allows a destructive call. The REPL's prompt is one.
Confirmer = Callable[[ToolCall], bool | Awaitable[bool]]
#: ``(call) -> Risk | None``: a risk that depends on the arguments (e.g. a key combination);
#: None keeps the tool's declared risk. A rule can only raise the risk, never lower it.
RiskRule = Callable[[ToolCall], Risk | None]

_RISK_ORDER = {Risk.READ_ONLY: 0, Risk.REVERSIBLE: 1, Risk.DESTRUCTIVE: 2}
SECRET_MARK = "[secret]"


@dataclass(frozen=True)
class Verdict:
    """The policy's answer about one call.

    Attributes:
        decision: ``"run"``, ``"refuse"`` or ``"dry_run"``.
        reason: plain text saying why; shown to the model and recorded in the trajectory.
    """

    decision: Literal["run", "refuse", "dry_run"]
    reason: str

    @property
    def allowed(self) -> bool:
        """True when the call may run for real."""
        return self.decision == "run"


def _risk_of(value: Any) -> Risk:
    try:
        return Risk(value)
    except ValueError:
        return Risk.DESTRUCTIVE  # an unknown risk is treated as the worst


class SafetyPolicy:
    """Decides, for each validated call, whether it runs, is refused or is only recorded.

    Example:
        ```python
        def ask(call):
            return input(f"Allow {call.name}({call.arguments})? [y/N] ").strip() == "y"

        policy = SafetyPolicy(confirmer=ask, deny=["delete_file"], secrets=[password])
        agent = Agent(tools=..., safety=policy)
        ```

    Args:
        confirmer: called for destructive calls; returns (or resolves to) True to allow. Sync
            confirmers run in a worker thread so a blocking prompt does not stall the loop.
        confirm_timeout_s: how long to wait for the confirmer; no answer in time means no.
        allow: tool names that may run; None allows every tool.
        deny: tool names that never run (wins over ``allow``).
        dry_run: record and describe every call that is not read-only instead of performing it.
        secrets: strings that must appear nowhere (logs, trajectory, model-visible text).
        rules: argument-dependent risk rules (e.g. the desktop pack's ``risk_rule`` that makes
            ``ctrl+alt+delete`` destructive); the highest of the declared risk and the rules wins.

    Raises:
        ConfigurationError: a non-positive timeout, a non-string tool name or secret.
    """

    def __init__(
        self,
        *,
        confirmer: Confirmer | None = None,
        confirm_timeout_s: float = 60.0,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] = (),
        dry_run: bool = False,
        secrets: Iterable[str] = (),
        rules: Iterable[RiskRule] = (),
    ) -> None:
        if not confirm_timeout_s > 0:
            raise ConfigurationError(
                f"confirm_timeout_s must be a positive number of seconds, not {confirm_timeout_s!r}"
            )
        self.confirmer = confirmer
        self.confirm_timeout_s = float(confirm_timeout_s)
        self.allow: frozenset[str] | None = None if allow is None else _names(allow, "allow")
        self.deny: frozenset[str] = _names(deny, "deny")
        self.dry_run = dry_run
        self.rules: tuple[RiskRule, ...] = tuple(rules)
        self._secrets: list[str] = []
        self._forms: list[str] = []
        for secret in secrets:
            self.add_secret(secret)

    # ------------------------------------------------------------------ decisions

    def risk_of(self, call: ToolCall) -> Risk:
        """The call's effective risk: the tool's declared risk, raised by any matching rule.

        Rules come from ``rules=`` and from the tool itself: a tool whose function has a
        ``risk_rule`` attribute (a :data:`RiskRule`) carries its own argument-dependent risk, as
        the desktop pack's key tools do. A rule that raises makes the call destructive (fail
        closed).
        """
        risk = _risk_of(getattr(call.tool, "risk", Risk.DESTRUCTIVE))
        rules = list(self.rules)
        own = getattr(getattr(call.tool, "function", None), "risk_rule", None)
        if callable(own):
            rules.append(own)
        for rule in rules:
            try:
                found = rule(call)
            except Exception:  # noqa: BLE001 - a broken rule must not let a call through
                found = Risk.DESTRUCTIVE
            if found is not None and _RISK_ORDER[_risk_of(found)] > _RISK_ORDER[risk]:
                risk = _risk_of(found)
        return risk

    async def review(self, call: ToolCall) -> Verdict:
        """Decide what happens to ``call``; never raises for a confirmer's failure.

        Returns:
            A :class:`Verdict` whose reason is plain text for the model and the trajectory.
        """
        name = call.name
        if name in self.deny:
            return Verdict("refuse", f"the tool {name!r} is on this agent's deny list")
        if self.allow is not None and name not in self.allow:
            allowed = ", ".join(sorted(self.allow)) or "none"
            return Verdict(
                "refuse",
                f"the tool {name!r} is not on this agent's allow list (allowed: {allowed})",
            )
        risk = self.risk_of(call)
        if self.dry_run:
            if risk is Risk.READ_ONLY:
                return Verdict("run", "read-only tool: runs even in dry-run mode")
            return Verdict(
                "dry_run", f"dry-run mode: the {risk.value} call {name!r} is only recorded"
            )
        if risk is not Risk.DESTRUCTIVE:
            return Verdict("run", f"{risk.value} tool")
        return await self._confirm(call)

    async def _confirm(self, call: ToolCall) -> Verdict:
        name = call.name
        if self.confirmer is None:
            return Verdict(
                "refuse",
                f"{name!r} is a destructive action and needs a person's confirmation, but no "
                "confirmer is configured",
            )
        try:
            answer = await asyncio.wait_for(self._ask(call), timeout=self.confirm_timeout_s)
        except TimeoutError:
            return Verdict(
                "refuse",
                f"{name!r} is a destructive action and the confirmation got no answer within "
                f"{self.confirm_timeout_s:g} s",
            )
        except Exception as exc:  # noqa: BLE001 - a failing confirmer means no
            return Verdict(
                "refuse",
                f"{name!r} is a destructive action and the confirmation failed "
                f"({type(exc).__name__})",
            )
        if answer is True:
            return Verdict("run", f"destructive action {name!r} confirmed")
        return Verdict("refuse", f"{name!r} is a destructive action and the confirmation said no")

    async def _ask(self, call: ToolCall) -> bool:
        confirmer = self.confirmer
        assert confirmer is not None
        if inspect.iscoroutinefunction(confirmer):
            result: Any = await confirmer(call)
        else:
            # A blocking prompt runs in a thread; on timeout the thread is left to finish on its
            # own and its late answer is ignored. An async callable object returns a coroutine
            # from there, awaited here.
            result = await asyncio.to_thread(confirmer, call)
            if inspect.isawaitable(result):
                result = await result
        return result is True

    # ------------------------------------------------------------------ secrets

    def add_secret(self, secret: str) -> None:
        """Register a string to hide; empty strings are ignored.

        Raises:
            ConfigurationError: ``secret`` is not a string.
        """
        if not isinstance(secret, str):
            raise ConfigurationError(f"secrets must be strings, got {type(secret).__name__}")
        if not secret or secret in self._secrets:
            return
        self._secrets.append(secret)
        forms = {secret}
        # How the secret looks inside JSON text (a trajectory line, a tool's JSON output).
        for ensure_ascii in (False, True):
            forms.add(json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1])
        # Longest first, so a secret that contains another is hidden whole.
        self._forms = sorted(set(self._forms) | forms, key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with every registered secret (and its JSON-escaped forms) replaced."""
        if not self._forms or not isinstance(text, str):
            return text
        for form in self._forms:
            if form in text:
                text = text.replace(form, SECRET_MARK)
        return text

    def redact_obj(self, obj: Any) -> Any:
        """A copy of ``obj`` with secrets replaced in every string, dict key included.

        Dicts, lists and tuples are walked (tuples come back as tuples); other values are
        returned as they are.
        """
        if not self._forms:
            return obj
        return self._walk(obj, 0)

    def _walk(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, str):
            return self.redact(obj)
        if depth > 200:  # deeper than any JSON we write; do not recurse without bound
            return obj
        if isinstance(obj, dict):
            return {self._walk(k, depth + 1): self._walk(v, depth + 1) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._walk(v, depth + 1) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._walk(v, depth + 1) for v in obj)
        return obj

    def __repr__(self) -> str:
        # Never show the secrets themselves.
        allow = "all" if self.allow is None else sorted(self.allow)
        return (
            f"SafetyPolicy(confirmer={'yes' if self.confirmer else 'none'}, allow={allow}, "
            f"deny={sorted(self.deny)}, dry_run={self.dry_run}, secrets={len(self._secrets)})"
        )


def _names(names: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(names, str):
        names = [names]
    out = frozenset(names)
    bad = [n for n in out if not isinstance(n, str)]
    if bad:
        raise ConfigurationError(f"{what} must list tool names (strings), got {bad[0]!r}")
    return out


class KillSwitch:
    """A one-way stop signal, safe to trip from any thread or a signal handler.

    ``Agent.stop()``, SIGINT and the desktop pack's key-combination listener all trip the same
    switch; the loop and long-running tools watch it. Callbacks registered with
    :meth:`on_trip` run once per trip, in the tripping thread (the desktop pack releases held
    keys there); :meth:`reset` arms the switch again for the next run.

    Example:
        ```python
        switch = KillSwitch()
        threading.Timer(5, switch.trip, args=("time is up",)).start()
        await switch.wait_async()
        ```
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._callbacks: list[Callable[[str], Any]] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def tripped(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        """The first reason given to :meth:`trip`, or None while not tripped."""
        return self._reason

    def trip(self, reason: str = "stopped") -> None:
        """Trip the switch (idempotent: the first reason is kept, callbacks run once)."""
        with self._lock:
            if self._event.is_set():
                return
            self._reason = reason
            self._event.set()
            callbacks = list(self._callbacks)
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # that loop is closed; nobody waits there any more
                pass
        for callback in callbacks:
            try:
                callback(reason)
            except Exception:  # noqa: BLE001 - one failing callback must not block the others
                pass

    def reset(self) -> None:
        """Arm the switch again (for the next run); registered callbacks are kept."""
        with self._lock:
            self._event.clear()
            self._reason = None

    def on_trip(self, callback: Callable[[str], Any]) -> None:
        """Run ``callback(reason)`` each time the switch trips (at once if it is tripped now)."""
        with self._lock:
            self._callbacks.append(callback)
            if not self._event.is_set():
                return
            reason = self._reason or "stopped"
        callback(reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until tripped or ``timeout`` seconds; True when tripped."""
        return self._event.wait(timeout)

    async def wait_async(self, timeout: float | None = None) -> bool:
        """Wait without blocking the event loop; True when tripped, False on timeout."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._event.is_set():
                return True
            self._waiters.append((loop, fut))
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            return False
        finally:
            with self._lock:
                if (loop, fut) in self._waiters:
                    self._waiters.remove((loop, fut))
        return True

    def __repr__(self) -> str:
        state = f"tripped: {self._reason}" if self.tripped else "armed"
        return f"KillSwitch({state})"


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
