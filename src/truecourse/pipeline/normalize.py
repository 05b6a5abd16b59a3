"""The normalize stage: semantic conventions (GenAI, OpenInference, OpenLLMetry) to columns."""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.config.measure import MeasureConfig
from truecourse.ingest.semconv import map_span
from truecourse.measure.pricing import PricingCatalog, price_spans
from truecourse.model import Batch
from truecourse.pipeline.base import StageStats


def pricing_catalog(config: MeasureConfig | None = None) -> PricingCatalog:
    """The shipped catalog with the ``measure.pricing`` overrides of ``config`` applied."""
    catalog = PricingCatalog.load_default()
    if config is None or not config.pricing:
        return catalog
    return catalog.with_overrides(
        [entry.model_dump(exclude_none=True) for entry in config.pricing],
        where="measure.pricing")


class NormalizeProcessor:
    """Fills the canonical AI columns of span batches from the decoder's ``_attrs`` column.

    Values already set (by an earlier stage or the decoder) are not overwritten. Then each span
    with a model and token counts but no reported cost is priced from ``pricing``:
    ``cost_source`` says ``reported``, ``catalog`` or ``unknown_model`` (tokens, no price: the
    cost stays NULL, never a silent zero). Batches without the scratch columns (already
    normalized) pass through untouched.
    """

    name = "normalize"
    tables = frozenset({"spans"})

    def __init__(self, pricing: PricingCatalog | None = None) -> None:
        self.stats = StageStats()
        self.pricing = pricing if pricing is not None else PricingCatalog.load_default()

    def start(self) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def process(self, batch: Batch) -> Batch:
        c = batch.columns
        attrs_col = c.get("_attrs")
        if attrs_col is None:
            return batch
        self.stats.rows_in += len(batch)
        events_col: list[Any] = c.get("_events") or [()] * len(batch)
        names, statuses = c["name"], c["status_code"]
        for i, attrs in enumerate(attrs_col):
            mapped = map_span(names[i], attrs, statuses[i], events_col[i])
            if not mapped:
                continue
            for key, value in mapped.items():
                col = c.get(key)
                if col is None or col[i] is not None:
                    continue
                if key == "evaluations":
                    value = orjson.dumps(value).decode() if value else None
                col[i] = value
        self._price(c)
        self.stats.rows_out += len(batch)
        return batch

    def _price(self, c: dict[str, list[Any]]) -> None:
        cost, source = c["cost_usd"], c["cost_source"]
        models = c["model"]
        rows = [i for i, m in enumerate(models) if m is not None or cost[i] is not None]
        if not rows:
            return
        todo = []
        for i in rows:
            if cost[i] is not None:
                source[i] = "reported"
            else:
                todo.append(i)
        if not todo:
            return
        pick = lambda name: [c[name][i] for i in todo]  # noqa: E731
        priced, status = price_spans(
            self.pricing, pick("provider"), pick("model"), pick("input_tokens"),
            pick("output_tokens"), pick("cache_read_tokens"), pick("cache_creation_tokens"))
        for j, i in enumerate(todo):
            cost[i] = priced[j]
            source[i] = status[j]
