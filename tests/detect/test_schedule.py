"""Event-time ticks: aligned, complete, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from truecourse.detect import due_ticks, next_tick

T = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def test_first_tick_is_the_aligned_one_at_or_before_now() -> None:
    assert due_ticks(None, T + 44 * S, 30) == [T + 30 * S]
    assert due_ticks(None, T, 30) == [T]


def test_every_aligned_tick_after_last_up_to_now() -> None:
    assert due_ticks(T, T + 100 * S, 30) == [T + 30 * S, T + 60 * S, T + 90 * S]
    assert due_ticks(T + 5 * S, T + 30 * S, 30) == [T + 30 * S]
    assert due_ticks(T, T + 29 * S, 30) == []
    assert len(due_ticks(T, T + timedelta(hours=1), 30)) == 120


def test_next_tick_and_limits() -> None:
    assert next_tick(T, 30) == T + 30 * S
    assert next_tick(T + 1 * S, 30) == T + 30 * S
    with pytest.raises(ValueError, match="more than 10"):
        due_ticks(T, T + timedelta(hours=1), 30, max_ticks=10)
    with pytest.raises(ValueError, match="at least 1"):
        due_ticks(T, T, 0)
