"""The auth middleware: every request but health checks and static files passes the
gatekeeper (:mod:`truecourse.governance.gate`) before any route runs.

Errors are answered the way the path's clients expect: OTLP paths with a ``google.rpc.Status``
in the request's encoding, the REST API with the JSON error body, and a browser asking for a
page without a key is sent to ``/login``. A browser keeps its key in the ``tc_key`` cookie
(HttpOnly, SameSite=Strict) that ``/login`` sets.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from truecourse.api.responses import ORJSONResponse, error_body, retry_headers
from truecourse.errors import TrueCourseError, Unauthorized
from truecourse.governance import Gatekeeper, Principal, required_action

COOKIE = "tc_key"
PROJECT_HEADER = "x-truecourse-project"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def requested_project(scope: Scope, headers: dict[str, str]) -> str | None:
    """The project a request names (``X-TrueCourse-Project`` header, else ``?project=``)."""
    if headers.get(PROJECT_HEADER):
        return headers[PROJECT_HEADER].strip()
    qs = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(qs).get("project") if "project=" in qs else None
    return values[0].strip() if values and values[0].strip() else None


def _cookie_key(headers: dict[str, str]) -> str | None:
    raw = headers.get("cookie")
    if not raw or COOKIE not in raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:  # a malformed Cookie header is no key, not a crash
        return None
    morsel = jar.get(COOKIE)
    return f"Bearer {morsel.value}" if morsel else None


class AuthMiddleware:
    """Pure ASGI middleware (no body buffering): authenticate, authorize, set
    ``request.state.principal``."""

    def __init__(self, app: ASGIApp, gate: Gatekeeper) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        action = required_action(scope["method"], scope["path"])
        headers = _headers(scope)
        try:
            if action is None or self.gate.fresh:  # in memory: no thread hop per request
                principal = self._check(scope, headers, action)
            else:  # the key table is due a reload from the store
                principal = await run_in_threadpool(self._check, scope, headers, action)
        except TrueCourseError as exc:
            await self._refuse(scope, headers, exc)(scope, receive, send)
            return
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, headers: dict[str, str], action: str | None,
               ) -> Principal | None:
        if action is None:
            return None
        project = requested_project(scope, headers)
        auth = headers.get("authorization") or _cookie_key(headers)
        principal = self.gate.authenticate(auth, project=project)
        self.gate.authorize(principal, action)
        if project is not None:
            self.gate.require_project(project)
        return principal

    def _refuse(self, scope: Scope, headers: dict[str, str], exc: TrueCourseError) -> Any:
        path = scope["path"]
        if path.startswith("/v1/"):
            from truecourse.api.otlp import status_response
            from truecourse.ingest.otlp import JSON, PROTOBUF

            media = PROTOBUF if "protobuf" in headers.get("content-type", "") else JSON
            return status_response(exc, media)
        wants_page = (not path.startswith("/api/") and path != "/metrics"
                      and "text/html" in headers.get("accept", ""))
        if wants_page and isinstance(exc, Unauthorized) and scope["method"] == "GET":
            target = path + (f"?{scope['query_string'].decode()}" if scope.get("query_string")
                             else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        headers_out = retry_headers(exc)
        if isinstance(exc, Unauthorized):
            headers_out["WWW-Authenticate"] = 'Bearer realm="truecourse"'
        return ORJSONResponse(error_body(exc), status_code=exc.http_status, headers=headers_out)


def login_cookie(response: Response, token: str, *, secure: bool) -> None:
    """Keep ``token`` in the browser (HttpOnly, SameSite=Strict; Secure over HTTPS)."""
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure,
                        max_age=12 * 3600)
