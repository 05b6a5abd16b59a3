"""What a scorecard is asked for, checked at the boundary: dimensions, filters, window, metrics.

Every mistake is an ``InvalidInput`` that names the parameter, the allowed values and, for a
near miss, what was probably meant.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from truecourse.errors import InvalidInput
from truecourse.measure.metrics import AI_DIMENSIONS, DIMENSIONS

__all__ = ["SUBJECT_CHOICES", "MeasureQuery", "Window", "check_names", "parse_step"]

Subject = Literal["auto", "requests", "ai_calls"]
SUBJECT_CHOICES: tuple[str, ...] = ("auto", "requests", "ai_calls")
_STEP_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _did_you_mean(value: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(value, allowed, n=1)
    listing = "allowed: " + ", ".join(allowed)
    return f"did you mean {close[0]!r}? {listing}" if close else listing


def check_names(values: Iterable[str], allowed: Sequence[str], param: str) -> tuple[str, ...]:
    """``values`` in order, each one of ``allowed`` and none twice; else InvalidInput."""
    out: list[str] = []
    for v in values:
        if v not in allowed:
            raise InvalidInput(f"{param}: unknown value {v!r}", hint=_did_you_mean(v, allowed))
        if v in out:
            raise InvalidInput(f"{param}: {v!r} is given twice", hint="name each value once")
        out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class Window:
    """``since <= start_time < until``, both timezone-aware UTC."""

    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None,
           default: timedelta = timedelta(hours=24), now: datetime | None = None) -> Window:
        """The window ``[since, until)``; missing ends default to now and ``until - default``.

        Raises InvalidInput when ``since`` is not before ``until`` (inverted or empty).
        """
        until = _utc(until) if until is not None else (now or datetime.now(UTC))
        since = _utc(since) if since is not None else until - default
        if since >= until:
            what = "empty" if since == until else "inverted"
            raise InvalidInput(
                f"the time window is {what}: since={since.isoformat()} is not before "
                f"until={until.isoformat()}",
                hint="give a since earlier than until, e.g. since=24h until=now")
        return cls(since, until)

    @property
    def seconds(self) -> float:
        return (self.until - self.since).total_seconds()

    def to_dict(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_step(step: str | int | float | None, window: Window, max_points: int = 2000) -> int:
    """A time-series step in seconds from ``30s``/``5m``/``1h``/``1d`` or a number of seconds.

    None picks a step that gives about 60 points. Raises InvalidInput for a malformed step or
    one that would give more than ``max_points`` buckets.
    """
    if step is None or step == "":
        raw = max(1, int(window.seconds // 60))
        nice = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
                86400, 604800]
        return next((n for n in nice if n >= raw), nice[-1])
    seconds: float
    if isinstance(step, int | float):
        seconds = float(step)
    else:
        text = step.strip()
        try:
            if text[-1:] in _STEP_UNITS:
                seconds = float(text[:-1]) * _STEP_UNITS[text[-1]]
            else:
                seconds = float(text)
        except ValueError:
            raise InvalidInput(f"step={step!r} is not a duration",
                               hint="use 30s, 5m, 1h, 1d or a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 1 or seconds != int(seconds):
        raise InvalidInput(f"step={step!r} must be a whole number of seconds, at least 1")
    points = window.seconds / seconds
    if points > max_points:
        raise InvalidInput(
            f"step={step!r} gives {int(points)} points over the window, more than {max_points}",
            hint=f"use a step of at least {int(window.seconds // max_points) + 1}s or a shorter "
                 "window")
    return int(seconds)


@dataclass(frozen=True)
class MeasureQuery:
    """A validated scorecard question: which spans (window, filters), how grouped, over what.

    ``subject`` ``auto`` computes the service metrics over entry spans (``requests``) unless an
    AI dimension is grouped or filtered by, then over AI spans (``ai_calls``).
    """

    window: Window
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, str] = field(default_factory=dict)
    subject: Subject = "auto"

    @classmethod
    def build(cls, window: Window, group_by: str | Sequence[str] | None = None,
              filters: Mapping[str, str | None] | None = None,
              subject: str | None = "auto") -> MeasureQuery:
        """Check and normalize the parts; raises InvalidInput naming the bad one."""
        if isinstance(group_by, str):
            group_by = [g.strip() for g in group_by.split(",") if g.strip()]
        dims = check_names(group_by or (), DIMENSIONS, "group_by")
        clean: dict[str, str] = {}
        for key, value in (filters or {}).items():
            if value is None or value == "":
                continue
            check_names([key], DIMENSIONS, "filter")
            clean[key] = value
        subject = subject or "auto"
        if subject not in SUBJECT_CHOICES:
            raise InvalidInput(f"subject: unknown value {subject!r}",
                               hint=_did_you_mean(subject, SUBJECT_CHOICES))
        return cls(window, dims, clean, subject)  # type: ignore[arg-type]

    @property
    def resolved_subject(self) -> str:
        """``requests`` or ``ai_calls``: what the service metrics are computed over."""
        if self.subject != "auto":
            return self.subject
        touched = set(self.group_by) | set(self.filters)
        return "ai_calls" if touched & AI_DIMENSIONS else "requests"
