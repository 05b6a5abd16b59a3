"""OTLP decoding: protobuf and JSON, gzip, limits, and every bad input with its clear error."""

from __future__ import annotations

import contextlib
import gzip
import os

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truecourse.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from truecourse.ingest.otlp import decode, encode_response

from otlp_builders import (
    log_request,
    metric_request,
    span,
    to_json_doc,
    trace_request,
)

PB = "application/x-protobuf"
JS = "application/json"


def test_protobuf_traces_fill_canonical_columns() -> None:
    tid, sid, pid = os.urandom(16), os.urandom(8), os.urandom(8)
    req = trace_request([span("chat", trace_id=tid, span_id=sid, parent=pid,
                              attrs={"gen_ai.request.model": "gpt-4o", "n": 3, "ok": True,
                                     "ratio": 0.5, "tags": ["a", "b"], "blob": b"\x00\x01",
                                     "nested": {"k": "v"}}, status=2, kind=3)])
    r = decode("traces", req.SerializeToString(), PB)
    assert r.rejected == 0
    row = r.batch.row(0)
    assert row["trace_id"] == tid.hex() and row["span_id"] == sid.hex()
    assert row["parent_span_id"] == pid.hex()
    assert row["kind"] == "client" and row["status_code"] == "error"
    assert row["service"] == "svc" and row["env"] == "test" and row["version"] == "1.0"
    assert row["duration_ms"] == 5.0
    attrs = orjson.loads(row["attributes"])
    assert attrs == {"gen_ai.request.model": "gpt-4o", "n": 3, "ok": True, "ratio": 0.5,
                     "tags": ["a", "b"], "blob": "AAE=", "nested": {"k": "v"}}


def test_json_and_protobuf_decode_to_the_same_rows() -> None:
    req = trace_request([span("a", attrs={"x": 1}), span("b", attrs={"y": "z"}, status=1)])
    a = decode("traces", req.SerializeToString(), PB).batch
    b = decode("traces", orjson.dumps(to_json_doc(req)), JS).batch
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]  # noqa: E731
    assert strip(a.rows()) == strip(b.rows())


def test_gzip_body_is_accepted() -> None:
    req = trace_request([span("a")])
    r = decode("traces", gzip.compress(req.SerializeToString()), PB, "gzip")
    assert len(r.batch) == 1


def test_bad_ids_are_rejected_one_by_one_and_the_rest_kept() -> None:
    good = span("good")
    short_trace = span("bad1", trace_id=b"\x01" * 5)
    zero_span = span("bad2", span_id=b"\x00" * 8)
    bad_parent = span("bad3", parent=b"\x01\x02")
    r = decode("traces", trace_request([good, short_trace, zero_span, bad_parent])
               .SerializeToString(), PB)
    assert [row["name"] for row in r.batch.rows()] == ["good"]
    assert r.rejected == 3
    assert "spans[1]: trace_id is 5 bytes, want 16" in r.error_message
    assert "span_id is all zeros" in r.error_message
    assert "parent_span_id is 2 bytes" in r.error_message


def test_json_span_with_wrong_attribute_type_is_rejected_alone() -> None:
    doc = to_json_doc(trace_request([span("good"), span("bad")]))
    bad = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    bad["attributes"] = [{"key": "n", "value": {"intValue": "not-a-number"}}]
    r = decode("traces", orjson.dumps(doc), JS)
    assert [row["name"] for row in r.batch.rows()] == ["good"]
    assert r.rejected == 1
    assert "spans[1]" in r.error_message and "intValue" in r.error_message


def test_json_non_hex_id_is_rejected() -> None:
    doc = to_json_doc(trace_request([span("good"), span("bad")]))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "zz" * 8
    r = decode("traces", orjson.dumps(doc), JS)
    assert r.rejected == 1 and "is not hex" in r.error_message
    assert len(r.batch) == 1


def test_broken_json_names_the_position() -> None:
    with pytest.raises(InvalidInput) as e:
        decode("traces", b'{"resourceSpans": [', JS)
    assert "not valid JSON" in str(e.value) and "line 1" in str(e.value)


def test_json_of_wrong_shape() -> None:
    with pytest.raises(InvalidInput, match="must be an object"):
        decode("traces", b"[1, 2]", JS)
    with pytest.raises(InvalidInput, match="resourceSpans must be a list"):
        decode("traces", b'{"resourceSpans": 3}', JS)


def test_undecodable_protobuf_says_why() -> None:
    with pytest.raises(InvalidInput) as e:
        decode("traces", b"\xff\xff\xff\xff garbage", PB)
    assert "not a valid OTLP ExportTraceServiceRequest protobuf" in str(e.value)


def test_wrong_media_type() -> None:
    with pytest.raises(UnsupportedMediaType) as e:
        decode("traces", b"x", "text/plain")
    assert e.value.http_status == 415 and "application/x-protobuf" in str(e.value)


def test_body_over_the_limit_compressed_or_not() -> None:
    body = trace_request([span("a", attrs={"big": "x" * 5000})]).SerializeToString()
    with pytest.raises(PayloadTooLarge) as e:
        decode("traces", body, PB, limit=1000)
    assert e.value.http_status == 413
    with pytest.raises(PayloadTooLarge, match="decompressed body"):
        decode("traces", gzip.compress(body), PB, "gzip", limit=1000)


def test_bad_gzip_and_unknown_encoding() -> None:
    with pytest.raises(InvalidInput, match="not valid gzip"):
        decode("traces", b"not gzip at all", PB, "gzip")
    with pytest.raises(UnsupportedMediaType, match="Content-Encoding"):
        decode("traces", b"x", PB, "br")


def test_partial_success_response_in_both_encodings() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    r = decode("traces", trace_request([span("ok"), span("bad", trace_id=b"1")])
               .SerializeToString(), PB)
    resp = ExportTraceServiceResponse()
    resp.ParseFromString(encode_response("traces", r.rejected, r.error_message, PB))
    assert resp.partial_success.rejected_spans == 1
    assert "trace_id is 1 bytes" in resp.partial_success.error_message
    js = orjson.loads(encode_response("traces", r.rejected, r.error_message, JS))
    assert js["partialSuccess"]["rejectedSpans"] == "1"
    assert encode_response("traces", 0, "", PB) == b""


def test_logs_decode_bodies_and_correlation() -> None:
    tid = os.urandom(16)
    r = decode("logs", log_request(["hello", {"k": 1}], trace_id=tid).SerializeToString(), PB)
    rows = r.batch.rows()
    assert [x["body"] for x in rows] == ["hello", '{"k":1}']
    assert rows[0]["trace_id"] == tid.hex() and rows[0]["service"] == "svc"
    assert rows[0]["count"] == 1


def test_log_with_bad_trace_id_rejected() -> None:
    r = decode("logs", log_request(["a"], trace_id=b"123").SerializeToString(), PB)
    assert r.rejected == 1 and len(r.batch) == 0


def test_metrics_every_kind() -> None:
    r = decode("metrics", metric_request().SerializeToString(), PB)
    by_name = {row["name"]: row for row in r.batch.rows()}
    assert by_name["queue.depth"]["value"] == 7.0 and by_name["queue.depth"]["kind"] == "gauge"
    assert by_name["tokens"]["temporality"] == "cumulative"
    assert by_name["tokens"]["is_monotonic"] is True
    h = by_name["gen_ai.client.operation.duration"]
    assert (h["count"], h["sum"], h["bucket_counts"], h["explicit_bounds"]) == \
        (3, 1.5, [1, 1, 1], [0.25, 0.75])
    e = by_name["latency.expo"]
    assert e["bucket_counts"] == [1, 1, 2] and e["explicit_bounds"] == [1.0, 2.0, 4.0]
    assert "otel.summary.quantiles" in by_name["rpc.summary"]["attributes"]
    # JSON form decodes the same
    j = decode("metrics", orjson.dumps(to_json_doc(metric_request())), JS)
    assert len(j.batch) == len(r.batch) and j.rejected == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_protobuf_decoder(body: bytes) -> None:
    try:
        r = decode("traces", body, PB)
    except InvalidInput:
        return
    assert r.rejected >= 0


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                   | st.text(max_size=10),
                    lambda kids: st.lists(kids, max_size=3)
                    | st.dictionaries(st.text(max_size=12), kids, max_size=3), max_leaves=20))
def test_arbitrary_json_never_crashes_the_json_decoder(doc: object) -> None:
    for wrapped in (doc, {"resourceSpans": doc}, {"resourceSpans": [{"scopeSpans": doc}]},
                    {"resourceSpans": [{"scopeSpans": [{"spans": doc}]}]}):
        with contextlib.suppress(InvalidInput):
            decode("traces", orjson.dumps(wrapped), JS)


def test_a_broken_resource_or_scope_rejects_only_what_it_carries() -> None:
    good = to_json_doc(trace_request([span("kept")], service="good"))
    bad_resource = to_json_doc(trace_request([span("r1"), span("r2")], service="bad"))
    bad_resource["resourceSpans"][0]["resource"]["attributes"] = [
        {"key": "n", "value": {"intValue": "not-a-number"}}]
    bad_scope = to_json_doc(trace_request([span("s1")], service="scoped"))
    bad_scope["resourceSpans"][0]["scopeSpans"][0]["scope"] = {"name": 5}
    doc = {"resourceSpans": [*bad_resource["resourceSpans"], *good["resourceSpans"],
                             *bad_scope["resourceSpans"], "not an object"]}
    r = decode("traces", orjson.dumps(doc), JS)
    assert [row["name"] for row in r.batch.rows()] == ["kept"]
    assert r.rejected == 4  # two spans under the bad resource, one under the bad scope, one junk
    assert "resourceSpans[0].resource:" in r.error_message
    assert "resourceSpans[2].scopeSpans[0].scope:" in r.error_message
    assert "resourceSpans[3]: must be an object" in r.error_message
