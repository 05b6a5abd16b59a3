"""The alerting faces of the API: bad input gets a precise 4xx and nothing valid is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.runtime import Runtime


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = parse_config("detect:\n  slos:\n    - name: api-ok\n      objective: 0.99\n"
                       "      good: [{field: status_code, op: '!=', value: error}]\n")
    rt = Runtime.build(cfg, db=str(tmp_path / "alerts.duckdb"))
    with TestClient(create_app(rt)) as c:
        yield c


def _error(r) -> str:  # type: ignore[no-untyped-def]
    return str(r.json()["error"]["message"])


def test_silences_bad_input_and_lifecycle(client: TestClient) -> None:
    base = {"created_by": "alice", "duration": "1h"}
    r = client.post("/api/v1/silences", json={**base, "matchers": []})
    assert r.status_code == 400 and "at least one matcher" in _error(r)
    r = client.post("/api/v1/silences", json={**base, "matchers": ["service=~(unclosed"]})
    assert r.status_code == 400 and "matchers[0]" in _error(r)
    r = client.post("/api/v1/silences", json={
        "matchers": ["service=a"], "created_by": "alice",
        "starts_at": "2026-11-22T10:00:00Z", "ends_at": "2026-11-22T09:00:00Z"})
    assert r.status_code == 400 and "after starts_at" in _error(r)
    r = client.post("/api/v1/silences", json={**base, "matchers": ["service=a"],
                                              "ends_at": "2026-11-22T09:00:00Z"})
    assert r.status_code == 400 and "exactly one of ends_at and duration" in _error(r)
    r = client.post("/api/v1/silences", json={**base, "matchers": ["service=a"],
                                              "duration": "soon"})
    assert r.status_code == 400 and "duration 'soon'" in _error(r)
    assert client.get("/api/v1/silences").json() == {"items": []}  # nothing half-made
    r = client.post("/api/v1/silences", json={**base, "matchers": ["service=a"]})
    assert r.status_code == 201 and r.json()["status"] == "active"
    sid = r.json()["id"]
    assert client.delete(f"/api/v1/silences/{sid}").json()["status"] == "expired"
    assert client.delete("/api/v1/silences/nope").status_code == 404


def test_external_alerts_keep_the_valid_and_name_the_bad(client: TestClient) -> None:
    ok = {"status": "firing", "labels": {"alertname": "DiskFull", "service": "db"},
          "startsAt": "2026-11-22T09:00:00Z"}
    r = client.post("/api/v1/alerts/alertmanager", json={"version": "4", "alerts": [
        ok, {"status": "firing", "labels": {"alertname": "X"}, "startsAt": "yesterday"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"][0]["path"].startswith("alerts[1]")
    assert [a["labels"]["alertname"] for a in client.get("/api/v1/alerts").json()["items"]] == [
        "DiskFull"]
    r = client.post("/api/v1/alerts/alertmanager", json={"version": "4", "alerts": [{}]})
    assert r.status_code == 400 and "alerts[0]" in _error(r)
    r = client.post("/api/v1/alerts/grafana", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not JSON" in _error(r)
    assert client.get("/api/v1/alerts", params={"status": "burning"}).status_code == 400
    r = client.post("/api/v1/alerts/0000000000000000/ack", json={"by": "bob"})
    assert r.status_code == 404


def test_slo_status_and_unknown_name(client: TestClient) -> None:
    r = client.get("/api/v1/slo")
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert item["name"] == "api-ok" and item["total"] == 0 and item["sli"] is None
    r = client.get("/api/v1/slo", params={"name": "api-okk"})
    assert r.status_code == 400 and "known: api-ok" in _error(r)
