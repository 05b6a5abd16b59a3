"""Cost upkeep: which models have no price, and repricing stored spans after prices change.

Costs are computed at ingest (the normalize stage) from the catalog then in force. When the
catalog or ``measure.pricing`` changes, :func:`recompute_costs` reprices the spans whose cost came
from the catalog or had no price; costs the instrumentation reported are never touched.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from truecourse.measure.pricing import PricingCatalog, price_spans
from truecourse.measure.query import Window
from truecourse.store.base import Store

__all__ = ["recompute_costs", "unknown_models"]

_LLM = "operation IN ('chat', 'completion', 'embeddings')"


def unknown_models(store: Store, window: Window) -> list[dict[str, Any]]:
    """Models that reported tokens but have no price, most calls first:
    ``[{provider, model, calls, input_tokens, output_tokens, last_seen}]``."""
    table = store.select(
        "SELECT provider, model, count(*) AS calls, "
        "CAST(coalesce(sum(input_tokens), 0) AS BIGINT) AS input_tokens, "
        "CAST(coalesce(sum(output_tokens), 0) AS BIGINT) AS output_tokens, "
        "max(start_time) AS last_seen FROM spans "
        "WHERE start_time >= ? AND start_time < ? AND cost_source = 'unknown_model' "
        "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1000", [window.since, window.until])
    rows = table.to_pylist()
    for r in rows:
        r["last_seen"] = r["last_seen"].isoformat() if r["last_seen"] is not None else None
    return rows


def recompute_costs(store: Store, catalog: PricingCatalog, window: Window,
                    chunk: int = 200_000) -> dict[str, Any]:
    """Reprice spans in ``window`` whose cost came from the catalog or had no price.

    Returns ``{catalog_version, examined, updated, priced, unknown_model}``; ``updated`` counts
    rows whose cost or source changed. Reads and writes in chunks of ``chunk`` spans.
    """
    examined = updated = priced = unknown = 0
    last: tuple[Any, ...] = ("", "")
    while True:
        table = store.select(
            "SELECT trace_id, span_id, provider, model, input_tokens, output_tokens, "
            "cache_read_tokens, cache_creation_tokens, cost_usd, cost_source FROM spans "
            "WHERE start_time >= ? AND start_time < ? AND model IS NOT NULL "
            "AND (cost_source IS NULL OR cost_source IN ('catalog', 'unknown_model')) "
            "AND (trace_id, span_id) > (?, ?) ORDER BY trace_id, span_id LIMIT ?",
            [window.since, window.until, last[0], last[1], chunk])
        if table.num_rows == 0:
            break
        col = {n: table.column(n).to_pylist() for n in table.column_names}
        cost, status = price_spans(catalog, col["provider"], col["model"], col["input_tokens"],
                                   col["output_tokens"], col["cache_read_tokens"],
                                   col["cache_creation_tokens"])
        changed = [i for i in range(table.num_rows)
                   if cost[i] != col["cost_usd"][i] or status[i] != col["cost_source"][i]]
        examined += table.num_rows
        priced += sum(1 for s in status if s == "catalog")
        unknown += sum(1 for s in status if s == "unknown_model")
        if changed:
            updates = pa.table({
                "trace_id": pa.array([col["trace_id"][i] for i in changed], pa.string()),
                "span_id": pa.array([col["span_id"][i] for i in changed], pa.string()),
                "cost_usd": pa.array([cost[i] for i in changed], pa.float64()),
                "cost_source": pa.array([status[i] for i in changed], pa.string()),
            })
            updated += store.update_spans(updates)
        last = (col["trace_id"][-1], col["span_id"][-1])
        if table.num_rows < chunk:
            break
    return {"catalog_version": catalog.version, "examined": examined, "updated": updated,
            "priced": priced, "unknown_model": unknown}
