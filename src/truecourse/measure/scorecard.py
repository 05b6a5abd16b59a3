"""Scorecards and time series: service and AI behaviour metrics per group of spans.

::

    card = scorecard(store, MeasureQuery.build(Window.of(since, until), "service,model"))
    card["groups"][0] == {"group": {"service": "chat", "model": "gpt-4o"},
                          "metrics": {"requests": 1200, "latency_p95": 812.0, ...}}

These functions are what the REST API, the CLI and the web UI call; none of them holds logic of
its own. Costs: one aggregate query over the window's spans, plus one per-trace query when a
task or feedback metric is asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from truecourse.config.measure import MeasureConfig
from truecourse.errors import InvalidInput
from truecourse.measure.metrics import METRICS, SCORE_SUFFIX, Metric, score_metric
from truecourse.measure.query import MeasureQuery, check_names, parse_step
from truecourse.measure.sql import BUCKET, QUANTILES, Dialect, SqlPlan, span_sql, task_sql
from truecourse.store.base import Store

__all__ = ["MetricSet", "metric_set", "scorecard", "timeseries"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCORE_TYPES = ("DOUBLE", "FLOAT", "REAL", "DOUBLE PRECISION", "DECIMAL", "NUMERIC",
                "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT")
# score columns are spliced into SQL and become metric names: plain identifiers only
_SCORE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class MetricSet:
    """The metrics a store can answer: the built-ins plus one per ``*_score`` span column."""

    metrics: dict[str, Metric]
    score_columns: tuple[str, ...]

    def resolve(self, names: str | Sequence[str] | None) -> tuple[str, ...]:
        """The asked metric names, checked; None or empty means all of them."""
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        if not names:
            return tuple(self.metrics)
        return check_names(names, list(self.metrics), "metric")

    def needed(self, names: Iterable[str]) -> tuple[set[str], set[str]]:
        """The (span, task) aggregates behind ``names``, derived metrics expanded."""
        span: set[str] = set()
        task: set[str] = set()
        todo = list(names)
        while todo:
            m = self.metrics[todo.pop()]
            if m.source == "derived":
                todo.extend(m.inputs)
            elif m.source == "task":
                task.add(m.name)
            else:
                span.add(m.name)
        return span, task


def metric_set(store: Store) -> MetricSet:
    """The metrics of ``store``: the built-ins and a mean for each numeric ``*_score`` column."""
    columns = store.table_columns("spans")
    scores = tuple(c for c, t in columns.items()
                   if c.endswith(SCORE_SUFFIX) and _SCORE_NAME.match(c)
                   and t.upper().startswith(_SCORE_TYPES) and f"{c}_mean" not in METRICS)
    metrics = dict(METRICS)
    for col in scores:
        m = score_metric(col)
        metrics[m.name] = m
    return MetricSet(metrics, scores)


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _ratio(num: Any, den: Any) -> float | None:
    if num is None or not den:
        return None
    return float(num) / float(den)


def derive(values: dict[str, Any], window_s: float) -> None:
    """Fill the derived metrics of one group in place from its aggregates."""
    v = values
    v["throughput_rps"] = _ratio(v.get("requests"), window_s)
    v["error_rate"] = _ratio(v.get("errors"), v.get("requests"))
    v["availability"] = None if v["error_rate"] is None else 1.0 - v["error_rate"]
    v["input_tokens_per_call"] = _ratio(v.get("input_tokens"), v.get("llm_calls"))
    v["output_tokens_per_call"] = _ratio(v.get("output_tokens"), v.get("llm_calls"))
    v["cost_per_request"] = _ratio(v.get("cost_usd"), v.get("requests"))
    v["cost_per_call"] = _ratio(v.get("cost_usd"), v.get("llm_calls"))
    v["refusal_rate"] = _ratio(v.get("refusals"), v.get("refusal_checked"))
    failures = _ratio(v.get("tool_failures"), v.get("tool_calls"))
    v["tool_success_rate"] = None if failures is None else 1.0 - failures
    v["empty_retrieval_rate"] = _ratio(v.get("empty_retrievals"), v.get("retrievals_counted"))
    v["task_completion_rate"] = _ratio(v.get("completed_tasks"), v.get("tasks"))
    v["cost_per_completed_task"] = _ratio(v.get("task_cost_usd"), v.get("completed_tasks"))
    v["feedback_rate"] = _ratio(v.get("feedback_tasks"), v.get("tasks"))
    v["negative_feedback_rate"] = _ratio(v.get("negative_feedback_tasks"),
                                         v.get("feedback_tasks"))


def _rows(store: Store, plan: SqlPlan, keys: Sequence[str]) -> dict[tuple[Any, ...], dict]:
    """Run ``plan``; its aggregates by group key (the quantile list split into metrics)."""
    table = store.select(plan.sql, plan.params)
    data = {name: table.column(name).to_pylist() for name in table.column_names}
    out: dict[tuple[Any, ...], dict] = {}
    for i in range(table.num_rows):
        key = tuple(data[k][i] for k in keys)
        values: dict[str, Any] = {}
        for name in plan.columns:
            if name == "_q":
                qs = data["_q"][i] or [None] * len(QUANTILES)
                for n, val in zip(plan.quantiles, qs, strict=False):
                    values[n] = _plain(val)
            else:
                values[name] = _plain(data[name][i])
        out[key] = values
    return out


def _settings(settings: MeasureConfig | None) -> MeasureConfig:
    return settings if settings is not None else MeasureConfig()


def aggregate_groups(store: Store, q: MeasureQuery, names: Sequence[str], mset: MetricSet,
                  settings: MeasureConfig, step_s: int | None) -> dict[tuple[Any, ...], dict]:
    span_needed, task_needed = mset.needed(names)
    dialect = Dialect(store.dialect)
    keys = [*q.group_by, *([BUCKET] if step_s is not None else [])]
    step_ns = None if step_s is None else step_s * 1_000_000_000
    cap = settings.max_groups + 1 if step_s is None else None
    approx = q.window.seconds > settings.exact_quantiles_max_hours * 3600
    groups: dict[tuple[Any, ...], dict] = {}
    if span_needed or not task_needed:
        plan = span_sql(q, span_needed, dialect, score_columns=mset.score_columns,
                        step_ns=step_ns, approx_quantiles=approx, limit=cap)
        groups = _rows(store, plan, keys)
        _check_cap(len(groups), q, settings)
    if task_needed:
        plan = task_sql(q, task_needed, dialect, task_span_names=settings.task_span_names,
                        negative_below=settings.negative_feedback_below, step_ns=step_ns,
                        limit=cap)
        tasks = _rows(store, plan, keys)
        _check_cap(len(tasks), q, settings)
        for key, values in tasks.items():
            groups.setdefault(key, {}).update(values)
    # a group that one query found and the other did not (spans but no task) counts 0, not None
    counts = [n for n in (*span_needed, *task_needed) if mset.metrics[n].unit == "count"]
    for values in groups.values():
        for n in counts:
            values.setdefault(n, 0)
    return groups


def _check_cap(n: int, q: MeasureQuery, settings: MeasureConfig) -> None:
    if n > settings.max_groups:
        dims = " x ".join(q.group_by)
        raise InvalidInput(
            f"group_by {dims} gives more than {settings.max_groups} groups",
            hint="add a filter (e.g. service=...), group by fewer dimensions, or raise "
                 "measure.max_groups")


def scorecard(store: Store, q: MeasureQuery, metrics: str | Sequence[str] | None = None,
              settings: MeasureConfig | None = None) -> dict[str, Any]:
    """The metrics of every group of ``q``, biggest groups first.

    Returns ``{window, group_by, filters, subject, quantiles, metrics: [{name, title, unit,
    lower_is_better}], groups: [{group: {dim: value}, metrics: {name: value}}]}``; a value is
    None where it is undefined (no calls, no tasks). Raises InvalidInput for unknown metrics
    and when the groups exceed ``measure.max_groups``.
    """
    settings = _settings(settings)
    mset = metric_set(store)
    names = mset.resolve(metrics)
    groups = aggregate_groups(store, q, names, mset, settings, None)
    out_groups = []
    for key, values in groups.items():
        derive(values, q.window.seconds)
        out_groups.append({"group": dict(zip(q.group_by, key, strict=True)),
                           "metrics": {n: values.get(n) for n in names}})
    size = "requests" if "requests" in names else names[0]
    out_groups.sort(key=lambda g: -(g["metrics"].get(size) or 0))
    approx = q.window.seconds > settings.exact_quantiles_max_hours * 3600
    return {
        "window": q.window.to_dict(),
        "group_by": list(q.group_by),
        "filters": dict(q.filters),
        "subject": q.resolved_subject,
        "quantiles": "tdigest" if approx else "exact",
        "metrics": [_describe(mset.metrics[n]) for n in names],
        "groups": out_groups,
    }


def timeseries(store: Store, q: MeasureQuery, metric: str, step: str | int | None = None,
               settings: MeasureConfig | None = None, max_series: int = 20) -> dict[str, Any]:
    """One metric per time bucket (and per group): ``{step_s, buckets, series: [{group,
    points: [[iso time, value], ...]}]}``; every bucket of the window appears, empty ones with
    None (0 for counts). Raises InvalidInput for an unknown metric or a step giving too many
    points, and when there are more than ``max_series`` groups.
    """
    settings = _settings(settings)
    mset = metric_set(store)
    if not metric:
        raise InvalidInput("metric is required", hint="allowed: " + ", ".join(mset.metrics))
    (name,) = mset.resolve([metric])
    step_s = parse_step(step, q.window)
    groups = aggregate_groups(store, q, [name], mset, settings, step_s)
    step_ns = step_s * 1_000_000_000
    # integer nanoseconds: a float loses the "- 1" at 1e18 and adds a bucket past ``until``
    first = _unix_ns(q.window.since) // step_ns * step_ns
    last = (_unix_ns(q.window.until) - 1) // step_ns * step_ns
    buckets = list(range(first, last + 1, step_ns))
    m = mset.metrics[name]
    empty = 0 if m.unit == "count" else None
    series: dict[tuple[Any, ...], dict[int, Any]] = {}
    for key, values in groups.items():
        *gkey, bucket = key
        derive(values, float(step_s))
        series.setdefault(tuple(gkey), {})[int(bucket)] = values.get(name)
    if not q.group_by and not series:  # no spans at all: still one series of empty buckets
        series[()] = {}
    if len(series) > max_series:
        raise InvalidInput(
            f"group_by {' x '.join(q.group_by)} gives {len(series)} series, more than "
            f"{max_series}", hint="add a filter or group by fewer dimensions")
    def iso(ns: int) -> str:
        return datetime.fromtimestamp(ns / 1e9, UTC).isoformat()

    out = [{"group": dict(zip(q.group_by, key, strict=True)),
            "points": [[iso(b), points.get(b, empty)] for b in buckets]}
           for key, points in sorted(series.items(), key=lambda kv: str(kv[0]))]
    return {"window": q.window.to_dict(), "metric": _describe(m), "step_s": step_s,
            "group_by": list(q.group_by), "filters": dict(q.filters),
            "subject": q.resolved_subject, "series": out}


def _unix_ns(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


def _describe(m: Metric) -> dict[str, Any]:
    return {"name": m.name, "title": m.title, "unit": m.unit,
            "lower_is_better": m.lower_is_better}
