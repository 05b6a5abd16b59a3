"""Measure routes: scorecard, time series, compare, pricing. Thin: each calls one function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from truecourse.api.params import parse_time
from truecourse.api.principal import project_of
from truecourse.api.responses import ORJSONResponse
from truecourse.measure.compare import compare
from truecourse.measure.costs import unknown_models
from truecourse.measure.metrics import DIMENSIONS
from truecourse.measure.query import MeasureQuery, Window
from truecourse.measure.scorecard import scorecard, timeseries
from truecourse.pipeline.normalize import pricing_catalog
from truecourse.runtime import Runtime

router = APIRouter(prefix="/api/v1", default_response_class=ORJSONResponse, tags=["measure"])

_SINCE = Query(None, description="RFC 3339 time or look-back like 15m, 2h, 7d (default 24h)")
_UNTIL = Query(None, description="RFC 3339 time or look-back (default now)")
_GROUP = Query(None, description="comma-separated: " + ", ".join(DIMENSIONS))
_METRICS = Query(None, description="comma-separated metric names (default: all)")
_SUBJECT = Query("auto", description="auto, requests or ai_calls: what service metrics count")


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@dataclass
class _Common:
    """The window, filters and subject every measure route takes (a FastAPI dependency)."""

    since: str | None = _SINCE
    until: str | None = _UNTIL
    subject: str | None = _SUBJECT
    service: str | None = None
    env: str | None = None
    version: str | None = None
    model: str | None = None
    provider: str | None = None
    operation: str | None = None
    prompt_version: str | None = None
    index_version: str | None = None
    tool_name: str | None = None

    def query(self, request: Request, group_by: str | None = None) -> MeasureQuery:
        """The question asked, scoped to the request's project (see ``api.principal``)."""
        window = Window.of(parse_time(self.since, "since"), parse_time(self.until, "until"))
        filters = {d: getattr(self, d, None) for d in DIMENSIONS}
        filters["project"] = project_of(request)
        return MeasureQuery.build(window, group_by, filters, self.subject)


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(fn, *args)


@router.get("/scorecard", summary="Service and AI behaviour metrics per group")
async def get_scorecard(
    request: Request, group_by: str | None = _GROUP, metrics: str | None = _METRICS,
    common: _Common = Depends(),
) -> Any:
    rt = _rt(request)
    return await _run(scorecard, rt.store, common.query(request, group_by), metrics,
                      rt.config.measure)


@router.get("/timeseries", summary="One metric per time bucket, optionally per group")
async def get_timeseries(
    request: Request, metric: str = Query(..., description="a scorecard metric name"),
    step: str | None = Query(None, description="bucket width: 30s, 5m, 1h, 1d (default ~60 "
                                               "points)"),
    group_by: str | None = _GROUP, common: _Common = Depends(),
) -> Any:
    rt = _rt(request)
    return await _run(timeseries, rt.store, common.query(request, group_by), metric, step,
                      rt.config.measure)


@router.get("/compare", summary="Two values of a dimension, metric by metric, with tests")
async def get_compare(
    request: Request,
    dimension: str = Query(..., description=", ".join(DIMENSIONS)),
    a: str = Query(..., description="baseline value, e.g. v7"),
    b: str = Query(..., description="candidate value, e.g. v8"),
    metrics: str | None = _METRICS,
    alpha: float = Query(0.05, gt=0, lt=1, description="significance level"),
    common: _Common = Depends(),
) -> Any:
    rt = _rt(request)
    return await _run(compare, rt.store, common.query(request), dimension, a, b, metrics,
                      rt.config.measure, alpha)


@router.get("/pricing", summary="The pricing catalog in force and the models it cannot price")
async def get_pricing(request: Request, since: str | None = Query(
        None, description="window for unknown_models (default 24h)")) -> Any:
    rt = _rt(request)
    catalog = pricing_catalog(rt.config.measure)
    window = Window.of(parse_time(since, "since"), None)
    unknown = await _run(unknown_models, rt.store, window)
    return {"version": catalog.version, "unit": "USD per 1M tokens",
            "models": [p.to_dict() for p in catalog.entries],
            "unknown_models": unknown, "window": window.to_dict()}
