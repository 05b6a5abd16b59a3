"""What a page shows, read from its URL: the time range, filters and auto-refresh.

Everything a page depends on lives in the query string, so a link is the view: copy the URL
and a colleague sees the same range and filters. Times take the API's forms (RFC 3339, ``now``
or a look-back like ``15m``), parsed by the same function the REST routes use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode

from truecourse.api.params import parse_time
from truecourse.errors import InvalidInput
from truecourse.measure.query import Window

__all__ = ["DEFAULT_RANGE", "RANGES", "REFRESH", "PageState"]

#: the range picker's presets
RANGES: tuple[str, ...] = ("15m", "1h", "6h", "24h", "7d", "30d")
DEFAULT_RANGE = "24h"
#: auto-refresh choices (seconds); "off" is the default
REFRESH: dict[str, int] = {"off": 0, "30s": 30, "1m": 60, "5m": 300}
#: the filters every page keeps in its links
_KEPT = ("since", "until", "service", "env", "refresh", "project")


@dataclass(frozen=True)
class PageState:
    """The URL state of a page: ``since``/``until`` as given, the resolved window, filters."""

    since: str
    until: str | None
    window: Window
    service: str | None = None
    env: str | None = None
    refresh: str = "off"
    extra: Mapping[str, str] = field(default_factory=dict)
    #: the project shown (the key's, or ``?project=`` for an admin key or an open server)
    project: str = "default"

    @classmethod
    def from_query(cls, query: Mapping[str, str], now: datetime | None = None) -> PageState:
        """Read the state; ``InvalidInput`` naming the parameter for a bad time or refresh."""
        since = (query.get("since") or DEFAULT_RANGE).strip()
        until = (query.get("until") or "").strip() or None
        window = Window.of(parse_time(since, "since", now),
                           parse_time(until, "until", now) if until else None, now=now)
        refresh = query.get("refresh") or "off"
        if refresh not in REFRESH:
            raise InvalidInput(f"refresh={refresh!r} is not valid",
                               hint="one of: " + ", ".join(REFRESH))
        extra = {k: v for k, v in query.items() if k not in _KEPT and v != ""}
        return cls(since, until, window, query.get("service") or None,
                   query.get("env") or None, refresh, extra)

    @property
    def refresh_s(self) -> int:
        return REFRESH[self.refresh]

    @property
    def is_preset(self) -> bool:
        return self.until is None and self.since in RANGES

    def params(self, **changes: str | None) -> dict[str, str]:
        """The kept query parameters with ``changes`` applied (None removes one)."""
        out: dict[str, str] = {"since": self.since}
        if self.until:
            out["until"] = self.until
        for k in ("service", "env"):
            v = getattr(self, k)
            if v:
                out[k] = v
        if self.project != "default":
            out["project"] = self.project
        if self.refresh != "off":
            out["refresh"] = self.refresh
        for k, v in changes.items():
            if v is None or v == "":
                out.pop(k, None)
            else:
                out[k] = v
        return out

    def url(self, path: str, **changes: str | None) -> str:
        """``path`` with this state's parameters (and ``changes``): a shareable link."""
        q = urlencode(self.params(**changes))
        return f"{path}?{q}" if q else path

    def with_filters(self, *, service: str | None = None, env: str | None = None) -> PageState:
        """This state with the service and env filters replaced."""
        return replace(self, service=service, env=env)
