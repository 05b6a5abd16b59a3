"""Alerts & silences: the alerting engine's alerts, silences and noise figures.

Reading calls the engine as ``/api/v1/alerts`` and ``/api/v1/silences`` do; acknowledging,
creating and expiring a silence are done by the page's script through those same API routes,
so the UI and a script have one write path.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from truecourse.errors import InvalidInput
from truecourse.web.page import guarded, page, runtime_of, state_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_ALERT_STATUS = ("firing", "resolved", "all")
_SILENCE_STATUS = ("active", "pending", "expired", "all")


@router.get("/alerts")
@guarded("/alerts")
def alerts_page(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    status = st.extra.get("status") or "firing"
    if status not in _ALERT_STATUS:
        raise InvalidInput(f"status={status!r} is not valid",
                           hint="one of: " + ", ".join(_ALERT_STATUS))
    sil_status = st.extra.get("silences") or "active"
    if sil_status not in _SILENCE_STATUS:
        raise InvalidInput(f"silences={sil_status!r} is not valid",
                           hint="one of: " + ", ".join(_SILENCE_STATUS))
    now = rt.now()
    items = rt.alerts.alerts(now, status=None if status == "all" else status,
                             service=st.service)
    silences = [s.to_dict(now) for s in rt.alerts.silences(
        now, status=None if sil_status == "all" else sil_status)]
    return page(request, "alerts.html", st, title="Alerts & silences", active="/alerts",
                alerts=items, status=status, statuses=_ALERT_STATUS, silences=silences,
                silence_status=sil_status, silence_statuses=_SILENCE_STATUS,
                stats=rt.alerts.stats())
