"""Who a request acts as, for the routes: set by :class:`truecourse.api.auth.AuthMiddleware`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from truecourse.governance import Principal, audit
from truecourse.model import DEFAULT_PROJECT

_OPEN = Principal(DEFAULT_PROJECT, "admin")


def principal(request: Request) -> Principal:
    """The request's principal (an open-server admin of ``default`` when no middleware ran,
    e.g. an app built for a test without auth)."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else _OPEN


def project_of(request: Request) -> str:
    """The request's project: where the records it sends go, and what its reads see."""
    return principal(request).project


async def audited(request: Request, action: str, target: str | None,
                  details: Mapping[str, Any] | None = None) -> None:
    """Append an audit entry for an operational action the request did, the key as actor."""
    who = principal(request)
    store = request.app.state.runtime.store
    await run_in_threadpool(lambda: audit.record(store, who.actor, action, project=who.project,
                                                 target=target, details=details))
