"""``/login`` and ``/logout``: a browser's way to present an API key (kept in a cookie).

Only shown when the server has keys; an open server never redirects here.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from truecourse.api.auth import COOKIE, login_cookie
from truecourse.errors import TrueCourseError
from truecourse.runtime import Runtime
from truecourse.web.render import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this server (no scheme, no other host) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login")
def login_form(request: Request) -> Response:
    return render("login.html", next=_safe_next(request.query_params.get("next")), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("key") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/"])[0])
    try:
        principal = rt.gate.authenticate(f"Bearer {token}")
        rt.gate.authorize(principal, "read")
    except TrueCourseError as exc:
        return render("login.html", status_code=exc.http_status, next=target,
                      error=exc.message)
    response = RedirectResponse(target, status_code=303)
    login_cookie(response, token, secure=request.url.scheme == "https")
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
