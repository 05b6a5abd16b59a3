"""The Python instrumentation API: ``init``, ``span``, ``trace``, ``feedback``, ``shutdown``.

::

    import truecourse

    truecourse.init("support-bot", env="prod", version="2024.06.1")

    @truecourse.trace(operation="agent")
    def answer(question: str) -> str:
        with truecourse.span(None, operation="chat", provider="openai", model="gpt-4o",
                             prompt_version="v7") as s:
            s.record_input(question)
            reply = call_model(question)
            s.record_output(reply, finish_reason="stop")
            s.record_usage(input_tokens=812, output_tokens=64)
        return reply

    truecourse.feedback(trace_id, thumbs="down", comment="wrong refund policy")

Spans go out over OTLP/HTTP to ``{endpoint}/v1/traces`` through the OpenTelemetry SDK; feedback
goes to ``{endpoint}/api/v1/events``. Importing this package loads the OpenTelemetry API and SDK
and httpx, not the server's dependencies.
"""

from truecourse.sdk.decorator import trace
from truecourse.sdk.feedback import feedback
from truecourse.sdk.semconv import OPERATIONS, Operation
from truecourse.sdk.setup import (
    DEFAULT_ENDPOINT,
    TrueCourseHandle,
    current_handle,
    init,
    shutdown,
)
from truecourse.sdk.spans import (
    AISpan,
    SpanScope,
    current_span_id,
    current_trace_id,
    span,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "OPERATIONS",
    "AISpan",
    "Operation",
    "SpanScope",
    "TrueCourseHandle",
    "current_handle",
    "current_span_id",
    "current_trace_id",
    "feedback",
    "init",
    "shutdown",
    "span",
    "trace",
]
