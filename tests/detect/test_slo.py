"""SLO burn-rate alerts with known answers, on DuckDB and PostgreSQL.

The fleet: service ``checkout``, 10 entry spans a minute (one every 6 s), 100 ms each, for a
day before ``R``. Good = not an error and under 2 s. Objective 0.99: a budget of 1%, so the
14.4x page condition needs more than 14.4% bad spans over both the last hour and the last 5 min.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from detect.span_rows import T0, between, requests
from truecourse.config.detect import DetectConfig, SloConfig
from truecourse.detect import Evaluator, due_ticks, slo_status
from truecourse.model.alerts import Alert
from truecourse.store.base import Store

R = T0 + timedelta(days=1)  # the regression starts here
MIN = timedelta(minutes=1)


def slo(objective: float = 0.99, **kw: Any) -> SloConfig:
    return SloConfig.model_validate({
        "name": "checkout-latency", "service": "checkout", "objective": objective,
        "good": [{"field": "status_code", "op": "!=", "value": "error"},
                 {"field": "duration_ms", "op": "<", "value": 2000}],
        "runbook_url": "https://runbooks.example/checkout", **kw})


def run(ev: Evaluator, since: datetime, until: datetime) -> dict[datetime, list[Alert]]:
    """Tick every 30 s of event time in ``[since, until]``; the alerts of each tick."""
    out = {}
    for t in due_ticks(since - timedelta(seconds=30), until, 30):
        out[t] = ev.tick(t)
    return out


def page_1h(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.labels["window"] == "1h/5m"]


def test_page_fires_when_both_windows_burn_and_resolves_with_the_short_one(store: Store) -> None:
    end = R + 20 * MIN  # the regression lasts 20 minutes
    store.write([requests("checkout", T0, 24 * 60 + 60, slow=between(R, end))])
    ev = Evaluator(store, DetectConfig(slos=[slo()]))
    ticks = run(ev, R - 2 * MIN, end + 10 * MIN)
    firing = {t: page_1h(a) for t, a in ticks.items() if page_1h(a)}
    # at R+8m30s the hour holds 85 bad of 595 (14.3x); at R+9m 90 of 600 (15x): fires
    first = min(firing)
    assert first == R + 9 * MIN
    alert = firing[first][0]
    assert not alert.resolved and alert.source == "slo"
    assert dict(alert.labels) == {"alertname": "slo:checkout-latency", "slo": "checkout-latency",
                                  "severity": "page", "window": "1h/5m", "source": "slo",
                                  "service": "checkout"}
    assert alert.value == pytest.approx(15.0)
    assert alert.annotations["runbook_url"] == "https://runbooks.example/checkout"
    assert alert.annotations["notify_during_deploys"] == "false"
    assert "15x over 1h" in alert.annotations["summary"]
    assert alert.evidence is not None and alert.evidence.startswith(
        "/api/v1/scorecard?service=checkout&since=")
    # the short window is clean again at end+4m30s (its minutes all start at or after ``end``)
    resolved = [(t, a) for t, alerts in firing.items() for a in alerts if a.resolved]
    assert [t for t, _ in resolved] == [end + 4 * MIN + timedelta(seconds=30)]
    assert resolved[0][1].ends_at == resolved[0][0]
    assert resolved[0][1].starts_at == first
    # firing (re-sent) on every tick in between, nothing after the resolution
    fired = sorted(t for t, alerts in firing.items() if any(not a.resolved for a in alerts))
    assert fired == [t for t in ticks if first <= t < resolved[0][0]]
    assert max(firing) == resolved[0][0]
    assert all(s["state"] == "inactive" for s in ev.states()
               if s["labels"]["window"] == "1h/5m")


def test_a_five_minute_spike_alone_does_not_page(store: Store) -> None:
    store.write([requests("checkout", T0, 24 * 60 + 60, slow=between(R, R + 5 * MIN))])
    ev = Evaluator(store, DetectConfig(slos=[slo()]))
    ticks = run(ev, R - MIN, R + 40 * MIN)
    assert not [a for alerts in ticks.values() for a in alerts]
    # the short window did burn at 100x; the hour never passed 50 / 600 = 8.3x
    status = slo_status(store, slo(), R + 5 * MIN)
    assert status["burn_rates"]["1h/5m"]["short"] == pytest.approx(100.0)
    assert status["burn_rates"]["1h/5m"]["long"] == pytest.approx(50 / 600 / 0.01)


def test_slo_status_equals_hand_computed_numbers(store: Store) -> None:
    store.write([requests("checkout", T0, 24 * 60 + 20, slow=between(R, R + 20 * MIN)),
                 requests("other", T0, 60, slow=lambda s: s >= 0, salt=1)])
    now = R + 20 * MIN
    s = slo_status(store, slo(0.98), now)
    good, bad = 1440 * 10, 200
    assert (s["good"], s["total"]) == (good, good + bad)
    assert s["sli"] == pytest.approx(good / (good + bad))
    assert s["error_budget"] == pytest.approx(0.02)
    assert s["budget_remaining_share"] == pytest.approx(1 - bad / (good + bad) / 0.02)
    expected = {  # burn = bad share / 2%
        "1h/5m": (200 / 600, 50 / 50), "6h/30m": (200 / 3600, 200 / 300),
        "1d/2h": (200 / 14400, 200 / 1200), "3d/6h": (200 / 14600, 200 / 3600),
    }
    for label, (long, short) in expected.items():
        assert s["burn_rates"][label]["long"] == pytest.approx(long / 0.02), label
        assert s["burn_rates"][label]["short"] == pytest.approx(short / 0.02), label
    closest = s["closest"]
    assert (closest["severity"], closest["long"], closest["short"]) == ("page", "1h", "5m")
    assert closest["closeness"] == pytest.approx(200 / 600 / 0.02 / 14.4)
    assert closest["firing"] is True
    assert [c["firing"] for c in s["conditions"]] == [True, False, False, False]


def test_no_traffic_burns_nothing(store: Store) -> None:
    s = slo_status(store, slo(), R)
    assert (s["good"], s["total"], s["sli"]) == (0, 0, None)
    assert s["budget_remaining_share"] == 1.0
    assert all(v == {"long": 0.0, "short": 0.0} for v in s["burn_rates"].values())


def test_incremental_counts_equal_a_fresh_read_and_see_late_spans(store: Store) -> None:
    store.write([requests("checkout", T0, 24 * 60 + 10, slow=between(R, R + 10 * MIN))])
    ev = Evaluator(store, DetectConfig(slos=[slo()]))
    run(ev, R, R + 10 * MIN)
    # a late span for a minute already evaluated (inside the 2-minute margin)
    late = requests("checkout", R + 9 * MIN, 1, per_minute=1, slow=lambda s: s >= 0, salt=2)
    store.write([late])
    ev.tick(R + 10 * MIN + timedelta(seconds=30))
    counts = ev._counts["checkout-latency"]
    fresh = slo_status(store, slo(), R + 10 * MIN + timedelta(seconds=30))
    assert counts.counts(R + 10 * MIN + timedelta(seconds=30), 28 * 86400) == (
        fresh["good"], fresh["total"])
    assert fresh["total"] == (24 * 60 + 10) * 10 + 1
