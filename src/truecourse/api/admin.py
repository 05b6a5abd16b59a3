"""Admin routes (scope ``admin``): projects, API keys, the audit log, erasure, retention.

Each calls one function of :mod:`truecourse.governance`; every change is audited there, with
the calling key as the actor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from truecourse.api.principal import principal
from truecourse.api.responses import ORJSONResponse
from truecourse.governance import (
    audit,
    create_key,
    create_project,
    erase,
    list_keys,
    list_projects,
    preview_retention,
    run_retention,
)
from truecourse.governance import revoke_key as revoke
from truecourse.runtime import Runtime

router = APIRouter(prefix="/api/v1/admin", default_response_class=ORJSONResponse,
                   tags=["admin"])


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


class ProjectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="1-63 lowercase letters, digits, '_', '.', '-'")
    description: str = ""


@router.get("/projects", summary="Projects and their active keys")
async def get_projects(request: Request) -> Any:
    return {"projects": await run_in_threadpool(list_projects, _rt(request).store)}


@router.post("/projects", summary="Create a project", status_code=201)
async def post_project(request: Request, body: ProjectRequest) -> Any:
    rt, who = _rt(request), principal(request)
    created = await run_in_threadpool(lambda: create_project(
        rt.store, body.name, actor=who.actor, description=body.description))
    rt.gate.invalidate()
    return created


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(default="default", description="the project the key belongs to")
    scope: str = Field(description="ingest, read, operate or admin")
    name: str = Field(description="who or what uses the key")
    rate_per_s: float | None = Field(default=None, description="ingest requests per second")
    burst: float | None = Field(default=None, description="token bucket size (requests)")


@router.get("/keys", summary="API keys (never their secrets)")
async def get_keys(request: Request, project: str | None = Query(None)) -> Any:
    keys = await run_in_threadpool(list_keys, _rt(request).store, project)
    return {"keys": [k.to_dict() for k in keys]}


@router.post("/keys", summary="Create an API key; the answer holds it, once", status_code=201)
async def post_key(request: Request, body: KeyRequest) -> Any:
    rt, who = _rt(request), principal(request)
    key, token = await run_in_threadpool(lambda: create_key(
        rt.store, project=body.project, scope=body.scope, name=body.name, actor=who.actor,
        rate_per_s=body.rate_per_s, burst=body.burst))
    rt.gate.invalidate()
    return {**key.to_dict(), "key": token}


@router.post("/keys/{key_id}/revoke", summary="Revoke an API key")
async def post_revoke(request: Request, key_id: str) -> Any:
    rt, who = _rt(request), principal(request)
    key = await run_in_threadpool(lambda: revoke(rt.store, key_id, actor=who.actor))
    rt.gate.invalidate()
    return key.to_dict()


@router.get("/audit", summary="Audit log entries in order")
async def get_audit(request: Request, since_seq: int = Query(0, ge=0),
                    limit: int = Query(100, ge=1, le=10_000)) -> Any:
    found = await run_in_threadpool(lambda: audit.entries(_rt(request).store,
                                                          since_seq=since_seq, limit=limit))
    return {"entries": [e.to_dict() for e in found]}


@router.get("/audit/verify", summary="Check the audit log's hash chain")
async def get_audit_verify(request: Request, expect_head: str | None = Query(
        None, description="SEQ:HASH of an earlier head: also catches entries cut from the "
                          "end")) -> Any:
    verdict = await run_in_threadpool(lambda: audit.verify(_rt(request).store,
                                                           expect_head=expect_head))
    return verdict.to_dict()


@router.get("/audit/export", summary="The whole audit log as JSON Lines")
async def get_audit_export(request: Request) -> StreamingResponse:
    store = _rt(request).store

    def lines() -> Iterator[bytes]:
        yield from audit.export_lines(store)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


class EraseRequest(BaseModel):
    """Exactly one selector; ``project`` limits the erasure to that project's rows."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = None
    conversation_id: str | None = None
    trace_id: str | None = None
    project: str | None = Field(default=None, description="only this project (default: all)")


@router.post("/erase", summary="Erase every span, log and event of a user, conversation or "
                               "trace (audited)")
async def post_erase(request: Request, body: EraseRequest) -> Any:
    """200 with rows removed per table; ``matched`` false (still audited) when nothing
    matched; 400 for no selector or several, 404 for an unknown project."""
    rt, who = _rt(request), principal(request)
    result = await run_in_threadpool(lambda: erase(
        rt.store, user_id=body.user_id, conversation_id=body.conversation_id,
        trace_id=body.trace_id, project=body.project, actor=who.actor))
    return result.to_dict()


class RetentionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(default=False, description="count what would go, remove nothing")


@router.post("/retention/run", summary="Run retention now with the server's TTLs")
async def post_retention(request: Request, body: RetentionRequest) -> Any:
    rt = _rt(request)
    now = rt.now()
    if body.dry_run:
        preview = await run_in_threadpool(
            lambda: preview_retention(rt.store, rt.config.retention, now=now))
        return {**preview.to_dict(), "dry_run": True}
    if rt.retention is not None:
        result = await run_in_threadpool(rt.retention.run_once, now)
    else:
        result = await run_in_threadpool(
            lambda: run_retention(rt.store, rt.config.retention, now=now))
    return {**result.to_dict(), "dry_run": False}
