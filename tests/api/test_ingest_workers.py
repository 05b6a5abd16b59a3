"""OTLP through ingest worker processes: same answers as in-process, and a dead worker heals."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import psutil
import pytest
from google.rpc import status_pb2
from starlette.testclient import TestClient

from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.runtime import Runtime

from otlp_builders import span, to_json_doc, trace_request

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = parse_config("server:\n  ingest_workers: 1\n"
                       "pipeline:\n  processors:\n"
                       "    - filter: {drop: [{field: name, equals: healthcheck}]}\n"
                       "    - normalize\n    - enrich\n    - dedupe\n"
                       "catalog:\n  services:\n    svc: {team: search}\n")
    rt = Runtime.build(cfg, db=str(tmp_path / "w.duckdb"))
    assert rt.workers is not None
    with TestClient(create_app(rt)) as c:
        yield c


def test_workers_decode_process_and_commit(client: TestClient) -> None:
    dup = span("chat", attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
    body = trace_request([dup, span("healthcheck"), dup]).SerializeToString()
    r = client.post("/v1/traces", content=body, headers=PB)
    assert r.status_code == 200
    items = client.get("/api/v1/spans").json()["items"]
    assert [(s["name"], s["model"], s["team"]) for s in items] == [("chat", "m", "search")]
    metrics = client.get("/metrics").text
    assert 'truecourse_pipeline_dropped_total{stage="filter",table="spans"} 1.0' in metrics
    assert 'stage="dedupe_spans"' in metrics


def test_worker_errors_keep_their_status(client: TestClient) -> None:
    r = client.post("/v1/traces", content=b"\xff\xff\xff", headers=PB)
    assert r.status_code == 400
    st = status_pb2.Status()
    st.ParseFromString(r.content)
    assert "not a valid OTLP" in st.message
    doc = to_json_doc(trace_request([span("ok"), span("bad", trace_id=b"12")]))
    r = client.post("/v1/traces", content=orjson.dumps(doc), headers=JS)
    assert r.status_code == 200 and r.json()["partialSuccess"]["rejectedSpans"] == "1"


def test_a_killed_worker_is_replaced(client: TestClient) -> None:
    kids = [p for p in psutil.Process(os.getpid()).children(recursive=True)
            if "spawn_main" in " ".join(p.cmdline())]
    assert kids
    for k in kids:
        k.kill()
    psutil.wait_procs(kids, timeout=10)
    body = trace_request([span("after")]).SerializeToString()
    statuses = []
    deadline = time.time() + 30
    while time.time() < deadline:
        r = client.post("/v1/traces", content=body, headers=PB)
        statuses.append(r.status_code)
        if r.status_code == 200:
            break
        assert r.status_code == 503 and r.headers["Retry-After"]
    assert statuses[-1] == 200, statuses
    assert [s["name"] for s in client.get("/api/v1/spans").json()["items"]] == ["after"]


def test_a_retried_request_meets_the_same_workers_dedupe_window(tmp_path: Path) -> None:
    cfg = parse_config("server:\n  ingest_workers: 2\n")
    rt = Runtime.build(cfg, db=str(tmp_path / "w2.duckdb"))
    bodies = [trace_request([span(f"req{i}-{j}") for j in range(5)]).SerializeToString()
              for i in range(8)]
    with TestClient(create_app(rt)) as c:
        for _ in range(3):  # every request sent three times, as a sender retrying would
            for body in bodies:
                assert c.post("/v1/traces", content=body, headers=PB).status_code == 200
        names = [s["name"] for s in c.get("/api/v1/spans", params={"limit": 1000})
                 .json()["items"]]
    assert sorted(names) == sorted(f"req{i}-{j}" for i in range(8) for j in range(5))
