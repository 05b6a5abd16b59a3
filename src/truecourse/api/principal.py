"""Who a request acts as, for the routes: set by :class:`truecourse.api.auth.AuthMiddleware`."""

from __future__ import annotations

from fastapi import Request

from truecourse.governance import Principal
from truecourse.model import DEFAULT_PROJECT

_OPEN = Principal(DEFAULT_PROJECT, "admin")


def principal(request: Request) -> Principal:
    """The request's principal (an open-server admin of ``default`` when no middleware ran,
    e.g. an app built for a test without auth)."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else _OPEN


def ingest_project(request: Request) -> str:
    """The project the request's records belong to."""
    return principal(request).project


def read_project(request: Request) -> str:
    """The project the request's reads are scoped to."""
    return principal(request).project
