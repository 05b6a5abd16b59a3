"""Ingest worker processes: decode and run the pipeline stages off the server's GIL.

The server process owns the HTTP sockets and the DuckDB writer. DuckDB's Python client holds the
GIL for much of a write, so decoding and normalizing in the same process starve the writer (and
the other way round): one process tops out at about one core. With ``server.ingest_workers: N``
the CPU-heavy part — OTLP decode, every stage, routing, Arrow conversion — runs in N child
processes, and only Arrow IPC buffers come back to be committed.

Contract: :meth:`IngestWorkers.export` returns the decode result and the routed rows, or raises
the same errors as the in-process path (``InvalidInput``, ``PayloadTooLarge``, ...), or
``QueueFull`` when ``max_inflight`` requests are already being decoded, or ``RetryableError``
when a worker died (a new one starts for the next request). Stage state (the dedupe window) is
per worker process. A request goes to the worker chosen by a hash of its first bytes, so a
sender's byte-identical retry meets the same window and is dropped as a duplicate; the same span
id arriving inside two different requests that land on two workers is stored twice.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from truecourse.config import TrueCourseConfig
from truecourse.errors import QueueFull, RetryableError
from truecourse.ingest.otlp import decode
from truecourse.model import DEFAULT_PROJECT, ArrowBatch
from truecourse.pipeline.base import Processor
from truecourse.pipeline.runner import Router, run_stages, split_stateful

log = logging.getLogger(__name__)


@dataclass
class WorkResult:
    """What one worker hands back for one OTLP request (picklable, Arrow IPC inside)."""

    table: str
    accepted: int
    rejected: int
    error_message: str
    parts: dict[str, bytes] = field(default_factory=dict)  # destination -> Arrow IPC
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # time the worker spent on this request

    def routed(self) -> dict[str, ArrowBatch]:
        return {dest: ArrowBatch.from_ipc(self.table, data) for dest, data in self.parts.items()}


# -- the child side -------------------------------------------------------------------------

_stages: list[Processor] = []
_router: Router | None = None


def _exit_with_parent() -> None:
    """A worker must not outlive a server that was killed (``kill -9`` runs no cleanup)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the kernel kills us with the parent
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # portable fallback: poll for re-parenting
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(config: TrueCourseConfig, front_only: bool = False) -> None:
    """Build this worker's own stages from the config (runs once per child process).

    ``front_only`` (an ingest node in front of a queue): only the stages before the first
    stateful one, and no router; the queue workers run the rest.
    """
    global _stages, _router
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    _exit_with_parent()
    from truecourse.pipeline.normalize import NormalizeProcessor, pricing_catalog
    from truecourse.pipeline.processors import build_processors

    pricing = pricing_catalog(config.measure)
    _stages, _router = build_processors(config.pipeline, config.catalog,
                                        normalize_factory=lambda: NormalizeProcessor(pricing))
    if front_only:
        _stages, _router = split_stateful(_stages)[0], None
    for stage in reversed(_stages):
        stage.start()


def _work(signal_name: str, body: bytes, content_type: str | None,
          content_encoding: str | None, limit: int, project: str) -> WorkResult:
    t0 = time.perf_counter()
    result = decode(signal_name, body, content_type, content_encoding, limit, project)
    batch = result.batch
    out = WorkResult(batch.table, len(batch), result.rejected, result.error_message)
    if len(batch):
        routed, out.dropped = run_stages(_stages, _router, batch)
        for dest, part in routed.items():
            if len(part):
                out.parts[dest] = ArrowBatch(part.table, part.to_arrow()).to_ipc()
    out.seconds = time.perf_counter() - t0
    return out


def _ping() -> bool:
    return True


# -- the server side ------------------------------------------------------------------------


class IngestWorkers:
    """A pool of ingest worker processes with a bound on requests in flight."""

    def __init__(self, config: TrueCourseConfig, workers: int, max_inflight: int,
                 retry_after_s: int = 1, *, front_only: bool = False) -> None:
        self.config = config
        self.front_only = front_only
        self.workers = workers
        self.max_inflight = max_inflight
        self.retry_after_s = retry_after_s
        self._pools: list[ProcessPoolExecutor] = []
        self._inflight = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        """Spawn the workers and wait until each has built its stages. Safe to call twice."""
        if self._pools:
            return
        self._pools = [self._new_pool() for _ in range(self.workers)]
        for f in [pool.submit(_ping) for pool in self._pools]:
            f.result(timeout=120)

    def _new_pool(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(max_workers=1, mp_context=ctx,
                                   initializer=_init_worker,
                                   initargs=(self.config, self.front_only))

    def shutdown(self) -> None:
        """Stop the workers (requests still in flight finish first). Safe to call twice."""
        pools, self._pools = self._pools, []
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=False)

    @property
    def healthy(self) -> bool:
        return bool(self._pools)

    def _pick(self, body: bytes) -> int:
        """The worker for ``body``: a hash of its first 4 KiB.

        A sender's retry of a request it got no answer for is byte-identical, so it reaches
        the worker that saw the first attempt and that worker's dedupe window drops the
        repeat. Different requests spread evenly over the workers.
        """
        return zlib.crc32(body[:4096]) % len(self._pools)

    async def export(self, signal_name: str, body: bytes, content_type: str | None,
                     content_encoding: str | None, limit: int,
                     project: str = DEFAULT_PROJECT) -> WorkResult:
        """Decode and process one OTLP body of ``project`` in a worker; see the module
        docstring for errors."""
        pools = self._pools
        if not pools:
            raise RetryableError("ingest workers are not running",
                                 retry_after_s=self.retry_after_s)
        with self._lock:
            if self._inflight >= self.max_inflight:
                raise QueueFull(
                    f"ingest workers are busy ({self._inflight} requests being decoded)",
                    hint="retry after the Retry-After delay", retry_after_s=self.retry_after_s)
            self._inflight += 1
        index = self._pick(body)
        pool = pools[index]
        try:
            future = pool.submit(_work, signal_name, body, content_type, content_encoding, limit,
                                 project)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            log.error("ingest worker %d died; starting a new one", index)
            self._restart(index, pool)
            raise RetryableError("an ingest worker died while decoding; retry",
                                 retry_after_s=self.retry_after_s) from exc
        finally:
            with self._lock:
                self._inflight -= 1

    def _restart(self, index: int, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if index < len(self._pools) and self._pools[index] is broken:
                self._pools[index] = self._new_pool()
        broken.shutdown(wait=False, cancel_futures=True)
