"""``@trace``: run each call of a sync or async function in a span."""

from __future__ import annotations

import functools
import inspect
import reprlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast, overload

from truecourse.sdk.spans import AISpan, SpanScope, check_operation, start_attributes

F = TypeVar("F", bound=Callable[..., Any])

MAX_CAPTURED_REPR = 4096
"""Characters kept of an argument list or result captured by ``@trace``."""

_METHOD_WRAPPERS = (classmethod, staticmethod)

_repr = reprlib.Repr()
_repr.maxstring = 1024
_repr.maxother = 256
_repr.maxlevel = 4


@overload
def trace(func: F, /) -> F: ...


@overload
def trace(
    func: None = None,
    /,
    *,
    name: str | None = None,
    operation: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    prompt_version: str | None = None,
    index_version: str | None = None,
    tool_name: str | None = None,
    conversation_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    capture_args: bool = False,
    capture_result: bool = False,
) -> Callable[[F], F]: ...


def trace(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    operation: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    prompt_version: str | None = None,
    index_version: str | None = None,
    tool_name: str | None = None,
    conversation_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    capture_args: bool = False,
    capture_result: bool = False,
) -> F | Callable[[F], F]:
    """Run each call of a sync or async function in a span: ``@trace`` or ``@trace(...)``.

    The span is named ``name`` or the function's qualified name and takes the keywords of
    :func:`~truecourse.sdk.spans.span`. ``capture_args`` / ``capture_result`` record a repr of
    the arguments and the result (a string result as is), truncated to ``MAX_CAPTURED_REPR``
    characters, as the span's input and output (subject to content capture). Exceptions mark
    the span ``ERROR`` and are re-raised. Generator functions raise ``TypeError``: their body
    runs after the call returns, so wrap the iteration in ``truecourse.span()`` instead.
    Methods, classmethods and staticmethods can be wrapped (in either decorator order); a
    positional argument that is not callable (``@trace("name")``) raises ``TypeError``.
    """
    checked = check_operation(operation)
    attrs = start_attributes(operation, provider, model, prompt_version, index_version,
                             tool_name, conversation_id, attributes)

    if func is not None and not callable(func) and not isinstance(func, _METHOD_WRAPPERS):
        raise TypeError(f"@truecourse.trace takes the function to wrap, not {func!r}; pass "
                        f"the span name as a keyword: @truecourse.trace(name={func!r})")

    def decorate(fn: F) -> F:
        if isinstance(fn, _METHOD_WRAPPERS):  # @trace above @classmethod / @staticmethod
            return cast(F, type(fn)(decorate(cast(F, fn.__func__))))
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"@truecourse.trace cannot wrap generator function "
                            f"{fn.__qualname__}; use truecourse.span() around the iteration")
        span_name = name or getattr(fn, "__qualname__", None) or repr(fn)
        signature = _signature(fn) if capture_args else None

        def scope() -> SpanScope:
            return SpanScope(span_name, checked, dict(attrs))

        def before(s: AISpan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if capture_args:
                s.record_input(_describe_call(signature, args, kwargs))

        def after(s: AISpan, result: Any) -> None:
            if capture_result:
                s.record_output(_describe_result(result))

        if inspect.iscoroutinefunction(fn):
            async_fn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with scope() as s:
                    before(s, args, kwargs)
                    result = await async_fn(*args, **kwargs)
                    after(s, result)
                    return result

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope() as s:
                before(s, args, kwargs)
                result = fn(*args, **kwargs)
                after(s, result)
                return result

        return cast(F, wrapper)

    return decorate if func is None else decorate(func)


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: fall back to positions
        return None


def _describe_call(signature: inspect.Signature | None, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> str:
    pairs: list[tuple[str | None, Any]]
    try:
        if signature is None:
            raise TypeError
        bound = signature.bind_partial(*args, **kwargs)
        pairs = [(k, v) for k, v in bound.arguments.items() if k not in ("self", "cls")]
    except TypeError:  # the call does not fit the signature; the call itself will say why
        pairs = [(None, a) for a in args] + list(kwargs.items())
    text = ", ".join(f"{k}={_repr.repr(v)}" if k else _repr.repr(v) for k, v in pairs)
    return _truncate(text)


def _describe_result(result: Any) -> str:
    return _truncate(result if isinstance(result, str) else _repr.repr(result))


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_CAPTURED_REPR else text[:MAX_CAPTURED_REPR - 1] + "…"
