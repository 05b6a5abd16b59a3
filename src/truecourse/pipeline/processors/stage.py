"""The shape every processor here shares: table pass-through, stats, idempotent lifecycle."""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

from truecourse.model import Batch
from truecourse.pipeline.base import StageStats

S = TypeVar("S", bound=StageStats)


class Stage(Generic[S]):
    """A processor over columnar batches (see :class:`truecourse.pipeline.base.Processor`).

    ``process`` returns batches of tables outside ``tables`` (and empty ones) untouched and
    uncounted; for the others it counts rows in and out and time spent around :meth:`apply`.
    ``start`` and ``shutdown`` are safe to call twice, and ``shutdown`` before ``start``.
    """

    name: str
    tables: frozenset[str]
    stats: S

    def __init__(self, name: str, tables: frozenset[str], stats: S) -> None:
        self.name = name
        self.tables = tables
        self.stats = stats

    def start(self) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def process(self, batch: Batch) -> Batch:
        if batch.table not in self.tables or len(batch) == 0:
            return batch
        t0 = time.perf_counter()
        self.stats.rows_in += len(batch)
        out = self.apply(batch)
        self.stats.rows_out += len(out)
        self.stats.seconds += time.perf_counter() - t0
        return out

    def apply(self, batch: Batch) -> Batch:
        """The stage's work on a non-empty batch of one of its tables."""
        raise NotImplementedError


def with_columns(batch: Batch, replaced: dict[str, list[Any]]) -> Batch:
    """A new batch of the same table sharing every column but ``replaced``.

    Stages rewrite columns this way instead of in place, so a batch another holder still
    reads (a retry, a second destination) never changes under it.
    """
    if not replaced:
        return batch
    return type(batch)({**batch.columns, **replaced})
