"""The canonical columns of every telemetry table.

One list per record kind is the single source of truth for the batch layout in the pipeline,
the Arrow schema handed to the store, and the SQL table definitions. Adding a column means adding
it here and a migration in ``truecourse.store``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Column:
    """One canonical column: its name, Arrow type, SQL type and meaning."""

    name: str
    arrow: pa.DataType
    sql: str
    doc: str
    #: JSON text. Stored as VARCHAR, not DuckDB's JSON type: the JSON type re-parses every
    #: value on insert, and the decoder already produced valid JSON. JSON functions
    #: (``attributes->>'$.key'``) work on it all the same.
    json: bool = False


def _json_column(name: str, doc: str) -> Column:
    return Column(name, pa.string(), "VARCHAR", doc, json=True)


_TS = pa.timestamp("us", tz="UTC")


def _project_column() -> Column:
    # added by the governance migration; last, as inserts are positional
    return Column("project", pa.string(), "VARCHAR",
                  "the project the record belongs to (the sending API key's; default 'default')")

SPAN_COLUMNS: tuple[Column, ...] = (
    Column("trace_id", pa.string(), "VARCHAR", "32 lowercase hex characters"),
    Column("span_id", pa.string(), "VARCHAR", "16 lowercase hex characters"),
    Column("parent_span_id", pa.string(), "VARCHAR", "16 hex characters; NULL for a root span"),
    Column("name", pa.string(), "VARCHAR", "span name"),
    Column("kind", pa.string(), "VARCHAR", "internal, server, client, producer, consumer"),
    Column("start_time", _TS, "TIMESTAMPTZ", "span start (microsecond precision)"),
    Column("start_unix_nano", pa.int64(), "BIGINT", "span start, exact nanoseconds"),
    Column("duration_ms", pa.float64(), "DOUBLE", "end minus start, milliseconds"),
    Column("status_code", pa.string(), "VARCHAR", "unset, ok or error"),
    Column("status_message", pa.string(), "VARCHAR", "status description"),
    Column("service", pa.string(), "VARCHAR", "service.name"),
    Column("env", pa.string(), "VARCHAR", "deployment.environment(.name)"),
    Column("version", pa.string(), "VARCHAR", "service.version: the deployed build"),
    Column("team", pa.string(), "VARCHAR", "owning team from the service catalog"),
    Column("owner", pa.string(), "VARCHAR", "owner from the service catalog"),
    Column("scope_name", pa.string(), "VARCHAR", "instrumentation scope"),
    Column("operation", pa.string(), "VARCHAR",
           "chat, completion, embeddings, tool, retrieval, agent, other; NULL when not AI"),
    Column("provider", pa.string(), "VARCHAR", "openai, anthropic, aws.bedrock, ..."),
    Column("model", pa.string(), "VARCHAR", "response model, else request model"),
    Column("input_tokens", pa.int64(), "BIGINT", "prompt / input tokens"),
    Column("output_tokens", pa.int64(), "BIGINT", "completion / output tokens"),
    Column("total_tokens", pa.int64(), "BIGINT", "total tokens as reported, else in+out"),
    Column("cache_read_tokens", pa.int64(), "BIGINT", "input tokens served from a prompt cache"),
    Column("cache_creation_tokens", pa.int64(), "BIGINT", "input tokens written to a prompt cache"),
    Column("reasoning_tokens", pa.int64(), "BIGINT", "reasoning / thinking tokens"),
    Column("cost_usd", pa.float64(), "DOUBLE",
           "cost in USD: as reported, else from the pricing catalog at ingest"),
    Column("prompt_version", pa.string(), "VARCHAR", "prompt template version"),
    Column("index_version", pa.string(), "VARCHAR", "retrieval index version"),
    Column("tool_name", pa.string(), "VARCHAR", "tool called by this span"),
    Column("tool_ok", pa.bool_(), "BOOLEAN", "tool call succeeded; NULL when not a tool call"),
    Column("refused", pa.bool_(), "BOOLEAN", "the model refused (finish reason or refusal text)"),
    Column("finish_reasons", pa.string(), "VARCHAR", "comma-separated finish reasons"),
    Column("conversation_id", pa.string(), "VARCHAR", "conversation / session id"),
    Column("agent_name", pa.string(), "VARCHAR", "agent name"),
    Column("input_text", pa.string(), "VARCHAR", "prompt / input as text (redacted by guard)"),
    Column("output_text", pa.string(), "VARCHAR",
           "completion / output as text (redacted by guard)"),
    _json_column("evaluations", "evaluation results: [{name, score, label, ...}]"),
    _json_column("attributes", "all span attributes, unknown ones included"),
    _json_column("resource", "resource attributes"),
    _json_column("events", "span events: [{name, time_unix_nano, attributes}]"),
    _json_column("links", "span links: [{trace_id, span_id, attributes}]"),
    # added by migration 0002 (new columns go last: inserts are positional)
    Column("retrieval_documents", pa.int64(), "BIGINT",
           "documents a retrieval span returned; NULL when not a retrieval or unknown"),
    Column("retrieval_source", pa.string(), "VARCHAR",
           "the retrieval's data source: gen_ai.data_source.id or the vector store's db.system"),
    Column("cost_source", pa.string(), "VARCHAR",
           "where cost_usd came from: reported, catalog, or unknown_model (tokens, no price)"),
    _project_column(),
)

LOG_COLUMNS: tuple[Column, ...] = (
    Column("time", _TS, "TIMESTAMPTZ", "event time (observed time when unset)"),
    Column("time_unix_nano", pa.int64(), "BIGINT", "exact event time"),
    Column("observed_unix_nano", pa.int64(), "BIGINT", "when the collector saw it"),
    Column("severity_number", pa.int32(), "INTEGER", "1-24 per the OTLP log data model"),
    Column("severity_text", pa.string(), "VARCHAR", "INFO, WARN, ..."),
    Column("body", pa.string(), "VARCHAR", "log body as text (redacted by guard)"),
    Column("trace_id", pa.string(), "VARCHAR", "correlated trace"),
    Column("span_id", pa.string(), "VARCHAR", "correlated span"),
    Column("service", pa.string(), "VARCHAR", "service.name"),
    Column("env", pa.string(), "VARCHAR", "deployment environment"),
    Column("version", pa.string(), "VARCHAR", "service.version"),
    Column("team", pa.string(), "VARCHAR", "owning team from the service catalog"),
    Column("owner", pa.string(), "VARCHAR", "owner from the service catalog"),
    Column("scope_name", pa.string(), "VARCHAR", "instrumentation scope"),
    Column("event_name", pa.string(), "VARCHAR", "log event name"),
    Column("count", pa.int64(), "BIGINT", "identical records folded into this one by dedupe"),
    _json_column("attributes", "log attributes"),
    _json_column("resource", "resource attributes"),
    _project_column(),
)

METRIC_COLUMNS: tuple[Column, ...] = (
    Column("time", _TS, "TIMESTAMPTZ", "point time"),
    Column("time_unix_nano", pa.int64(), "BIGINT", "exact point time"),
    Column("start_unix_nano", pa.int64(), "BIGINT", "start of a cumulative/delta interval"),
    Column("service", pa.string(), "VARCHAR", "service.name"),
    Column("env", pa.string(), "VARCHAR", "deployment environment"),
    Column("version", pa.string(), "VARCHAR", "service.version"),
    Column("team", pa.string(), "VARCHAR", "owning team from the service catalog"),
    Column("owner", pa.string(), "VARCHAR", "owner from the service catalog"),
    Column("scope_name", pa.string(), "VARCHAR", "instrumentation scope"),
    Column("name", pa.string(), "VARCHAR", "metric name"),
    Column("unit", pa.string(), "VARCHAR", "UCUM unit"),
    Column("kind", pa.string(), "VARCHAR",
           "gauge, sum, histogram, exponential_histogram, summary"),
    Column("temporality", pa.string(), "VARCHAR", "delta, cumulative or NULL"),
    Column("is_monotonic", pa.bool_(), "BOOLEAN", "for sums"),
    Column("value", pa.float64(), "DOUBLE", "gauge or sum value"),
    Column("count", pa.int64(), "BIGINT", "histogram / summary count"),
    Column("sum", pa.float64(), "DOUBLE", "histogram / summary sum"),
    Column("min", pa.float64(), "DOUBLE", "histogram min"),
    Column("max", pa.float64(), "DOUBLE", "histogram max"),
    Column("bucket_counts", pa.list_(pa.int64()), "BIGINT[]", "histogram bucket counts"),
    Column("explicit_bounds", pa.list_(pa.float64()), "DOUBLE[]", "histogram bounds"),
    _json_column("attributes", "data point attributes"),
    _json_column("resource", "resource attributes"),
    _project_column(),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    Column("id", pa.string(), "VARCHAR", "event id (client-supplied or generated)"),
    Column("time", _TS, "TIMESTAMPTZ", "when it happened"),
    Column("kind", pa.string(), "VARCHAR", "deploy, config_change, feature_flag, feedback, label"),
    Column("service", pa.string(), "VARCHAR", "service the event is about"),
    Column("env", pa.string(), "VARCHAR", "environment"),
    Column("version", pa.string(), "VARCHAR", "version deployed or in force"),
    Column("trace_id", pa.string(), "VARCHAR", "linked trace (feedback, label)"),
    Column("span_id", pa.string(), "VARCHAR", "linked span (feedback, label)"),
    Column("actor", pa.string(), "VARCHAR", "who made the change or gave the feedback"),
    Column("summary", pa.string(), "VARCHAR", "one line for timelines"),
    Column("score", pa.float64(), "DOUBLE", "feedback score (thumbs up 1.0, down 0.0)"),
    _json_column("payload", "the kind-specific fields"),
    _project_column(),
)

PREDICTION_COLUMNS: tuple[Column, ...] = (
    Column("id", pa.string(), "VARCHAR", "prediction id (client-supplied or generated); labels "
                                         "arriving later name it as prediction_id"),
    Column("time", _TS, "TIMESTAMPTZ", "when the prediction was made"),
    Column("model", pa.string(), "VARCHAR", "model name"),
    Column("version", pa.string(), "VARCHAR", "model version"),
    Column("env", pa.string(), "VARCHAR", "environment"),
    _json_column("features", "the model's input features: {name: number | string | bool}"),
    Column("prediction", pa.string(), "VARCHAR", "the predicted class or value, as text"),
    Column("prediction_value", pa.float64(), "DOUBLE",
           "the prediction as a number when it is one (regression, 0/1 classes)"),
    Column("score", pa.float64(), "DOUBLE", "the model's score / probability of the positive "
                                            "class"),
    _project_column(),
)

TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "spans": SPAN_COLUMNS,
    "logs": LOG_COLUMNS,
    "metric_points": METRIC_COLUMNS,
    "events": EVENT_COLUMNS,
    "predictions": PREDICTION_COLUMNS,
}

ARROW_SCHEMAS: dict[str, pa.Schema] = {
    table: pa.schema([pa.field(c.name, c.arrow) for c in cols])
    for table, cols in TABLE_COLUMNS.items()
}

OPERATIONS = ("chat", "completion", "embeddings", "tool", "retrieval", "agent", "other")
