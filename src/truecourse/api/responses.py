"""JSON answers and the one mapping from TrueCourse errors to HTTP responses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse, Response

from truecourse.errors import RetryableError, TrueCourseError


class ORJSONResponse(JSONResponse):
    """JSON via orjson: datetimes as RFC 3339, numpy-free, fast for large span pages."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_body(exc: TrueCourseError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type(exc).__name__, "message": exc.message}
    if exc.hint:
        body["hint"] = exc.hint
    return {"error": body}


def retry_headers(exc: TrueCourseError) -> dict[str, str]:
    if isinstance(exc, RetryableError):
        return {"Retry-After": str(exc.retry_after_s)}
    return {}


async def truecourse_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TrueCourseError)
    return ORJSONResponse(error_body(exc), status_code=exc.http_status,
                          headers=retry_headers(exc))


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        problems.append(f"{loc}: {err.get('msg')}")
    return ORJSONResponse(
        {"error": {"type": "InvalidInput", "message": "; ".join(problems) or "invalid request"}},
        status_code=400)
