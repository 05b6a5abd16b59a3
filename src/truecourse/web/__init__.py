"""The browser face: server-rendered pages over the same domain functions as the REST API.

::

    app.include_router(truecourse.web.router)       # the pages at /, /oncall, /traces, ...
    app.mount("/static", truecourse.web.static_files(), name="static")

Pages: Overview, On-call, Services (and one service), Models & prompts, Traces (and one
trace), Alerts & silences, Drift. Everything a page shows is chosen by its URL (range, filters,
refresh), so links can be shared. Assets, including the charting library (uPlot), ship in
``static/``: the UI works offline.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from truecourse.web import alerts, drift, explore, login, ops

__all__ = ["STATIC_DIR", "router", "static_files"]

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for _module in (ops, explore, alerts, drift, login):
    router.include_router(_module.router)


def static_files() -> StaticFiles:
    """The UI's stylesheets, scripts and vendored libraries."""
    return StaticFiles(directory=STATIC_DIR)
