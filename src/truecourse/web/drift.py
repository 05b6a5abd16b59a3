"""The Drift page: per-feature reference vs current histograms and drift share over time.

The drift package (``truecourse.drift``) is built separately. Until it is installed this page
says so; wiring it is one function, :func:`drift_view`, which turns the drift package's report
into the :class:`DriftView` the template draws — the template, the route and the navigation
are already in place.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from truecourse.measure.query import Window
from truecourse.runtime import Runtime
from truecourse.web.page import guarded, page, runtime_of, state_of

__all__ = ["DriftView", "FeatureDrift", "drift_view", "router"]

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
    reference_window: str = ""


def drift_installed() -> bool:
    return importlib.util.find_spec("truecourse.drift") is not None


def drift_view(rt: Runtime, window: Window, service: str | None) -> DriftView | None:
    """The drift report for ``window`` (and ``service``), or None while ``truecourse.drift``
    is not installed or not yet wired here.

    To wire it: call the drift package's report function over ``rt.store`` and its config
    section, and map each feature result to a :class:`FeatureDrift`.
    """
    return None


@router.get("/drift")
@guarded("/drift")
def drift(request: Request) -> Response:
    rt, st = runtime_of(request), state_of(request)
    view = drift_view(rt, st.window, st.service)
    return page(request, "drift.html", st, title="Drift", active="/drift", view=view,
                installed=drift_installed())
