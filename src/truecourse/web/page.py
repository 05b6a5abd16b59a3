"""What every page handler shares: the runtime, the URL state, the layout's context, errors.

A handler is ``def name(request) -> Response`` (FastAPI runs it on a worker thread, so the
domain calls it makes never block the event loop); it reads :class:`PageState` with
:func:`state_of`, calls domain functions, and renders with :func:`page`. A TrueCourse error
becomes the error page with the error's HTTP status and hint.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import wraps
from typing import Any

from fastapi import Request
from starlette.responses import Response

from truecourse.api.principal import project_of
from truecourse.errors import TrueCourseError
from truecourse.runtime import Runtime
from truecourse.web.render import render
from truecourse.web.state import RANGES, REFRESH, PageState

__all__ = ["NAV", "gather", "guarded", "page", "runtime_of", "state_of"]

#: runs a page's independent domain calls side by side: the store answers each on a cursor of
#: its own and DuckDB releases the GIL while it scans, so a page costs about its slowest query
_POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="web-page")

#: the navigation: (path, title)
NAV: tuple[tuple[str, str], ...] = (
    ("/", "Overview"), ("/oncall", "On-call"), ("/services", "Services"),
    ("/models", "Models & prompts"), ("/traces", "Traces"), ("/alerts", "Alerts & silences"),
    ("/drift", "Drift"),
)


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def state_of(request: Request) -> PageState:
    return replace(PageState.from_query(request.query_params), project=project_of(request))


def gather(**calls: Callable[[], Any]) -> dict[str, Any]:
    """Run the ``calls`` concurrently; their results by name. A call's error is raised (the
    first in call order), so a bad parameter still gets its error page. Not for nesting."""
    futures = {name: _POOL.submit(fn) for name, fn in calls.items()}
    return {name: f.result() for name, f in futures.items()}


def page(request: Request, template: str, state: PageState | None, *, title: str,
         active: str, **context: Any) -> Response:
    """Render ``template`` inside the layout (nav, range picker, filters, refresh)."""
    rt = runtime_of(request)
    services = sorted(rt.config.catalog.services)
    return render(template, request=request, state=state, title=title, active=active, nav=NAV,
                  ranges=RANGES, refreshes=tuple(REFRESH), catalog_services=services,
                  now=rt.now(), **context)


def guarded(active: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Turn a TrueCourse error raised by a handler into the error page (4xx/5xx)."""

    def wrap(fn: Callable[..., Response]) -> Callable[..., Response]:
        @wraps(fn)
        def handler(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                return fn(request, *args, **kwargs)
            except TrueCourseError as exc:
                try:
                    st: PageState | None = state_of(request)
                except TrueCourseError:
                    st = None
                return page(request, "error.html", st, title="Error", active=active,
                            error=exc, status_code=exc.http_status)

        return handler

    return wrap
