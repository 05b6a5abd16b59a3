"""Realistic GenAI traces as OTLP protobuf, shared by the benchmarks and the tests.

Each trace is three spans: an agent/chain span, a retrieval span carrying four documents
(OpenInference ``retrieval.documents.*``), and an LLM chat span with a ~500-character prompt and
completion (OpenTelemetry GenAI ``gen_ai.*``), like a typical RAG request.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

WORDS = (
    "refund", "policy", "order", "shipping", "account", "invoice", "delivery", "warranty",
    "return", "customer", "support", "ticket", "subscription", "payment", "card", "billing",
    "address", "update", "cancel", "plan", "upgrade", "discount", "coupon", "tracking",
    "package", "store", "credit", "exchange", "damaged", "item",
)
SERVICES = ("support-bot", "search-assistant", "claims-agent")
MODELS = ("gpt-4o-mini", "claude-sonnet-4", "llama-3.1-70b")


def _text(rng: random.Random, n_chars: int) -> str:
    out, size = [], 0
    while size < n_chars:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n_chars]


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def trace_spans(rng: random.Random, t0_ns: int) -> list[Span]:
    """One RAG request: chain → retrieval → chat."""
    trace_id = rng.randbytes(16)
    root_id, ret_id, llm_id = rng.randbytes(8), rng.randbytes(8), rng.randbytes(8)
    question = _text(rng, 120)
    prompt = _text(rng, 500)
    answer = _text(rng, 500)
    model = rng.choice(MODELS)
    dur_llm = rng.randint(300, 2500) * 1_000_000
    root = Span(trace_id=trace_id, span_id=root_id, name="answer_question",
                kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=t0_ns,
                end_time_unix_nano=t0_ns + dur_llm + 80_000_000,
                attributes=[_kv("openinference.span.kind", "CHAIN"), _kv("input.value", question),
                            _kv("session.id", f"sess-{rng.randint(1, 5000)}"),
                            _kv("http.route", "/v1/answer")],
                status=Status(code=Status.STATUS_CODE_OK))
    docs = []
    for i in range(4):
        docs += [_kv(f"retrieval.documents.{i}.document.id", f"doc-{rng.randint(1, 10**6)}"),
                 _kv(f"retrieval.documents.{i}.document.score", round(rng.random(), 4)),
                 _kv(f"retrieval.documents.{i}.document.content", _text(rng, 200))]
    retrieval = Span(trace_id=trace_id, span_id=ret_id, parent_span_id=root_id,
                     name="retrieve", kind=Span.SPAN_KIND_INTERNAL,
                     start_time_unix_nano=t0_ns + 1_000_000,
                     end_time_unix_nano=t0_ns + 60_000_000,
                     attributes=[_kv("openinference.span.kind", "RETRIEVER"),
                                 _kv("input.value", question), *docs])
    messages_in = json.dumps([
        {"role": "system", "parts": [{"type": "text", "content": "You are a support agent."}]},
        {"role": "user", "parts": [{"type": "text", "content": prompt}]}])
    messages_out = json.dumps([{"role": "assistant", "finish_reason": "stop",
                                "parts": [{"type": "text", "content": answer}]}])
    error = rng.random() < 0.02
    llm = Span(trace_id=trace_id, span_id=llm_id, parent_span_id=root_id,
               name=f"chat {model}", kind=Span.SPAN_KIND_CLIENT,
               start_time_unix_nano=t0_ns + 61_000_000,
               end_time_unix_nano=t0_ns + 61_000_000 + dur_llm,
               attributes=[_kv("gen_ai.operation.name", "chat"),
                           _kv("gen_ai.provider.name", "openai"),
                           _kv("gen_ai.request.model", model),
                           _kv("gen_ai.response.model", model),
                           _kv("gen_ai.usage.input_tokens", rng.randint(300, 1500)),
                           _kv("gen_ai.usage.output_tokens", rng.randint(50, 400)),
                           _kv("gen_ai.response.finish_reasons", "stop"),
                           _kv("gen_ai.input.messages", messages_in),
                           _kv("gen_ai.output.messages", messages_out),
                           _kv("truecourse.prompt_version", f"v{rng.randint(1, 3)}")],
               status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET))
    return [root, retrieval, llm]


def payloads(n_traces: int, batch_spans: int = 512, seed: int = 7,
             t0_ns: int = 1_763_800_000_000_000_000) -> Iterator[tuple[bytes, int]]:
    """(protobuf body, span count) per request, ``batch_spans`` spans each (last may be less)."""
    rng = random.Random(seed)
    spans_by_service: dict[str, list[Span]] = {}
    pending = 0

    def flush() -> tuple[bytes, int]:
        req = ExportTraceServiceRequest()
        count = 0
        for service, spans in spans_by_service.items():
            rs = req.resource_spans.add()
            rs.resource.attributes.extend([_kv("service.name", service),
                                           _kv("deployment.environment.name", "prod"),
                                           _kv("service.version", "1.4.2")])
            ss = rs.scope_spans.add()
            ss.scope.name = "bench"
            ss.spans.extend(spans)
            count += len(spans)
        spans_by_service.clear()
        return req.SerializeToString(), count

    for i in range(n_traces):
        service = SERVICES[i % len(SERVICES)]
        spans_by_service.setdefault(service, []).extend(
            trace_spans(rng, t0_ns + i * 1_000_000))
        pending += 3
        if pending + 3 > batch_spans:
            pending = 0
            yield flush()
    if pending:
        yield flush()
