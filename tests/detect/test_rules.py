"""Threshold and anomaly rules with known answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detect.span_rows import T0, batch, between, ns, requests
from truecourse.config.detect import DetectConfig, RuleConfig
from truecourse.detect import Evaluator, due_ticks, ewma_baseline, seasonal_baseline
from truecourse.detect.rules import hour_of_week
from truecourse.store import DuckDBStore
from truecourse.store.base import Store

R = T0 + timedelta(hours=6)
MIN = timedelta(minutes=1)
SEC30 = timedelta(seconds=30)


def rule(**kw: Any) -> RuleConfig:
    return RuleConfig.model_validate(kw)


def test_threshold_rule_goes_pending_then_firing_after_for(store: Store) -> None:
    store.write([requests("checkout", R - 30 * MIN, 60, slow=between(R, R + 30 * MIN)),
                 requests("search", R - 30 * MIN, 60, salt=1)])
    cfg = DetectConfig(rules=[rule(
        name="P95High", kind="threshold", metric="latency_p95", group_by=["service"],
        op=">", value=1000, window="5m", **{"for": "5m"}, severity="page",
        runbook_url="https://runbooks.example/p95")])
    ev = Evaluator(store, cfg)
    seen: dict[Any, list] = {}
    for t in due_ticks(R - MIN, R + 12 * MIN, 30):
        alerts = ev.tick(t)
        states = {s["labels"]["service"]: s for s in ev.states()}
        seen[t] = [alerts, states]
    # at R the window [R-5m, R) is clean; at R+30s 5 of 50 spans are slow: p95 = 3000 ms
    assert seen[R][1]["checkout"]["state"] == "inactive"
    for t in (R + SEC30, R + 3 * MIN, R + 5 * MIN):
        assert seen[t][1]["checkout"]["state"] == "pending", t
        assert seen[t][1]["checkout"]["since"] == (R + SEC30).isoformat()
        assert seen[t][0] == []
    fire_at = R + 5 * MIN + SEC30
    (alert,) = seen[fire_at][0]
    assert seen[fire_at][1]["checkout"]["state"] == "firing"
    assert alert.starts_at == R + SEC30 and not alert.resolved
    assert dict(alert.labels) == {"alertname": "P95High", "severity": "page", "source": "rule",
                                  "service": "checkout"}
    assert alert.value == pytest.approx(3000.0)
    assert alert.annotations["runbook_url"] == "https://runbooks.example/p95"
    assert "latency_p95 = 3000" in alert.annotations["summary"]
    assert alert.evidence is not None
    assert alert.evidence.startswith("/api/v1/scorecard?service=checkout&metrics=latency_p95")
    assert all(s["search"]["state"] == "inactive" for _, s in seen.values())
    assert all(len(a) == 1 for t, (a, _) in seen.items() if t >= fire_at)


class _Counting:
    """The store, counting ``select`` calls."""

    def __init__(self, store: Store) -> None:
        self.inner, self.selects = store, 0

    def select(self, sql: str, params: Any = ()) -> Any:
        self.selects += 1
        return self.inner.select(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_rules_pick_their_where_groups_from_one_shared_query(store: Store) -> None:
    store.write([requests("checkout", R - 10 * MIN, 10, slow=between(R - 10 * MIN, R)),
                 requests("search", R - 10 * MIN, 10, salt=1)])
    rules = [rule(name=f"Slow-{svc}-{m}", kind="threshold", metric=m, where={"service": svc},
                  op=">", value=1000) for svc in ("checkout", "search")
             for m in ("latency_p95", "latency_mean")]
    counting = _Counting(store)
    ev = Evaluator(counting, DetectConfig(rules=rules))  # type: ignore[arg-type]
    alerts = ev.tick(R)
    assert sorted(a.name for a in alerts) == ["Slow-checkout-latency_mean",
                                              "Slow-checkout-latency_p95"]
    assert all(a.labels["service"] == "checkout" for a in alerts)
    assert counting.selects == 1  # four rules, one window, one dimension: one query
    values = {s["labels"]["alertname"]: s["value"] for s in ev.states()}
    assert values["Slow-search-latency_mean"] == pytest.approx(100.0)
    assert values["Slow-checkout-latency_mean"] == pytest.approx(3000.0)


def test_unknown_score_metric_is_reported_and_other_rules_still_run(store: Store) -> None:
    store.write([requests("checkout", R - 10 * MIN, 10, slow=between(R - 10 * MIN, R))])
    ev = Evaluator(store, DetectConfig(rules=[
        rule(name="Quality", kind="threshold", metric="quality_score_mean", op="<", value=0.7),
        rule(name="Slow", kind="threshold", metric="latency_mean", op=">", value=1000)]))
    alerts = ev.tick(R)
    assert [a.name for a in alerts] == ["Slow"]
    errors = [s for s in ev.states() if s["state"] == "error"]
    assert errors == [{"rule": "Quality", "state": "error", "error": errors[0]["error"]}]
    assert "quality_score" in errors[0]["error"]


def _noisy(start, minutes: int, mean: float, rng: np.random.Generator, salt: int):
    step = 6 * 10**9
    starts = ns(start) + np.arange(minutes * 10, dtype=np.int64) * step
    dur = rng.normal(mean, 10.0, len(starts)).clip(1)
    return batch(starts, dur, "chat", salt=salt)


ANOMALY = {"name": "ChatLatencyAnomaly", "kind": "anomaly", "metric": "latency_mean",
           "group_by": ["service"], "baseline": "ewma", "sensitivity": 3.0, "for": "1m"}


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = DuckDBStore(tmp_path / "d.duckdb")
    s.migrate()
    yield s
    s.close()


def test_anomaly_fires_on_a_level_shift_not_on_steady_noise(duck: DuckDBStore) -> None:
    store = duck
    rng = np.random.default_rng(7)
    store.write([_noisy(T0, 6 * 60, 100.0, rng, 0),          # 6 h of steady noise
                 _noisy(R, 30, 150.0, rng, 1)])               # then a level shift at R
    ev = Evaluator(store, DetectConfig(rules=[rule(**ANOMALY)]))
    before = [a for t in due_ticks(R - 3 * 60 * MIN, R, 30) for a in ev.tick(t)]
    assert before == []  # 3 hours of steady noise: nothing fired
    (state,) = ev.states()
    assert state["state"] == "inactive" and state["annotations"]["baseline"]
    assert abs(float(state["annotations"]["z"])) < 3
    after = {t: ev.tick(t) for t in due_ticks(R, R + 10 * MIN, 30)}
    fired = [t for t, a in after.items() if a]
    assert fired and fired[0] <= R + 2 * MIN
    alert = after[fired[0]][0]
    assert alert.source == "anomaly" and alert.labels["service"] == "chat"
    assert float(alert.annotations["z"]) > 3
    assert float(alert.annotations["baseline"]) == pytest.approx(100, abs=2)


def test_anomaly_waits_for_min_history(duck: DuckDBStore) -> None:
    store = duck
    rng = np.random.default_rng(3)
    store.write([_noisy(R - 30 * MIN, 30, 100.0, rng, 0), _noisy(R, 10, 300.0, rng, 1)])
    ev = Evaluator(store, DetectConfig(rules=[rule(**ANOMALY)]))
    assert [a for t in due_ticks(R, R + 10 * MIN, 30) for a in ev.tick(t)] == []
    assert "baseline has" in ev.states()[0]["annotations"]["summary"]


def test_ewma_baseline_weights_the_recent_past() -> None:
    flat = ewma_baseline(np.full(50, 7.0), 0.1)
    assert flat is not None and (flat.center, flat.scale, flat.points) == (7.0, 0.0, 50)
    x = np.array([0.0, 10.0, np.nan])
    b = ewma_baseline(x, 0.5)
    assert b is not None and b.points == 2
    assert b.center == pytest.approx((0.5 * 0 + 1 * 10) / 1.5)
    assert ewma_baseline(np.array([np.nan]), 0.1) is None
    assert flat.z(7.7) == pytest.approx(10.0)  # scale floored at 1% of the center


def test_seasonal_baseline_uses_the_same_hour_of_week_robustly() -> None:
    hour = 3600 * 10**9
    buckets = ns(T0) + np.arange(4 * 168, dtype=np.int64) * hour  # four weeks, hourly
    values = (hour_of_week(buckets) % 24).astype(np.float64) * 10  # a daily pattern
    values[5] = 10_000.0  # one outlier in the history, Monday 05:00 of week one
    at = ns(T0) + 5 * hour + 7 * 24 * hour * 4  # Monday 05:00, week five
    b = seasonal_baseline(buckets, values, at)
    assert b is not None and b.points == 4
    assert b.center == 50.0 and b.scale == 0.0
    assert hour_of_week(ns(T0)) == 0  # T0 is a Monday


def test_anomaly_window_is_not_part_of_its_own_baseline(duck: DuckDBStore) -> None:
    """Evaluated on 5-minute boundaries, the window being judged is a completed bucket; it must
    not join the baseline it is judged against (with alpha 0.1 that alone pulls z of any shift
    to about 3, under a sensitivity of 4)."""
    store = duck
    rng = np.random.default_rng(11)
    store.write([_noisy(T0, 6 * 60, 100.0, rng, 0), _noisy(R, 30, 160.0, rng, 1)])
    spec = {**ANOMALY, "window": "5m", "sensitivity": 4.0, "for": "0s"}
    ev = Evaluator(store, DetectConfig(rules=[rule(**spec)]))
    for t in due_ticks(R - 60 * MIN, R, 300):
        assert ev.tick(t) == []
    alerts = ev.tick(R + 5 * MIN)
    assert len(alerts) == 1
    # judged against the unshifted past, not against a mix with the shift itself
    assert float(alerts[0].annotations["baseline"]) == pytest.approx(100, abs=3)
    assert float(alerts[0].annotations["z"]) > 4
