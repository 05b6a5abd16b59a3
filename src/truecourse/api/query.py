"""Read routes: spans, traces, services, logs, events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from truecourse.api.params import one_of, parse_time, parse_trace_id
from truecourse.api.principal import project_of
from truecourse.api.responses import ORJSONResponse
from truecourse.errors import NotFound
from truecourse.model import EVENT_KINDS, OPERATIONS
from truecourse.runtime import Runtime
from truecourse.store import EventQuery, LogQuery, MetricQuery, SpanQuery, trace_tree

router = APIRouter(prefix="/api/v1", default_response_class=ORJSONResponse)

_STATUSES = ("unset", "ok", "error")


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _page(page: Any) -> dict[str, Any]:
    return {"items": page.items, "next_cursor": page.next_cursor, "count": len(page.items)}


@router.get("/spans", tags=["query"], summary="Search spans, newest first")
async def list_spans(
    request: Request,
    service: str | None = None,
    env: str | None = None,
    version: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    prompt_version: str | None = None,
    operation: str | None = Query(None, description="chat, completion, embeddings, tool, "
                                                    "retrieval, agent, other"),
    status: str | None = Query(None, description="unset, ok or error"),
    trace_id: str | None = None,
    since: str | None = Query(None, description="RFC 3339 time or look-back like 15m, 2h, 7d"),
    until: str | None = Query(None, description="RFC 3339 time or look-back"),
    q: str | None = Query(None, description="case-insensitive text in name, input or output"),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
) -> Any:
    query = SpanQuery(
        service=service, env=env, version=version, model=model, provider=provider,
        prompt_version=prompt_version, operation=one_of(operation, "operation", OPERATIONS),
        status=one_of(status, "status", _STATUSES),
        trace_id=parse_trace_id(trace_id) if trace_id else None,
        since=parse_time(since, "since"), until=parse_time(until, "until"),
        text=q, project=project_of(request), limit=limit, cursor=cursor)
    return _page(await run_in_threadpool(_rt(request).store.spans, query))


@router.get("/traces/{trace_id}", tags=["query"], summary="One trace as a span tree")
async def get_trace(request: Request, trace_id: str) -> Any:
    tid = parse_trace_id(trace_id)
    rows = await run_in_threadpool(_rt(request).store.trace, tid, project_of(request))
    if not rows:
        raise NotFound(f"trace {tid} not found", hint="it may not have arrived yet, or was "
                                                       "sampled out or deleted")
    start = min(r["start_unix_nano"] for r in rows)
    end = max(r["start_unix_nano"] + int(r["duration_ms"] * 1e6) for r in rows)
    return {
        "trace_id": tid,
        "span_count": len(rows),
        "duration_ms": (end - start) / 1e6,
        "services": sorted({r["service"] for r in rows if r["service"]}),
        "error_count": sum(1 for r in rows if r["status_code"] == "error"),
        "roots": trace_tree(rows),
    }


@router.get("/services", tags=["query"], summary="Services seen, with span/error/token totals")
async def list_services(request: Request, since: str | None = Query(None)) -> Any:
    rows = await run_in_threadpool(_rt(request).store.services, parse_time(since, "since"),
                                   project_of(request))
    catalog = _rt(request).config.catalog.services
    for r in rows:
        entry = catalog.get(r["service"]) if r["service"] else None
        r["catalog"] = entry.model_dump() if entry is not None else None
    return {"items": rows, "count": len(rows)}


@router.get("/logs", tags=["query"], summary="Search log records, newest first")
async def list_logs(
    request: Request,
    service: str | None = None,
    severity_min: int | None = Query(None, ge=1, le=24),
    trace_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    q: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> Any:
    query = LogQuery(service=service, severity_min=severity_min,
                     trace_id=parse_trace_id(trace_id) if trace_id else None,
                     since=parse_time(since, "since"), until=parse_time(until, "until"),
                     text=q, project=project_of(request), limit=limit, cursor=cursor)
    return _page(await run_in_threadpool(_rt(request).store.logs, query))


_METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


@router.get("/metric-points", tags=["query"], summary="Search metric data points, newest first")
async def list_metric_points(
    request: Request,
    name: str | None = Query(None, description="metric name"),
    service: str | None = None,
    kind: str | None = Query(None, description="gauge, sum, histogram, "
                                               "exponential_histogram, summary"),
    since: str | None = None,
    until: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> Any:
    query = MetricQuery(name=name, service=service, kind=one_of(kind, "kind", _METRIC_KINDS),
                        since=parse_time(since, "since"), until=parse_time(until, "until"),
                        project=project_of(request), limit=limit, cursor=cursor)
    return _page(await run_in_threadpool(_rt(request).store.metric_points, query))


@router.get("/events", tags=["events"], summary="List change and feedback events")
async def list_events(
    request: Request,
    kind: str | None = None,
    service: str | None = None,
    trace_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> Any:
    query = EventQuery(kind=one_of(kind, "kind", EVENT_KINDS), service=service,
                       trace_id=parse_trace_id(trace_id) if trace_id else None,
                       since=parse_time(since, "since"), until=parse_time(until, "until"),
                       project=project_of(request), limit=limit, cursor=cursor)
    return _page(await run_in_threadpool(_rt(request).store.events, query))
