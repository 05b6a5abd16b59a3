"""Canonical records: column layouts, columnar batches and change/feedback events.

Names load on first use, so ``truecourse.model.events`` (which the SDK uses to validate feedback
in an instrumented app) does not pull in pyarrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from truecourse.model.alerts import SEVERITIES, Alert, fingerprint
    from truecourse.model.batch import (
        BATCH_TYPES,
        ArrowBatch,
        Batch,
        EventBatch,
        LogBatch,
        MetricBatch,
        PredictionBatch,
        SpanBatch,
    )
    from truecourse.model.columns import (
        ARROW_SCHEMAS,
        EVENT_COLUMNS,
        LOG_COLUMNS,
        METRIC_COLUMNS,
        OPERATIONS,
        PREDICTION_COLUMNS,
        SPAN_COLUMNS,
        TABLE_COLUMNS,
        Column,
    )
    from truecourse.model.events import (
        EVENT_KINDS,
        ConfigChangeEvent,
        DeployEvent,
        Event,
        FeatureFlagEvent,
        FeedbackEvent,
        LabelEvent,
        event_row,
    )

#: The project every record belongs to unless an API key of another project sent it.
DEFAULT_PROJECT = "default"

_WHERE = {
    **dict.fromkeys(("SEVERITIES", "Alert", "fingerprint"), "truecourse.model.alerts"),
    **dict.fromkeys(("BATCH_TYPES", "ArrowBatch", "Batch", "EventBatch", "LogBatch",
                     "MetricBatch", "PredictionBatch", "SpanBatch"), "truecourse.model.batch"),
    **dict.fromkeys(("ARROW_SCHEMAS", "EVENT_COLUMNS", "LOG_COLUMNS", "METRIC_COLUMNS",
                     "OPERATIONS", "PREDICTION_COLUMNS", "SPAN_COLUMNS", "TABLE_COLUMNS",
                     "Column"),
                    "truecourse.model.columns"),
    **dict.fromkeys(("EVENT_KINDS", "ConfigChangeEvent", "DeployEvent", "Event",
                     "FeatureFlagEvent", "FeedbackEvent", "LabelEvent", "event_row"),
                    "truecourse.model.events"),
}

__all__ = [
    "ARROW_SCHEMAS",
    "BATCH_TYPES",
    "DEFAULT_PROJECT",
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "LOG_COLUMNS",
    "METRIC_COLUMNS",
    "OPERATIONS",
    "PREDICTION_COLUMNS",
    "SEVERITIES",
    "SPAN_COLUMNS",
    "TABLE_COLUMNS",
    "Alert",
    "ArrowBatch",
    "Batch",
    "Column",
    "ConfigChangeEvent",
    "DeployEvent",
    "Event",
    "EventBatch",
    "FeatureFlagEvent",
    "FeedbackEvent",
    "LabelEvent",
    "LogBatch",
    "MetricBatch",
    "PredictionBatch",
    "SpanBatch",
    "event_row",
    "fingerprint",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'truecourse.model' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
