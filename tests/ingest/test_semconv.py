"""Semantic-convention mapping: golden fixtures per convention plus a never-raises property."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truecourse.ingest.semconv import AI_COLUMNS, TEXT_LIMIT_BYTES, map_span
from truecourse.model.columns import OPERATIONS, SPAN_COLUMNS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "semconv"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


def _run(case: dict[str, Any]) -> dict[str, Any]:
    # Malformed events (wrong arity, non-mapping attributes) are passed through on purpose.
    events = [tuple(event) for event in case.get("events", [])]
    return map_span(case["name"], case["attributes"], case["status_code"], events)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_fixture(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["description"]
    assert _run(case) == case["expected"]


def test_fixtures_cover_every_convention() -> None:
    stems = {p.stem for p in FIXTURE_FILES}
    for prefix in ("genai_", "openinference_", "openllmetry_", "plain_http", "wrong_types"):
        assert any(s.startswith(prefix) for s in stems), prefix


def test_ai_columns_are_span_columns() -> None:
    names = {c.name for c in SPAN_COLUMNS}
    assert set(AI_COLUMNS) <= names


def test_long_text_is_capped_in_utf8_bytes() -> None:
    attrs = {"openinference.span.kind": "TOOL", "input.value": "é" * 40_000,
             "output.value": "x" * 10}
    result = map_span("t", attrs, "ok")
    text = result["input_text"]
    assert text.endswith("…[truncated]")
    assert len(text.encode()) <= TEXT_LIMIT_BYTES
    assert result["output_text"] == "x" * 10


def test_many_messages_are_capped() -> None:
    attrs = {"gen_ai.operation.name": "chat",
             "gen_ai.input.messages": [{"role": "user", "content": "y" * 1000}] * 200}
    text = map_span("chat", attrs, "unset")["input_text"]
    assert text.endswith("…[truncated]")
    assert len(text.encode()) <= TEXT_LIMIT_BYTES


def test_refused_flag_from_sdk_overrides_absence() -> None:
    attrs = {"openinference.span.kind": "CHAIN", "truecourse.refused": True}
    assert map_span("x", attrs, "unset")["refused"] is True


def test_non_ai_span_with_ai_event_is_mapped() -> None:
    events = [("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "Helpfulness",
                                            "gen_ai.evaluation.score.label": "good"})]
    result = map_span("GET /", {"http.route": "/"}, "unset", events)
    assert result == {"operation": "other",
                      "evaluations": [{"name": "Helpfulness", "label": "good"}]}


def test_deeply_nested_values_do_not_raise() -> None:
    nested: Any = {"content": "x"}
    for _ in range(3000):
        nested = {"message": nested}
    arguments: Any = [1]
    for _ in range(3000):
        arguments = [arguments]
    attrs = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.output.messages": [nested],
        "gen_ai.tool.call.arguments": arguments,
    }
    result = map_span("execute_tool", attrs, "ok")
    assert result["operation"] == "tool"
    assert isinstance(result["input_text"], str)


def test_empty_span_maps_to_nothing() -> None:
    assert map_span("", {}, "unset") == {}


# --- property: any attribute values, never raises, only typed AI columns ---------------------

_KNOWN_KEYS = [
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens", "gen_ai.usage.total_tokens", "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.response.finish_reasons",
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.prompt", "gen_ai.completion", "gen_ai.prompt.0.content", "gen_ai.prompt.1.role",
    "gen_ai.completion.0.content", "gen_ai.completion.0.finish_reason",
    "gen_ai.completion.0.tool_calls.0.name", "gen_ai.completion.0.refusal",
    "gen_ai.tool.name", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
    "gen_ai.conversation.id", "gen_ai.agent.name", "gen_ai.evaluation.name",
    "gen_ai.evaluation.score.value", "gen_ai.retrieval.documents", "gen_ai.retrieval.query.text",
    "openinference.span.kind", "llm.model_name", "llm.provider", "llm.token_count.prompt",
    "llm.token_count.total", "llm.cost.total", "llm.cost.prompt", "llm.cost.completion",
    "llm.prompt_template.version", "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.content", "llm.output_messages.0.message.content",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
    "llm.input_messages.0.message.contents.0.message_content.text", "llm.prompts",
    "input.value", "output.value", "retrieval.documents.0.document.content",
    "retrieval.documents.0.document.score", "embedding.embeddings.0.embedding.text",
    "traceloop.span.kind", "traceloop.entity.name", "traceloop.entity.input",
    "llm.request.type", "llm.usage.total_tokens", "session.id", "tool.name", "error.type",
    "truecourse.refused", "truecourse.prompt_version", "truecourse.index_version",
]
_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30) | st.binary(max_size=8)
    | st.sampled_from(["chat", "LLM", "tool", "TOOL", "execute_tool", "content_filter", "12",
                       "[1, 2]", '[{"role": "user", "parts": [{"type": "text"}]}]', "{",
                       '{"messages": [{"role": 1}]}', '["stop"]', "1e999"])
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["role", "content", "parts", "type", "name", "arguments",
                                       "tool_calls", "finish_reason", "refusal", "message",
                                       "id", "score", "function", "text"]) | st.text(max_size=5),
                      inner, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(_KNOWN_KEYS) | st.text(max_size=30)
_events = st.lists(
    st.tuples(st.sampled_from(["gen_ai.evaluation.result", "gen_ai.choice", "gen_ai.user.message",
                               "gen_ai.content.prompt", "gen_ai.content.completion",
                               "gen_ai.client.inference.operation.details", "exception"]),
              st.dictionaries(st.sampled_from(["gen_ai.evaluation.name", "content", "message",
                                               "gen_ai.evaluation.score.value", "finish_reason",
                                               "gen_ai.prompt", "gen_ai.completion",
                                               "gen_ai.input.messages"]), _values, max_size=3)),
    max_size=3,
)

_INT_COLUMNS = {"input_tokens", "output_tokens", "total_tokens", "cache_read_tokens",
                "cache_creation_tokens", "reasoning_tokens", "retrieval_documents"}
_BOOL_COLUMNS = {"tool_ok", "refused"}


@settings(max_examples=400, deadline=None)
@given(attrs=st.dictionaries(_keys, _values, max_size=12), events=_events,
       status=st.sampled_from(["unset", "ok", "error"]), name=st.text(max_size=20))
def test_never_raises_and_types_hold(
    attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]], status: str, name: str
) -> None:
    result = map_span(name, attrs, status, events)
    assert set(result) <= set(AI_COLUMNS)
    if result:
        assert result["operation"] in OPERATIONS
    for column, value in result.items():
        if column in _INT_COLUMNS:
            assert type(value) is int and 0 <= value < 2**63
        elif column in _BOOL_COLUMNS:
            assert type(value) is bool
        elif column == "cost_usd":
            assert type(value) is float
        elif column == "evaluations":
            assert isinstance(value, list) and value
            for evaluation in value:
                assert set(evaluation) <= {"name", "score", "label", "explanation"}
                assert evaluation and None not in evaluation.values()
                json.dumps(evaluation, allow_nan=True)
        else:
            assert type(value) is str and value
            if column in ("input_text", "output_text"):
                assert len(value.encode("utf-8", "surrogatepass")) <= TEXT_LIMIT_BYTES
