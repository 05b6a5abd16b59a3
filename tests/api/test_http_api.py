"""The HTTP face in-process: OTLP answers per the spec, REST queries, events, health, metrics."""

from __future__ import annotations

import gzip
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.testclient import TestClient

from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.model import Batch
from truecourse.pipeline.metrics import PipelineMetrics
from truecourse.pipeline.runner import Pipeline
from truecourse.runtime import Runtime

from otlp_builders import log_request, metric_request, span, to_json_doc, trace_request

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = parse_config("server:\n  max_body_bytes: 200000\n"
                       "catalog:\n  services:\n    svc:\n      owner: alice@example.com\n"
                       "      team: assistants\n")
    rt = Runtime.build(cfg, db=str(tmp_path / "api.duckdb"))
    with TestClient(create_app(rt)) as c:
        yield c


def test_protobuf_export_then_query(client: TestClient) -> None:
    tid = os.urandom(16)
    body = trace_request([span("chat", trace_id=tid, attrs={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 11})]).SerializeToString()
    r = client.post("/v1/traces", content=body, headers=PB)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    resp = ExportTraceServiceResponse()
    resp.ParseFromString(r.content)
    assert not resp.HasField("partial_success")
    items = client.get("/api/v1/spans", params={"model": "gpt-4o"}).json()["items"]
    assert len(items) == 1 and items[0]["input_tokens"] == 11
    assert items[0]["team"] == "assistants" and items[0]["owner"] == "alice@example.com"
    t = client.get(f"/api/v1/traces/{tid.hex()}").json()
    assert t["span_count"] == 1 and t["roots"][0]["name"] == "chat"
    svc = client.get("/api/v1/services").json()["items"][0]
    assert svc["service"] == "svc" and svc["catalog"]["team"] == "assistants"


def test_json_export_with_partial_success(client: TestClient) -> None:
    doc = to_json_doc(trace_request([span("good"), span("bad")]))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = "abcd"
    r = client.post("/v1/traces", content=orjson.dumps(doc), headers=JS)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    ps = r.json()["partialSuccess"]
    assert ps["rejectedSpans"] == "1" and "trace_id is 2 bytes" in ps["errorMessage"]
    assert [s["name"] for s in client.get("/api/v1/spans").json()["items"]] == ["good"]


def test_gzip_logs_and_metrics(client: TestClient) -> None:
    r = client.post("/v1/logs", content=gzip.compress(log_request(["hi"]).SerializeToString()),
                    headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 200
    r = client.post("/v1/metrics", content=metric_request().SerializeToString(), headers=PB)
    assert r.status_code == 200
    assert client.get("/api/v1/logs").json()["items"][0]["body"] == "hi"


def test_wrong_media_type_is_415(client: TestClient) -> None:
    r = client.post("/v1/traces", content=b"hello", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert "unsupported Content-Type 'text/plain'" in r.json()["message"]


def test_oversized_body_is_413(client: TestClient) -> None:
    body = trace_request([span("big", attrs={"x": "y" * 300_000})]).SerializeToString()
    r = client.post("/v1/traces", content=body, headers=PB)
    assert r.status_code == 413
    status = status_pb2.Status()
    status.ParseFromString(r.content)
    assert "over the limit of 200000 bytes" in status.message
    assert client.get("/api/v1/spans").json()["items"] == []


def test_undecodable_protobuf_is_400_with_reason(client: TestClient) -> None:
    r = client.post("/v1/traces", content=b"\xff\xff\xff\xff", headers=PB)
    assert r.status_code == 400
    status = status_pb2.Status()
    status.ParseFromString(r.content)
    assert "not a valid OTLP ExportTraceServiceRequest" in status.message


def test_broken_json_is_400_with_position(client: TestClient) -> None:
    r = client.post("/v1/traces", content=b'{"resourceSpans": [}', headers=JS)
    assert r.status_code == 400 and "line 1 column" in r.json()["message"]


def test_queue_full_is_503_with_retry_after(tmp_path: Path) -> None:
    gate, entered = threading.Event(), threading.Event()

    class SlowStore:
        url = "slow"

        def write(self, batches: Sequence[Batch]) -> None:
            entered.set()
            gate.wait(10)

        def ping(self) -> None:
            return None

        def close(self) -> None:
            return None

    cfg = parse_config("server:\n  queue_max_batches: 1\n  retry_after_s: 7\n")
    metrics = PipelineMetrics()
    pipeline = Pipeline(SlowStore(), queue_max_batches=1, retry_after_s=7,  # type: ignore
                        metrics=metrics)
    rt = Runtime(cfg, SlowStore(), pipeline, metrics)  # type: ignore[arg-type]
    body = trace_request([span("a")]).SerializeToString()
    with TestClient(create_app(rt)) as c:
        first = pipeline.submit(
            __import__("truecourse.ingest.otlp", fromlist=["decode"])
            .decode("traces", body, PB["Content-Type"]).batch)
        assert entered.wait(5)
        pipeline.submit(__import__("truecourse.ingest.otlp", fromlist=["decode"])
                        .decode("traces", body, PB["Content-Type"]).batch)
        r = c.post("/v1/traces", content=body, headers=PB)
        assert r.status_code == 503 and r.headers["Retry-After"] == "7"
        status = status_pb2.Status()
        status.ParseFromString(r.content)
        assert "queue is full" in status.message
        gate.set()
        first.result(5)


def test_query_parameters_are_validated(client: TestClient) -> None:
    r = client.get("/api/v1/spans", params={"status": "eror"})
    assert r.status_code == 400 and "did you mean 'error'" in r.json()["error"]["hint"]
    r = client.get("/api/v1/spans", params={"since": "yesterday-ish"})
    assert r.status_code == 400 and "RFC 3339" in r.json()["error"]["hint"]
    r = client.get("/api/v1/spans", params={"limit": 0})
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]
    r = client.get("/api/v1/spans", params={"operation": "chatt"})
    assert r.status_code == 400
    assert client.get("/api/v1/spans", params={"since": "15m"}).status_code == 200
    r = client.get("/api/v1/traces/not-hex")
    assert r.status_code == 400 and "32 hex" in r.json()["error"]["message"]
    r = client.get(f"/api/v1/traces/{'a' * 32}")
    assert r.status_code == 404


def test_events_valid_mixed_and_invalid(client: TestClient) -> None:
    tid = os.urandom(16).hex()
    r = client.post("/api/v1/events", json={"kind": "deploy", "service": "svc",
                                            "version": "1.2", "previous_version": "1.1"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = client.post("/api/v1/events", json={"events": [
        {"kind": "feedback", "trace_id": tid, "thumbs": "up", "comment": "great"},
        {"kind": "feedback", "thumbs": "up"},
        {"kind": "deploi", "service": "x"},
        {"kind": "label", "trace_id": tid, "label": "spam"},
        {"kind": "config_change", "key": "model", "old_value": "a", "new_value": "b",
         "surprise": 1},
    ]})
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 2
    assert [x["index"] for x in body["rejected"]] == [1, 2, 4]
    assert "trace_id or span_id" in body["rejected"][0]["error"]
    assert "kind must be one of" in body["rejected"][1]["error"]
    assert "surprise" in body["rejected"][2]["error"]
    r = client.post("/api/v1/events", json=[{"kind": "feature_flag"}])
    assert r.status_code == 422 and "flag" in r.json()["error"]["message"]
    r = client.post("/api/v1/events", content=b"{nope", headers=JS)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    kinds = [e["kind"] for e in client.get("/api/v1/events").json()["items"]]
    assert sorted(kinds) == ["deploy", "feedback", "label"]
    fb = client.get("/api/v1/events", params={"kind": "feedback"}).json()["items"][0]
    assert fb["score"] == 1.0 and fb["trace_id"] == tid


def test_health_metrics_openapi_and_index(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    client.post("/v1/traces", content=trace_request([span("a")]).SerializeToString(),
                headers=PB)
    text = client.get("/metrics").text
    assert 'truecourse_ingest_accepted_total{signal="traces"} 1.0' in text
    assert "truecourse_queue_depth" in text and "truecourse_write_batch_seconds" in text
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/spans" in spec["paths"] and "/v1/traces" in spec["paths"]
    assert "TrueCourse" in client.get("/").text
