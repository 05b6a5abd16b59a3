"""Canonical records: column layouts, columnar batches and change/feedback events."""

from truecourse.model.batch import (
    BATCH_TYPES,
    ArrowBatch,
    Batch,
    EventBatch,
    LogBatch,
    MetricBatch,
    SpanBatch,
)
from truecourse.model.columns import (
    ARROW_SCHEMAS,
    EVENT_COLUMNS,
    LOG_COLUMNS,
    METRIC_COLUMNS,
    OPERATIONS,
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

__all__ = [
    "ARROW_SCHEMAS",
    "BATCH_TYPES",
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "LOG_COLUMNS",
    "METRIC_COLUMNS",
    "OPERATIONS",
    "SPAN_COLUMNS",
    "TABLE_COLUMNS",
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
    "SpanBatch",
    "event_row",
]
