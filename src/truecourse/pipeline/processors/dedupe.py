"""``dedupe``: drops repeated spans and folds repeated log records.

Both dedupers remember keys for ``window_s`` after their first occurrence (by the injected
``clock``, arrival time), at most ``max_keys`` of them, forgetting the oldest first; memory is
therefore bounded whatever the input, and a repeat that arrives after its key was forgotten is
kept.

Spans: a span whose ``(trace_id, span_id)`` was seen within the window — in an earlier batch or
earlier in the same batch — is dropped (exporter retries, duplicated pipelines).

Logs: identical records (same service, severity_number, body, trace_id, span_id, event_name)
*within one batch* fold into the first of them, whose ``count`` becomes the sum of theirs (a
missing count is 1); a record more than ``window_s`` of event time after that first starts a new
row. *Across batches* a record identical to one seen within the window is dropped and counted in
``stats.folded`` (and ``stats.suppressed``) — the stored row's ``count`` does not grow then, since
it has already been written.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import orjson
import pyarrow as pa

from truecourse.config import DedupeConfig
from truecourse.model import ArrowBatch, Batch
from truecourse.pipeline.base import StageStats
from truecourse.pipeline.processors.stage import Stage, with_columns

Clock = Callable[[], float]

LOG_KEY_COLUMNS = ("service", "severity_number", "body", "trace_id", "span_id", "event_name")


class FirstSeen:
    """Keys with the clock time of their first occurrence, for ``window_s``, at most
    ``max_keys``. Insertion order is time order (first occurrences are never refreshed), so
    expiry and eviction both pop from the front: O(1) amortised per key."""

    def __init__(self, window_s: float, max_keys: int) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self.evicted = 0
        self._first: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._first)

    def expire(self, now: float) -> None:
        """Forget keys first seen ``window_s`` or more before ``now``."""
        first = self._first
        while first:
            key, seen = next(iter(first.items()))
            if now - seen < self.window_s:
                return
            del first[key]

    def repeat(self, key: Hashable, now: float) -> bool:
        """True when ``key`` is remembered; otherwise remember it as first seen ``now``."""
        if key in self._first:
            return True
        self._first[key] = now
        if len(self._first) > self.max_keys:
            self._first.popitem(last=False)
            self.evicted += 1
        return False

    def clear(self) -> None:
        self._first.clear()


@dataclass
class SpanDedupeStats(StageStats):
    duplicates: int = 0
    evicted: int = 0


@dataclass
class LogDedupeStats(StageStats):
    folded: int = 0
    """Records folded into another, in the same batch or (suppressed) an earlier one."""
    suppressed: int = 0
    """Records dropped as repeats of a record in an earlier batch."""
    evicted: int = 0


class SpanDeduper(Stage[SpanDedupeStats]):
    """Drops spans whose (trace_id, span_id) was seen within the window."""

    #: remembers earlier batches: with a queue it runs on the workers, not the ingest nodes
    stateful = True

    def __init__(
        self, config: DedupeConfig, name: str = "dedupe_spans", clock: Clock = time.monotonic
    ) -> None:
        super().__init__(name, frozenset({"spans"}), SpanDedupeStats())
        self.clock = clock
        self.memory = FirstSeen(config.window_s, config.max_keys)

    def shutdown(self) -> None:
        self.memory.clear()

    def apply(self, batch: Batch) -> Batch:
        return batch.select(self._kept(batch["trace_id"], batch["span_id"]))

    def process_arrow(self, batch: ArrowBatch) -> ArrowBatch:
        """The same on Arrow rows (queue workers), converting only the two key columns."""
        if batch.table not in self.tables or not len(batch):
            return batch
        t0 = time.perf_counter()
        arrow = batch.to_arrow()
        self.stats.rows_in += len(batch)
        kept = self._kept(arrow.column("trace_id").to_pylist(),
                          arrow.column("span_id").to_pylist())
        out = batch if len(kept) == len(batch) else ArrowBatch(
            batch.table, arrow.take(pa.array(kept, type=pa.int64())))
        self.stats.rows_out += len(out)
        self.stats.seconds += time.perf_counter() - t0
        return out

    def _kept(self, trace_ids: list[str | None], span_ids: list[str | None]) -> list[int]:
        now = self.clock()
        memory = self.memory
        memory.expire(now)
        kept = [
            i for i, (trace_id, span_id) in enumerate(zip(trace_ids, span_ids, strict=True))
            if trace_id is None or span_id is None
            or not memory.repeat(f"{trace_id}/{span_id}", now)
        ]
        self.stats.duplicates += len(trace_ids) - len(kept)
        self.stats.evicted = memory.evicted
        return kept


class LogDeduper(Stage[LogDedupeStats]):
    """Folds identical log records in a batch; drops repeats of earlier batches' records."""

    stateful = True

    def __init__(
        self, config: DedupeConfig, name: str = "dedupe_logs", clock: Clock = time.monotonic
    ) -> None:
        super().__init__(name, frozenset({"logs"}), LogDedupeStats())
        self.clock = clock
        self.window_ns = int(config.window_s * 1e9)
        self.memory = FirstSeen(config.window_s, config.max_keys)

    def shutdown(self) -> None:
        self.memory.clear()

    def apply(self, batch: Batch) -> Batch:
        now = self.clock()
        memory = self.memory
        memory.expire(now)
        times: list[int | None] = batch["time_unix_nano"]
        counts: list[int | None] = batch["count"]
        new_counts: list[int | None] | None = None
        first: dict[tuple[object, ...], tuple[int, int | None]] = {}  # key -> (row, time)
        kept: list[int] = []
        suppressed = folded = 0
        keys = zip(*(batch[c] for c in LOG_KEY_COLUMNS), strict=True)
        for i, key in enumerate(keys):
            seen = first.get(key)
            if seen is not None:
                row, t0 = seen
                if row < 0:  # a repeat of an earlier batch's record
                    suppressed += 1
                    continue
                t = times[i]
                if t is None or t0 is None or t - t0 <= self.window_ns:
                    if new_counts is None:
                        new_counts = list(counts)
                    new_counts[row] = (new_counts[row] or 1) + (counts[i] or 1)
                    folded += 1
                    continue
            elif memory.repeat(_digest(key), now):
                first[key] = (-1, None)
                suppressed += 1
                continue
            first[key] = (i, times[i])
            kept.append(i)
        self.stats.folded += folded + suppressed
        self.stats.suppressed += suppressed
        self.stats.evicted = memory.evicted
        out = with_columns(batch, {"count": new_counts}) if new_counts is not None else batch
        return out.select(kept)


def _digest(key: tuple[object, ...]) -> bytes:
    # 16 bytes per remembered record instead of a reference to its (possibly long) body
    return hashlib.blake2b(orjson.dumps(key), digest_size=16).digest()
