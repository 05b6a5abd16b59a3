"""The drift routes: predictions in (valid kept, invalid named), baselines, reports, alerts."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.runtime import Runtime

from .data import DAY1, DAY2


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    rt = Runtime.build(parse_config("drift:\n  embeddings: hashed\n"),
                       db=str(tmp_path / "drift.duckdb"))
    with TestClient(create_app(rt)) as c:
        yield c


def _preds(start: object, n: int, seed: int, shift: float = 0.0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    from datetime import timedelta

    out = []
    for i in range(n):
        out.append({"id": f"s{seed}-{i}", "model": "churn", "version": "3",
                    "time": (start + timedelta(seconds=i)).isoformat(),  # type: ignore[operator]
                    "features": {"tenure": float(rng.normal(12 + 6 * shift, 6)),
                                 "plan": str(rng.choice(["basic", "pro"]))},
                    "prediction": int(rng.random() < 0.3), "score": float(rng.random())})
    return out


def test_predictions_keep_the_valid_and_name_the_bad(client: TestClient) -> None:
    good = _preds(DAY1, 3, 1)
    bad = [{"features": {"x": 1}}, {"model": "m", "score": "high"}, "nope",
           {"model": "m", "features": {"x": [1, 2]}}]
    r = client.post("/api/v1/predictions", json={"predictions": good + bad})
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 3 and body["ids"] == ["s1-0", "s1-1", "s1-2"]
    errors = {b["index"]: b["error"] for b in body["rejected"]}
    assert "model" in errors[3] and "score" in errors[4]
    assert errors[5] == "prediction must be an object" and "features.x" in errors[6]
    r = client.post("/api/v1/predictions", json=[{"features": {}}])
    assert r.status_code == 422 and "model" in r.json()["error"]["message"]
    r = client.post("/api/v1/predictions", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]


def test_baseline_upload_rejects_empty_and_non_tabular_files(client: TestClient) -> None:
    r = client.post("/api/v1/drift/baselines?model=churn&name=empty.csv", content=b"")
    assert r.status_code == 400 and "is empty" in r.json()["error"]["message"]
    r = client.post("/api/v1/drift/baselines?model=churn&name=x.bin",
                    content=b"\x00\x01\x02\x03" * 100)
    assert r.status_code == 400 and "neither Parquet nor CSV" in r.json()["error"]["message"]
    assert client.get("/api/v1/drift/baselines").json() == {"baselines": []}
    buf = io.BytesIO()
    pq.write_table(pa.table({"tenure": np.arange(100.0), "plan": ["basic"] * 100}), buf)
    r = client.post("/api/v1/drift/baselines?model=churn&name=b.parquet",
                    content=buf.getvalue())
    assert r.status_code == 200 and r.json()["rows"] == 100 and r.json()["format"] == "parquet"
    listed = client.get("/api/v1/drift/baselines?model=churn").json()["baselines"]
    assert [b["id"] for b in listed] == [r.json()["id"]]


def test_report_from_ingested_predictions_is_stored_served_and_alerts(
        client: TestClient) -> None:
    from datetime import timedelta

    for start, seed, shift in ((DAY1, 1, 0.0), (DAY2, 2, 1.0)):
        r = client.post("/api/v1/predictions", json=_preds(start, 600, seed, shift))
        assert r.json()["accepted"] == 600
    window = lambda d: f"{d.isoformat()}..{(d + timedelta(hours=1)).isoformat()}"  # noqa: E731
    r = client.post("/api/v1/drift/reports", json={
        "model": "churn", "reference": window(DAY1), "current": window(DAY2)})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["drifted"] and "tenure" in doc["drifted_columns"]
    assert "plan" not in doc["drifted_columns"]
    rid = doc["id"]
    assert client.get(f"/api/v1/drift/reports/{rid}").json()["id"] == rid
    assert client.get("/api/v1/drift/reports?model=churn").json()["reports"][0]["id"] == rid
    page = client.get(f"/api/v1/drift/reports/{rid}/html")
    assert page.status_code == 200 and "<svg" in page.text
    assert client.get("/api/v1/drift/reports/nope").status_code == 404
    alerts = client.get("/api/v1/alerts").json()
    names = [a["labels"]["alertname"] for a in alerts.get("items", alerts.get("alerts", []))]
    assert "ModelDrift" in names
    r = client.post("/api/v1/drift/reports", json={"reference": "1d..now"})
    assert r.status_code == 400 and "exactly one of model" in r.json()["error"]["message"]
    r = client.post("/api/v1/drift/reports", json={"model": "churn", "reference": "soon..now"})
    assert r.status_code == 400 and "is not a time" in r.json()["error"]["message"]


def test_llm_service_report_from_otlp_ingested_spans(client: TestClient) -> None:
    """Spans arrive through the real OTLP receiver; the report derives the LLM features."""
    from datetime import timedelta

    from otlp_builders import span, trace_request

    rng = np.random.default_rng(4)
    for day, words, mult in ((DAY1, ["order", "refund", "invoice"], 1),
                             (DAY2, ["Kündigung", "Vertrag", "Rechnung"], 4)):
        spans = []
        for i in range(300):
            prompt = " ".join(rng.choice(words, int(rng.integers(5, 10)) * mult))
            spans.append(span("chat gpt-4o-mini", start_ns=int(day.timestamp() * 1e9) + i * 10**9,
                              attrs={"openinference.span.kind": "LLM", "input.value": prompt,
                                     "output.value": "ok",
                                     "llm.model_name": "gpt-4o-mini",
                                     "llm.token_count.prompt": len(prompt) // 4,
                                     "llm.token_count.completion": 2}))
        r = client.post("/v1/traces", content=trace_request(spans, service="bot")
                        .SerializeToString(),
                        headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 200
    window = lambda d: f"{d.isoformat()}..{(d + timedelta(hours=1)).isoformat()}"  # noqa: E731
    r = client.post("/api/v1/drift/reports", json={
        "service": "bot", "reference": window(DAY1), "current": window(DAY2)})
    assert r.status_code == 200, r.text
    by = {c["column"]: c for c in r.json()["columns"]}
    assert by["prompt_chars"]["drifted"] and by["input_tokens"]["drifted"]
    assert by["input_text"]["method"] == "mmd" and by["input_text"]["drifted"]
    assert not by["model"]["drifted"] and by["prompt_chars"]["n_current"] == 300


def test_sketches_route_builds_windows_for_a_sketched_reference(client: TestClient) -> None:
    from datetime import timedelta

    for h in range(4):
        r = client.post("/api/v1/predictions", json=_preds(DAY1 + timedelta(hours=h), 400, h))
        assert r.json()["accepted"] == 400
    r = client.post("/api/v1/predictions", json=_preds(DAY2, 300, 9, shift=1.5))
    end = DAY1 + timedelta(hours=4)
    r = client.post("/api/v1/drift/sketches", json={
        "model": "churn", "since": DAY1.isoformat(), "until": end.isoformat(), "step_s": 3600})
    assert r.status_code == 200 and r.json() == {"model": "churn", "windows": 4}
    r = client.post("/api/v1/drift/reports", json={
        "model": "churn", "reference": f"sketches:{DAY1.isoformat()}..{end.isoformat()}",
        "current": f"{DAY2.isoformat()}..{(DAY2 + timedelta(hours=1)).isoformat()}"})
    assert r.status_code == 200, r.text
    by = {c["column"]: c for c in r.json()["columns"]}
    assert by["tenure"]["method"] == "ks" and by["tenure"]["drifted"]  # small current: KS
    assert by["tenure"]["n_reference"] == 1600 and not by["plan"]["drifted"]
    r = client.post("/api/v1/drift/sketches", json={"model": "churn", "step_s": 5})
    assert r.status_code == 400 and "step_s" in r.json()["error"]["message"]
