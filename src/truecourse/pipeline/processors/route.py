"""``route``: hands each row to its destinations — the store, named consumers, or nowhere.

Not a stage in the chain but its end: :meth:`Router.route` splits a processed batch by
destination. Routes are tried in order and the first that matches a row decides where it goes;
rows no route matches go to ``store``; rows routed to ``drop`` go nowhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from truecourse.config import RouteConfig
from truecourse.model import Batch
from truecourse.pipeline.base import ALL_TABLES, StageStats
from truecourse.pipeline.processors.match import AttributeIndex, RowMatcher

STORE = "store"
DROP = "drop"


@dataclass
class RouteStats(StageStats):
    """``rows_out`` counts rows delivered somewhere (once, however many destinations)."""

    dropped: int = 0
    by_destination: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CompiledRoute:
    matcher: RowMatcher | None  # None: every row (of ``tables``)
    to: tuple[str, ...]
    tables: frozenset[str] | None = None  # None: every table


class Router:
    """Splits batches by destination; built from the ``route`` settings (none: all to store)."""

    name: str
    tables: frozenset[str]

    def __init__(self, config: RouteConfig | None = None, name: str = "route") -> None:
        self.name = name
        self.tables = ALL_TABLES
        self.routes = [
            CompiledRoute(RowMatcher(r.match) if r.match is not None else None, tuple(r.to),
                          frozenset(r.tables) if r.tables is not None else None)
            for r in (config.routes if config else [])]
        self.stats = RouteStats()

    @property
    def destinations(self) -> frozenset[str]:
        """Every destination a row can reach (``store`` always; ``drop`` excluded)."""
        return frozenset({STORE, *(d for r in self.routes for d in r.to if d != DROP)})

    def start(self) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def route(self, batch: Batch) -> dict[str, Batch]:
        """Destination name -> the rows of ``batch`` routed there, in their original order.

        Only destinations that receive rows appear. A row sent to several destinations is in
        each of their batches; when one destination takes every row, its batch is ``batch``
        itself, so treat the results as read-only.
        """
        n = len(batch)
        if n == 0:
            return {}
        t0 = time.perf_counter()
        self.stats.rows_in += n
        if not self.routes:
            out = {STORE: batch}
            self._count(out, n, dropped=0)
            self.stats.seconds += time.perf_counter() - t0
            return out
        attrs = AttributeIndex(batch)
        rows: dict[str, list[int]] = {}
        dropped = 0
        rest: list[int] = list(range(n))
        for route in self.routes:
            if not rest:
                break
            if route.tables is not None and batch.table not in route.tables:
                continue
            if route.matcher is None:
                matched, rest = rest, []
            else:
                matched, rest = route.matcher.split(batch, rest, attrs)
            if not matched:
                continue
            if route.to == (DROP,):
                dropped += len(matched)
                continue
            for destination in route.to:
                rows.setdefault(destination, []).extend(matched)
        if rest:
            rows.setdefault(STORE, []).extend(rest)
        out = {d: batch.select(sorted(r)) for d, r in rows.items()}
        self._count(out, n, dropped)
        self.stats.seconds += time.perf_counter() - t0
        return out

    def _count(self, out: dict[str, Batch], rows: int, dropped: int) -> None:
        self.stats.dropped += dropped
        self.stats.rows_out += rows - dropped
        for destination, b in out.items():
            by = self.stats.by_destination
            by[destination] = by.get(destination, 0) + len(b)
