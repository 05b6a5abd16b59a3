"""Drift routes: predictions in, baselines, drift reports run, stored and served. Thin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from truecourse.api.otlp import read_body
from truecourse.api.params import parse_time
from truecourse.api.principal import project_of
from truecourse.api.responses import ORJSONResponse
from truecourse.drift.baselines import list_baselines, save_baseline
from truecourse.drift.html import render_html
from truecourse.drift.predictions import predictions_from_json
from truecourse.drift.reports import get_report, list_reports, save_report
from truecourse.drift.sketches import build_sketches
from truecourse.drift.sources import build_report, parse_window
from truecourse.errors import InvalidInput
from truecourse.runtime import Runtime

router = APIRouter(prefix="/api/v1", default_response_class=ORJSONResponse, tags=["drift"])


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@router.post("/predictions", summary="Record a batch of classic ML predictions")
async def post_predictions(request: Request) -> Any:
    """Body: a list of predictions or ``{"predictions": [...]}``; each has ``model`` and
    optionally ``id``, ``time``, ``version``, ``env``, ``features``, ``prediction``, ``score``.

    200 ``{"accepted", "ids", "rejected"}`` once the valid ones are committed; 422 when none is
    valid.
    """
    rt = _rt(request)
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip()
    if ctype and ctype != "application/json":
        raise InvalidInput(f"unsupported Content-Type {ctype!r}", hint="send application/json")
    body = await read_body(request, rt.config.server.max_body_bytes)
    result = await run_in_threadpool(predictions_from_json, body)
    result.batch.stamp_project(project_of(request))
    if not result.ids:
        detail = "; ".join(f"predictions[{r['index']}]: {r['error']}"
                           for r in result.rejected[:5])
        return ORJSONResponse(
            {"error": {"type": "InvalidInput", "message": detail or "no predictions in the "
                                                                    "body"},
             "accepted": 0, "ids": [], "rejected": result.rejected}, status_code=422)
    await run_in_threadpool(rt.store.write, [result.batch])
    return {"accepted": len(result.ids), "ids": result.ids, "rejected": result.rejected}


@router.post("/drift/baselines", summary="Upload a Parquet or CSV reference baseline")
async def post_baseline(request: Request,
                        model: str = Query(..., min_length=1, description="model or service"),
                        name: str = Query("baseline", description="a name for it")) -> Any:
    """The body is the file itself (Parquet or CSV). 400 when it is empty or unreadable."""
    rt = _rt(request)
    body = await read_body(request, rt.config.server.max_body_bytes)
    return await run_in_threadpool(
        lambda: save_baseline(rt.store, body, model=model, name=name))


@router.get("/drift/baselines", summary="Uploaded baselines")
async def get_baselines(request: Request, model: str | None = None) -> Any:
    rt = _rt(request)
    return {"baselines": await run_in_threadpool(list_baselines, rt.store, model)}


class ReportRequest(BaseModel):
    """What to compare: a model's predictions or a service's LLM spans."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="model (predictions)")
    service: str | None = Field(default=None, description="service (LLM spans)")
    reference: str = Field(description="SINCE..UNTIL, rolling:7d or baseline:ID")
    current: str = Field(default="1h..now", description="SINCE..UNTIL")
    score_columns: list[str] = Field(default_factory=list)
    text_columns: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    every: str | None = Field(default=None, description="the interval this check repeats at "
                              "on overlapping windows (e.g. 5m): alpha is shared among them")
    alert: bool = Field(default=True, description="hand drift and quality alerts to alerting")


@router.post("/drift/reports", summary="Run a drift report, store it and return it")
async def post_report(request: Request, body: ReportRequest) -> Any:
    """Runs the report over stored data, keeps it, and (unless ``alert`` is false) hands its
    ModelDrift / DataQuality alerts to the alerting engine."""
    rt = _rt(request)
    if (body.model is None) == (body.service is None):
        raise InvalidInput("give exactly one of model (predictions) or service (LLM spans)")

    def run() -> dict[str, Any]:
        report = build_report(rt.store, body.reference, body.current, rt.config.drift,
                              model=body.model, service=body.service,
                              score_columns=body.score_columns,
                              text_columns=body.text_columns, ignore=body.ignore,
                              every=body.every)
        save_report(rt.store, report)
        if body.alert:
            alerts = report.alerts(rt.now())
            if alerts:
                rt.alerts.receive(alerts, rt.now())
        return report.to_dict()

    return await run_in_threadpool(run)


class SketchRequest(BaseModel):
    """Which windows of a model's predictions to sketch."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    since: str = Field(default="1h", description="RFC 3339 or look-back")
    until: str = Field(default="now", description="RFC 3339, look-back or now")
    step_s: int = Field(default=3600, ge=60, le=7 * 86400, description="window length")


@router.post("/drift/sketches", summary="Sketch a model's prediction windows (KLL, frequent "
                                        "items)")
async def post_sketches(request: Request, body: SketchRequest) -> Any:
    """Builds (or rebuilds) one sketch per column per ``step_s`` window; reports then use
    ``reference: "sketches:SINCE..UNTIL"``. Call it every window as data arrives."""
    rt = _rt(request)
    window = parse_window(f"{body.since}..{body.until}")
    n = await run_in_threadpool(build_sketches, rt.store, body.model, window.since,
                                window.until, body.step_s, rt.config.drift)
    return {"model": body.model, "windows": n}


@router.get("/drift/reports", summary="Stored drift reports, newest first")
async def get_reports(request: Request, model: str | None = None,
                      since: str | None = Query(None, description="created at or after: "
                                                "RFC 3339 or relative (1h, 7d)"),
                      until: str | None = Query(None, description="created before"),
                      limit: int = Query(50, ge=1, le=1000)) -> Any:
    rt = _rt(request)
    now = rt.now()
    start, end = parse_time(since, "since", now), parse_time(until, "until", now)
    return {"reports": await run_in_threadpool(list_reports, rt.store, model, limit, start, end)}


@router.get("/drift/reports/{report_id}", summary="One stored drift report (JSON)")
async def get_one_report(request: Request, report_id: str) -> Any:
    rt = _rt(request)
    return await run_in_threadpool(get_report, rt.store, report_id)


@router.get("/drift/reports/{report_id}/html", summary="One stored drift report as HTML",
            response_class=HTMLResponse)
async def get_report_html(request: Request, report_id: str) -> HTMLResponse:
    rt = _rt(request)
    doc = await run_in_threadpool(get_report, rt.store, report_id)
    return HTMLResponse(render_html(doc))
