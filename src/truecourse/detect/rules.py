"""Threshold and anomaly rules, evaluated through the scorecard's aggregates.

**Current values.** A threshold rule compares a metric over its trailing window with a value;
an anomaly rule compares the metric over its trailing bucket (``window``, default 5m) with a
baseline. Rules whose window and dimensions (``group_by`` plus the ``where`` keys) are the same
share ONE scorecard query per evaluation, grouped by those dimensions; each rule picks the groups
its ``where`` matches. So 1,000 rules written per service over a handful of metrics and windows
cost a handful of queries, each over the window's spans only. These windows are short; they are
re-read whole each evaluation (percentiles do not merge from per-minute buckets).

**Baselines** (anomaly rules) come from the metric's per-bucket history, cached per rule and
refreshed incrementally: each evaluation reads only the buckets completed since the previous one
(plus the late-data margin); the first reads the whole ``history``.

- ``ewma``: exponentially weighted mean and standard deviation of the history (weight ``alpha``
  on the newest bucket);
- ``seasonal``: median and MAD (scaled by 1.4826 to estimate a standard deviation) of the
  buckets in the same hour of the week as the current one — robust to outliers in the history.

The deviation ``z = (value - center) / scale`` fires beyond ``sensitivity`` in the rule's
direction. ``scale`` is floored at 1% of ``|center|`` so a perfectly flat history does not turn
the smallest change into an alert. No alert until ``min_history`` buckets have a value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from truecourse.config.detect import RuleConfig
from truecourse.config.measure import MeasureConfig
from truecourse.errors import PermanentError
from truecourse.measure.query import MeasureQuery, Window
from truecourse.measure.scorecard import MetricSet, aggregate_groups, derive
from truecourse.store.base import Store

__all__ = ["Baseline", "GroupValue", "RuleHistory", "current_values", "ewma_baseline",
           "exceeds", "rule_dims", "seasonal_baseline"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS = 1_000_000_000
_MAD_TO_SD = 1.4826
_RELATIVE_FLOOR = 0.01
GroupKey = tuple[Any, ...]


def rule_dims(rule: RuleConfig) -> tuple[str, ...]:
    """The dimensions a rule's query groups by: its ``group_by``, then its ``where`` keys."""
    return (*rule.group_by, *(d for d in sorted(rule.where) if d not in rule.group_by))


@dataclass
class GroupValue:
    """One group of one rule: its dimension values and the metric's value (None: no data)."""

    group: dict[str, Any]
    value: float | None


def _pick(rule: RuleConfig, dims: Sequence[str], groups: Mapping[GroupKey, dict],
          window_s: float) -> list[GroupValue]:
    out = []
    for key, values in groups.items():
        g = dict(zip(dims, key, strict=True))
        if any(g.get(d) != v for d, v in rule.where.items()):
            continue
        raw = values.get(rule.metric)
        value = None if raw is None or not math.isfinite(float(raw)) else float(raw)
        out.append(GroupValue({d: g[d] for d in rule.group_by}, value))
    return out


@dataclass
class RuleResults:
    """Per rule: its groups' current values, or the error that kept it from being evaluated."""

    values: dict[str, list[GroupValue]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def current_values(store: Store, rules: Iterable[RuleConfig], now: datetime, mset: MetricSet,
                   settings: MeasureConfig) -> RuleResults:
    """Each rule's metric per group over ``[now - window, now)``, sharing queries between rules
    with the same window and dimensions (see the module doc). A rule whose metric the store
    does not have, or whose query fails with a permanent error, is reported in ``errors``;
    other rules are still evaluated. ``StoreUnavailable`` propagates.
    """
    out = RuleResults()
    plans: dict[tuple[int, tuple[str, ...]], list[RuleConfig]] = {}
    for rule in rules:
        if rule.metric not in mset.metrics:
            out.errors[rule.name] = (f"metric {rule.metric!r} is not in this store (no "
                                     f"{rule.metric.removesuffix('_mean')!r} span column)")
            continue
        dims = tuple(sorted(rule_dims(rule)))
        plans.setdefault((rule.window_s, dims), []).append(rule)
    for (window_s, dims), members in plans.items():
        q = MeasureQuery.build(Window(now - timedelta(seconds=window_s), now), group_by=dims)
        names = sorted({r.metric for r in members})
        try:
            groups = aggregate_groups(store, q, names, mset, settings, None)
        except PermanentError as exc:
            for r in members:
                out.errors[r.name] = str(exc)
            continue
        for values in groups.values():
            derive(values, float(window_s))
        for r in members:
            out.values[r.name] = _pick(r, dims, groups, window_s)
    return out


@dataclass(frozen=True)
class Baseline:
    center: float
    scale: float
    points: int

    def z(self, value: float) -> float:
        scale = max(self.scale, _RELATIVE_FLOOR * abs(self.center), 1e-12)
        return (value - self.center) / scale


def ewma_baseline(values: np.ndarray, alpha: float) -> Baseline | None:
    """Exponentially weighted mean and standard deviation of ``values`` (oldest first, NaN
    skipped); None with no values."""
    x = values[~np.isnan(values)]
    if not len(x):
        return None
    w = (1 - alpha) ** np.arange(len(x) - 1, -1, -1, dtype=np.float64)
    w /= w.sum()
    center = float(np.dot(w, x))
    scale = float(math.sqrt(np.dot(w, (x - center) ** 2)))
    return Baseline(center, scale, len(x))


def hour_of_week(ns: np.ndarray | int) -> np.ndarray | int:
    """0 (Monday 00:00 UTC) to 167 for Unix nanoseconds (1970-01-01 was a Thursday)."""
    return (ns // (3600 * _NS) + 72) % 168


def seasonal_baseline(bucket_ns: np.ndarray, values: np.ndarray, at_ns: int) -> Baseline | None:
    """Median and MAD of the ``values`` whose bucket starts in the same hour of the week as
    ``at_ns``; None when there is none."""
    same = (hour_of_week(bucket_ns) == hour_of_week(at_ns)) & ~np.isnan(values)
    x = values[same]
    if not len(x):
        return None
    center = float(np.median(x))
    return Baseline(center, _MAD_TO_SD * float(np.median(np.abs(x - center))), len(x))


def exceeds(z: float, sensitivity: float, direction: str) -> bool:
    if direction == "up":
        return z > sensitivity
    if direction == "down":
        return z < -sensitivity
    return abs(z) > sensitivity


class RuleHistory:
    """The per-bucket history of one anomaly rule's metric, per group, kept in memory.

    Buckets are ``rule.window_s`` long and aligned to the epoch; only completed buckets are
    kept. Cost per refresh: one aggregate query over the buckets completed since the last
    refresh plus the late margin (the first: the whole ``history``). Memory: one float per
    bucket and group.
    """

    def __init__(self, rule: RuleConfig, late_margin_s: int = 120) -> None:
        self.rule = rule
        self.step_ns = rule.window_s * _NS
        self.history_ns = rule.history_s * _NS
        self.late_margin_ns = late_margin_s * _NS
        self.series: dict[GroupKey, dict[int, float]] = {}
        self.until_ns: int | None = None

    def refresh(self, store: Store, now: datetime, mset: MetricSet,
                settings: MeasureConfig) -> None:
        now_ns = (now - _EPOCH) // timedelta(microseconds=1) * 1000
        end = now_ns // self.step_ns * self.step_ns
        start = end - self.history_ns
        if self.until_ns is not None:
            start = max(start, (self.until_ns - self.late_margin_ns) // self.step_ns
                        * self.step_ns)
        if start < end:
            dims = tuple(self.rule.group_by)
            window = Window(_EPOCH + timedelta(microseconds=start // 1000),
                            _EPOCH + timedelta(microseconds=end // 1000))
            # the rule's own query: ``where`` filters here, so only its groups are read
            q = MeasureQuery.build(window, group_by=dims, filters=self.rule.where)
            groups = aggregate_groups(store, q, [self.rule.metric], mset, settings,
                                      self.step_ns // _NS)
            for series in self.series.values():
                for b in [b for b in series if b >= start or b < end - self.history_ns]:
                    del series[b]
            for key, values in groups.items():
                *gkey, bucket = key
                g = dict(zip(dims, gkey, strict=True))
                derive(values, float(self.step_ns // _NS))
                raw = values.get(self.rule.metric)
                if raw is None or not math.isfinite(float(raw)):
                    continue
                group = tuple(g[d] for d in self.rule.group_by)
                self.series.setdefault(group, {})[int(bucket)] = float(raw)
            self.series = {k: s for k, s in self.series.items() if s}
        self.until_ns = end

    def baseline(self, group: GroupKey, at: datetime) -> Baseline | None:
        """The group's baseline for the window starting at ``at``: from the buckets that
        ended by then, so the values being judged are never part of their own baseline."""
        series = self.series.get(group)
        if not series:
            return None
        at_ns = (at - _EPOCH) // timedelta(microseconds=1) * 1000
        done = [b for b in sorted(series) if b + self.step_ns <= at_ns]
        if not done:
            return None
        buckets = np.fromiter(done, dtype=np.int64, count=len(done))
        values = np.fromiter((series[b] for b in done), dtype=np.float64, count=len(done))
        if self.rule.baseline == "seasonal":
            return seasonal_baseline(buckets, values, at_ns)
        return ewma_baseline(values, self.rule.alpha or 0.1)
