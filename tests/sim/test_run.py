"""Simulation runs end to end: the fleet through a real in-process server, detection on event
time, alerts attributed to faults, notifications delivered to the inbox, reproducible by seed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from truecourse.sim import Fault, Timeline
from truecourse.sim.run import SimEvent, attribute, run_timeline

pytestmark = pytest.mark.e2e

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_a_tool_outage_is_caught_owned_and_delivered(tmp_path: Path) -> None:
    events: list[SimEvent] = []
    timeline = Timeline(1800, [Fault("tool_outage", 600, 900)])
    result, server = run_timeline(timeline, seed=3, folder=tmp_path, start=START,
                                  on_event=events.append, keep_server=True)
    assert server is not None
    try:
        (outcome,) = result.outcomes
        assert outcome.detected
        assert outcome.mttd_s is not None and 0 < outcome.mttd_s <= 600
        names = {a.alertname for a in outcome.alerts}
        assert "ToolFailing" in names
        tool_alert = next(a for a in outcome.alerts if a.alertname == "ToolFailing")
        assert tool_alert.labels["tool_name"] == "order_lookup"
        # nothing fired before the fault: healthy traffic raises no threshold or SLO alert
        assert all(e.fired_at >= outcome.started for e in result.episodes)
        # the platform's own API shows the same alerts, enriched with the owner's team
        api = httpx.get(f"{server.base_url}/api/v1/alerts", timeout=30).json()["items"]
        assert {a["fingerprint"] for a in api} >= {a.fingerprint for a in outcome.alerts}
        # grouping: fewer notifications than raw signals, and all of them reached the inbox
        assert 0 < result.stats["notifications"] < result.stats["raw_signals"]
        assert result.notifications_delivered == result.stats["notifications"]
        # every span the fleet sent is stored
        services = httpx.get(f"{server.base_url}/api/v1/services", timeout=30).json()["items"]
        assert sum(s["span_count"] for s in services) == result.spans
        # the watcher saw the fault, the alerts and every step
        kinds = [e.kind for e in events]
        assert kinds.count("step") == 30 and "fault" in kinds and "alert" in kinds
    finally:
        server.stop()
    assert (tmp_path / "truecourse.yaml").read_text().startswith("# truecourse.yaml")


def test_a_seed_replays_the_same_run(tmp_path: Path) -> None:
    timeline = Timeline(1200, [Fault("dependency_outage", 300, 600)])
    runs = [run_timeline(timeline, seed=5, folder=tmp_path / str(i), start=START)[0]
            for i in range(2)]
    a, b = ([(e.alertname, e.service, e.fired_at, e.resolved_at) for e in r.episodes]
            for r in runs)
    assert a == b and a, "the same seed gives the same alerts at the same event times"
    assert runs[0].spans == runs[1].spans
    assert runs[0].outcomes[0].detected


def test_attribution_needs_the_right_service_and_time() -> None:
    from truecourse.sim.run import AlertEpisode

    timeline = Timeline(7200, [Fault("latency_regression", 3600, 600)])

    def ep(service: str, minute: int) -> AlertEpisode:
        at = START.replace(hour=10, minute=minute)
        return AlertEpisode("fp", {"alertname": "X", "service": service}, {}, "rule", at, at)

    before = AlertEpisode("b", {"alertname": "X", "service": "recommender"}, {}, "rule",
                          START, START)
    wrong = ep("fraud-scorer", 5)
    right = ep("recommender", 7)
    late = ep("recommender", 30)  # 20 minutes after the fault's end: beyond the grace
    (o,) = attribute(timeline, START, [before, wrong, late, right])
    assert o.alerts == [right] and o.mttd_s == 420
