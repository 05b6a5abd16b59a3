"""Detect and alert end to end: OTLP into a real server, its leader-run evaluation, the
alerting engine, and notifications arriving at a real local webhook server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from conftest import start_server
from local_servers import Captured, http_capture
from otlp_builders import span, trace_request

pytestmark = pytest.mark.e2e

PB = {"content-type": "application/x-protobuf"}


def _config(tmp: Path, hook: str) -> Path:
    text = f"""
server: {{ingest_workers: 0}}
catalog:
  services:
    checkout: {{owner: alice@example.com, team: payments, oncall: payments-oncall}}
    search: {{owner: bob@example.com, oncall: payments-oncall}}
    ranker: {{owner: carol@example.com, oncall: payments-oncall}}
detect:
  interval_s: 1
  slos:
    - {{name: checkout-latency, service: checkout, objective: 0.99, window: 1d,
       good: [{{field: duration_ms, op: "<", value: 100}}]}}
    - {{name: search-latency, service: search, objective: 0.99, window: 1d,
       good: [{{field: duration_ms, op: "<", value: 100}}]}}
    - {{name: ranker-latency, service: ranker, objective: 0.99, window: 1d,
       good: [{{field: duration_ms, op: "<", value: 100}}]}}
alerting:
  external_url: http://truecourse.test
  route: {{group_wait_s: 1, group_interval_s: 2, repeat_interval_s: 3600}}
  receivers:
    - name: payments-oncall
      webhook: {{url: "{hook}/hook", secret: s3cret}}
"""
    path = tmp / "truecourse.yaml"
    path.write_text(text)
    return path


def _regression(base: str, service: str) -> None:
    """The last 10 minutes of a service: 200 requests, every other one 500 ms (50 % bad)."""
    now = time.time_ns()
    spans = [span(f"GET /{i}", start_ns=now - (600 - 3 * i) * 10**9,
                  dur_ns=(500 if i % 2 else 20) * 10**6) for i in range(200)]
    r = httpx.post(f"{base}/v1/traces", headers=PB, timeout=30,
                   content=trace_request(spans, service=service).SerializeToString())
    assert r.status_code == 200, r.text


def _bodies(captured: Captured) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(body) for _, _, body in list(captured.requests)]


def _wait(pred, timeout_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout_s
    while not pred():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def test_burn_rate_alert_reaches_the_owner_and_noise_controls_hold(tmp_path: Path) -> None:
    with http_capture() as (hook, captured):
        server = start_server(tmp_path, "--config", str(_config(tmp_path, hook)))
        base = server.base_url
        try:
            # a deploy of search opens its deploy window; ranker gets a silence
            r = httpx.post(f"{base}/api/v1/events", json={"kind": "deploy", "service": "search",
                                                         "version": "2.0"}, timeout=30)
            assert r.status_code == 200, r.text
            r = httpx.post(f"{base}/api/v1/silences", json={
                "matchers": ["service=ranker"], "duration": "1h", "created_by": "test"})
            assert r.status_code == 201, r.text
            for service in ("checkout", "search", "ranker"):
                _regression(base, service)

            def page_for(service: str) -> list[dict]:  # type: ignore[type-arg]
                return [a for a in httpx.get(f"{base}/api/v1/alerts",
                                             params={"service": service}).json()["items"]
                        if a["labels"].get("window") == "1h/5m"]

            _wait(lambda: all(page_for(s) for s in ("checkout", "search", "ranker")))
            _wait(lambda: any(b["groupLabels"].get("service") == "checkout"
                              for b in _bodies(captured)))
            [page] = page_for("checkout")
            assert page["labels"]["alertname"] == "slo:checkout-latency"
            assert page["labels"]["severity"] == "page" and page["status"] == "firing"
            assert page["value"] == pytest.approx(50, rel=0.1)  # 50 % bad / 1 % budget

            note = next(b for b in _bodies(captured)
                        if b["groupLabels"].get("service") == "checkout")
            text = json.dumps(note)
            assert "alice@example.com" in text  # the owner from the catalog
            assert "http://truecourse.test/api/v1/scorecard?service=checkout" in text
            path, headers, _ = captured.requests[0]
            assert path == "/hook"
            assert {k.lower() for k in headers} >= {"x-truecourse-signature"}

            # deploy window and silence: recorded, muted, never notified
            assert page_for("search")[0]["suppressed_by"] == "deploy"
            assert page_for("ranker")[0]["silenced_by"]
            time.sleep(3)
            notified = {b["groupLabels"].get("service") for b in _bodies(captured)}
            assert "search" not in notified and "ranker" not in notified

            # external Alertmanager alerts join the grouping: three instances, one message
            am = {"version": "4", "status": "firing", "alerts": [
                {"status": "firing", "startsAt": "2026-11-22T09:00:00Z",
                 "labels": {"alertname": "PodCrashLooping", "service": "checkout",
                            "pod": f"checkout-{i}"}} for i in range(3)]}
            r = httpx.post(f"{base}/api/v1/alerts/alertmanager", json=am, timeout=30)
            assert r.json() == {"accepted": 3, "rejected": []}
            _wait(lambda: any(b["groupLabels"].get("alertname") == "PodCrashLooping"
                              for b in _bodies(captured)))
            crash = [b for b in _bodies(captured)
                     if b["groupLabels"].get("alertname") == "PodCrashLooping"]
            assert len(crash) == 1 and len(crash[0]["alerts"]) == 3

            stats = httpx.get(f"{base}/api/v1/alerts/stats").json()
            assert stats["raw_signals"] > stats["notifications"] >= 2
            assert stats["suppressed_by_silence"] >= 1 and stats["suppressed_by_deploy"] >= 1
        finally:
            server.stop()
