"""When to evaluate: ticks on event time, aligned to the interval.

Ticks fall on whole multiples of the interval since the Unix epoch, so two evaluators (or a
restarted one) evaluate the same instants, and a simulator that moves its clock by an hour in one
step still gets every tick of that hour, in order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["due_ticks", "next_tick"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _floor(t: datetime, interval_s: int) -> datetime:
    us = (t - _EPOCH) // timedelta(microseconds=1)
    step = interval_s * 1_000_000
    return _EPOCH + timedelta(microseconds=us // step * step)


def next_tick(after: datetime, interval_s: int) -> datetime:
    """The first aligned tick strictly after ``after``."""
    return _floor(after, interval_s) + timedelta(seconds=interval_s)


def due_ticks(last: datetime | None, now: datetime, interval_s: int,
              max_ticks: int = 100_000) -> list[datetime]:
    """The aligned ticks in ``(last, now]``, oldest first; with no ``last``, the one tick at or
    before ``now``.

    More than ``max_ticks`` due ticks (a clock jumped by months) raises ValueError rather than
    running an unbounded catch-up; the caller decides whether to skip ahead.
    """
    if interval_s < 1:
        raise ValueError("interval_s must be at least 1")
    end = _floor(now, interval_s)
    if last is None:
        return [end]
    first = next_tick(last, interval_s)
    if first > end:
        return []
    count = int((end - first).total_seconds()) // interval_s + 1
    if count > max_ticks:
        raise ValueError(f"{count} evaluations are due between {last.isoformat()} and "
                         f"{now.isoformat()}, more than {max_ticks}")
    return [first + timedelta(seconds=i * interval_s) for i in range(count)]
