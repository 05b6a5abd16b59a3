"""``truecourse worker``: consume the ingest stream, run the pipeline, write, then acknowledge.

::

    worker = QueueWorker(store, ingest_log, stages, router, config=cfg.queue)
    await worker.run()        # until request_stop(); then finishes the batch in hand and returns

Each round takes up to ``fetch_batch`` messages from the shared durable consumer, runs the
stateful stages (dedupe) and the router over each, and commits everything with
``Store.write_once`` in one transaction, keyed by each message's ``Nats-Msg-Id``. Only after the
commit are the messages acknowledged. Delivery is at least once: a message redelivered after a
worker died (before or after its commit) is written at most once, because a committed key is
skipped. A failed write is retried with exponential backoff on the rows already processed (the
messages' ack deadline is extended meanwhile), so the dedupe window never swallows rows that
were not stored; on shutdown during an outage the messages are handed back (``nak``) instead.
A message no worker can read is terminated and logged, never retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from truecourse import faults
from truecourse.config import QueueConfig
from truecourse.errors import InvalidInput, TrueCourseError
from truecourse.model import ArrowBatch, Batch
from truecourse.pipeline.base import Processor
from truecourse.pipeline.metrics import PipelineMetrics
from truecourse.pipeline.runner import STORE, Router, run_stages
from truecourse.queue.log import IngestLog, decode_message, message_keys
from truecourse.store import Store

log = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    messages: int = 0
    rows_written: int = 0
    skipped_keys: int = 0  # redeliveries of committed batches
    poison: int = 0
    write_retries: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)


class WorkerCollector:
    """Prometheus series of one worker's :class:`WorkerStats` (read at scrape time)."""

    def __init__(self, stats: WorkerStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        for name, doc, value in (
                ("truecourse_worker_messages_total", "Queue messages committed and "
                 "acknowledged.", s.messages),
                ("truecourse_worker_rows_written_total", "Rows written to the store.",
                 s.rows_written),
                ("truecourse_worker_redelivered_skipped_total", "Redelivered messages whose "
                 "batch was already committed (skipped by the ledger).", s.skipped_keys),
                ("truecourse_worker_unreadable_total", "Messages no worker can read, "
                 "terminated.", s.poison),
                ("truecourse_worker_write_retries_total", "Failed writes retried with backoff.",
                 s.write_retries)):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily("truecourse_worker_store_failing",
                                "1 while the last write failed.",
                                value=1 if s.last_error else 0)


class QueueWorker:
    """One worker process's consumer loop (stateless apart from the dedupe window)."""

    def __init__(self, store: Store, ingest_log: IngestLog, stages: Sequence[Processor],
                 router: Router | None, *, config: QueueConfig,
                 observers: Sequence[Callable[[Batch | ArrowBatch], None]] = (),
                 metrics: PipelineMetrics | None = None,
                 backoff_s: tuple[float, float] = (0.5, 30.0)) -> None:
        self.store = store
        self.log = ingest_log
        self.stages = list(stages)
        self.router = router
        self.config = config
        self.observers = list(observers)
        self.metrics = metrics or PipelineMetrics()
        self.backoff_s = backoff_s
        self.stats = WorkerStats()
        self.metrics.registry.register(WorkerCollector(self.stats))
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        """Finish the batch in hand, acknowledge it, and return from :meth:`run`."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> None:
        """Consume until :meth:`request_stop`; raises ``QueueUnavailable`` if the consumer
        cannot be opened."""
        sub = await self.log.subscribe()
        for stage in reversed(self.stages):
            stage.start()
        try:
            while not self._stop.is_set():
                try:
                    msgs = await sub.fetch(self.config.fetch_batch, timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.Error as exc:  # disconnected: the client reconnects itself
                    log.warning("fetch failed: %s", exc)
                    await self._sleep(1.0)
                    continue
                if msgs:
                    await self.handle(msgs)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            for stage in self.stages:
                stage.shutdown()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def handle(self, msgs: Sequence[Any]) -> None:
        """Process, commit and acknowledge one fetched group of messages."""
        keys = message_keys(msgs)
        good: list[tuple[Any, str, list[Batch | ArrowBatch]]] = []
        for msg, key in zip(msgs, keys, strict=True):
            try:
                rows = decode_message(msg.headers, msg.data)
            except InvalidInput as exc:
                self.stats.poison += 1
                log.error("dropping unreadable queue message %s: %s", key, exc)
                with contextlib.suppress(Exception):
                    await msg.term()
                continue
            good.append((msg, key, rows))  # type: ignore[arg-type]
        if not good:
            return
        processed = await asyncio.to_thread(self._process, [(k, r) for _, k, r in good])
        await faults.pause("worker.before_commit")
        if not await self._commit(processed, [m for m, _, _ in good]):
            return
        await faults.pause("worker.after_commit")
        for msg, _, _ in good:
            with contextlib.suppress(Exception):
                await msg.ack()
        self.stats.messages += len(good)

    def _process(self, items: list[tuple[str, Any]]) -> list[tuple[str, list[Batch | ArrowBatch]]]:
        out: list[tuple[str, list[Batch | ArrowBatch]]] = []
        routes = bool(getattr(self.router, "routes", True))
        for key, rows in items:
            arrow_rows: ArrowBatch = rows
            applicable = [s for s in self.stages if arrow_rows.table in s.tables]
            if not routes and all(hasattr(s, "process_arrow") for s in applicable):
                # stages that work on Arrow (span dedupe) or none: no conversion to lists
                for stage in applicable:
                    before = len(arrow_rows)
                    arrow_rows = stage.process_arrow(arrow_rows)  # type: ignore[attr-defined]
                    if len(arrow_rows) < before:
                        self.metrics.dropped.labels(stage.name, arrow_rows.table).inc(
                            before - len(arrow_rows))
                out.append((key, [arrow_rows] if len(arrow_rows) else []))
                continue
            t0 = time.perf_counter()
            routed, dropped = run_stages(self.stages, self.router, arrow_rows.to_batch())
            for stage_name, n in dropped.items():
                self.metrics.dropped.labels(stage_name, arrow_rows.table).inc(n)
            self.metrics.process_seconds.observe(time.perf_counter() - t0)
            stored = routed.get(STORE)
            out.append((key, [stored] if stored is not None and len(stored) else []))
        return out

    async def _commit(self, processed: list[tuple[str, list[Batch | ArrowBatch]]],
                      msgs: list[Any]) -> bool:
        """Write until it succeeds (True) or the worker is asked to stop (False, nak'd)."""
        delay, max_delay = self.backoff_s
        max_delay = min(max_delay, self.config.ack_wait_s / 2)  # heartbeat before the deadline
        rows = sum(len(b) for _, bs in processed for b in bs)
        while True:
            t0 = time.perf_counter()
            try:
                skipped = await asyncio.to_thread(self.store.write_once, processed)
            except TrueCourseError as exc:
                self.stats.write_retries += 1
                self.stats.last_error = str(exc)
                self.metrics.write_errors.inc()
                log.error("write of %d messages failed (retrying in %.1f s): %s", len(msgs),
                          delay, exc)
            else:
                self.stats.last_error = None
                self.stats.skipped_keys += len(skipped)
                written = sum(len(b) for k, bs in processed if k not in skipped for b in bs)
                self.stats.rows_written += written
                self.metrics.batch_seconds.observe(time.perf_counter() - t0)
                self.metrics.batch_rows.observe(rows)
                self._observe([b for k, bs in processed if k not in skipped for b in bs])
                return True
            if self._stop.is_set():
                for msg in msgs:  # hand them back: another worker (or this one, later) retries
                    with contextlib.suppress(Exception):
                        await msg.nak()
                return False
            for msg in msgs:  # keep the ack deadline ahead of the retries
                with contextlib.suppress(Exception):
                    await msg.in_progress()
            await self._sleep(delay)
            delay = min(delay * 2, max_delay)

    def _observe(self, batches: list[Batch | ArrowBatch]) -> None:
        for observer in self.observers:
            for b in batches:
                try:
                    observer(b)
                except Exception:  # an observer's bug must not stop the worker
                    log.exception("observer failed on a %s batch", b.table)
