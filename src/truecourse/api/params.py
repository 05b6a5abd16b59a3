"""Query-parameter parsing shared by the REST routes: times, ids and enums, with clear errors."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from truecourse.errors import InvalidInput

_RELATIVE = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def parse_time(value: str | None, name: str, now: datetime | None = None) -> datetime | None:
    """RFC 3339 (``2026-11-22T10:00:00Z``), ``now``, or a look-back like ``15m``/``2h``/``7d``."""
    if value is None or value == "":
        return None
    now = now or datetime.now(UTC)
    if value == "now":
        return now
    m = _RELATIVE.match(value)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name}={value!r} is not a time",
            hint="use RFC 3339 like 2026-11-22T10:00:00Z, 'now', or a look-back like 15m, 2h, "
                 "7d") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def parse_trace_id(value: str) -> str:
    if not _HEX32.match(value):
        raise InvalidInput(f"trace id {value!r} is not 32 hex characters")
    return value.lower()


def one_of(value: str | None, name: str, allowed: Iterable[str]) -> str | None:
    """``value`` if it is one of ``allowed``, else InvalidInput with a did-you-mean."""
    if value is None:
        return None
    allowed = list(allowed)
    if value in allowed:
        return value
    close = difflib.get_close_matches(value, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"one of: {', '.join(allowed)}"
    raise InvalidInput(f"{name}={value!r} is not valid", hint=hint)
