"""OTLP trace requests to columnar span batches.

``spans_from_request`` walks an ``ExportTraceServiceRequest`` once, validates ids, and appends
every valid span straight into the column lists of a :class:`SpanBatch`. Canonical AI columns are
left empty here: the normalize stage fills them from the ``_attrs`` scratch column. A span with a
bad id is rejected and counted; the rest of the request is kept.
"""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.ingest.anyvalue import attributes
from truecourse.ingest.result import DecodeResult
from truecourse.model import SpanBatch

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")

#: canonical columns the decoder does not fill (normalize and enrich do)
_LATE_COLUMNS = (
    "team", "owner", "operation", "provider", "model", "input_tokens", "output_tokens",
    "total_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "cost_usd",
    "prompt_version", "index_version", "tool_name", "tool_ok", "refused", "finish_reasons",
    "conversation_id", "agent_name", "input_text", "output_text", "evaluations",
    "retrieval_documents", "retrieval_source", "cost_source",
)


def resource_identity(res: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(service, env, version) from resource attributes, current and legacy keys alike."""
    service = res.get("service.name")
    env = res.get("deployment.environment.name", res.get("deployment.environment"))
    version = res.get("service.version")
    return (
        service if isinstance(service, str) else None,
        env if isinstance(env, str) else None,
        version if isinstance(version, str) else None,
    )


def resource_columns(resource: Any) -> tuple[str | None, str | None, str | None, str]:
    """(service, env, version, resource attributes as JSON) of an OTLP ``Resource``."""
    res = attributes(resource.attributes)
    return (*resource_identity(res), orjson.dumps(res).decode())


def _id_problem(trace_id: bytes, span_id: bytes, parent: bytes) -> str | None:
    if len(trace_id) != 16:
        return f"trace_id is {len(trace_id)} bytes, want 16"
    if len(span_id) != 8:
        return f"span_id is {len(span_id)} bytes, want 8"
    if parent and len(parent) != 8:
        return f"parent_span_id is {len(parent)} bytes, want 8 or empty"
    if not any(trace_id):
        return "trace_id is all zeros"
    if not any(span_id):
        return "span_id is all zeros"
    return None


def spans_from_request(req: Any, result: DecodeResult | None = None) -> DecodeResult:
    """Append every valid span of ``req`` to a new SpanBatch; count and describe rejects."""
    result = result or DecodeResult(SpanBatch())
    batch = result.batch
    c = batch.columns
    trace_ids, span_ids, parents = c["trace_id"], c["span_id"], c["parent_span_id"]
    names, kinds, starts, start_ns_col = c["name"], c["kind"], c["start_time"], c["start_unix_nano"]
    durations, status_codes, status_msgs = c["duration_ms"], c["status_code"], c["status_message"]
    services, envs, versions, scopes = c["service"], c["env"], c["version"], c["scope_name"]
    attr_json, res_json = c["attributes"], c["resource"]
    ev_json, link_json = c["events"], c["links"]
    scratch_attrs: list[dict[str, Any]] = c.setdefault("_attrs", [])
    scratch_events: list[list[tuple[str, dict[str, Any]]]] = c.setdefault("_events", [])
    dumps = orjson.dumps
    n0 = len(trace_ids)

    for ri, rs in enumerate(req.resource_spans):
        service, env, version, res_text = resource_columns(rs.resource)
        for si, ss in enumerate(rs.scope_spans):
            scope = ss.scope.name or None
            for pi, span in enumerate(ss.spans):
                tid, sid, pid = span.trace_id, span.span_id, span.parent_span_id
                problem = _id_problem(tid, sid, pid)
                if problem is not None:
                    result.reject(f"resource_spans[{ri}].scope_spans[{si}].spans[{pi}]: {problem}")
                    continue
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                attrs = attributes(span.attributes)
                trace_ids.append(tid.hex())
                span_ids.append(sid.hex())
                parents.append(pid.hex() if pid else None)
                names.append(span.name)
                kinds.append(SPAN_KINDS[span.kind] if 0 <= span.kind < 6 else "unspecified")
                starts.append(start // 1000)
                start_ns_col.append(start)
                durations.append((end - start) / 1e6 if end >= start else 0.0)
                status = span.status
                status_codes.append(STATUS_CODES[status.code] if 0 <= status.code < 3 else "unset")
                status_msgs.append(status.message or None)
                services.append(service)
                envs.append(env)
                versions.append(version)
                scopes.append(scope)
                attr_json.append(dumps(attrs).decode())
                res_json.append(res_text)
                if span.events:
                    evs = [(e.name, attributes(e.attributes)) for e in span.events]
                    ev_json.append(dumps([
                        {"name": name, "time_unix_nano": e.time_unix_nano, "attributes": a}
                        for (name, a), e in zip(evs, span.events, strict=True)
                    ]).decode())
                    scratch_events.append(evs)
                else:
                    ev_json.append(None)
                    scratch_events.append([])
                if span.links:
                    link_json.append(dumps([
                        {"trace_id": ln.trace_id.hex(), "span_id": ln.span_id.hex(),
                         "attributes": attributes(ln.attributes)}
                        for ln in span.links
                    ]).decode())
                else:
                    link_json.append(None)
                scratch_attrs.append(attrs)

    added = len(trace_ids) - n0
    for name in _LATE_COLUMNS:
        c[name].extend([None] * added)
    return result
