"""Settings, resolved once at the edge: explicit argument > ``AGENTKIT_*`` environment > config file.

==========================  =========================  ==========================================
field                       environment variable       config file key (TOML, top level)
==========================  =========================  ==========================================
base_url                    AGENTKIT_BASE_URL          base_url
model                       AGENTKIT_MODEL             model
api_key                     AGENTKIT_API_KEY           api_key
...                         AGENTKIT_<FIELD>           <field>
==========================  =========================  ==========================================

The config file is ``config_path`` if given, else ``$AGENTKIT_CONFIG``, else
``$XDG_CONFIG_HOME/agentkit/config.toml`` (``~/.config/agentkit/config.toml``) when it exists.
Library code never reads ``os.environ`` anywhere else: :meth:`Settings.resolve` is the one place.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

from agentkit.errors import ConfigurationError

__all__ = ["DEFAULT_MODEL", "Settings"]

DEFAULT_MODEL = "openbmb/MiniCPM-V-4.6"
ENV_PREFIX = "AGENTKIT_"

ToolMode = Literal["request", "prompt"]
ModeSetting = Literal["auto", "16x", "4x"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "tool_mode": ("request", "prompt"),
    "mode": ("auto", "16x", "4x"),
}
# Fields that must be > 0 and fields that must be >= 0.
_POSITIVE = {
    "connect_timeout_s",
    "first_token_timeout_s",
    "idle_timeout_s",
    "total_timeout_s",
    "max_tokens",
    "max_slice_nums",
}
_NON_NEGATIVE = {"max_retries", "max_retry_after_s", "retry_backoff_s", "temperature"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything configurable about how agentkit reaches and drives the model.

    Attributes:
        base_url: the OpenAI-compatible server, e.g. ``"http://127.0.0.1:8000/v1"``; ``None``
            means the embedded engine.
        model: the served model name.
        api_key: the server's API key (never shown by ``repr`` or :meth:`to_dict`).
        connect_timeout_s: TCP connect deadline.
        first_token_timeout_s: deadline from sending a request to the first streamed chunk.
        idle_timeout_s: longest allowed silence between two streamed chunks.
        total_timeout_s: optional deadline for a whole model turn (``None``: none).
        max_retries: retries of a failed request (5xx, 429/503, stream cut before any text).
        max_retry_after_s: longest ``Retry-After`` honoured; a longer one fails at once.
        retry_backoff_s: first backoff between retries (doubles each time).
        tool_mode: ``"request"`` (tools in the request, the server's template renders them) or
            ``"prompt"`` (agentkit renders them into the system message).
        mode: MiniCPM-V ``downsample_mode`` policy: ``"auto"``, ``"16x"`` or ``"4x"``.
        max_slice_nums: slices per image; ``None`` leaves the server default (9).
        trajectory_dir: parent directory of run directories.
        temperature: sampling temperature (0 for tool calls).
        max_tokens: completion token cap per model turn.
        enable_thinking: the chat template's ``enable_thinking`` switch.
        server_version: the vLLM version of the server, e.g. ``"0.33"``. ``max_slice_nums`` is sent
            per request only to a server known to be >= 0.33 (vLLM 0.22 dies on it).
    """

    base_url: str | None = None
    model: str = DEFAULT_MODEL
    api_key: str | None = None
    connect_timeout_s: float = 5.0
    first_token_timeout_s: float = 60.0
    idle_timeout_s: float = 30.0
    total_timeout_s: float | None = None
    max_retries: int = 3
    max_retry_after_s: float = 30.0
    retry_backoff_s: float = 0.5
    tool_mode: ToolMode = "request"
    mode: ModeSetting = "auto"
    max_slice_nums: int | None = None
    trajectory_dir: Path = field(default_factory=lambda: Path("runs"))
    temperature: float = 0.0
    max_tokens: int = 1024
    enable_thinking: bool = False
    server_version: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            checked = _check(f.name, value, "argument")
            if checked is not value:
                object.__setattr__(self, f.name, checked)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"Settings({shown})"

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-compatible values, with the API key redacted."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key" and value is not None:
                value = "***"
            elif isinstance(value, Path):
                value = str(value)
            out[f.name] = value
        return out

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated like the original)."""
        return dataclasses.replace(self, **changes)

    @property
    def sends_max_slice_nums(self) -> bool:
        """Whether ``max_slice_nums`` may go in a request: only to vLLM known to be >= 0.33."""
        return server_version_at_least(self.server_version, (0, 33))

    @classmethod
    def resolve(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        config_path: Path | str | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from (highest first) ``overrides``, ``AGENTKIT_*`` variables, a config file.

        Args:
            env: the environment to read; ``None`` reads ``os.environ`` (the only place agentkit
                does). Pass a dict in tests.
            config_path: a TOML file; overrides ``$AGENTKIT_CONFIG`` and the default location.
            **overrides: field values; ``None`` means "not given" and falls through.

        Raises:
            ConfigurationError: an unknown field, a value of the wrong type or out of range, or
                an unreadable config file; the message names the source and the fix.
        """
        environ: Mapping[str, str] = os.environ if env is None else env
        names = {f.name: f for f in fields(cls)}
        for key in overrides:
            if key not in names:
                raise ConfigurationError(f"unknown setting {key!r}{_suggest(key, names)}")

        values: dict[str, Any] = {}
        path = _config_file(environ, config_path)
        if path is not None:
            source = f"config file {path}"
            for key, raw in _read_toml(path).items():
                if key not in names:
                    raise ConfigurationError(
                        f"{source}: unknown key {key!r}{_suggest(key, names)}; "
                        f"valid keys: {', '.join(sorted(names))}"
                    )
                values[key] = _check(key, raw, source)
        for name in names:
            var = ENV_PREFIX + name.upper()
            if var in environ:
                values[name] = _check(
                    name, _from_env(name, environ[var], var), f"environment {var}"
                )
        for name, value in overrides.items():
            if value is not None:
                values[name] = _check(name, value, "argument")
        return cls(**values)


def server_version_at_least(version: str | None, minimum: tuple[int, int]) -> bool:
    """Whether a version string like ``"0.33.1"`` is at least ``minimum``; unknown -> False."""
    if not version:
        return False
    parts: list[int] = []
    for piece in version.strip().lstrip("v").split(".")[:2]:
        digits = ""
        for ch in piece:
            if not ch.isascii() or not ch.isdigit():
                break
            digits += ch
        if not digits:
            return False
        parts.append(int(digits))
    while len(parts) < 2:
        parts.append(0)
    return (parts[0], parts[1]) >= minimum


def _config_file(environ: Mapping[str, str], explicit: Path | str | None) -> Path | None:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"config file {path} does not exist (passed as config_path)")
        return path
    named = environ.get(ENV_PREFIX + "CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigurationError(
                f"config file {path} does not exist (named by AGENTKIT_CONFIG); "
                "create it or unset AGENTKIT_CONFIG"
            )
        return path
    base = environ.get("XDG_CONFIG_HOME")
    if not base and environ.get("HOME"):
        base = str(Path(environ["HOME"]) / ".config")
    if not base:
        return None
    default = Path(base) / "agentkit" / "config.toml"
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigurationError(f"config file {path} cannot be read: {exc}") from exc


def _from_env(name: str, raw: str, var: str) -> Any:
    """Turn an environment string into the field's type (validation follows in ``_check``)."""
    text = raw.strip()
    kind = _KINDS[name]
    optional = name in _OPTIONAL
    if optional and text.lower() in {"", "none", "null"}:
        return None
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigurationError(f"environment {var}={raw!r}: expected true or false")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigurationError(f"environment {var}={raw!r}: expected an integer") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigurationError(f"environment {var}={raw!r}: expected a number") from None
    return text


_KINDS: dict[str, type] = {
    "base_url": str,
    "model": str,
    "api_key": str,
    "connect_timeout_s": float,
    "first_token_timeout_s": float,
    "idle_timeout_s": float,
    "total_timeout_s": float,
    "max_retries": int,
    "max_retry_after_s": float,
    "retry_backoff_s": float,
    "tool_mode": str,
    "mode": str,
    "max_slice_nums": int,
    "trajectory_dir": Path,
    "temperature": float,
    "max_tokens": int,
    "enable_thinking": bool,
    "server_version": str,
}
_OPTIONAL = {"base_url", "api_key", "total_timeout_s", "max_slice_nums", "server_version"}


def _check(name: str, value: Any, source: str) -> Any:
    """Validate (and lightly normalise) one value; raise naming the source on a bad one."""
    kind = _KINDS[name]
    where = f"{source}: {name}"
    if value is None:
        if name in _OPTIONAL:
            return None
        raise ConfigurationError(f"{where} must not be empty")
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigurationError(f"{where}={value!r}: expected true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"{where}={value!r}: expected an integer")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigurationError(f"{where}={value!r}: expected a number of seconds or a float")
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigurationError(f"{where}={value!r}: expected a finite number")
        value = float(value)
    elif kind is Path:
        if not isinstance(value, (str, Path)) or not str(value):
            raise ConfigurationError(f"{where}={value!r}: expected a directory path")
        return Path(value)
    elif not isinstance(value, str):
        raise ConfigurationError(f"{where}={value!r}: expected a string")

    if name in _POSITIVE and value <= 0:
        raise ConfigurationError(f"{where}={value!r}: must be greater than 0")
    if name in _NON_NEGATIVE and value < 0:
        raise ConfigurationError(f"{where}={value!r}: must not be negative")
    if name in _CHOICES and value not in _CHOICES[name]:
        allowed = " or ".join(repr(c) for c in _CHOICES[name])
        raise ConfigurationError(f"{where}={value!r}: must be {allowed}")
    if name == "base_url":
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"{where}={value!r}: must start with http:// or https://, "
                "e.g. http://127.0.0.1:8000/v1"
            )
    if name == "model" and not value.strip():
        raise ConfigurationError(f"{where} must not be empty (e.g. {DEFAULT_MODEL!r})")
    if name == "server_version" and not server_version_at_least(value, (0, 0)):
        raise ConfigurationError(f"{where}={value!r}: expected a version like '0.33'")
    return value


def _suggest(key: str, names: Mapping[str, Any]) -> str:
    close = get_close_matches(key, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
