"""Notifiers against real local HTTP and SMTP servers; retries and the delivery log."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from truecourse.alerting import AlertEngine, Dispatcher
from truecourse.config.alerting import AlertingConfig
from truecourse.config.schema import CatalogConfig
from truecourse.model.alerts import Alert

from local_servers import http_capture, smtp_server

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATALOG = CatalogConfig.model_validate({"services": {"checkout": {
    "owner": "alice@example.com", "team": "payments", "oncall": "payments"}}})


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def alert(**extra: str) -> Alert:
    return Alert(labels={"alertname": "LatencyHigh", "service": "checkout", "severity": "page",
                         **extra}, starts_at=T0, annotations={"summary": "p95 over 2 s"},
                 evidence="/api/v1/scorecard?service=checkout")


def running(receiver: dict[str, Any], **delivery: Any) -> tuple[AlertEngine, Dispatcher]:
    cfg = AlertingConfig.model_validate({
        "external_url": "https://tc.example.com",
        "receivers": [{"name": "payments", **receiver}],
        "delivery": {"backoff_initial_s": 0.01, "timeout_s": 5, **delivery}})
    dispatcher = Dispatcher(cfg)
    dispatcher.start()
    return AlertEngine(cfg, CATALOG, dispatcher=dispatcher), dispatcher


def test_webhook_body_owner_evidence_and_hmac_signature() -> None:
    with http_capture() as (url, got):
        e, d = running({"webhook": {"url": url + "/hook", "secret": "s3cret"}})
        try:
            e.receive([alert()], at(0))
            e.flush(at(30))
            assert d.wait_idle()
        finally:
            d.shutdown()
    [(path, headers, body)] = got.requests
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert path == "/hook" and headers["X-TrueCourse-Signature"] == expected
    doc = json.loads(body)
    assert doc["status"] == "firing" and doc["receiver"] == "payments"
    assert doc["owner"]["owner"] == "alice@example.com"
    assert doc["alerts"][0]["evidenceURL"] == \
        "https://tc.example.com/api/v1/scorecard?service=checkout"
    assert [r.status for r in e.deliveries()] == ["sent"]


def test_slack_text_has_owner_and_evidence() -> None:
    with http_capture() as (url, got):
        e, d = running({"slack": {"webhook_url": url + "/services/T/B/X"}})
        try:
            e.receive([alert()], at(0))
            e.flush(at(30))
            assert d.wait_idle()
        finally:
            d.shutdown()
    text = json.loads(got.requests[0][2])["text"]
    assert "[FIRING:1]" in text and "alice@example.com" in text
    assert "https://tc.example.com/api/v1/scorecard?service=checkout" in text


def test_pagerduty_trigger_acknowledge_resolve_share_the_dedup_key() -> None:
    with http_capture() as (url, got):
        e, d = running({"pagerduty": {"routing_key": "RK", "url": url + "/v2/enqueue"}},
                       workers=1)
        try:
            e.receive([alert()], at(0))
            e.flush(at(30))
            assert d.wait_idle()
            e.acknowledge(alert().fingerprint, "dave", at(40))
            assert d.wait_idle()
            e.receive([alert().resolve(at(100))], at(100))
            e.flush(at(330))
            assert d.wait_idle()
        finally:
            d.shutdown()
    events = [json.loads(b) for _, _, b in got.requests]
    assert [ev["event_action"] for ev in events] == ["trigger", "acknowledge", "resolve"]
    assert len({ev["dedup_key"] for ev in events}) == 1
    assert all(ev["routing_key"] == "RK" for ev in events)
    trigger = events[0]
    assert trigger["payload"]["severity"] == "critical"
    assert "alice@example.com" in trigger["payload"]["summary"]
    assert trigger["links"][0]["href"].startswith("https://tc.example.com/")


def test_email_through_a_real_smtp_server() -> None:
    with smtp_server() as (port, mails):
        e, d = running({"email": {"smtp_host": "127.0.0.1", "smtp_port": port,
                                  "from": "tc@example.com", "to": ["oncall@example.com"],
                                  "starttls": False}})
        try:
            e.receive([alert()], at(0))
            e.flush(at(30))
            assert d.wait_idle()
        finally:
            d.shutdown()
    [mail] = mails
    assert mail.sender == "tc@example.com" and mail.recipients == ["oncall@example.com"]
    parsed = email.message_from_string(mail.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"].startswith("[FIRING:1]")
    body = parsed.get_content()
    assert "alice@example.com" in body
    assert "https://tc.example.com/api/v1/scorecard?service=checkout" in body


def test_failing_endpoint_is_retried_with_backoff_and_logged_without_blocking() -> None:
    with http_capture(statuses=[500, 503, 200]) as (url, got):
        e, d = running({"webhook": {"url": url}}, max_attempts=5, workers=1)
        try:
            e.receive([alert()], at(0))
            started = time.monotonic()
            e.flush(at(30))
            e.receive([alert(instance="2")], at(31))  # evaluation goes on meanwhile
            assert time.monotonic() - started < 0.5
            assert d.wait_idle()
        finally:
            d.shutdown()
    assert len(got.requests) == 3
    log = [(r.status, r.attempts) for r in e.deliveries()]
    assert log == [("retrying", 1), ("retrying", 2), ("sent", 3)]
    assert "HTTP 500" in (e.deliveries()[0].error or "")


def test_permanent_failure_and_exhausted_retries_are_logged() -> None:
    with http_capture(statuses=[400]) as (url, _got):
        e, d = running({"webhook": {"url": url}})
        try:
            e.receive([alert()], at(0))
            e.flush(at(30))
            assert d.wait_idle()
        finally:
            d.shutdown()
    assert [(r.status, r.attempts) for r in e.deliveries()] == [("failed", 1)]
    e, d = running({"webhook": {"url": "http://127.0.0.1:9/closed"}}, max_attempts=2)
    try:
        e.receive([alert()], at(0))
        e.flush(at(30))
        assert d.wait_idle()
    finally:
        d.shutdown()
    assert [r.status for r in e.deliveries()] == ["retrying", "failed"]
