"""The Drift page: per-feature reference vs current histograms and drift share over time.

It draws the stored drift reports (``truecourse.drift.reports``) — those the scheduled checks
(``drift.checks``) and ``POST /api/v1/drift/reports`` keep — created in the page's range: each
model's newest report feature by feature, and the drift share of every report over time. The
page reads the same functions as ``GET /api/v1/drift/reports``; it computes nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from truecourse.drift.reports import latest_reports, list_reports
from truecourse.measure.query import Window
from truecourse.runtime import Runtime
from truecourse.web.page import gather, guarded, page, runtime_of, state_of

__all__ = ["DriftView", "FeatureDrift", "drift_findings", "drift_view", "router"]

#: reports drawn in the drift-share chart (newest first)
_HISTORY = 1000
_SEVERE = frozenset({"error", "warning"})

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's comparison: histogram ``bins`` (labels) with the ``reference`` and
    ``current`` share of values in each, the detector's score and its threshold."""

    feature: str
    method: str
    score: float
    threshold: float
    drifted: bool
    bins: list[str]
    reference: list[float]
    current: list[float]
    service: str | None = None


@dataclass(frozen=True)
class DriftView:
    """What the page draws: the features, and the drift share per time bucket as a chart
    (``{"unit": "ratio", "series": [{"label", "points": [[iso time, share], ...]}]}``)."""

    features: list[FeatureDrift]
    share: dict[str, Any] = field(default_factory=dict)
    #: the newest report of each model, as stored (links to its JSON and HTML)
    reports: list[dict[str, Any]] = field(default_factory=list)


def drift_view(rt: Runtime, window: Window, service: str | None) -> DriftView:
    """The stored drift reports created in ``window``: each model's newest report, feature by
    feature, and every report's drift share over time. ``service`` narrows both to the reports
    of that service's LLM spans (a service's reports carry its name as their model)."""
    got = gather(
        latest=partial(latest_reports, rt.store, window.since, window.until, service),
        history=partial(list_reports, rt.store, service, _HISTORY, window.since, window.until))
    features = [feature for doc in got["latest"] for feature in _features(doc)]
    features.sort(key=lambda f: (not f.drifted, f.service or "", f.feature))
    return DriftView(features=features, share=_share_chart(got["history"]),
                     reports=[{**doc, "reference_label": _side_label(doc.get("reference"))}
                              for doc in got["latest"]])


def drift_findings(rt: Runtime, window: Window, service: str | None) -> list[dict[str, Any]]:
    """One row per model whose newest report in ``window`` found drift or a data-quality
    problem: the model, when, its drift share and the drifted columns (for On-call)."""
    out = []
    for doc in latest_reports(rt.store, window.since, window.until, service):
        problems = [f for f in doc.get("findings", []) if f.get("severity") in _SEVERE]
        if doc.get("drifted") or problems:
            out.append({"model": doc["model"], "id": doc["id"], "created_at": doc["created_at"],
                        "drift_share": doc.get("drift_share"),
                        "columns": doc.get("drifted_columns", []),
                        "findings": len(problems)})
    return out


def _share_chart(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Drift share per report as one series per model on the union of report times (the chart
    draws aligned series; a model without a report at a time has a gap, drawn spanned)."""
    rows = [r for r in history if r["drift_share"] is not None]
    if not rows:
        return {}
    times = sorted({r["created_at"] for r in rows})
    at = {t: i for i, t in enumerate(times)}
    by_model: dict[str, list[float | None]] = {}
    for r in rows:
        by_model.setdefault(r["model"], [None] * len(times))[at[r["created_at"]]] = (
            r["drift_share"])
    iso = [t.isoformat() for t in times]
    return {"unit": "ratio", "span_gaps": True, "points": True,
            "series": [{"label": m, "points": [list(p) for p in zip(iso, v, strict=True)]}
                       for m, v in sorted(by_model.items())]}


def _side_label(side: Any) -> str:
    """A report's reference or current side (``{"source", "rows"}``) in words."""
    if not isinstance(side, dict):
        return str(side or "")
    rows = side.get("rows")
    parts = [str(side.get("source") or "").strip(), f"{rows:,} rows" if rows is not None else ""]
    return " · ".join(p for p in parts if p)


def _features(doc: dict[str, Any]) -> list[FeatureDrift]:
    out = []
    for col in doc.get("columns", []):
        hist = col.get("histogram")
        if not hist or col.get("statistic") is None:
            continue  # not judged (not enough data, not comparable): the report says why
        bins, ref, cur = _bins(hist)
        out.append(FeatureDrift(
            feature=col["column"], method=col.get("method") or "", score=col["statistic"],
            threshold=col.get("threshold") if col.get("threshold") is not None else float("nan"),
            drifted=bool(col.get("drifted")), bins=bins, reference=_shares(ref),
            current=_shares(cur), service=doc["model"]))
    return out


def _bins(hist: dict[str, Any]) -> tuple[list[str], list[int], list[int]]:
    ref, cur = list(hist["reference"]), list(hist["current"])
    if hist.get("type") == "numeric":
        edges = hist["edges"]
        labels = [f"{_short(edges[i])} to {_short(edges[i + 1])}" for i in range(len(ref))]
    else:
        labels = [str(c) for c in hist.get("categories", [])]
        other = hist.get("other")
        if other:
            labels.append("(other)")
            ref.append(other["reference"])
            cur.append(other["current"])
    return labels, ref, cur


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def _short(x: float) -> str:
    return f"{x:.3g}"


@router.get("/drift")
@guarded("/drift")
def drift(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    view = drift_view(rt, st.window, st.service)
    return page(request, "drift.html", st, title="Drift", active="/drift", view=view)
