"""OTLP metric requests to columnar metric-point batches: one row per data point.

Gauges and sums fill ``value``; histograms fill count/sum/min/max and the bucket arrays;
exponential histograms are stored with their positive buckets turned into explicit upper bounds
(``base ** (offset + i + 1)``, zero and negative buckets folded into the first); summaries keep
count and sum, with their quantiles under the reserved attribute ``otel.summary.quantiles``.
"""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.ingest.anyvalue import attributes
from truecourse.ingest.otlp_traces import resource_columns
from truecourse.ingest.result import DecodeResult
from truecourse.model import MetricBatch

_TEMPORALITY = {0: None, 1: "delta", 2: "cumulative"}


def _expo_buckets(dp: Any) -> tuple[list[int], list[float]]:
    base = 2.0 ** (2.0 ** -dp.scale)
    counts = list(dp.positive.bucket_counts)
    bounds = [base ** (dp.positive.offset + i + 1) for i in range(len(counts))]
    low = dp.zero_count + sum(dp.negative.bucket_counts)
    if low:
        counts = [low, *counts]
        bounds = [base ** dp.positive.offset, *bounds]
    return counts, bounds


def metrics_from_request(req: Any, result: DecodeResult | None = None) -> DecodeResult:
    """Append every data point of ``req`` to a new MetricBatch."""
    result = result or DecodeResult(MetricBatch())
    c = result.batch.columns
    dumps = orjson.dumps

    def add(common: tuple[Any, ...], dp: Any, kind: str, temporality: str | None,
            monotonic: bool | None, value: float | None, count: int | None, total: float | None,
            lo: float | None, hi: float | None, buckets: list[int] | None,
            bounds: list[float] | None, attrs: dict[str, Any]) -> None:
        service, env, version, scope, name, unit, res_text = common
        t = dp.time_unix_nano
        c["time"].append(t // 1000)
        c["time_unix_nano"].append(t)
        c["start_unix_nano"].append(dp.start_time_unix_nano or None)
        c["service"].append(service)
        c["env"].append(env)
        c["version"].append(version)
        c["team"].append(None)
        c["owner"].append(None)
        c["scope_name"].append(scope)
        c["name"].append(name)
        c["unit"].append(unit)
        c["kind"].append(kind)
        c["temporality"].append(temporality)
        c["is_monotonic"].append(monotonic)
        c["value"].append(value)
        c["count"].append(count)
        c["sum"].append(total)
        c["min"].append(lo)
        c["max"].append(hi)
        c["bucket_counts"].append(buckets)
        c["explicit_bounds"].append(bounds)
        c["attributes"].append(dumps(attrs).decode())
        c["resource"].append(res_text)

    for ri, rm in enumerate(req.resource_metrics):
        service, env, version, res_text = resource_columns(rm.resource)
        for si, sm in enumerate(rm.scope_metrics):
            scope = sm.scope.name or None
            for mi, m in enumerate(sm.metrics):
                common = (service, env, version, scope, m.name, m.unit or None, res_text)
                which = m.WhichOneof("data")
                if not m.name:
                    n = len(getattr(m, which).data_points) if which else 0
                    result.reject(
                        f"resource_metrics[{ri}].scope_metrics[{si}].metrics[{mi}]: "
                        "metric has no name", max(n, 1))
                    continue
                if which in ("gauge", "sum"):
                    data = getattr(m, which)
                    temporality = _TEMPORALITY.get(data.aggregation_temporality) \
                        if which == "sum" else None
                    monotonic = data.is_monotonic if which == "sum" else None
                    for dp in data.data_points:
                        v = dp.as_double if dp.WhichOneof("value") == "as_double" \
                            else float(dp.as_int)
                        add(common, dp, which, temporality, monotonic, v, None, None, None, None,
                            None, None, attributes(dp.attributes))
                elif which == "histogram":
                    temporality = _TEMPORALITY.get(m.histogram.aggregation_temporality)
                    for dp in m.histogram.data_points:
                        add(common, dp, which, temporality, None, None, dp.count,
                            dp.sum if dp.HasField("sum") else None,
                            dp.min if dp.HasField("min") else None,
                            dp.max if dp.HasField("max") else None,
                            list(dp.bucket_counts), list(dp.explicit_bounds),
                            attributes(dp.attributes))
                elif which == "exponential_histogram":
                    eh = m.exponential_histogram
                    temporality = _TEMPORALITY.get(eh.aggregation_temporality)
                    for dp in eh.data_points:
                        buckets, bounds = _expo_buckets(dp)
                        add(common, dp, which, temporality, None, None, dp.count,
                            dp.sum if dp.HasField("sum") else None,
                            dp.min if dp.HasField("min") else None,
                            dp.max if dp.HasField("max") else None,
                            buckets, bounds, attributes(dp.attributes))
                elif which == "summary":
                    for dp in m.summary.data_points:
                        attrs = attributes(dp.attributes)
                        attrs["otel.summary.quantiles"] = [
                            {"quantile": q.quantile, "value": q.value} for q in dp.quantile_values
                        ]
                        add(common, dp, which, None, None, None, dp.count, dp.sum, None, None,
                            None, None, attrs)
                else:
                    result.reject(
                        f"resource_metrics[{ri}].scope_metrics[{si}].metrics[{mi}]: "
                        f"metric {m.name!r} has no data")
    return result
