"""OTLP/HTTP receivers: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``.

Answers follow the OTLP/HTTP spec: 200 with an Export*ServiceResponse (``partial_success`` when
items were rejected) only after the batch is committed; 400 with a ``google.rpc.Status`` saying
why the body could not be decoded; 413 over the size limit; 415 for other media types; 503 with
``Retry-After`` when the queue is full or the store is failing. Error bodies use the request's
encoding (protobuf or JSON).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import APIRouter, Request
from google.protobuf import json_format
from google.rpc import status_pb2
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from truecourse import faults
from truecourse.api.principal import project_of
from truecourse.api.responses import retry_headers
from truecourse.errors import PayloadTooLarge, TrueCourseError, UnsupportedMediaType
from truecourse.ingest.otlp import JSON, PROTOBUF, decode, encode_response, media_type
from truecourse.model import ArrowBatch, Batch
from truecourse.pipeline.runner import STORE
from truecourse.queue.log import batch_key
from truecourse.runtime import Runtime

router = APIRouter()

# gRPC status codes for the google.rpc.Status body
_GRPC_CODE = {400: 3, 413: 8, 415: 3, 429: 8, 503: 14}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the limit of {limit} bytes",
                              hint="send smaller batches or raise server.max_body_bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes",
                                  hint="send smaller batches or raise server.max_body_bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def status_response(exc: TrueCourseError, media: str) -> Response:
    status = status_pb2.Status(code=_GRPC_CODE.get(exc.http_status, 13), message=str(exc))
    headers = retry_headers(exc)
    if media == PROTOBUF:
        return Response(status.SerializeToString(), status_code=exc.http_status,
                        media_type=PROTOBUF, headers=headers)
    return Response(json_format.MessageToJson(status, indent=None), status_code=exc.http_status,
                    media_type=JSON, headers=headers)


def _process_inline(rt: Runtime, signal: str, body: bytes, content_type: str | None,
                    encoding: str | None, project: str,
                    ) -> tuple[Outcome, str, Mapping[str, Batch]]:
    """Decode and run this process's stages; the outcome, the table and the rows per
    destination."""
    result = decode(signal, body, content_type, encoding, rt.config.server.max_body_bytes,
                    project)
    n = len(result.batch)
    routed = rt.pipeline.process(result.batch) if n else {}
    return Outcome(n, result.rejected, result.error_message), result.batch.table, routed


async def publish(rt: Runtime, rows: Batch | ArrowBatch | None, key: str) -> None:
    """Queue mode: put processed rows in the ingest log; returns once JetStream stored them."""
    if rows is None or not len(rows) or rt.ingest_log is None:
        return
    arrow = await run_in_threadpool(rows.to_arrow)
    await rt.ingest_log.publish(rows.table, arrow, key)
    await faults.pause("server.after_publish")


@dataclass(frozen=True)
class Outcome:
    accepted: int
    rejected: int
    error_message: str


async def _export(rt: Runtime, signal: str, request: Request, body: bytes) -> Outcome:
    """Decode and process one body (in a worker process when configured), then commit it, or
    with a queue publish it for the queue workers (which run the stateful stages and write).
    The rows belong to the project of the request's key (see ``truecourse.governance``)."""
    ctype = request.headers.get("content-type")
    encoding = request.headers.get("content-encoding")
    project = project_of(request)
    routed: Mapping[str, Batch | ArrowBatch]
    if rt.workers is None:
        outcome, table, routed = await run_in_threadpool(
            _process_inline, rt, signal, body, ctype, encoding, project)
    else:
        work = await rt.workers.export(signal, body, ctype, encoding,
                                       rt.config.server.max_body_bytes, project)
        outcome, table = Outcome(work.accepted, work.rejected, work.error_message), work.table
        rt.metrics.process_seconds.observe(work.seconds)
        rt.pipeline.count_dropped(work.dropped, work.table)
        routed = work.routed() if work.parts else {}
    if rt.ingest_log is not None:
        await publish(rt, routed.get(STORE), batch_key(signal, body, ctype, encoding, project))
    elif routed:
        await asyncio.wrap_future(rt.pipeline.enqueue(routed, table))
    return outcome


async def _receive(signal: str, request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    metrics = rt.metrics
    ctype = request.headers.get("content-type")
    try:
        media = media_type(ctype)
    except UnsupportedMediaType as exc:
        metrics.requests.labels(signal, "415").inc()
        return status_response(exc, JSON)
    try:
        if not rt.pipeline.has_room():
            raise rt.pipeline.full_error()
        body = await read_body(request, rt.config.server.max_body_bytes)
        result = await _export(rt, signal, request, body)
    except TrueCourseError as exc:
        metrics.requests.labels(signal, str(exc.http_status)).inc()
        if exc.http_status < 500 and exc.http_status != 429:
            metrics.rejected.labels(signal, type(exc).__name__).inc()
        return status_response(exc, media)
    if result.rejected:
        metrics.rejected.labels(signal, "invalid_item").inc(result.rejected)
    metrics.accepted.labels(signal).inc(result.accepted)
    metrics.requests.labels(signal, "200").inc()
    return Response(encode_response(signal, result.rejected, result.error_message, media),
                    media_type=media)


@router.post("/v1/traces", tags=["otlp"], summary="OTLP/HTTP trace export")
async def export_traces(request: Request) -> Response:
    return await _receive("traces", request)


@router.post("/v1/logs", tags=["otlp"], summary="OTLP/HTTP log export")
async def export_logs(request: Request) -> Response:
    return await _receive("logs", request)


@router.post("/v1/metrics", tags=["otlp"], summary="OTLP/HTTP metric export")
async def export_metrics(request: Request) -> Response:
    return await _receive("metrics", request)
