"""SLO math: error budget, burn rates over several windows, and the per-minute count cache.

For a window ``w`` ending at ``now`` the SLI is ``good / total`` over the spans of the minute
buckets that end after ``now - w`` (windows are resolved to whole minutes: at ``12:00:30`` a 1 h
window is the minutes ``11:01`` to ``12:00``, the last one partial). Then

- error budget = ``1 - objective``;
- error rate = ``1 - good / total`` (0 with no traffic: nothing is burning);
- burn rate = error rate / error budget (1 spends the budget exactly over the SLO window);
- budget remaining share = ``1 - error_rate(SLO window) / budget`` (negative when overspent).

A burn condition fires when the burn rate is *above* its factor over both its long and its short
window (SRE Workbook, "multiwindow, multi-burn-rate alerts").

:class:`MinuteCounts` keeps the counts in memory so that an evaluation reads only the minutes
since the previous one. Cost per evaluation: one aggregate query over ``late margin + interval``
of the SLO's spans; the first evaluation reads the longest window (the SLO window, 28 d by
default) once. Memory: 24 bytes per minute of the longest window (about 1 MiB for 28 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from truecourse.config.detect import BurnWindow, SloConfig, parse_duration
from truecourse.detect.sli import MINUTE_NS, minute_counts_sql
from truecourse.measure.sql import Dialect
from truecourse.store.base import Store

__all__ = ["BurnCondition", "MinuteCounts", "burn_conditions", "slo_status"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unix_ns(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


def _from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


class MinuteCounts:
    """Per-minute (total, good) counts of one SLO, refreshed incrementally from the store.

    :meth:`refresh` reads the minutes since the last refresh minus ``late_margin_s`` (so spans
    that arrived late are counted) — on the first call, the whole ``span_s`` — and replaces
    those minutes in a ring of ``span_s / 60`` slots. :meth:`counts` sums any window inside it.
    """

    def __init__(self, slo: SloConfig, span_s: int, late_margin_s: int = 120) -> None:
        self.slo = slo
        self.slots = span_s // 60 + 2
        self.late_margin_ns = late_margin_s * 1_000_000_000
        self.minute = np.full(self.slots, -1, dtype=np.int64)
        self.total = np.zeros(self.slots, dtype=np.int64)
        self.good = np.zeros(self.slots, dtype=np.int64)
        self.span_ns = span_s * 1_000_000_000
        self.until_ns: int | None = None
        self.rows_read = 0

    def refresh(self, store: Store, now: datetime) -> None:
        """Bring the cache up to ``now`` with one query; raises what ``store.select`` raises."""
        now_ns = unix_ns(now)
        end_minute = -(-now_ns // MINUTE_NS) * MINUTE_NS
        start = end_minute - self.span_ns
        if self.until_ns is not None and self.until_ns <= now_ns:
            since_minute = (self.until_ns - self.late_margin_ns) // MINUTE_NS * MINUTE_NS
            start = max(start, since_minute)
        sql, params = minute_counts_sql(self.slo, Dialect(store.dialect), _from_ns(start), now)
        table = store.select(sql, params)
        # the re-read minutes are replaced whole, not added to
        stale = (self.minute >= start) | (self.minute < end_minute - self.span_ns)
        self.minute[stale] = -1
        self.total[stale] = 0
        self.good[stale] = 0
        minutes = np.asarray(table.column("minute").to_pylist(), dtype=np.int64)
        idx = (minutes // MINUTE_NS) % self.slots
        self.minute[idx] = minutes
        self.total[idx] = np.asarray(table.column("total").to_pylist(), dtype=np.int64)
        self.good[idx] = np.asarray(table.column("good").to_pylist(), dtype=np.int64)
        self.rows_read = table.num_rows
        self.until_ns = now_ns

    def counts(self, now: datetime, window_s: int) -> tuple[int, int]:
        """(good, total) over the minutes of ``window_s`` ending with the one holding ``now``."""
        end_minute = -(-unix_ns(now) // MINUTE_NS) * MINUTE_NS
        inside = ((self.minute >= end_minute - window_s * 1_000_000_000)
                  & (self.minute < end_minute) & (self.minute >= 0))
        return int(self.good[inside].sum()), int(self.total[inside].sum())


@dataclass(frozen=True)
class BurnCondition:
    """One burn condition of one SLO at one moment."""

    window: BurnWindow
    burn_long: float
    burn_short: float

    @property
    def firing(self) -> bool:
        return self.burn_long > self.window.factor and self.burn_short > self.window.factor

    @property
    def closeness(self) -> float:
        """min(long, short) burn / factor: 1 or more (strictly above) fires."""
        return min(self.burn_long, self.burn_short) / self.window.factor

    @property
    def label(self) -> str:
        return f"{self.window.long}/{self.window.short}"

    def to_dict(self) -> dict[str, Any]:
        w = self.window
        return {"severity": w.severity, "factor": w.factor, "long": w.long, "short": w.short,
                "burn_rate_long": self.burn_long, "burn_rate_short": self.burn_short,
                "ratio_long": self.burn_long / w.factor, "ratio_short": self.burn_short / w.factor,
                "firing": self.firing}


def longest_window_s(slo: SloConfig) -> int:
    """The longest window the SLO needs: its own or a burn condition's long window."""
    return max([parse_duration(slo.window),
                *(parse_duration(w.long) for w in slo.burn_windows)])


def burn_rate(good: int, total: int, objective: float) -> float:
    if total == 0:
        return 0.0
    return (1 - good / total) / (1 - objective)


def burn_conditions(counts: MinuteCounts, now: datetime) -> list[BurnCondition]:
    """Every burn condition of the SLO at ``now``, from the cache."""
    slo = counts.slo
    out = []
    for w in slo.burn_windows:
        long = burn_rate(*counts.counts(now, parse_duration(w.long)), slo.objective)
        short = burn_rate(*counts.counts(now, parse_duration(w.short)), slo.objective)
        out.append(BurnCondition(w, long, short))
    return out


def status_from(counts: MinuteCounts, now: datetime) -> dict[str, Any]:
    """:func:`slo_status` from an up-to-date cache."""
    slo = counts.slo
    window_s = parse_duration(slo.window)
    good, total = counts.counts(now, window_s)
    budget = 1 - slo.objective
    sli = good / total if total else None
    error_rate = 0.0 if sli is None else 1 - sli
    conds = burn_conditions(counts, now)
    closest = max(conds, key=lambda c: c.closeness)
    return {
        "name": slo.name, "service": slo.service, "objective": slo.objective,
        "window": slo.window, "at": now.isoformat(),
        "good": good, "total": total, "sli": sli, "error_budget": budget,
        "budget_remaining_share": 1 - error_rate / budget,
        "burn_rates": {c.label: {"long": c.burn_long, "short": c.burn_short} for c in conds},
        "conditions": [c.to_dict() for c in conds],
        "closest": {**closest.to_dict(), "closeness": closest.closeness},
    }


def slo_status(store: Store, slo: SloConfig, now: datetime) -> dict[str, Any]:
    """Where ``slo`` stands at event time ``now``.

    Returns ``{name, service, objective, window, at, good, total, sli (None with no traffic),
    error_budget, budget_remaining_share, burn_rates: {"1h/5m": {long, short}, ...},
    conditions: [{severity, factor, long, short, burn_rate_long, burn_rate_short, ratio_long,
    ratio_short, firing}], closest: the condition nearest to firing (highest min ratio) with its
    closeness}``. Cost: one aggregate query over the longest window.
    """
    counts = MinuteCounts(slo, longest_window_s(slo), late_margin_s=0)
    counts.refresh(store, now)
    return status_from(counts, now)
