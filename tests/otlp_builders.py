"""Small builders for OTLP requests used across the test tiers."""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, bytes):
        return KeyValue(key=key, value=AnyValue(bytes_value=value))
    if isinstance(value, list):
        av = AnyValue()
        for v in value:
            av.array_value.values.append(kv("_", v).value)
        return KeyValue(key=key, value=av)
    if isinstance(value, dict):
        av = AnyValue()
        for k, v in value.items():
            av.kvlist_value.values.append(kv(k, v))
        return KeyValue(key=key, value=av)
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def span(name: str = "op", *, trace_id: bytes | None = None, span_id: bytes | None = None,
         parent: bytes = b"", attrs: dict[str, Any] | None = None, start_ns: int = 1_700_000_000 *
         10**9, dur_ns: int = 5_000_000, status: int = 0, kind: int = 1) -> Span:
    s = Span(trace_id=trace_id or os.urandom(16), span_id=span_id or os.urandom(8),
             parent_span_id=parent, name=name, kind=kind, start_time_unix_nano=start_ns,
             end_time_unix_nano=start_ns + dur_ns)
    s.status.code = status
    for k, v in (attrs or {}).items():
        s.attributes.append(kv(k, v))
    return s


def trace_request(spans: list[Span], service: str = "svc", env: str | None = "test",
                  version: str | None = "1.0") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", service))
    if env:
        rs.resource.attributes.append(kv("deployment.environment.name", env))
    if version:
        rs.resource.attributes.append(kv("service.version", version))
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    ss.spans.extend(spans)
    return req


def log_request(bodies: list[Any], service: str = "svc", trace_id: bytes = b"",
                severity: int = 9) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    for i, body in enumerate(bodies):
        rec = sl.log_records.add()
        rec.time_unix_nano = 1_700_000_000 * 10**9 + i
        rec.severity_number = severity
        rec.severity_text = "INFO"
        rec.body.CopyFrom(kv("b", body).value)
        rec.trace_id = trace_id
        rec.attributes.append(kv("i", i))
    return req


def metric_request(service: str = "svc") -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", service))
    sm = rm.scope_metrics.add()
    g = sm.metrics.add(name="queue.depth", unit="1")
    dp = g.gauge.data_points.add(time_unix_nano=1_700_000_000 * 10**9, as_int=7)
    dp.attributes.append(kv("queue", "a"))
    s = sm.metrics.add(name="tokens", unit="{token}")
    s.sum.aggregation_temporality = 2
    s.sum.is_monotonic = True
    s.sum.data_points.add(time_unix_nano=1_700_000_000 * 10**9, as_double=12.5)
    h = sm.metrics.add(name="gen_ai.client.operation.duration", unit="s")
    h.histogram.aggregation_temporality = 1
    hp = h.histogram.data_points.add(time_unix_nano=1_700_000_000 * 10**9, count=3, sum=1.5,
                                     min=0.1, max=1.0)
    hp.bucket_counts.extend([1, 1, 1])
    hp.explicit_bounds.extend([0.25, 0.75])
    e = sm.metrics.add(name="latency.expo", unit="ms")
    ep = e.exponential_histogram.data_points.add(time_unix_nano=1_700_000_000 * 10**9,
                                                 count=4, sum=10.0, scale=0, zero_count=1)
    ep.positive.offset = 0
    ep.positive.bucket_counts.extend([1, 2])
    sm_ = sm.metrics.add(name="rpc.summary")
    sp = sm_.summary.data_points.add(time_unix_nano=1_700_000_000 * 10**9, count=2, sum=3.0)
    sp.quantile_values.add(quantile=0.5, value=1.0)
    return req


def to_json_doc(req: Any) -> dict[str, Any]:
    """The OTLP/JSON form of ``req``: hex ids, lowerCamelCase, int64 as strings."""
    import base64

    from google.protobuf import json_format

    doc = json_format.MessageToDict(req)

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId")
                        and isinstance(v, str) else fix(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(x) for x in node]
        return node

    return fix(doc)  # type: ignore[no-any-return]
