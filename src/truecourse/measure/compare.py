"""Compare two values of a dimension (prompt v7 vs v8, gpt-4o vs claude) metric by metric.

Each metric gets both values, the delta, and a significance test fit for its kind, so a person
can tell a regression from noise: Mann-Whitney U on the latency distributions, a two-proportion
z-test (Fisher's exact test for small counts) on rates, a bootstrap of the difference in means
for per-call means and scores. Metrics without a test (counts, sums) show values and delta only.

Cost: the scorecard query once per side, plus one sample query per compared column and side,
each sample capped at :data:`MAX_SAMPLES` values (a seeded reservoir sample beyond that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from truecourse.config.measure import MeasureConfig
from truecourse.errors import InvalidInput
from truecourse.measure.metrics import DIMENSIONS, SUBJECTS, Metric
from truecourse.measure.query import MeasureQuery, check_names
from truecourse.measure.scorecard import aggregate_groups, derive, metric_set
from truecourse.measure.significance import (
    TestResult,
    bootstrap_mean,
    mann_whitney,
    two_proportions,
)
from truecourse.measure.sql import window_where
from truecourse.store.base import Store

__all__ = ["MAX_SAMPLES", "compare"]

#: Most values per side a sample-based test reads.
MAX_SAMPLES = 100_000
_SEED = 7
#: For rates, the (failures-or-successes, trials) aggregates the test runs on.
_RATE_INPUTS: dict[str, tuple[str, str]] = {
    "error_rate": ("errors", "requests"),
    "availability": ("errors", "requests"),
    "refusal_rate": ("refusals", "refusal_checked"),
    "tool_success_rate": ("tool_failures", "tool_calls"),
    "empty_retrieval_rate": ("empty_retrievals", "retrievals_counted"),
    "task_completion_rate": ("completed_tasks", "tasks"),
    "negative_feedback_rate": ("negative_feedback_tasks", "feedback_tasks"),
}


def _known_values(store: Store, q: MeasureQuery, dimension: str) -> list[str]:
    base = replace(q, filters={k: v for k, v in q.filters.items() if k != dimension})
    where, params = window_where(base)
    table = store.select(
        f"SELECT {dimension} AS v, count(*) AS n FROM spans WHERE {where} "
        f"AND {dimension} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 20", params)
    return [str(v) for v in table.column("v").to_pylist()]


def _count(store: Store, q: MeasureQuery) -> int:
    where, params = window_where(q)
    table = store.select(f"SELECT count(*) AS n FROM spans WHERE {where}", params)
    return int(table.column("n")[0].as_py())


def _sample(store: Store, q: MeasureQuery, column: str, subject: str) -> np.ndarray:
    where, params = window_where(q)
    inner = f"SELECT {column} AS v FROM spans WHERE {where} AND {subject} AND {column} IS NOT NULL"
    if store.dialect == "postgresql":
        sql = f"{inner} ORDER BY random() LIMIT {MAX_SAMPLES}"
    else:
        sql = (f"SELECT v FROM ({inner}) "
               f"USING SAMPLE reservoir({MAX_SAMPLES} ROWS) REPEATABLE ({_SEED})")
    table = store.select(sql, params)
    return np.asarray(table.column("v").to_numpy(zero_copy_only=False), dtype=np.float64)


def _subject_sql(m: Metric, q: MeasureQuery) -> str:
    if m.subject == "service":
        return SUBJECTS[q.resolved_subject]
    if m.subject is not None:
        return SUBJECTS[m.subject]
    return "TRUE"


def _verdict(m: Metric, delta: float | None, test: TestResult | None) -> str:
    if test is None or delta is None:
        return "not tested"
    if not test.significant:
        return "no significant change"
    if m.lower_is_better is None or delta == 0:
        return "changed"
    worse = delta > 0 if m.lower_is_better else delta < 0
    return "worse" if worse else "better"


def compare(store: Store, q: MeasureQuery, dimension: str, a: str, b: str,
            metrics: str | Sequence[str] | None = None, settings: MeasureConfig | None = None,
            alpha: float = 0.05) -> dict[str, Any]:
    """``a`` against ``b`` on ``dimension`` within ``q``'s window and filters.

    Returns ``{window, dimension, a, b, filters, subject, alpha, metrics: [{name, title, unit,
    lower_is_better, a, b, delta, relative_delta, test: {method, p_value, ci_low, ci_high, n_a,
    n_b, note} | None, significant, verdict}]}``; ``verdict`` is ``better``, ``worse``,
    ``changed``, ``no significant change`` or ``not tested``. Raises InvalidInput for an unknown
    dimension or metric, ``a == b``, a filter on the compared dimension, or a side without data
    (naming the values that have data).
    """
    settings = settings if settings is not None else MeasureConfig()
    (dimension,) = check_names([dimension], DIMENSIONS, "dimension")
    if not a or not b:
        raise InvalidInput("compare needs both a and b", hint=f"e.g. a=v7&b=v8 for {dimension}")
    if a == b:
        raise InvalidInput(f"a and b are both {a!r}", hint="compare two different values")
    if dimension in q.filters:
        raise InvalidInput(f"filter {dimension}={q.filters[dimension]!r} is the compared "
                           "dimension", hint=f"drop the {dimension} filter; a and b select it")
    mset = metric_set(store)
    names = mset.resolve(metrics)
    sides = {}
    for label, value in (("a", a), ("b", b)):
        side = MeasureQuery(q.window, (), {**q.filters, dimension: value}, q.subject)
        if _count(store, side) == 0:
            known = _known_values(store, q, dimension)
            raise InvalidInput(
                f"{label}: no spans with {dimension}={value!r} in the window",
                hint=("values with data: " + ", ".join(known)) if known else
                     "no spans in the window have this dimension; widen the window")
        groups = aggregate_groups(store, side, names, mset, settings, None)
        values = groups.get((), {})
        derive(values, side.window.seconds)
        sides[label] = (side, values)
    (qa, va), (qb, vb) = sides["a"], sides["b"]
    samples: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for name in names:
        m = mset.metrics[name]
        x, y = va.get(name), vb.get(name)
        delta = None if x is None or y is None else float(y) - float(x)
        rel = None if delta is None or not x else delta / abs(float(x))
        test: TestResult | None = None
        if m.test == "rate" and name in _RATE_INPUTS:
            num, den = _RATE_INPUTS[name]
            test = two_proportions(int(va.get(num) or 0), int(va.get(den) or 0),
                                   int(vb.get(num) or 0), int(vb.get(den) or 0), alpha=alpha)
        elif m.test in ("latency", "mean") and m.sample is not None:
            subj = _subject_sql(m, qa)
            key = (m.sample, subj)
            if key not in samples:
                samples[key] = (_sample(store, qa, m.sample, subj),
                                _sample(store, qb, m.sample, subj))
            sa, sb = samples[key]
            if m.test == "latency":
                test = mann_whitney(sa, sb, alpha=alpha)
            else:
                test = bootstrap_mean(sa, sb, alpha=alpha, seed=_SEED)
        t = test.to_dict() if test is not None else None
        if t is not None and name in ("availability", "tool_success_rate"):
            # the test ran on the failure shares: the success share's interval is mirrored
            low, high = t.get("ci_low"), t.get("ci_high")
            t["ci_low"] = None if high is None else -high
            t["ci_high"] = None if low is None else -low
        out.append({
            "name": name, "title": m.title, "unit": m.unit, "lower_is_better": m.lower_is_better,
            "a": x, "b": y, "delta": delta, "relative_delta": rel,
            "test": None if t is None else {k: t.get(k) for k in (
                "method", "p_value", "ci_low", "ci_high", "n_a", "n_b", "note")},
            "significant": bool(test.significant) if test is not None else False,
            "verdict": _verdict(m, delta, test),
        })
    return {"window": q.window.to_dict(), "dimension": dimension, "a": a, "b": b,
            "filters": dict(q.filters), "subject": qa.resolved_subject, "alpha": alpha,
            "metrics": out}
