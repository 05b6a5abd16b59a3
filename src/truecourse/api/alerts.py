"""Alerts, silences and external alerts: thin routes over the runtime's alerting engine.

``GET /api/v1/alerts``, ``GET /api/v1/alerts/groups``, ``POST /api/v1/alerts/{fingerprint}/ack``,
``GET /api/v1/alerts/stats``,
``GET /api/v1/alerts/deliveries``, ``GET|POST /api/v1/silences``, ``DELETE
/api/v1/silences/{id}`` (expire), and the webhooks ``POST /api/v1/alerts/alertmanager`` and
``POST /api/v1/alerts/grafana`` through which an existing Prometheus/Grafana setup sends its
alerts into the same grouping and routing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from truecourse.alerting import (
    AlertEngine,
    ExternalAlerts,
    parse_alertmanager_webhook,
    parse_grafana_webhook,
)
from truecourse.api.otlp import read_body
from truecourse.api.principal import audited
from truecourse.api.responses import ORJSONResponse
from truecourse.config.detect import parse_duration
from truecourse.errors import InvalidInput
from truecourse.runtime import Runtime

router = APIRouter(prefix="/api/v1", default_response_class=ORJSONResponse, tags=["alerts"])


def _engine(request: Request) -> tuple[Runtime, AlertEngine]:
    rt: Runtime = request.app.state.runtime
    return rt, rt.alerts


@router.get("/alerts", summary="Current alerts with why each is muted")
async def list_alerts(request: Request, status: str | None = None,
                      service: str | None = None) -> Any:
    """``status``: firing or resolved. Each alert carries ``silenced_by``, ``inhibited_by``,
    ``suppressed_by`` (deploy) and ``acknowledged_by``."""
    if status not in (None, "firing", "resolved"):
        raise InvalidInput(f"status {status!r} is not firing or resolved")
    rt, engine = _engine(request)
    items = engine.alerts(rt.now(), status=status, service=service)
    return {"items": items, "count": len(items)}


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=200, description="Who acknowledges.")


@router.post("/alerts/{fingerprint}/ack", summary="Acknowledge an alert (PagerDuty too)")
async def acknowledge(request: Request, fingerprint: str, body: AckBody) -> Any:
    rt, engine = _engine(request)
    engine.acknowledge(fingerprint, body.by, rt.now())
    await audited(request, "alert.acknowledge", fingerprint, {"by": body.by})
    return {"fingerprint": fingerprint, "acknowledged_by": body.by}


@router.get("/alerts/groups", summary="Firing alerts as the engine groups them for notification")
async def alert_groups(request: Request) -> Any:
    """Each aggregation group with its key, receiver, group labels, owner and firing alerts."""
    rt, engine = _engine(request)
    items = engine.groups(rt.now())
    return {"items": items, "count": len(items)}


@router.get("/alerts/stats", summary="Raw signals vs notifications (alert noise reduction)")
async def alert_stats(request: Request) -> Any:
    return _engine(request)[1].stats()


@router.get("/alerts/deliveries", summary="The notification delivery log")
async def deliveries(request: Request, limit: int = 100) -> Any:
    if not 1 <= limit <= 10_000:
        raise InvalidInput(f"limit {limit} is not between 1 and 10000")
    return {"items": [d.to_dict() for d in _engine(request)[1].deliveries(limit)]}


class SilenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[str] = Field(description="Alertmanager matchers, e.g. `service=checkout`.")
    starts_at: datetime | None = Field(default=None, description="Default: now.")
    ends_at: datetime | None = Field(default=None, description="Or `duration`.")
    duration: str | None = Field(default=None, description="e.g. `2h`, instead of `ends_at`.")
    created_by: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=2000)


def silence_window(starts_at: datetime | None, ends_at: datetime | None,
                   duration: str | None, now: datetime) -> tuple[datetime, datetime]:
    """Start and end of a new silence from what was given; ``InvalidInput`` when unclear."""
    start = starts_at or now
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if (ends_at is None) == (duration is None):
        raise InvalidInput("give exactly one of ends_at and duration",
                           hint="e.g. duration: 2h")
    if duration is not None:
        try:
            return start, start + timedelta(seconds=parse_duration(duration))
        except ValueError as exc:
            raise InvalidInput(f"duration {duration!r}: {exc}") from exc
    assert ends_at is not None
    return start, ends_at if ends_at.tzinfo else ends_at.replace(tzinfo=UTC)


@router.post("/silences", summary="Create a silence", status_code=201)
async def add_silence(request: Request, body: SilenceBody) -> Any:
    rt, engine = _engine(request)
    now = rt.now()
    start, end = silence_window(body.starts_at, body.ends_at, body.duration, now)
    s = engine.add_silence(body.matchers, start, end, body.created_by, body.comment)
    out = s.to_dict(now)
    await audited(request, "silence.create", s.id,
                  {"matchers": out["matchers"], "starts_at": out["starts_at"],
                   "ends_at": out["ends_at"], "created_by": body.created_by,
                   "comment": body.comment})
    return ORJSONResponse(out, status_code=201)


@router.get("/silences", summary="Silences (pending, active, expired)")
async def list_silences(request: Request, status: str | None = None) -> Any:
    if status not in (None, "pending", "active", "expired"):
        raise InvalidInput(f"status {status!r} is not pending, active or expired")
    rt, engine = _engine(request)
    now = rt.now()
    return {"items": [s.to_dict(now)
                      for s in engine.silences(now, status=status)]}


@router.delete("/silences/{silence_id}", summary="Expire a silence now")
async def expire_silence(request: Request, silence_id: str) -> Any:
    rt, engine = _engine(request)
    now = rt.now()
    out = engine.expire_silence(silence_id, now).to_dict(now)
    await audited(request, "silence.expire", silence_id, {"matchers": out["matchers"]})
    return out


async def _external(request: Request, parse: Any) -> Any:
    rt, engine = _engine(request)
    body = await read_body(request, rt.config.server.max_body_bytes)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not JSON: {exc}") from exc
    result: ExternalAlerts = parse(data)
    now = rt.now()
    if result.accepted:
        engine.receive(result.accepted, now)
    rejected = [{"path": r.path, "message": r.message} for r in result.rejected]
    if not result.accepted and rejected:
        return ORJSONResponse({"error": {"type": "InvalidInput",
                                         "message": "; ".join(map(str, result.rejected[:5]))},
                               "accepted": 0, "rejected": rejected}, status_code=400)
    return {"accepted": len(result.accepted), "rejected": rejected}


@router.post("/alerts/alertmanager", summary="Receive an Alertmanager webhook (version 4)")
async def alertmanager_webhook(request: Request) -> Any:
    """Point an Alertmanager ``webhook_config`` here. Valid alerts join TrueCourse's grouping
    and routing; invalid ones are listed in ``rejected`` with their JSON path (400 when none
    is valid)."""
    return await _external(request, parse_alertmanager_webhook)


@router.post("/alerts/grafana", summary="Receive a Grafana alerting webhook")
async def grafana_webhook(request: Request) -> Any:
    return await _external(request, parse_grafana_webhook)


@router.get("/slo", summary="SLO status: budget left, burn rate per window, closest condition",
            tags=["slo"])
async def slo_list(request: Request, name: str | None = None) -> Any:
    """Every SLO of ``detect.slos`` (or the one named ``name``) evaluated now: good, total,
    SLI, error budget and the share of it left, burn rates over each window and the condition
    closest to firing."""
    from starlette.concurrency import run_in_threadpool

    from truecourse.detect import slo_status

    rt: Runtime = request.app.state.runtime
    slos = rt.config.detect.slos
    if name is not None:
        slos = [s for s in slos if s.name == name]
        if not slos:
            known = ", ".join(s.name for s in rt.config.detect.slos) or "none configured"
            raise InvalidInput(f"no SLO named {name!r} (known: {known})")
    now = rt.now()
    items = [await run_in_threadpool(slo_status, rt.store, s, now) for s in slos]
    return {"items": items, "at": now.isoformat()}
