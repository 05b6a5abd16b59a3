"""The operator's pages: Overview (executive), On-call, Services and one service.

Each handler calls the domain functions the REST routes call — :func:`measure.scorecard`
and :func:`measure.timeseries` (``/api/v1/scorecard``, ``/api/v1/timeseries``),
:func:`detect.slo_status` (``/api/v1/slo``), the alerting engine (``/api/v1/alerts``,
``/api/v1/alerts/groups``) and :func:`context.recent_changes` — and only arranges the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from truecourse.context import recent_changes
from truecourse.detect import slo_status
from truecourse.errors import NotFound
from truecourse.measure.query import MeasureQuery
from truecourse.measure.scorecard import scorecard, timeseries
from truecourse.runtime import Runtime
from truecourse.web.drift import drift_findings
from truecourse.web.graph import dependency_graph
from truecourse.web.page import gather, guarded, page, runtime_of, state_of
from truecourse.web.state import PageState

__all__ = ["OVERVIEW_METRICS", "SERVICE_METRICS", "router"]

router = APIRouter(include_in_schema=False)

#: what the Overview shows per service (one scorecard query, grouped by service)
OVERVIEW_METRICS = ("requests", "availability", "latency_p95", "cost_usd",
                    "cost_per_completed_task", "task_completion_rate", "negative_feedback_rate")
#: one service's scorecard
SERVICE_METRICS = ("requests", "throughput_rps", "error_rate", "availability", "latency_p50",
                   "latency_p95", "latency_p99", "llm_calls", "input_tokens", "output_tokens",
                   "cost_usd", "cost_per_request", "refusal_rate", "tool_success_rate",
                   "empty_retrieval_rate", "tasks", "task_completion_rate",
                   "cost_per_completed_task", "feedback_rate", "negative_feedback_rate")


def _query(st: PageState, group_by: str | None = None,
           **filters: str | None) -> MeasureQuery:
    return MeasureQuery.build(st.window, group_by,
                              {"service": st.service, "env": st.env, "project": st.project,
                               **filters})


def _slo_calls(rt: Runtime, service: str | None = None) -> dict[str, Callable[[], Any]]:
    """One :func:`slo_status` call per SLO (of ``service``), for :func:`gather`."""
    now = rt.now()
    return {f"slo:{i}": partial(slo_status, rt.store, s, now)
            for i, s in enumerate(rt.config.detect.slos)
            if service is None or s.service == service}


def _slos(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for k, v in results.items() if k.startswith("slo:")]


def _change_label(c: dict[str, Any], with_service: bool) -> str:
    """How a change event is named on a chart: a deploy by its version, others by summary."""
    what = (f"deploy {c['version'] or ''}".strip() if c["kind"] == "deploy"
            else (c["summary"] or c["kind"].replace("_", " "))[:48])
    return f"{c['service'] or 'all'}: {what}" if with_service else what


def _chart(series: dict[str, Any], unit: str, markers: list[dict[str, Any]] | None = None
           ) -> dict[str, Any]:
    """A timeseries answer as the chart script reads it (labels from the group values)."""
    return {"unit": unit, "step_s": series["step_s"], "markers": markers or [],
            "series": [{"label": " ".join(str(v) for v in s["group"].values()) or "all",
                        "points": s["points"]} for s in series["series"]]}


@router.get("/")
@guarded("/")
def overview(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    m = rt.config.measure
    by_service = _query(st, "service")
    got = gather(
        total=partial(scorecard, rt.store, _query(st), OVERVIEW_METRICS, m),
        per_service=partial(scorecard, rt.store, by_service, OVERVIEW_METRICS, m),
        requests=partial(timeseries, rt.store, by_service, "requests", None, m),
        latency=partial(timeseries, rt.store, by_service, "latency_p95", None, m),
        quality=partial(timeseries, rt.store, by_service, "task_completion_rate", None, m),
        firing=partial(rt.alerts.alerts, rt.now(), status="firing", service=st.service),
        **_slo_calls(rt, st.service))
    charts = {"requests": _chart(got["requests"], "count"),
              "latency": _chart(got["latency"], "ms"),
              "quality": _chart(got["quality"], "ratio")}
    firing = got["firing"]
    open_by_service: dict[str, int] = {}
    for a in firing:
        svc = a["labels"].get("service") or "—"
        open_by_service[svc] = open_by_service.get(svc, 0) + 1
    slos = _slos(got)
    slo_by_service: dict[str, list[dict[str, Any]]] = {}
    for s in slos:
        slo_by_service.setdefault(s["service"] or "—", []).append(s)
    total = got["total"]
    return page(request, "overview.html", st, title="Overview", active="/",
                total=total["groups"][0]["metrics"] if total["groups"] else {},
                groups=got["per_service"]["groups"], charts=charts, firing=firing,
                open_by_service=open_by_service, slos=slos, slo_by_service=slo_by_service,
                catalog=rt.config.catalog.services, days=st.window.seconds / 86400)


@router.get("/oncall")
@guarded("/oncall")
def oncall(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    now = rt.now()
    groups = rt.alerts.groups(now)
    if st.service:
        groups = [g for g in groups
                  if any(a["labels"].get("service") == st.service for a in g["alerts"])]
    got = gather(
        changes=partial(recent_changes, rt.store, st.window.since, st.window.until,
                        st.service, 200, st.project),
        errors=partial(timeseries, rt.store, _query(st, "service"), "error_rate", None,
                       rt.config.measure),
        drift=partial(drift_findings, rt, st.window, st.service),
        **_slo_calls(rt, st.service))
    changes = got["changes"]
    firing = [a for g in groups for a in g["alerts"]]
    markers = ([{"t": c["time"], "label": _change_label(c, True), "kind": c["kind"]}
                for c in changes]
               + [{"t": a["starts_at"], "label": a["labels"].get("alertname", "alert"),
                   "kind": "alert"} for a in {a["fingerprint"]: a for a in firing}.values()])
    catalog = rt.config.catalog.services
    burning = sorted({a["labels"].get("service") for a in firing if a["labels"].get("service")})
    owners = [(name, catalog.get(name)) for name in (burning or sorted(catalog))]
    return page(request, "oncall.html", st, title="On-call", active="/oncall", groups=groups,
                slos=_slos(got), changes=changes, owners=owners, drift=got["drift"],
                burning=burning, chart=_chart(got["errors"], "ratio", markers))


@router.get("/services")
@guarded("/services")
def services(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    catalog = rt.config.catalog.services
    card = scorecard(rt.store, _query(st, "service"),
                     ("requests", "error_rate", "latency_p95", "cost_usd"), rt.config.measure)
    seen = {g["group"]["service"]: g["metrics"] for g in card["groups"]}
    names = sorted(set(catalog) | {s for s in seen if s})
    firing = rt.alerts.alerts(rt.now(), status="firing")
    hot = {a["labels"].get("service") for a in firing}
    return page(request, "services.html", st, title="Services", active="/services",
                names=names, catalog=catalog, seen=seen, metrics=card["metrics"],
                graph=dependency_graph({n: e.dependencies for n, e in catalog.items()},
                                       hot=hot, seen=set(seen)))


@router.get("/services/{name}")
@guarded("/services")
def service(request: Request, name: str) -> Response:
    rt, st = runtime_of(request), state_of(request)
    catalog = rt.config.catalog.services
    m = rt.config.measure
    q = _query(st, None, service=name)
    got = gather(
        card=partial(scorecard, rt.store, q, SERVICE_METRICS, m),
        by_version=partial(scorecard, rt.store, _query(st, "version", service=name),
                           ("requests", "error_rate", "latency_p95", "cost_per_request"), m),
        by_model=partial(scorecard, rt.store, _query(st, "model", service=name),
                         ("requests", "error_rate", "latency_p95", "cost_usd", "refusal_rate"),
                         m),
        changes=partial(recent_changes, rt.store, st.window.since, st.window.until, name, 50,
                        st.project),
        requests=partial(timeseries, rt.store, q, "requests", None, m),
        latency=partial(timeseries, rt.store, q, "latency_p95", None, m),
        **_slo_calls(rt, name))
    card, changes = got["card"], got["changes"]
    values = card["groups"][0]["metrics"] if card["groups"] else {}
    if name not in catalog and not values.get("requests"):
        raise NotFound(f"service {name!r} is not in the catalog and sent nothing in the range",
                       hint="pick a service from the Services page or widen the range")
    markers = [{"t": c["time"], "label": _change_label(c, False), "kind": c["kind"]}
               for c in changes]
    charts = {"requests": _chart(got["requests"], "count", markers),
              "latency": _chart(got["latency"], "ms", markers)}
    return page(request, "service.html", st.with_filters(service=None, env=st.env),
                title=name, active="/services", name=name, entry=catalog.get(name),
                card=card, values=values,
                by_version=got["by_version"], by_model=got["by_model"], changes=changes,
                charts=charts, slos=_slos(got),
                firing=rt.alerts.alerts(rt.now(), status="firing", service=name))
