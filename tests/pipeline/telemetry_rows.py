"""Small hand-made batches for processor tests: give the columns a test cares about."""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.model import LogBatch, MetricBatch, SpanBatch

_SPAN_DEFAULTS: dict[str, Any] = {
    "trace_id": "0" * 32, "span_id": "0" * 16, "name": "op", "kind": "internal",
    "start_unix_nano": 1_700_000_000_000_000_000, "duration_ms": 1.0, "status_code": "unset",
    "service": "chat-api", "attributes": "{}", "resource": "{}",
}
_LOG_DEFAULTS: dict[str, Any] = {
    "time_unix_nano": 1_700_000_000_000_000_000, "severity_number": 9, "severity_text": "INFO",
    "body": "hello", "service": "chat-api", "attributes": "{}", "resource": "{}",
}
_METRIC_DEFAULTS: dict[str, Any] = {
    "time_unix_nano": 1_700_000_000_000_000_000, "service": "chat-api", "name": "m",
    "kind": "gauge", "value": 1.0, "attributes": "{}", "resource": "{}",
}


def _columns(cls: type[SpanBatch | LogBatch | MetricBatch], defaults: dict[str, Any],
             rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name in cls.column_names():
        values = [row.get(name, defaults.get(name)) for row in rows]
        if name in ("attributes", "resource"):
            values = [v if isinstance(v, str) else orjson.dumps(v).decode() for v in values]
        out[name] = values
    return out


def spans(*rows: dict[str, Any]) -> SpanBatch:
    """A span batch; ``attributes``/``resource`` may be given as dicts (stored as JSON)."""
    return SpanBatch(_columns(SpanBatch, _SPAN_DEFAULTS, list(rows)))


def logs(*rows: dict[str, Any]) -> LogBatch:
    return LogBatch(_columns(LogBatch, _LOG_DEFAULTS, list(rows)))


def metrics(*rows: dict[str, Any]) -> MetricBatch:
    return MetricBatch(_columns(MetricBatch, _METRIC_DEFAULTS, list(rows)))


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
