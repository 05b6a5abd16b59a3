"""Alertmanager (v4) and Grafana webhook payloads in; malformed ones named by JSON path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from truecourse.alerting import (
    AlertEngine,
    parse_alertmanager_webhook,
    parse_grafana_webhook,
)
from truecourse.config.alerting import AlertingConfig
from truecourse.config.schema import CatalogConfig
from truecourse.errors import InvalidInput


def am_alert(name: str = "HighCPU", status: str = "firing", **over: Any) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "service": "checkout"},
            "annotations": {"summary": "cpu"}, "startsAt": "2026-03-01T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom:9090/graph?g0",
            "fingerprint": "x", **over}


def am_body(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "tc",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am:9093", "truncatedAlerts": 0, "alerts": list(alerts)}


def test_alertmanager_webhook() -> None:
    got = parse_alertmanager_webhook(am_body(
        am_alert(), am_alert("Down", "resolved", endsAt="2026-03-01T12:05:00+00:00")))
    assert got.rejected == []
    firing, resolved = got.accepted
    assert firing.labels == {"alertname": "HighCPU", "service": "checkout"}
    assert firing.starts_at == datetime(2026, 3, 1, 12, tzinfo=UTC) and firing.ends_at is None
    assert firing.source == "external" and firing.evidence == "http://prom:9090/graph?g0"
    assert resolved.ends_at == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)


def test_bad_alerts_are_reported_and_good_ones_kept() -> None:
    got = parse_alertmanager_webhook(am_body(
        am_alert(), am_alert(labels=["x"]), am_alert(startsAt="yesterday"),
        am_alert(status="pending"), am_alert(labels={"a": 1}), "nope", am_alert("Ok")))
    assert [a.name for a in got.accepted] == ["HighCPU", "Ok"]
    assert [str(r) for r in got.rejected] == [
        "alerts[1].labels: expected a non-empty object of string values",
        "alerts[2].startsAt: not an RFC 3339 time: 'yesterday'",
        "alerts[3].status: expected 'firing' or 'resolved', got 'pending'",
        "alerts[4].labels.a: expected a string, got 1",
        "alerts[5]: expected an object",
    ]


@pytest.mark.parametrize(("body", "message"), [
    ([], r"\$: an Alertmanager webhook body is a JSON object"),
    ({"version": "3", "alerts": []}, "version: expected Alertmanager webhook version '4'"),
    ({"version": "4"}, "alerts: expected a list"),
    ({"version": "4", "alerts": [{"labels": {}}]}, r"no valid alert.*alerts\[0\].labels"),
])
def test_malformed_bodies(body: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_alertmanager_webhook(body)


def test_grafana_webhook_and_grouping_of_external_alerts() -> None:
    body = {"receiver": "tc", "status": "firing", "orgId": 1, "title": "[FIRING:2]",
            "state": "alerting", "message": "...", "groupKey": "k", "version": "1",
            "alerts": [
                {**am_alert("GrafanaLatency", labels={"alertname": "GrafanaLatency",
                                                     "service": "checkout", "instance": str(i)}),
                 "values": {"B": 2.5}, "valueString": "[ var='B' value=2.5 ]",
                 "dashboardURL": "http://grafana/d/abc", "panelURL": "http://grafana/d/abc?p=2",
                 "silenceURL": "http://grafana/silence"} for i in range(2)]}
    got = parse_grafana_webhook(body)
    assert len(got.accepted) == 2 and got.rejected == []
    a = got.accepted[0]
    assert a.value == 2.5 and a.evidence == "http://grafana/d/abc?p=2"
    assert a.annotations["dashboardURL"] == "http://grafana/d/abc"
    engine = AlertEngine(AlertingConfig(), CatalogConfig())
    now = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)
    engine.receive(got.accepted, now)
    [n] = engine.flush(datetime(2026, 3, 1, 12, 1, tzinfo=UTC))  # one group for both
    assert len(n.alerts) == 2
