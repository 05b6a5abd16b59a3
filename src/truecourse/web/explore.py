"""The debugging pages: Models & prompts (scorecard and compare) and the trace explorer.

Models & prompts calls :func:`measure.scorecard` and :func:`measure.compare` (the functions
behind ``/api/v1/scorecard`` and ``/api/v1/compare``); Traces calls the store's span search,
trace and event queries (``/api/v1/spans``, ``/api/v1/traces/{id}``, ``/api/v1/events``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRouter
from starlette.responses import Response

from truecourse.api.params import one_of, parse_trace_id
from truecourse.errors import NotFound
from truecourse.measure.compare import compare
from truecourse.measure.query import MeasureQuery
from truecourse.measure.scorecard import scorecard
from truecourse.model import OPERATIONS
from truecourse.store import EventQuery, SpanQuery, trace_tree
from truecourse.web.page import gather, guarded, page, runtime_of, state_of

__all__ = ["COMPARE_DIMENSIONS", "COMPARE_METRICS", "MODEL_METRICS", "router"]

router = APIRouter(include_in_schema=False)

MODEL_METRICS = ("requests", "error_rate", "latency_p95", "input_tokens_per_call",
                 "output_tokens_per_call", "cost_per_call", "cost_usd", "refusal_rate",
                 "tool_success_rate", "task_completion_rate", "negative_feedback_rate")
COMPARE_METRICS = ("requests", "error_rate", "latency_p50", "latency_p95",
                   "input_tokens_per_call", "output_tokens_per_call", "cost_per_call",
                   "refusal_rate", "tool_success_rate", "task_completion_rate",
                   "negative_feedback_rate")
COMPARE_DIMENSIONS = ("prompt_version", "model", "version", "index_version", "provider")
_STATUSES = ("unset", "ok", "error")
_SPAN_FILTERS = ("model", "operation", "status", "q", "trace_id", "prompt_version")


@router.get("/models")
@guarded("/models")
def models(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    m = rt.config.measure
    filters = {"service": st.service, "env": st.env, "project": st.project}
    dimension = st.extra.get("dimension") or "prompt_version"
    a, b = st.extra.get("a"), st.extra.get("b")
    calls: dict[str, Callable[[], Any]] = {"card": partial(
        scorecard, rt.store, MeasureQuery.build(st.window, "model,prompt_version", filters),
        MODEL_METRICS, m)}
    if a and b:
        calls["result"] = partial(compare, rt.store, MeasureQuery.build(st.window, None, filters),
                                  dimension, a, b, COMPARE_METRICS, m)
    got = gather(**calls)
    card, result = got["card"], got.get("result")
    values: dict[str, set[str]] = {}
    for g in card["groups"]:
        for dim in ("model", "prompt_version"):
            if g["group"].get(dim) is not None:
                values.setdefault(dim, set()).add(str(g["group"][dim]))
    return page(request, "models.html", st, title="Models & prompts", active="/models",
                card=card, dimension=dimension, a=a, b=b, result=result,
                dimensions=COMPARE_DIMENSIONS,
                choices={k: sorted(v) for k, v in values.items()})


@router.get("/traces")
@guarded("/traces")
def traces(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    f = {k: st.extra.get(k) or None for k in _SPAN_FILTERS}
    query = SpanQuery(
        service=st.service, env=st.env, model=f["model"], prompt_version=f["prompt_version"],
        operation=one_of(f["operation"], "operation", OPERATIONS),
        status=one_of(f["status"], "status", _STATUSES),
        trace_id=parse_trace_id(f["trace_id"]) if f["trace_id"] else None,
        since=st.window.since, until=st.window.until, text=f["q"], limit=50,
        project=st.project,
        cursor=st.extra.get("cursor") or None)
    found = rt.store.spans(query)
    return page(request, "traces.html", st, title="Traces", active="/traces",
                spans=found.items, next_cursor=found.next_cursor, filters=f,
                operations=OPERATIONS, statuses=_STATUSES)


def _flatten(nodes: list[dict[str, Any]], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for n in nodes:
        out.append(n)
        _flatten(n["children"], out)
    return out


def _genai(span: dict[str, Any]) -> dict[str, Any]:
    """The GenAI fields of a span as the detail panel shows them (tool call, documents)."""
    attrs = span.get("attributes") or {}
    docs = attrs.get("gen_ai.retrieval.documents")
    if isinstance(docs, str):
        try:
            docs = orjson.loads(docs)
        except orjson.JSONDecodeError:
            docs = None
    return {
        "tool_arguments": attrs.get("gen_ai.tool.call.arguments"),
        "tool_result": attrs.get("gen_ai.tool.call.result"),
        "documents": docs if isinstance(docs, list) else None,
    }


@router.get("/traces/{trace_id}")
@guarded("/traces")
def trace(request: Request, trace_id: str) -> Response:
    rt, st = runtime_of(request), state_of(request)
    tid = parse_trace_id(trace_id)
    rows = rt.store.trace(tid, st.project)
    if not rows:
        raise NotFound(f"trace {tid} not found",
                       hint="it may not have arrived yet, or was sampled out or deleted")
    spans = _flatten(trace_tree(rows), [])
    start = min(r["start_unix_nano"] for r in rows)
    end = max(r["start_unix_nano"] + int(r["duration_ms"] * 1e6) for r in rows)
    total = max(end - start, 1)
    for s in spans:
        s["offset_pct"] = (s["start_unix_nano"] - start) / total * 100
        s["width_pct"] = max(s["duration_ms"] * 1e6 / total * 100, 0.3)
        s["offset_ms"] = (s["start_unix_nano"] - start) / 1e6
        s["genai"] = _genai(s)
    feedback = rt.store.events(EventQuery(trace_id=tid, limit=100, project=st.project)).items
    return page(request, "trace.html", st, title=f"Trace {tid[:8]}", active="/traces",
                trace_id=tid, spans=spans, duration_ms=total / 1e6, feedback=feedback,
                services=sorted({r["service"] for r in rows if r["service"]}),
                errors=sum(1 for r in rows if r["status_code"] == "error"),
                cost=sum(r["cost_usd"] or 0 for r in rows),
                tokens=sum((r["input_tokens"] or 0) + (r["output_tokens"] or 0) for r in rows))
