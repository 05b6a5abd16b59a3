"""The normalize stage: semantic conventions (GenAI, OpenInference, OpenLLMetry) to columns."""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.ingest.semconv import map_span
from truecourse.model import Batch
from truecourse.pipeline.base import StageStats


class NormalizeProcessor:
    """Fills the canonical AI columns of span batches from the decoder's ``_attrs`` column.

    Values already set (by an earlier stage or the decoder) are not overwritten. Batches
    without the scratch columns (already normalized) pass through untouched.
    """

    name = "normalize"
    tables = frozenset({"spans"})

    def __init__(self) -> None:
        self.stats = StageStats()

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
        self.stats.rows_out += len(batch)
        return batch
