"""The evaluator: every SLO burn condition and every rule, at one instant of event time.

Each :meth:`Evaluator.tick` evaluates everything at ``now`` and returns the alerts to hand to
the alerting engine, with Prometheus' semantics: a condition that starts to hold makes its
instance *pending*; once it has held for the rule's ``for:`` the instance is *firing* and is
sent on every tick while it fires (``starts_at`` = when it began to hold); when it stops holding
a *resolved* copy (``ends_at = now``) is sent once and the instance goes back to *inactive*.
A pending instance that stops holding goes back to inactive without a word.

Cost per tick: one per-minute count query per SLO over the minutes since the last tick (plus
the late margin); one scorecard query per distinct (window, dimensions) of the rules; one history
query per anomaly rule over the buckets completed since the last tick. The first tick reads the
longest windows once (backfill).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from truecourse.config.detect import DetectConfig, RuleConfig, SloConfig, parse_duration
from truecourse.config.measure import MeasureConfig
from truecourse.detect.rules import (
    GroupValue,
    RuleHistory,
    current_values,
    exceeds,
)
from truecourse.detect.schedule import due_ticks, next_tick
from truecourse.detect.slo import BurnCondition, MinuteCounts, burn_conditions, longest_window_s
from truecourse.errors import PermanentError
from truecourse.measure.metrics import METRICS
from truecourse.measure.scorecard import metric_set
from truecourse.model.alerts import Alert, AlertSource, fingerprint
from truecourse.store.base import Store

__all__ = ["Evaluator"]

_OPS = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@dataclass
class _Signal:
    """One instance's condition at this tick."""

    labels: dict[str, str]
    active: bool
    value: float | None
    for_s: int
    source: AlertSource
    annotations: dict[str, str] = field(default_factory=dict)
    evidence: str | None = None


@dataclass
class _Instance:
    labels: dict[str, str]
    state: str = "inactive"  # inactive | pending | firing
    active_since: datetime | None = None
    value: float | None = None
    source: AlertSource = "rule"
    annotations: dict[str, str] = field(default_factory=dict)
    evidence: str | None = None
    updated: datetime | None = None

    def alert(self) -> Alert:
        assert self.active_since is not None
        return Alert(labels=dict(self.labels), starts_at=self.active_since,
                     annotations=dict(self.annotations), source=self.source,
                     value=self.value, evidence=self.evidence)


def _evidence(filters: dict[str, Any], since: datetime, until: datetime,
              metric: str | None = None) -> str:
    params = {k: v for k, v in filters.items() if v is not None}
    if metric:
        params["metrics"] = metric
    params.update(since=since.isoformat(), until=until.isoformat())
    return "/api/v1/scorecard?" + urlencode(params)


def _notify_annotations(item: SloConfig | RuleConfig, summary: str) -> dict[str, str]:
    out = {"summary": f"{item.summary}: {summary}" if item.summary else summary,
           "notify_during_deploys": "true" if item.notify_during_deploys else "false"}
    if item.runbook_url:
        out["runbook_url"] = item.runbook_url
    return out


def _fmt(v: float | None) -> str:
    return "no data" if v is None else f"{v:.6g}"


class Evaluator:
    """Evaluates ``config``'s SLOs and rules against ``store`` at instants of event time.

    Not thread-safe: one evaluator per process (the leader's, on PostgreSQL). State (caches
    and alert instances) lives in memory; a restarted evaluator backfills on its first tick and
    re-announces what is firing.
    """

    def __init__(self, store: Store, config: DetectConfig, *,
                 measure: MeasureConfig | None = None) -> None:
        self.store = store
        self.config = config
        self.measure = measure or MeasureConfig()
        # the rules' shared queries group by where-keys too: allow more groups than a scorecard
        self._settings = self.measure.model_copy(
            update={"max_groups": max(self.measure.max_groups, 100_000)})
        self._counts = {s.name: MinuteCounts(s, longest_window_s(s), config.late_margin_s)
                        for s in config.slos}
        self._history = {r.name: RuleHistory(r, config.late_margin_s)
                         for r in config.rules if r.kind == "anomaly"}
        self._instances: dict[str, _Instance] = {}
        self._errors: dict[str, str] = {}
        self.last_tick: datetime | None = None

    @property
    def interval_s(self) -> int:
        return self.config.interval_s

    def next_due(self, now: datetime) -> datetime:
        """The next aligned evaluation instant after the last tick (or after ``now``)."""
        return next_tick(self.last_tick or now, self.interval_s)

    def catch_up(self, now: datetime) -> list[Alert]:
        """Tick at every aligned instant due up to ``now`` (see :func:`due_ticks`); the alerts
        of all of them, in order."""
        out: list[Alert] = []
        for t in due_ticks(self.last_tick, now, self.interval_s):
            out += self.tick(t)
        return out

    def tick(self, now: datetime) -> list[Alert]:
        """Evaluate everything at event time ``now``: the firing alerts, and a resolved alert
        for each instance that stopped firing. Raises ``StoreUnavailable`` (nothing is changed
        then); a rule that cannot be evaluated (its metric is missing) is reported by
        :meth:`states` and skipped."""
        signals: list[_Signal] = []
        for slo in self.config.slos:
            counts = self._counts[slo.name]
            counts.refresh(self.store, now)
            signals += self._slo_signals(slo, burn_conditions(counts, now), now)
        if self.config.rules:
            signals += self._rule_signals(now)
        self.last_tick = now
        return self._advance(signals, now)

    # -- SLOs --------------------------------------------------------------------------------

    def _slo_signals(self, slo: SloConfig, conds: list[BurnCondition],
                     now: datetime) -> list[_Signal]:
        out = []
        for c in conds:
            w = c.window
            labels = {"alertname": f"slo:{slo.name}", "slo": slo.name, "severity": w.severity,
                      "window": c.label, "source": "slo", **slo.labels}
            if slo.service:
                labels["service"] = slo.service
            summary = (f"SLO {slo.name} ({slo.objective:.4g}) burning {c.burn_long:.3g}x over "
                       f"{w.long} and {c.burn_short:.3g}x over {w.short} (threshold "
                       f"{w.factor:g}x)")
            since = now - timedelta(seconds=parse_duration(w.long))
            out.append(_Signal(
                labels, c.firing, c.burn_long, 0, "slo", _notify_annotations(slo, summary),
                _evidence({"service": slo.service}, since, now)))
        return out

    # -- rules -------------------------------------------------------------------------------

    def _rule_signals(self, now: datetime) -> list[_Signal]:
        mset = metric_set(self.store)
        results = current_values(self.store, self.config.rules, now, mset, self._settings)
        self._errors = dict(results.errors)
        out: list[_Signal] = []
        for rule in self.config.rules:
            groups = results.values.get(rule.name)
            if groups is None:
                continue
            if rule.kind == "threshold":
                out += [self._threshold(rule, g, now) for g in groups]
            else:
                history = self._history[rule.name]
                try:
                    history.refresh(self.store, now, mset, self._settings)
                except PermanentError as exc:  # e.g. more groups x buckets than allowed
                    self._errors[rule.name] = str(exc)
                    continue
                out += [self._anomaly(rule, history, g, now) for g in groups]
        return out

    def _labels(self, rule: RuleConfig, g: GroupValue, source: str) -> dict[str, str]:
        labels = {"alertname": rule.name, "severity": rule.severity, "source": source,
                  **rule.labels}
        for d, v in {**rule.where, **g.group}.items():
            labels[d] = "" if v is None else str(v)
        return labels

    def _threshold(self, rule: RuleConfig, g: GroupValue, now: datetime) -> _Signal:
        assert rule.op is not None and rule.value is not None
        active = g.value is not None and _OPS[rule.op](g.value, rule.value)
        summary = (f"{rule.metric} = {_fmt(g.value)} over {rule.window or '5m'} "
                   f"({rule.op} {rule.value:g})")
        since = now - timedelta(seconds=rule.window_s)
        return _Signal(self._labels(rule, g, "rule"), active, g.value, rule.for_s, "rule",
                       _notify_annotations(rule, summary),
                       _evidence({**rule.where, **g.group}, since, now, rule.metric))

    def _anomaly(self, rule: RuleConfig, history: RuleHistory, g: GroupValue,
                 now: datetime) -> _Signal:
        start = now - timedelta(seconds=rule.window_s)
        base = history.baseline(tuple(g.group[d] for d in rule.group_by), start)
        direction = rule.direction or _default_direction(rule.metric)
        enough = base is not None and base.points >= (rule.min_history or 12)
        active = False
        annotations: dict[str, str]
        if enough and g.value is not None and base is not None:
            z = base.z(g.value)
            active = exceeds(z, rule.sensitivity or 3.0, direction)
            summary = (f"{rule.metric} = {_fmt(g.value)} over {rule.window or '5m'}; "
                       f"baseline ({rule.baseline or 'ewma'}) {_fmt(base.center)}, z = {z:.2f}")
            annotations = _notify_annotations(rule, summary)
            annotations.update(baseline=f"{base.center:.6g}", z=f"{z:.3f}")
        else:
            points = 0 if base is None else base.points
            annotations = _notify_annotations(
                rule, f"{rule.metric} = {_fmt(g.value)}; baseline has {points} of "
                f"{rule.min_history or 12} buckets")
        return _Signal(self._labels(rule, g, "anomaly"), active, g.value, rule.for_s, "anomaly",
                       annotations, _evidence({**rule.where, **g.group}, start, now, rule.metric))

    # -- alert lifecycle ---------------------------------------------------------------------

    def _advance(self, signals: list[_Signal], now: datetime) -> list[Alert]:
        out: list[Alert] = []
        seen: set[str] = set()
        for s in signals:
            fp = fingerprint(s.labels)
            seen.add(fp)
            inst = self._instances.get(fp)
            if inst is None:
                inst = self._instances[fp] = _Instance(s.labels, source=s.source)
            inst.value, inst.updated = s.value, now
            inst.annotations, inst.evidence = s.annotations, s.evidence
            if s.active:
                if inst.state == "inactive":
                    inst.state, inst.active_since = "pending", now
                assert inst.active_since is not None
                if inst.state == "pending" and now - inst.active_since >= timedelta(
                        seconds=s.for_s):
                    inst.state = "firing"
                if inst.state == "firing":
                    out.append(inst.alert())
            else:
                if inst.state == "firing":
                    out.append(inst.alert().resolve(now))
                inst.state, inst.active_since = "inactive", None
        for fp in [fp for fp in self._instances if fp not in seen]:
            inst = self._instances.pop(fp)  # its group has no data any more
            if inst.state == "firing":
                out.append(inst.alert().resolve(now))
        return out

    def states(self) -> list[dict[str, Any]]:
        """Every known instance as ``{fingerprint, labels, state (inactive, pending, firing),
        since, value, annotations, evidence, updated}``, firing first; then one ``{rule, state:
        error, error}`` per rule that could not be evaluated at the last tick."""
        order = {"firing": 0, "pending": 1, "inactive": 2}
        rows: list[dict[str, Any]] = [{
            "fingerprint": fp, "labels": dict(i.labels), "state": i.state,
            "since": i.active_since.isoformat() if i.active_since else None,
            "value": i.value, "source": i.source, "annotations": dict(i.annotations),
            "evidence": i.evidence, "updated": i.updated.isoformat() if i.updated else None,
        } for fp, i in self._instances.items()]
        rows.sort(key=lambda r: (order[str(r["state"])], str(r["labels"].get("alertname", "")),
                                 str(r["fingerprint"])))
        rows += [{"rule": name, "state": "error", "error": msg}
                 for name, msg in sorted(self._errors.items())]
        return rows


def _default_direction(metric: str) -> str:
    m = METRICS.get(metric)
    if m is None or m.lower_is_better is None:
        return "both"
    return "up" if m.lower_is_better else "down"
