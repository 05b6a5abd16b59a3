"""The pipeline runner: stages, the bounded queue, and the single group-committing writer.

Lifecycle::

    Pipeline(store, stages, router).start()   # stages start downstream-first, then the writer
    fut = pipeline.submit(batch)               # run stages, enqueue; QueueFull when full
    fut.result()                               # resolves once the batch is committed (durable)
    pipeline.shutdown()                        # stop accepting, drain the queue, stop stages

Stages run on the submitting thread under one lock (they keep state such as dedupe windows);
the writer thread takes every batch waiting, up to ``writer_max_rows`` rows, and commits them in
one transaction, so many concurrent requests share one commit. A future is resolved only after
its transaction commits; a failed commit fails every future in it, and nothing is acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from truecourse.errors import QueueFull, RetryableError, StoreUnavailable, TrueCourseError
from truecourse.model import ArrowBatch, Batch
from truecourse.pipeline.base import Processor
from truecourse.pipeline.metrics import PipelineMetrics
from truecourse.store import Store

log = logging.getLogger(__name__)

STORE = "store"
DROP = "drop"

Consumer = Callable[[Batch], None]
"""Receives routed rows after they are committed (list form: ArrowBatch rows are converted)."""


class Router(Protocol):
    def route(self, batch: Batch) -> dict[str, Batch]: ...


@dataclass
class _Pending:
    batch: Batch | ArrowBatch
    future: Future[None]
    consumers: list[tuple[Consumer, Batch | ArrowBatch]] = field(default_factory=list)


def run_stages(stages: Sequence[Processor], router: Router | None,
               batch: Batch) -> tuple[dict[str, Batch], dict[str, int]]:
    """Run the stages that apply to ``batch.table`` in order, then route.

    Returns the rows per destination and the rows each stage removed. Not thread-safe: stages
    keep state, so callers serialize calls (the pipeline's lock, or one worker process).
    """
    table = batch.table
    dropped: dict[str, int] = {}
    for stage in stages:
        if table not in stage.tables:
            continue
        before = len(batch)
        batch = stage.process(batch)
        if len(batch) < before:
            dropped[stage.name] = dropped.get(stage.name, 0) + before - len(batch)
        if not len(batch):
            break
    batch.drop_scratch()
    if router is None or not len(batch):
        return {STORE: batch}, dropped
    stats = getattr(router, "stats", None)
    dropped_before = getattr(stats, "dropped", 0)
    routed = router.route(batch)
    route_dropped = getattr(stats, "dropped", 0) - dropped_before
    if route_dropped > 0:  # the router's own count: a row sent to two places is not a drop
        dropped["route"] = route_dropped
    return routed, dropped


def split_stateful(stages: Sequence[Processor]) -> tuple[list[Processor], list[Processor]]:
    """``(front, back)``: the stages before the first stateful one, and the rest.

    With a queue, ingest nodes run ``front`` (filter, normalize, guard, enrich: each row on its
    own, so the stream never holds unmasked text) and workers run ``back`` (dedupe keeps a
    window of earlier batches) and the router.
    """
    for i, stage in enumerate(stages):
        if getattr(stage, "stateful", False):
            return list(stages[:i]), list(stages[i:])
    return list(stages), []


_STOP = object()


class Pipeline:
    """Stages → bounded queue → one writer thread → store (and consumers after commit)."""

    def __init__(
        self,
        store: Store,
        stages: Sequence[Processor] = (),
        router: Router | None = None,
        *,
        consumers: dict[str, Consumer] | None = None,
        observers: Sequence[Callable[[Batch | ArrowBatch], None]] = (),
        queue_max_batches: int = 64,
        writer_max_rows: int = 20_000,
        retry_after_s: int = 1,
        idle_checkpoint_s: float = 0.0,
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self.store = store
        self.stages = list(stages)
        self.router = router
        self.consumers = dict(consumers or {})
        #: called with every stored batch after its commit (SLI metrics); must not raise
        self.observers = list(observers)
        self.writer_max_rows = writer_max_rows
        self.retry_after_s = retry_after_s
        self.idle_checkpoint_s = idle_checkpoint_s
        self._dirty = False  # committed since the last checkpoint
        self.metrics = metrics or PipelineMetrics()
        self.metrics.queue_capacity.set(queue_max_batches)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_max_batches)
        self._stage_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._accepting = False
        self._last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start stages downstream-first, then the writer. Safe to call twice."""
        if self._writer is not None:
            return
        for stage in reversed(self.stages):
            stage.start()
        self._writer = threading.Thread(target=self._write_loop, name="truecourse-writer",
                                        daemon=True)
        self._writer.start()
        self._accepting = True

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Stop accepting, drain queued batches to the store, stop stages upstream-first.

        Safe to call twice and before ``start``.
        """
        self._accepting = False
        writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(_STOP)
            writer.join(timeout_s)
            if writer.is_alive():
                log.error("writer did not drain within %.0fs", timeout_s)
        for stage in self.stages:
            stage.shutdown()

    @property
    def healthy(self) -> bool:
        return self._writer is not None and self._writer.is_alive() and self._accepting

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def has_room(self) -> bool:
        return not self._queue.full()

    # -- the hot path -------------------------------------------------------------------------

    def process(self, batch: Batch) -> dict[str, Batch]:
        """Run every stage that applies to the batch's table; return rows per destination."""
        t0 = time.perf_counter()
        with self._stage_lock:
            routed, dropped = run_stages(self.stages, self.router, batch)
        self.count_dropped(dropped, batch.table)
        self.metrics.process_seconds.observe(time.perf_counter() - t0)
        return routed

    def count_dropped(self, dropped: dict[str, int], table: str) -> None:
        for stage, n in dropped.items():
            self.metrics.dropped.labels(stage, table).inc(n)

    def submit(self, batch: Batch) -> Future[None]:
        """Process ``batch`` and queue it for the writer.

        Returns a future that resolves when the stored part is committed. Raises ``QueueFull``
        (retryable) when the queue is full and ``RetryableError`` when shutting down.
        """
        self._check_accepting()
        return self.enqueue(self.process(batch), batch.table)

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise RetryableError("server is shutting down or not started",
                                 retry_after_s=self.retry_after_s)
        if self._queue.full():
            raise self.full_error()

    def enqueue(self, routed: Mapping[str, Batch | ArrowBatch], table: str) -> Future[None]:
        """Queue already-processed rows (per destination) for the writer and the consumers.

        Used by :meth:`submit` and by ingest worker processes, which run the stages themselves.
        """
        self._check_accepting()
        stored = routed.get(STORE)
        pending = _Pending(stored if stored is not None else ArrowBatch.empty(table), Future())
        for dest, part in routed.items():
            if dest in (STORE, DROP) or not len(part):
                continue
            consumer = self.consumers.get(dest)
            if consumer is None:
                log.warning("route destination %r has no consumer registered", dest)
                continue
            pending.consumers.append((consumer, part))
        if not len(pending.batch) and not pending.consumers:
            pending.future.set_result(None)
            return pending.future
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise self.full_error() from None
        self.metrics.queue_depth.set(self._queue.qsize())
        return pending.future

    def write_now(self, batch: Batch) -> None:
        """Process and store ``batch``, blocking until committed (tools and tests)."""
        self.submit(batch).result()

    def full_error(self) -> QueueFull:
        """The QueueFull error this pipeline raises (for receivers that check room first)."""
        return QueueFull(
            f"ingest queue is full ({self._queue.maxsize} batches waiting for the writer)",
            hint="retry after the Retry-After delay", retry_after_s=self.retry_after_s)

    # -- the writer ---------------------------------------------------------------------------

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=self.idle_checkpoint_s or None)
            except queue.Empty:
                self._idle_checkpoint()
                continue
            if item is _STOP:
                break
            group: list[_Pending] = [item]
            rows = len(item.batch)
            while rows < self.writer_max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                group.append(nxt)
                rows += len(nxt.batch)
            self.metrics.queue_depth.set(self._queue.qsize())
            self._commit(group, rows)
        # drain whatever is left after the stop marker (nothing new is accepted by now)
        rest: list[_Pending] = []
        while True:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is not _STOP:
                rest.append(nxt)
        if rest:
            self._commit(rest, sum(len(p.batch) for p in rest))

    def _idle_checkpoint(self) -> None:
        if not self._dirty:
            return
        checkpoint = getattr(self.store, "checkpoint", None)
        if checkpoint is None:
            return
        try:
            checkpoint()
            self._dirty = False
        except TrueCourseError as exc:  # the data is committed; only recovery gets slower
            log.warning("idle checkpoint failed: %s", exc)

    def _commit(self, group: list[_Pending], rows: int) -> None:
        t0 = time.perf_counter()
        try:
            self.store.write([p.batch for p in group if len(p.batch)])
        except TrueCourseError as exc:
            self._fail(group, exc)
            return
        except Exception as exc:  # a backend bug must still fail the waiting requests
            log.exception("store write failed")
            self._fail(group, StoreUnavailable(f"store write failed: {exc}"))
            return
        self._last_error = None
        self._dirty = True
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        self.metrics.batch_rows.observe(rows)
        for p in group:
            p.future.set_result(None)
        for observer in self.observers:
            for p in group:
                if len(p.batch):
                    try:
                        observer(p.batch)
                    except Exception:  # an observer's bug must not stop the writer
                        log.exception("observer failed on a %s batch", p.batch.table)
        for p in group:
            for consumer, part in p.consumers:
                try:
                    consumer(part.to_batch() if isinstance(part, ArrowBatch) else part)
                except Exception:  # a consumer's bug must not stop the writer
                    log.exception("consumer failed on a %s batch", part.table)

    def _fail(self, group: list[_Pending], exc: TrueCourseError) -> None:
        self._last_error = str(exc)
        self.metrics.write_errors.inc()
        log.error("commit of %d batches failed: %s", len(group), exc)
        for p in group:
            p.future.set_exception(exc)
