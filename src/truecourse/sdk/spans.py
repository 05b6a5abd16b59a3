"""AI spans: the ``span`` context manager and the ``AISpan`` handle it yields.

Spans are started with the tracer of the provider ``init`` set up (the global provider before
``init``, so instrumented code runs, unexported, without it). What they record follows the
OpenTelemetry GenAI conventions (see :mod:`truecourse.sdk.semconv`); message content is written
only while ``init(capture_content=True)``, sizes always.

Errors: passing an unknown ``operation`` or a token count that is negative or over int64 raises
:class:`~truecourse.errors.InvalidInput` at the call that passed it. An exception escaping a
span marks it ``ERROR``, is recorded on it, and propagates unchanged.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from contextvars import Token
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from truecourse.errors import InvalidInput
from truecourse.sdk import semconv as sc
from truecourse.sdk.messages import normalize_input, normalize_output
from truecourse.sdk.setup import capture_content, get_tracer

MAX_INT_ATTRIBUTE = 2**63 - 1
"""Largest int an OTLP attribute holds (int64); the exporter drops bigger ones."""


class AISpan:
    """Handle on an open span; its ``record_*`` methods write GenAI convention attributes.

    Every method is a cheap no-op on a span that is not recording (no provider, or sampled out).
    """

    __slots__ = ("_operation", "_span")

    def __init__(self, span: otel_trace.Span, operation: str | None = None) -> None:
        self._span = span
        self._operation = operation

    @property
    def span(self) -> otel_trace.Span:
        """The underlying OpenTelemetry span."""
        return self._span

    @property
    def trace_id(self) -> str:
        """The trace id as 32 lowercase hex characters."""
        return otel_trace.format_trace_id(self._span.get_span_context().trace_id)

    @property
    def span_id(self) -> str:
        """The span id as 16 lowercase hex characters."""
        return otel_trace.format_span_id(self._span.get_span_context().span_id)

    def record_input(self, messages_or_text: Any) -> None:
        """Record the model input: a string (a user message) or messages in any accepted format.

        Writes ``truecourse.input.chars`` and, when content capture is on,
        ``gen_ai.input.messages`` (JSON, parts format). See :mod:`truecourse.sdk.messages`.
        """
        if not self._span.is_recording():
            return
        normalized = normalize_input(messages_or_text)
        self._span.set_attribute(sc.TC_INPUT_CHARS, normalized.chars)
        if capture_content():
            self._span.set_attribute(sc.GEN_AI_INPUT_MESSAGES, normalized.to_json())

    def record_output(self, messages_or_text: Any, finish_reason: str | None = None) -> None:
        """Record the model output: a string (an assistant message), messages or choices.

        Writes ``truecourse.output.chars``, ``gen_ai.response.finish_reasons`` when known, and,
        when content capture is on, ``gen_ai.output.messages`` (JSON, with ``finish_reason``).
        """
        if not self._span.is_recording():
            return
        normalized = normalize_output(messages_or_text, finish_reason)
        self._span.set_attribute(sc.TC_OUTPUT_CHARS, normalized.chars)
        if normalized.finish_reasons:
            self._span.set_attribute(sc.GEN_AI_RESPONSE_FINISH_REASONS, normalized.finish_reasons)
        if capture_content():
            self._span.set_attribute(sc.GEN_AI_OUTPUT_MESSAGES, normalized.to_json())

    def record_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> None:
        """Record token usage and, when the app knows it, the call's cost in US dollars.

        Raises :class:`~truecourse.errors.InvalidInput` for a count that is not a non-negative
        int or a cost that is not a non-negative finite number; nothing is written then.
        """
        counts = {
            sc.GEN_AI_USAGE_INPUT_TOKENS: ("input_tokens", input_tokens),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: ("output_tokens", output_tokens),
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: ("cache_read_tokens", cache_read_tokens),
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: ("reasoning_tokens", reasoning_tokens),
        }
        for arg, value in counts.values():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value <= MAX_INT_ATTRIBUTE):
                raise InvalidInput(f"{arg} must be a non-negative int of at most 2**63 - 1 "
                                   f"(OTLP's int64), got {value!r}")
        if cost_usd is not None and (isinstance(cost_usd, bool)
                                     or not isinstance(cost_usd, int | float)
                                     or not math.isfinite(cost_usd) or cost_usd < 0):
            raise InvalidInput(f"cost_usd must be a non-negative number, got {cost_usd!r}")
        if not self._span.is_recording():
            return
        for key, (_, value) in counts.items():
            if value is not None:
                self._span.set_attribute(key, value)
        if cost_usd is not None:
            self._span.set_attribute(sc.TC_COST_USD, float(cost_usd))

    def record_tool_call(self, name: str, arguments: Any = None, result: Any = None,
                         ok: bool = True) -> None:
        """Record a tool call and its outcome.

        On a ``tool`` span the attributes go on this span; on any other span (an agent or chat
        span that called a tool) they go on a new, already-ended ``execute_tool {name}`` child
        span. Writes ``gen_ai.tool.name`` and ``truecourse.tool.ok``; with content capture on,
        ``gen_ai.tool.call.arguments`` / ``.result`` (JSON unless given as strings). A failed
        call (``ok=False``) marks the tool span ``ERROR`` with ``error.type`` ``tool_error``.
        """
        if not self._span.is_recording():
            return
        if self._operation == "tool":
            _write_tool_call(self._span, name, arguments, result, ok)
            return
        child = get_tracer().start_span(
            sc.default_span_name("tool", None, name),
            context=otel_trace.set_span_in_context(self._span),
            kind=SpanKind.INTERNAL,
            attributes={sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION["tool"],
                        sc.TC_OPERATION: "tool"},
        )
        try:
            _write_tool_call(child, name, arguments, result, ok)
        finally:
            child.end()

    def set_attribute(self, key: str, value: Any) -> None:
        """Set any attribute; values OpenTelemetry cannot hold are stored as JSON strings."""
        if value is not None and self._span.is_recording():
            self._span.set_attribute(key, _attribute_value(value))

    def refused(self, reason: str | None = None) -> None:
        """Mark that the model declined to answer (``truecourse.refused``, optional reason)."""
        if not self._span.is_recording():
            return
        self._span.set_attribute(sc.TC_REFUSED, True)
        if reason:
            self._span.set_attribute(sc.TC_REFUSAL_REASON, reason)


class SpanScope:
    """A span not yet started; entering it (``with`` or ``async with``) starts it, once."""

    def __init__(self, name: str | None, operation: str | None,
                 attributes: dict[str, Any]) -> None:
        self._name = name
        self._operation = operation
        self._attributes = attributes
        self._span: otel_trace.Span | None = None
        self._token: Token[otel_context.Context] | None = None

    def __enter__(self) -> AISpan:
        if self._span is not None:
            raise RuntimeError("a truecourse.span(...) can be entered only once")
        model = self._attributes.get(sc.GEN_AI_REQUEST_MODEL)
        tool = self._attributes.get(sc.GEN_AI_TOOL_NAME)
        self._span = get_tracer().start_span(
            self._name or sc.default_span_name(self._operation, model, tool),
            kind=sc.span_kind(self._operation),
            attributes=self._attributes,
        )
        self._token = otel_context.attach(otel_trace.set_span_in_context(self._span))
        return AISpan(self._span, self._operation)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        span, token = self._span, self._token
        if span is None:
            return
        if isinstance(exc, Exception):
            _record_error(span, exc)
        if token is not None:
            otel_context.detach(token)
        span.end()

    async def __aenter__(self) -> AISpan:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


def span(
    name: str | None,
    *,
    operation: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    prompt_version: str | None = None,
    index_version: str | None = None,
    tool_name: str | None = None,
    conversation_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> SpanScope:
    """A span around one AI operation: ``with truecourse.span("answer", operation="chat") as s:``.

    ``operation`` is one of chat, completion, embeddings, tool, retrieval, agent, other; it sets
    ``gen_ai.operation.name`` (chat, text_completion, embeddings, execute_tool, retrieval,
    invoke_agent) and ``truecourse.operation``, and makes model calls CLIENT spans. ``name=None``
    gives the conventional name, e.g. ``chat gpt-4o``. Also usable as ``async with``.

    Raises :class:`~truecourse.errors.InvalidInput` for an unknown operation.
    """
    return SpanScope(name, check_operation(operation), start_attributes(
        operation, provider, model, prompt_version, index_version, tool_name, conversation_id,
        attributes))


def current_trace_id() -> str | None:
    """The id (32 hex) of the trace the calling code runs in, or None outside any span."""
    ctx = otel_trace.get_current_span().get_span_context()
    return otel_trace.format_trace_id(ctx.trace_id) if ctx.is_valid else None


def current_span_id() -> str | None:
    """The id (16 hex) of the span the calling code runs in, or None outside any span."""
    ctx = otel_trace.get_current_span().get_span_context()
    return otel_trace.format_span_id(ctx.span_id) if ctx.is_valid else None


def check_operation(operation: str | None) -> str | None:
    if operation is None or operation in sc.OPERATIONS:
        return operation
    close = difflib.get_close_matches(str(operation), sc.OPERATIONS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(sc.OPERATIONS)}"
    raise InvalidInput(f"unknown operation {operation!r}", hint=hint)


def start_attributes(operation: str | None, provider: str | None, model: str | None,
                      prompt_version: str | None, index_version: str | None,
                      tool_name: str | None, conversation_id: str | None,
                      attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    attrs = {k: _attribute_value(v) for k, v in (attributes or {}).items() if v is not None}
    named = {
        sc.TC_OPERATION: operation,
        sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION.get(operation) if operation else None,
        sc.GEN_AI_PROVIDER_NAME: provider,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.TC_PROMPT_VERSION: prompt_version,
        sc.TC_INDEX_VERSION: index_version,
        sc.GEN_AI_TOOL_NAME: tool_name,
        sc.GEN_AI_CONVERSATION_ID: conversation_id,
    }
    attrs.update({k: v for k, v in named.items() if v is not None})
    return attrs


def _write_tool_call(target: otel_trace.Span, name: str, arguments: Any, result: Any,
                     ok: bool) -> None:
    target.set_attribute(sc.GEN_AI_TOOL_NAME, name)
    target.set_attribute(sc.TC_TOOL_OK, bool(ok))
    if capture_content():
        if arguments is not None:
            target.set_attribute(sc.GEN_AI_TOOL_CALL_ARGUMENTS, _json_text(arguments))
        if result is not None:
            target.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, _json_text(result))
    if not ok:
        target.set_attribute(sc.ERROR_TYPE, "tool_error")
        target.set_status(Status(StatusCode.ERROR, f"tool {name} failed"))


def _record_error(target: otel_trace.Span, exc: Exception) -> None:
    cls = type(exc)
    qualified = cls.__qualname__ if cls.__module__ == "builtins" else \
        f"{cls.__module__}.{cls.__qualname__}"
    target.record_exception(exc)
    target.set_attribute(sc.ERROR_TYPE, qualified)
    target.set_status(Status(StatusCode.ERROR, f"{cls.__name__}: {exc}"))


def _attribute_value(value: Any) -> Any:
    """``value`` if OpenTelemetry can hold it as an attribute, else its JSON text.

    Ints outside int64 are kept as their decimal text: the OTLP exporter would drop them.
    """
    if isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        return value if _fits_int64(value) else str(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        kinds = {type(v) for v in value}
        if len(kinds) == 1 and kinds <= {str, bool, int, float} and (
                kinds != {int} or all(_fits_int64(v) for v in value)):
            return list(value)
    return _json_text(value)


def _fits_int64(value: int) -> bool:
    return -MAX_INT_ATTRIBUTE - 1 <= value <= MAX_INT_ATTRIBUTE


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
