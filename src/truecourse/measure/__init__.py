"""Measure behaviour, not just uptime: SLIs, cost, AI scorecards, version comparison, KPIs.

::

    from truecourse.measure import MeasureQuery, Window, compare, scorecard, timeseries

    q = MeasureQuery.build(Window.of(since, until), group_by="service,model")
    scorecard(store, q)                                   # metrics per group
    timeseries(store, q, "latency_p95", step="1h")        # one metric per bucket
    compare(store, q, "prompt_version", "v7", "v8")       # deltas with significance tests

Names are imported lazily, so ``truecourse.measure.refusal`` (used at ingest) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DIMENSIONS": "metrics", "METRICS": "metrics", "Metric": "metrics",
    "MeasureQuery": "query", "Window": "query",
    "scorecard": "scorecard", "timeseries": "scorecard", "metric_set": "scorecard",
    "compare": "compare",
    "PricingCatalog": "pricing", "Price": "pricing", "cost_usd": "pricing",
    "recompute_costs": "costs", "unknown_models": "costs",
    "looks_like_refusal": "refusal",
    "SliMetrics": "prometheus",
    "TestResult": "significance", "mann_whitney": "significance",
    "two_proportions": "significance", "bootstrap_mean": "significance",
    "KPI_DEFINITIONS": "kpis", "compute_all": "kpis",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'truecourse.measure' has no attribute {name!r}")
    return getattr(importlib.import_module(f"truecourse.measure.{module}"), name)
