"""Tools: typed functions the model may call, with a JSON schema and strict validation.

A tool is built from a function signature (:func:`tool`), a Pydantic model (:meth:`Tool.from_model`)
or a raw JSON schema (:meth:`Tool.from_json_schema`). Whatever its origin it exposes a plain,
reference-free ``parameters`` schema, validates already-typed JSON values strictly (``"yes"`` is not a
boolean, ``"3"`` is not an integer) and raises model-facing :class:`~agentkit.errors.ToolCallError`
subclasses whose message ends with the tool's signature.
"""

from __future__ import annotations

import asyncio
import copy
import enum
import functools
import inspect
import json
import re
import typing
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, overload

import pydantic
from pydantic.fields import FieldInfo
from pydantic.json_schema import PydanticJsonSchemaWarning

from agentkit.errors import (
    ToolDefinitionError,
)
from agentkit.tools._arguments import (
    Issue,
    integral_floats_to_int,
    json_problem,
    kind_of_value,
    pydantic_issues,
    raise_issues,
    schema_issues,
)
from agentkit.tools._context import RunContext
from agentkit.tools._docstrings import parse_docstring
from agentkit.tools._schema import inline_refs, signature_text

__all__ = ["NAME_PATTERN", "RESERVED_NAMES", "Risk", "Tool", "tool"]

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
#: Names agentkit uses itself (the structured-output tool); users cannot register them.
RESERVED_NAMES: frozenset[str] = frozenset({"final_result"})

_CallStyle = Literal["kwargs", "model", "dict"]


class Risk(enum.StrEnum):
    """How much harm a call can do; the safety policy decides what needs confirmation."""

    READ_ONLY = "read_only"
    REVERSIBLE = "reversible"
    DESTRUCTIVE = "destructive"


# --------------------------------------------------------------------------- definition helpers


def _origin_of(fn: Any) -> str:
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qualname}"


def _check_name(name: Any, allow_reserved: bool) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ToolDefinitionError(
            f"Invalid tool name {name!r}: use 1-64 characters, letters, digits, '_' or '-', "
            "not starting with a digit or '-' (pattern ^[A-Za-z_][A-Za-z0-9_\\-]{0,63}$)."
        )
    if name in RESERVED_NAMES and not allow_reserved:
        reserved = ", ".join(sorted(RESERVED_NAMES))
        raise ToolDefinitionError(
            f"Tool name {name!r} is reserved by agentkit (reserved names: {reserved}); "
            "pick another name, e.g. @tool(name='my_result')."
        )
    return name


def _is_context_annotation(annotation: Any) -> bool:
    if annotation is RunContext:
        return True
    return typing.get_origin(annotation) is RunContext


def _call_target(fn: Any) -> Any:
    """The function whose annotations describe a call of ``fn`` (callable objects: ``__call__``)."""
    if isinstance(fn, functools.partial):
        return _call_target(fn.func)
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return fn
    for klass in type(fn).__mro__[:-1]:  # a callable object: its class's __call__
        if "__call__" in klass.__dict__:
            return klass.__dict__["__call__"]
    return fn


def _type_hints(fn: Any, origin: str) -> dict[str, Any]:
    target = _call_target(fn)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for forward references, TypeError for odd objects
        raise ToolDefinitionError(
            f"Could not resolve the type annotations of {origin}: {exc}. Define the types it uses "
            "at module level (not inside a function) or import them outside `if TYPE_CHECKING:`."
        ) from exc


def _has_description(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in annotation.__metadata__)


def _needs_alias(name: str) -> bool:
    return name.startswith("_") or name.startswith("model_") or hasattr(pydantic.BaseModel, name)


def _model_schema(model: type[pydantic.BaseModel], *, strip_titles: bool) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            # A default that is not JSON-serialisable is left out of the schema; that is fine.
            warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
            raw = model.model_json_schema(mode="validation")
    except pydantic.PydanticUserError as exc:
        raise ToolDefinitionError(
            f"Cannot build a JSON schema for {model.__name__}: {exc}. Use JSON-compatible "
            "parameter types (str, int, float, bool, Literal, Enum, list, dict, Pydantic models)."
        ) from exc
    schema = inline_refs(raw, strip_titles=strip_titles)
    schema.pop("title", None)
    schema.pop("description", None)  # the model's docstring; the tool's description says it
    schema["type"] = "object"
    schema.setdefault("properties", {})
    schema["required"] = list(schema.get("required", []))
    schema["additionalProperties"] = False
    return schema


@dataclass(frozen=True)
class _Param:
    field: str  # the Pydantic field name (differs from ``name`` when aliased)
    name: str  # the function's parameter name, also the JSON property name
    positional_only: bool


# --------------------------------------------------------------------------- validation errors


class Tool:
    """A function the model may call.

    Build one with :func:`tool`, :meth:`from_function`, :meth:`from_model` or
    :meth:`from_json_schema`; the constructor is the low-level form they share.

    Attributes:
        name: the name the model calls it by.
        description: what it does, shown to the model.
        parameters: a plain JSON schema object (no ``$ref``; ``additionalProperties: false``).
            Treat it as read-only.
        risk: how much harm a call can do.
        takes_context: whether :meth:`invoke` passes a :class:`RunContext` first.
        max_calls: how many times one run may call it (None: no per-tool limit).
        origin: where it was defined (``module.function`` or a plugin), for error messages.
        function: the wrapped callable.
    """

    def __init__(
        self,
        *,
        name: str,
        description: str,
        parameters: dict[str, Any],
        function: Callable[..., Any],
        call_style: _CallStyle,
        model: type[pydantic.BaseModel] | None = None,
        schema_validator: Any = None,
        params: tuple[_Param, ...] = (),
        risk: Risk | str = Risk.REVERSIBLE,
        takes_context: bool = False,
        max_calls: int | None = None,
        origin: str = "",
        allow_reserved: bool = False,
    ) -> None:
        self.name = _check_name(name, allow_reserved)
        self.description = description
        self.parameters = parameters
        try:
            self.risk = Risk(risk)
        except ValueError:
            choices = ", ".join(repr(r.value) for r in Risk)
            raise ToolDefinitionError(
                f"Invalid risk {risk!r} for tool {name!r}: use one of {choices}."
            ) from None
        if max_calls is not None and (not isinstance(max_calls, int) or max_calls < 1):
            raise ToolDefinitionError(
                f"max_calls of tool {name!r} must be a positive integer or None, not {max_calls!r}."
            )
        self.takes_context = takes_context
        self.max_calls = max_calls
        self.origin = origin or _origin_of(function)
        self.function = function
        self._call_style = call_style
        self._model = model
        self._schema_validator = schema_validator
        self._params = params
        self._allow_reserved = allow_reserved
        self._is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            _call_target(function)
        )
        self._signature = signature_text(self.name, parameters)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        risk: Risk | str = Risk.REVERSIBLE,
        max_calls: int | None = None,
        allow_reserved: bool = False,
    ) -> Tool:
        """Build a tool from a sync or async function's signature and Google-style docstring.

        Every parameter needs a type annotation. An optional first parameter annotated
        :class:`RunContext` is injected at call time and hidden from the schema. Parameters with
        defaults are optional. The docstring summary becomes the description and its ``Args:``
        entries the parameter descriptions.

        Raises:
            ToolDefinitionError: a bad name, a missing annotation, ``*args``/``**kwargs``, or a type
                Pydantic cannot put in a JSON schema.
        """
        if not callable(fn):
            raise ToolDefinitionError(f"@tool needs a function, got {fn!r}.")
        origin = _origin_of(fn)
        tool_name = name if name is not None else getattr(fn, "__name__", None)
        if tool_name is None:
            raise ToolDefinitionError(f"{origin} has no __name__: pass name= to @tool.")
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"Cannot read the signature of {origin}: {exc}") from exc
        hints = _type_hints(fn, origin)
        doc = parse_docstring(inspect.getdoc(fn))
        sig_params = list(sig.parameters.values())
        takes_context = bool(sig_params) and _is_context_annotation(hints.get(sig_params[0].name))
        if takes_context:
            sig_params = sig_params[1:]
        fields: dict[str, Any] = {}
        params: list[_Param] = []
        for p in sig_params:
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise ToolDefinitionError(
                    f"{origin} takes *{p.name}/**{p.name}: tools need named, typed parameters "
                    "(or use Tool.from_model / Tool.from_json_schema)."
                )
            if p.name not in hints:
                raise ToolDefinitionError(
                    f"Parameter {p.name!r} of {origin} has no type annotation. Annotate it, e.g. "
                    f"`{p.name}: str` or `{p.name}: int`, so agentkit can build the tool's schema."
                )
            annotation = hints[p.name]
            if _is_context_annotation(annotation):
                raise ToolDefinitionError(
                    f"Parameter {p.name!r} of {origin} is a RunContext but not the first parameter: "
                    "move it first."
                )
            field_name = p.name
            if _needs_alias(p.name):  # e.g. `json`, `schema`, `model_x`, `_x`: aliased fields
                field_name = f"p{len(params)}_{p.name.lstrip('_')}"
                while field_name in sig.parameters or field_name in fields:
                    field_name += "_"
            extra: dict[str, Any] = {}
            if field_name != p.name:
                extra.update(alias=p.name, validation_alias=p.name, serialization_alias=p.name)
            default: Any = p.default
            described = _has_description(annotation) or (
                isinstance(default, FieldInfo) and bool(default.description)
            )
            if not described and p.name in doc.params:
                extra["description"] = doc.params[p.name]
            if extra:
                annotation = Annotated[annotation, pydantic.Field(**extra)]
            fields[field_name] = (
                annotation,
                ... if default is inspect.Parameter.empty else default,
            )
            params.append(_Param(field_name, p.name, p.kind is inspect.Parameter.POSITIONAL_ONLY))
        try:
            model = pydantic.create_model(
                f"{tool_name}_arguments",
                __config__=pydantic.ConfigDict(extra="forbid", protected_namespaces=()),
                **fields,
            )
        except (
            pydantic.PydanticUserError,
            pydantic.PydanticSchemaGenerationError,
            TypeError,
        ) as exc:
            raise ToolDefinitionError(
                f"Cannot build the argument model of {origin}: {exc}. Use JSON-compatible "
                "parameter types (str, int, float, bool, Literal, Enum, list, dict, Pydantic models)."
            ) from exc
        return cls(
            name=tool_name,
            description=description if description is not None else doc.description,
            parameters=_model_schema(model, strip_titles=True),
            function=fn,
            call_style="kwargs",
            model=model,
            params=tuple(params),
            risk=risk,
            takes_context=takes_context,
            max_calls=max_calls,
            origin=origin,
            allow_reserved=allow_reserved,
        )

    @classmethod
    def from_model(
        cls,
        model: type[pydantic.BaseModel],
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        risk: Risk | str = Risk.REVERSIBLE,
        max_calls: int | None = None,
        takes_context: bool | None = None,
        allow_reserved: bool = False,
    ) -> Tool:
        """Build a tool whose arguments are one Pydantic model; ``fn(args)`` or ``fn(ctx, args)``.

        Args:
            model: the argument model; its fields are the tool's parameters.
            fn: receives the validated model instance (after a :class:`RunContext` when it takes one).
            name: defaults to ``fn.__name__``.
            description: defaults to the docstring summary of ``fn``, else of ``model``.
            risk: how much harm a call can do.
            max_calls: per-run limit for this tool.
            takes_context: default: True when ``fn``'s first parameter is annotated
                ``RunContext`` or ``fn`` takes two positional parameters.
            allow_reserved: for agentkit's own tools only.
        """
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            raise ToolDefinitionError(
                f"Tool.from_model needs a Pydantic model class, got {model!r}."
            )
        origin = _origin_of(fn)
        tool_name = name if name is not None else getattr(fn, "__name__", None)
        if tool_name is None or tool_name == "<lambda>":
            raise ToolDefinitionError(f"Cannot name a tool after {origin}: pass name=.")
        if description is None:
            description = (
                parse_docstring(inspect.getdoc(fn)).description
                or parse_docstring(model.__doc__).description
            )
        return cls(
            name=tool_name,
            description=description,
            parameters=_model_schema(model, strip_titles=True),
            function=fn,
            call_style="model",
            model=model,
            risk=risk,
            takes_context=_detect_context(fn, origin) if takes_context is None else takes_context,
            max_calls=max_calls,
            origin=origin,
            allow_reserved=allow_reserved,
        )

    @classmethod
    def from_json_schema(
        cls,
        name: str,
        description: str,
        schema: dict[str, Any],
        fn: Callable[..., Any],
        *,
        risk: Risk | str = Risk.REVERSIBLE,
        max_calls: int | None = None,
        takes_context: bool | None = None,
        origin: str = "",
        allow_reserved: bool = False,
    ) -> Tool:
        """Build a tool from a raw JSON schema (a plugin or a remote tool server).

        The schema is checked against the Draft 2020-12 metaschema and must describe an object.
        ``additionalProperties`` defaults to false (unknown parameters are refused); set it
        explicitly to allow them. ``fn`` receives the validated dict (after a :class:`RunContext`
        when it takes one).

        Raises:
            ToolDefinitionError: a bad name, a schema that is invalid, not an object schema, or
                recursive.
        """
        import jsonschema  # lazily: ~45 ms, and only raw-schema tools need it

        if not isinstance(schema, dict):
            raise ToolDefinitionError(
                f"The schema of tool {name!r} must be a dict, got {type(schema).__name__}."
            )
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "(root)"
            raise ToolDefinitionError(
                f"The schema of tool {name!r} is not a valid JSON schema at {where}: {exc.message}"
            ) from exc
        if schema.get("type") != "object":
            raise ToolDefinitionError(
                f"The schema of tool {name!r} must be an object schema "
                f'({{"type": "object", "properties": {{...}}}}), got type {schema.get("type")!r}.'
            )
        full = copy.deepcopy(schema)
        full.setdefault("properties", {})
        full.setdefault("additionalProperties", False)
        parameters = inline_refs(full)
        parameters["required"] = list(parameters.get("required", []))
        return cls(
            name=name,
            description=description,
            parameters=parameters,
            function=fn,
            call_style="dict",
            schema_validator=jsonschema.Draft202012Validator(full),
            risk=risk,
            takes_context=_detect_context(fn, origin or _origin_of(fn))
            if takes_context is None
            else takes_context,
            max_calls=max_calls,
            origin=origin,
            allow_reserved=allow_reserved,
        )

    # ------------------------------------------------------------------ schema views

    def signature_text(self) -> str:
        """A compact signature for messages: ``click(x: integer, button: "left"|"right" = "left")``."""
        return self._signature

    def param_schema(self, name: str) -> dict[str, Any] | None:
        """The (reference-free) JSON schema of one parameter, or None when there is no such one."""
        props = self.parameters.get("properties") or {}
        found = props.get(name)
        return found if isinstance(found, dict) else None

    def openai_schema(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry: ``{"type": "function", "function": {...}}`` (a copy)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters),
            },
        }

    # ------------------------------------------------------------------ validation

    def validate(self, arguments: dict[str, Any]) -> Any:
        """Validate already-typed JSON values strictly.

        ``"yes"`` is not a boolean and ``"3"`` is not an integer; ``512.0`` counts as the integer
        512 (as in JSON Schema); NaN/Infinity, nesting deeper than 32 levels, integers over 4300
        digits and unpaired surrogates are refused.

        Returns:
            A Pydantic model instance for typed tools, a fresh dict for raw-schema tools; pass it to
            :meth:`invoke`.

        Raises:
            UnknownParameterError: only unknown parameters are wrong.
            MissingParameterError: only required parameters are missing.
            BadValueError: a value is wrong, or several kinds of problem (all listed).
        """
        if not isinstance(arguments, dict):
            what = kind_of_value(arguments)
            self._fail([Issue("bad", "", f"the arguments must be an object, got {what}")])
        issues = [
            Issue("bad", str(key), f'parameter "{key}": {problem}')
            for key, value in arguments.items()
            if (problem := json_problem(value)) is not None
        ]
        if not all(isinstance(key, str) for key in arguments):
            issues.append(Issue("bad", "", "parameter names must be strings"))
        if issues:
            self._fail(issues)
        payload = json.dumps(integral_floats_to_int(arguments), allow_nan=False)
        if self._schema_validator is not None:
            issues = schema_issues(self._schema_validator, self.parameters, arguments)
            if issues:
                self._fail(issues)
            return json.loads(payload)
        assert self._model is not None
        props = self.parameters.get("properties") or {}
        issues = [Issue("unknown", str(key), "") for key in arguments if key not in props]
        try:
            validated = self._model.model_validate_json(payload, strict=True)
        except pydantic.ValidationError as exc:
            issues.extend(pydantic_issues(exc, self.parameters))
        else:
            if not issues:
                return validated
        self._fail(issues)

    def _fail(self, issues: list[Issue]) -> typing.NoReturn:
        raise_issues(self.name, self._signature, self.parameters, issues)

    def dump_arguments(self, validated: Any) -> dict[str, Any]:
        """JSON-compatible arguments of a validated value (what a trajectory records)."""
        if isinstance(validated, pydantic.BaseModel):
            return validated.model_dump(mode="json", by_alias=True)
        return dict(validated)

    # ------------------------------------------------------------------ execution

    async def invoke(self, validated: Any, ctx: RunContext[Any] | None = None) -> Any:
        """Call the function with a value returned by :meth:`validate`.

        Sync functions run in a worker thread (``asyncio.to_thread``); async ones are awaited.
        A tool that takes a context gets ``ctx`` (an empty :class:`RunContext` when None).
        Exceptions from the function propagate unchanged.
        """
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        if self.takes_context:
            args.append(ctx if ctx is not None else RunContext())
        if self._call_style == "kwargs":
            for param in self._params:
                value = getattr(validated, param.field)
                if param.positional_only:
                    args.append(value)
                else:
                    kwargs[param.name] = value
        else:
            args.append(validated)
        if self._is_async:
            result = await self.function(*args, **kwargs)
        else:
            result = await asyncio.to_thread(self.function, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function directly (no validation), so decorated functions stay usable."""
        return self.function(*args, **kwargs)

    # ------------------------------------------------------------------ copies

    def replace(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        risk: Risk | str | None = None,
        max_calls: int | None | Literal["keep"] = "keep",
        origin: str | None = None,
    ) -> Tool:
        """A copy with some attributes changed (the name is checked again)."""
        new = copy.copy(self)
        if name is not None:
            new.name = _check_name(name, self._allow_reserved)
            new._signature = signature_text(new.name, new.parameters)
        if description is not None:
            new.description = description
        if risk is not None:
            new.risk = Risk(risk)
        if max_calls != "keep":
            new.max_calls = max_calls
        if origin is not None:
            new.origin = origin
        return new

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r}, risk={self.risk.value!r}, origin={self.origin!r})"


def _detect_context(fn: Callable[..., Any], origin: str) -> bool:
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind
            in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    if params[0].annotation is not inspect.Parameter.empty:
        hints = _type_hints(fn, origin)
        if _is_context_annotation(hints.get(params[0].name)):
            return True
    return len(params) >= 2 and all(p.default is inspect.Parameter.empty for p in params[:2])


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    risk: Risk | str = Risk.REVERSIBLE,
    max_calls: int | None = None,
    allow_reserved: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    risk: Risk | str = Risk.REVERSIBLE,
    max_calls: int | None = None,
    allow_reserved: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function into a :class:`Tool`: ``@tool`` or ``@tool(name=..., risk=...)``.

    Example:
        ```python
        @tool(risk="read_only")
        def read_file(path: str, max_bytes: int = 4096) -> str:
            '''Read a text file.

            Args:
                path: the file to read.
                max_bytes: read at most this many bytes.
            '''
        ```
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            f,
            name=name,
            description=description,
            risk=risk,
            max_calls=max_calls,
            allow_reserved=allow_reserved,
        )

    if fn is not None:
        return wrap(fn)
    return wrap


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """A Tool as is; a plain callable wrapped with :func:`tool`."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return Tool.from_function(obj)
    raise ToolDefinitionError(f"Expected a Tool or a function, got {type(obj).__name__}: {obj!r}.")


def as_tools(objs: Iterable[Tool | Callable[..., Any]]) -> list[Tool]:
    return [as_tool(o) for o in objs]
