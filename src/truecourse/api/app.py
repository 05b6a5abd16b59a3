"""The ASGI app: OTLP receivers, REST API, health, metrics and the UI, on one port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from truecourse import __version__, web
from truecourse.api import admin, alerts, drift, events, guard, health, measure, otlp, query
from truecourse.api.auth import AuthMiddleware
from truecourse.api.responses import truecourse_error_handler, validation_error_handler
from truecourse.errors import TrueCourseError
from truecourse.runtime import Runtime


def create_app(runtime: Runtime, *, manage_lifecycle: bool = True) -> FastAPI:
    """The app serving ``runtime``; with ``manage_lifecycle`` it starts and drains the runtime
    in the ASGI lifespan (so a server's SIGTERM drains the queue before exit)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            runtime.start()
            if runtime.ingest_log is not None:
                try:
                    await runtime.ingest_log.connect()
                except BaseException:
                    runtime.shutdown()
                    raise
        try:
            yield
        finally:
            if manage_lifecycle:
                if runtime.ingest_log is not None:
                    await runtime.ingest_log.close()  # after uvicorn answered in-flight requests
                runtime.shutdown()

    app = FastAPI(
        title="TrueCourse",
        version=__version__,
        description="Operations platform for production AI: OTLP ingest, queries and events.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    if runtime.gate is not None:  # Runtime.build always makes one
        app.add_middleware(AuthMiddleware, gate=runtime.gate)
    app.add_exception_handler(TrueCourseError, truecourse_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.include_router(otlp.router)
    app.include_router(query.router)
    app.include_router(events.router)
    app.include_router(measure.router)
    app.include_router(alerts.router)
    app.include_router(drift.router)
    app.include_router(guard.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    app.include_router(web.router)
    app.mount("/static", web.static_files(), name="static")
    return app
