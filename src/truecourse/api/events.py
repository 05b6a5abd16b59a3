"""``POST /api/v1/events``: change and feedback events, stored durably before the answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from truecourse.api.otlp import publish, read_body
from truecourse.api.principal import project_of
from truecourse.api.responses import ORJSONResponse
from truecourse.errors import InvalidInput
from truecourse.ingest.events import events_from_json
from truecourse.pipeline.runner import STORE
from truecourse.queue.log import batch_key
from truecourse.runtime import Runtime

router = APIRouter(prefix="/api/v1", default_response_class=ORJSONResponse)


@router.post("/events", tags=["events"], summary="Record deploy, config, flag, feedback or "
                                                   "label events")
async def post_events(request: Request) -> Any:
    """Body: one event, a list, or ``{"events": [...]}``; each has a ``kind``.

    200 ``{"accepted", "ids", "rejected"}`` once the valid events are committed (invalid ones
    are listed with their index and reason); 422 when no event in the body is valid.
    """
    rt: Runtime = request.app.state.runtime
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip()
    if ctype and ctype != "application/json":
        raise InvalidInput(f"unsupported Content-Type {ctype!r}", hint="send application/json")
    body = await read_body(request, rt.config.server.max_body_bytes)
    result = await run_in_threadpool(events_from_json, body)
    project = project_of(request)
    result.batch.stamp_project(project)
    if not result.ids:
        detail = "; ".join(f"events[{r['index']}]: {r['error']}" for r in result.rejected[:5])
        return ORJSONResponse(
            {"error": {"type": "InvalidInput", "message": detail or "no events in the body"},
             "accepted": 0, "ids": [], "rejected": result.rejected},
            status_code=422)
    if rt.ingest_log is not None:
        rows = await run_in_threadpool(rt.pipeline.process, result.batch)
        await publish(rt, rows.get(STORE), batch_key("events", body, project=project))
    else:
        future = await run_in_threadpool(rt.pipeline.submit, result.batch)
        await asyncio.wrap_future(future)
    rt.metrics.accepted.labels("events").inc(len(result.ids))
    return {"accepted": len(result.ids), "ids": result.ids, "rejected": result.rejected}
