"""``truecourse.span`` and ``AISpan``: the GenAI convention attributes a span ends up with."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import truecourse.sdk as sdk
from truecourse.errors import InvalidInput

from sdk.sdk_fixtures import Traced, provider


def only(traced: Traced) -> ReadableSpan:
    spans = traced.exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_chat_span_records_model_usage_versions_and_messages(traced: Traced) -> None:
    with sdk.span("answer", operation="chat", provider="openai", model="gpt-4o",
                  prompt_version="v7", index_version="idx-3", conversation_id="c-1",
                  attributes={"app.tenant": "acme"}) as s:
        s.record_input([{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Refund policy?"}])
        s.record_output("30 days.", finish_reason="stop")
        s.record_usage(input_tokens=812, output_tokens=64, cache_read_tokens=512,
                       reasoning_tokens=10, cost_usd=0.0042)

    span = only(traced)
    attrs = dict(span.attributes or {})
    assert span.name == "answer"
    assert span.kind is SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["truecourse.operation"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.conversation.id"] == "c-1"
    assert attrs["truecourse.prompt_version"] == "v7"
    assert attrs["truecourse.index_version"] == "idx-3"
    assert attrs["app.tenant"] == "acme"
    assert attrs["gen_ai.usage.input_tokens"] == 812
    assert attrs["gen_ai.usage.output_tokens"] == 64
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 512
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 10
    assert attrs["truecourse.cost_usd"] == pytest.approx(0.0042)
    assert json.loads(str(attrs["gen_ai.input.messages"])) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Refund policy?"}]},
    ]
    assert json.loads(str(attrs["gen_ai.output.messages"])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "30 days."}],
         "finish_reason": "stop"},
    ]
    assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("stop",)  # type: ignore[arg-type]
    assert attrs["truecourse.input.chars"] == len("Be brief.") + len("Refund policy?")
    assert attrs["truecourse.output.chars"] == len("30 days.")
    assert "truecourse.refused" not in attrs
    assert span.status.status_code is StatusCode.UNSET


def test_string_input_is_a_user_message(traced: Traced) -> None:
    with sdk.span("q", operation="completion", model="m") as s:
        s.record_input("hello")
    attrs = only(traced).attributes or {}
    assert attrs["gen_ai.operation.name"] == "text_completion"
    assert json.loads(str(attrs["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}]


def test_refusal_is_recorded(traced: Traced) -> None:
    with sdk.span("answer", operation="chat", model="m") as s:
        s.record_output("I can't help with that.", finish_reason="content_filter")
        s.refused("policy")
    attrs = only(traced).attributes or {}
    assert attrs["truecourse.refused"] is True
    assert attrs["truecourse.refusal.reason"] == "policy"
    assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("content_filter",)  # type: ignore[arg-type]


def test_tool_call_on_an_agent_span_makes_a_child_tool_span(traced: Traced) -> None:
    with sdk.span("plan", operation="agent") as s:
        s.record_tool_call("lookup_order", arguments={"order_id": 42}, result={"status": "shipped"})
        s.record_tool_call("refund", arguments={"order_id": 42}, result="denied", ok=False)

    spans = {sp.name: sp for sp in traced.exporter.get_finished_spans()}
    agent = spans["plan"]
    assert agent.kind is SpanKind.INTERNAL
    assert (agent.attributes or {})["gen_ai.operation.name"] == "invoke_agent"
    assert agent.status.status_code is StatusCode.UNSET

    lookup = spans["execute_tool lookup_order"]
    assert lookup.parent is not None and lookup.parent.span_id == agent.context.span_id
    la = lookup.attributes or {}
    assert la["gen_ai.operation.name"] == "execute_tool"
    assert la["gen_ai.tool.name"] == "lookup_order"
    assert la["truecourse.tool.ok"] is True
    assert json.loads(str(la["gen_ai.tool.call.arguments"])) == {"order_id": 42}
    assert json.loads(str(la["gen_ai.tool.call.result"])) == {"status": "shipped"}

    refund = spans["execute_tool refund"]
    ra = refund.attributes or {}
    assert ra["truecourse.tool.ok"] is False
    assert ra["gen_ai.tool.call.result"] == "denied"
    assert ra["error.type"] == "tool_error"
    assert refund.status.status_code is StatusCode.ERROR


def test_tool_call_on_a_tool_span_writes_that_span(traced: Traced) -> None:
    with sdk.span(None, operation="tool", tool_name="search") as s:
        s.record_tool_call("search", arguments="q=refunds", result=["a", "b"])
    span = only(traced)
    attrs = span.attributes or {}
    assert span.name == "execute_tool search"
    assert attrs["gen_ai.tool.name"] == "search"
    assert attrs["gen_ai.tool.call.arguments"] == "q=refunds"
    assert json.loads(str(attrs["gen_ai.tool.call.result"])) == ["a", "b"]


@pytest.mark.parametrize(("operation", "model", "tool", "name", "kind"), [
    ("chat", "gpt-4o", None, "chat gpt-4o", SpanKind.CLIENT),
    ("embeddings", "text-embedding-3", None, "embeddings text-embedding-3", SpanKind.CLIENT),
    ("retrieval", None, None, "retrieval", SpanKind.INTERNAL),
    ("agent", None, None, "invoke_agent", SpanKind.INTERNAL),
    ("other", None, None, "other", SpanKind.INTERNAL),
    (None, None, None, "span", SpanKind.INTERNAL),
])
def test_default_names_and_kinds(traced: Traced, operation: str | None, model: str | None,
                                 tool: str | None, name: str, kind: SpanKind) -> None:
    with sdk.span(None, operation=operation, model=model, tool_name=tool):
        pass
    span = only(traced)
    assert (span.name, span.kind) == (name, kind)


def test_other_operation_has_no_gen_ai_operation_name(traced: Traced) -> None:
    with sdk.span("x", operation="other"):
        pass
    attrs = only(traced).attributes or {}
    assert attrs["truecourse.operation"] == "other"
    assert "gen_ai.operation.name" not in attrs


def test_unknown_operation_suggests_the_closest() -> None:
    with pytest.raises(InvalidInput, match=r"unknown operation 'chta'.*did you mean 'chat'"):
        sdk.span("x", operation="chta")


@pytest.mark.parametrize("kwargs", [
    {"input_tokens": -1}, {"output_tokens": 1.5}, {"cache_read_tokens": True},
    {"cost_usd": -0.1}, {"cost_usd": float("nan")},
    {"input_tokens": 2**63},  # past OTLP's int64: the exporter would drop the attribute
])
def test_bad_usage_is_refused(traced: Traced, kwargs: dict[str, object]) -> None:
    with sdk.span("x", operation="chat") as s, pytest.raises(InvalidInput):
        s.record_usage(**kwargs)  # type: ignore[arg-type]
    attrs = only(traced).attributes or {}
    assert not any(k.startswith("gen_ai.usage") for k in attrs)


def test_exception_marks_error_and_propagates(traced: Traced) -> None:
    with pytest.raises(KeyError), sdk.span("x", operation="chat"):
        raise KeyError("missing")
    span = only(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "KeyError"
    assert [e.name for e in span.events] == ["exception"]


def test_exception_type_is_fully_qualified_outside_builtins(traced: Traced) -> None:
    with pytest.raises(InvalidInput), sdk.span("x"):
        raise InvalidInput("bad")
    assert (only(traced).attributes or {})["error.type"] == "truecourse.errors.InvalidInput"


def test_async_with_and_nesting(traced: Traced) -> None:
    async def run() -> tuple[str, str]:
        async with sdk.span("outer", operation="agent") as outer:
            async with sdk.span("inner", operation="chat", model="m") as inner:
                assert sdk.current_trace_id() == inner.trace_id
                assert sdk.current_span_id() == inner.span_id
            return outer.trace_id, inner.trace_id

    outer_trace, inner_trace = asyncio.run(run())
    assert outer_trace == inner_trace
    spans = {s.name: s for s in traced.exporter.get_finished_spans()}
    assert spans["inner"].parent is not None
    assert spans["inner"].parent.span_id == spans["outer"].context.span_id
    assert sdk.current_trace_id() is None


def test_ids_are_hex(traced: Traced) -> None:
    with sdk.span("x") as s:
        assert len(s.trace_id) == 32 and int(s.trace_id, 16)
        assert len(s.span_id) == 16 and int(s.span_id, 16)
    span = only(traced)
    assert f"{span.context.trace_id:032x}" == s.trace_id


def test_set_attribute_keeps_primitives_and_jsons_the_rest(traced: Traced) -> None:
    with sdk.span("x") as s:
        s.set_attribute("a.int", 3)
        s.set_attribute("a.list", ["x", "y"])
        s.set_attribute("a.dict", {"k": [1, 2]})
        s.set_attribute("a.mixed", [1, "x"])
        s.set_attribute("a.none", None)
    attrs = only(traced).attributes or {}
    assert attrs["a.int"] == 3
    assert tuple(attrs["a.list"]) == ("x", "y")  # type: ignore[arg-type]
    assert attrs["a.dict"] == '{"k":[1,2]}'
    assert attrs["a.mixed"] == '[1,"x"]'
    assert "a.none" not in attrs


def test_a_scope_is_entered_once(traced: Traced) -> None:
    scope = sdk.span("x")
    with scope:
        pass
    with pytest.raises(RuntimeError, match="only once"), scope:
        pass


def test_capture_content_off_keeps_sizes_only() -> None:
    exporter = InMemorySpanExporter()
    sdk.init("svc", tracer_provider=provider("svc"), exporter=exporter, batch=False,
             capture_content=False)
    with sdk.span("x", operation="agent") as s:
        s.record_input("secret question")
        s.record_output("secret answer", finish_reason="stop")
        s.record_tool_call("lookup", arguments={"ssn": "123"}, result="found")
    spans = {sp.name: sp for sp in exporter.get_finished_spans()}
    attrs = spans["x"].attributes or {}
    assert attrs["truecourse.input.chars"] == len("secret question")
    assert attrs["truecourse.output.chars"] == len("secret answer")
    assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("stop",)  # type: ignore[arg-type]
    tool = spans["execute_tool lookup"].attributes or {}
    assert tool["gen_ai.tool.name"] == "lookup"
    everything = json.dumps({k: str(v) for sp in spans.values()
                             for k, v in (sp.attributes or {}).items()})
    assert "secret" not in everything and "123" not in everything and "found" not in everything


def test_zero_and_int64_max_usage_are_recorded(traced: Traced) -> None:
    with sdk.span("x", operation="chat") as s:
        s.record_usage(input_tokens=0, output_tokens=2**63 - 1, cost_usd=0)
    attrs = only(traced).attributes or {}
    assert attrs["gen_ai.usage.input_tokens"] == 0
    assert attrs["gen_ai.usage.output_tokens"] == 2**63 - 1
    assert attrs["truecourse.cost_usd"] == 0.0


def test_ints_past_int64_are_kept_as_text_so_the_exporter_can_send_them(traced: Traced) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    with sdk.span("x", attributes={"start.big": 2**64}) as s:
        s.set_attribute("a.big", -(2**63) - 1)
        s.set_attribute("a.bigs", [1, 2**70])
        s.set_attribute("a.edge", -(2**63))
    span = only(traced)
    attrs = span.attributes or {}
    assert attrs["start.big"] == str(2**64)
    assert attrs["a.big"] == str(-(2**63) - 1)
    assert attrs["a.bigs"] == f"[1,{2**70}]"
    assert attrs["a.edge"] == -(2**63)
    encoded = encode_spans([span]).resource_spans[0].scope_spans[0].spans[0]
    assert {kv.key for kv in encoded.attributes} >= {"start.big", "a.big", "a.bigs", "a.edge"}
