"""Liveness, readiness and the server's own Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from truecourse.api.responses import ORJSONResponse
from truecourse.errors import TrueCourseError
from truecourse.runtime import Runtime

router = APIRouter(default_response_class=ORJSONResponse)


@router.get("/healthz", tags=["health"], summary="The process is up")
async def healthz() -> Any:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"],
            summary="Store (and queue) reachable, writer running")
async def readyz(request: Request) -> Any:
    rt: Runtime = request.app.state.runtime
    problems = []
    try:
        await run_in_threadpool(rt.store.ping)
    except TrueCourseError as exc:
        problems.append(f"store: {exc}")
    if rt.ingest_log is not None:
        try:
            await rt.ingest_log.ping()
        except TrueCourseError as exc:
            problems.append(f"queue: {exc}")
    if not rt.pipeline.healthy:
        problems.append("pipeline writer is not running")
    if rt.workers is not None and not rt.workers.healthy:
        problems.append("ingest workers are not running")
    body: dict[str, Any] = {"ready": not problems, "problems": problems,
                            "queue_depth": rt.pipeline.queue_depth()}
    if rt.pipeline.last_error:
        # informative only: once the store answers again the node must take traffic, or the
        # write that would clear the error never arrives
        body["last_write_error"] = rt.pipeline.last_error
    return ORJSONResponse(body, status_code=200 if not problems else 503)


@router.get("/metrics", tags=["health"], summary="Prometheus exposition of server metrics")
async def metrics(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    rt.metrics.queue_depth.set(rt.pipeline.queue_depth())
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
