"""``POST /api/v1/guard/scan``: scan one text for PII, secrets and prompt injection."""

from __future__ import annotations

import threading
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from truecourse.api.otlp import read_body
from truecourse.api.responses import ORJSONResponse
from truecourse.errors import InvalidInput
from truecourse.guard import Guard, scan_text
from truecourse.guard.settings import pipeline_guard_config
from truecourse.runtime import Runtime

router = APIRouter(prefix="/api/v1", default_response_class=ORJSONResponse)
_build_lock = threading.Lock()


def _guard(request: Request) -> tuple[Guard, threading.Lock]:
    state = request.app.state
    with _build_lock:
        if getattr(state, "scan_guard", None) is None:
            rt: Runtime = state.runtime
            state.scan_guard = (Guard(pipeline_guard_config(rt.config.pipeline)),
                                threading.Lock())
    guard: tuple[Guard, threading.Lock] = state.scan_guard
    return guard


@router.post("/guard/scan", tags=["guard"],
             summary="Scan a text for PII, secrets and prompt injection")
async def post_scan(request: Request) -> Any:
    """Body: ``{"text": "...", "untrusted": false}`` as JSON, or the raw text (``text/plain``,
    ``application/octet-stream``; bytes that are not UTF-8 are replaced and the answer says so).

    200 with ``masked``, ``counts``, ``findings`` (type, category, start, end, action — never
    the value), ``injection`` (score, checks), ``encoding`` and ``unscanned``. The settings are
    the server's ``guard`` processor's. 400 for JSON without a string ``text``; 413 over
    ``server.max_body_bytes``. Nothing is stored.
    """
    rt: Runtime = request.app.state.runtime
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    body = await read_body(request, rt.config.server.max_body_bytes)
    untrusted = request.query_params.get("untrusted", "false").lower() in ("1", "true", "yes")
    payload: str | bytes = body
    if ctype == "application/json":
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"body is not valid JSON: {exc}",
                               hint='send {"text": "..."} or the raw text as text/plain') from exc
        if not isinstance(parsed, dict) or not isinstance(parsed.get("text"), str):
            raise InvalidInput('JSON body needs a string field "text"',
                               hint='e.g. {"text": "my card is 4111 1111 1111 1111"}')
        payload = parsed["text"]
        untrusted = bool(parsed.get("untrusted", untrusted))
    guard, lock = _guard(request)

    def scan() -> dict[str, Any]:
        with lock:
            return scan_text(payload, guard, untrusted=untrusted).to_dict()

    return await run_in_threadpool(scan)
