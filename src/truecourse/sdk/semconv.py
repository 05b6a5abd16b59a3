"""Attribute names the SDK writes: OpenTelemetry GenAI semantic conventions plus ``truecourse.*``.

The ``gen_ai.*`` names follow the current (v1.37+) GenAI conventions: ``gen_ai.provider.name``
rather than the deprecated ``gen_ai.system``, ``gen_ai.usage.input_tokens`` rather than
``prompt_tokens``, and structured ``gen_ai.input.messages`` / ``gen_ai.output.messages`` rather
than the deprecated ``gen_ai.prompt`` / ``gen_ai.completion``. TrueCourse's own names carry what
the conventions have no place for (prompt and index versions, cost, refusals).
"""

from __future__ import annotations

from typing import Final, Literal

from opentelemetry.trace import SpanKind

Operation = Literal["chat", "completion", "embeddings", "tool", "retrieval", "agent", "other"]
"""The operations TrueCourse measures separately (the ``operation`` column of a span row)."""

OPERATIONS: Final[tuple[str, ...]] = (
    "chat", "completion", "embeddings", "tool", "retrieval", "agent", "other",
)

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
ERROR_TYPE: Final = "error.type"

TC_OPERATION: Final = "truecourse.operation"
TC_PROMPT_VERSION: Final = "truecourse.prompt_version"
TC_INDEX_VERSION: Final = "truecourse.index_version"
TC_COST_USD: Final = "truecourse.cost_usd"
TC_REFUSED: Final = "truecourse.refused"
TC_REFUSAL_REASON: Final = "truecourse.refusal.reason"
TC_TOOL_OK: Final = "truecourse.tool.ok"
TC_INPUT_CHARS: Final = "truecourse.input.chars"
TC_OUTPUT_CHARS: Final = "truecourse.output.chars"

# TrueCourse operation -> gen_ai.operation.name. "other" has no conventional value and is
# written only as truecourse.operation.
GEN_AI_OPERATION: Final[dict[str, str]] = {
    "chat": "chat",
    "completion": "text_completion",
    "embeddings": "embeddings",
    "tool": "execute_tool",
    "retrieval": "retrieval",
    "agent": "invoke_agent",
}

MODEL_CALLS: Final[frozenset[str]] = frozenset({"chat", "completion", "embeddings"})


def span_kind(operation: str | None) -> SpanKind:
    """CLIENT for calls to a model (chat, completion, embeddings), INTERNAL for everything else."""
    return SpanKind.CLIENT if operation in MODEL_CALLS else SpanKind.INTERNAL


def default_span_name(operation: str | None, model: str | None, tool_name: str | None) -> str:
    """The conventional span name ``"{gen_ai.operation.name} {target}"``, e.g. ``chat gpt-4o``.

    The target is the tool name for tool calls and the model otherwise; either part is left
    out when unknown, and ``"span"`` is returned when both are.
    """
    op = GEN_AI_OPERATION.get(operation, operation) if operation else None
    target = tool_name if operation == "tool" else model
    return " ".join(p for p in (op, target) if p) or "span"
