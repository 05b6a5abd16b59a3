"""The processor contract and the adapter that turns a plain function into a processor.

A processor takes one columnar batch and returns a batch (the same object, a rewritten one, or an
empty one to drop everything). Processors are built from their config section, started
downstream-first and shut down upstream-first by the runner; ``start`` and ``shutdown`` are safe
to call twice and ``shutdown`` is safe before ``start``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from truecourse.model import Batch


@runtime_checkable
class Processor(Protocol):
    """One pipeline stage over columnar batches."""

    name: str
    #: the tables this stage applies to (``spans``, ``logs``, ``metric_points``, ``events``);
    #: batches of other tables pass through untouched.
    tables: frozenset[str]

    def start(self) -> None: ...

    def shutdown(self) -> None: ...

    def process(self, batch: Batch) -> Batch: ...


@dataclass
class StageStats:
    """Counters every stage keeps; exported on ``/metrics``."""

    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0


ALL_TABLES = frozenset({"spans", "logs", "metric_points", "events"})


@dataclass
class FunctionProcessor:
    """A processor made of a pure function ``fn(batch) -> batch``, with its stats."""

    name: str
    fn: Callable[[Batch], Batch]
    tables: frozenset[str] = ALL_TABLES
    stats: StageStats = field(default_factory=StageStats)

    def start(self) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def process(self, batch: Batch) -> Batch:
        t0 = time.perf_counter()
        self.stats.rows_in += len(batch)
        out = self.fn(batch)
        self.stats.rows_out += len(out)
        self.stats.seconds += time.perf_counter() - t0
        return out


def processor(
    name: str, tables: frozenset[str] | set[str] = ALL_TABLES
) -> Callable[[Callable[[Batch], Batch]], FunctionProcessor]:
    """Decorator: ``@processor("drop_health", {"spans"})`` over ``def f(batch) -> batch``."""

    def wrap(fn: Callable[[Batch], Batch]) -> FunctionProcessor:
        return FunctionProcessor(name=name, fn=fn, tables=frozenset(tables))

    return wrap
