"""OTLP log requests to columnar log batches (one pass, bad ids rejected per record)."""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.ingest.anyvalue import any_value, attributes
from truecourse.ingest.otlp_traces import resource_columns
from truecourse.ingest.result import DecodeResult
from truecourse.model import LogBatch


def body_text(value: Any) -> str | None:
    """A log body as text: strings as they are, anything structured as JSON."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def logs_from_request(req: Any, result: DecodeResult | None = None) -> DecodeResult:
    """Append every valid log record of ``req`` to a new LogBatch."""
    result = result or DecodeResult(LogBatch())
    c = result.batch.columns
    dumps = orjson.dumps
    for ri, rl in enumerate(req.resource_logs):
        service, env, version, res_text = resource_columns(rl.resource)
        for si, sl in enumerate(rl.scope_logs):
            scope = sl.scope.name or None
            for li, rec in enumerate(sl.log_records):
                tid, sid = rec.trace_id, rec.span_id
                where = f"resource_logs[{ri}].scope_logs[{si}].log_records[{li}]"
                if tid and len(tid) != 16:
                    result.reject(f"{where}: trace_id is {len(tid)} bytes, want 16 or empty")
                    continue
                if sid and len(sid) != 8:
                    result.reject(f"{where}: span_id is {len(sid)} bytes, want 8 or empty")
                    continue
                t = rec.time_unix_nano or rec.observed_time_unix_nano
                c["time"].append(t // 1000)
                c["time_unix_nano"].append(t)
                c["observed_unix_nano"].append(rec.observed_time_unix_nano or None)
                c["severity_number"].append(rec.severity_number)
                c["severity_text"].append(rec.severity_text or None)
                c["body"].append(body_text(any_value(rec.body)) if rec.HasField("body") else None)
                c["trace_id"].append(tid.hex() if tid else None)
                c["span_id"].append(sid.hex() if sid else None)
                c["service"].append(service)
                c["env"].append(env)
                c["version"].append(version)
                c["team"].append(None)
                c["owner"].append(None)
                c["scope_name"].append(scope)
                c["event_name"].append(rec.event_name or None)
                c["count"].append(1)
                c["attributes"].append(dumps(attributes(rec.attributes)).decode())
                c["resource"].append(res_text)
    return result
