"""``truecourse worker``: a pipeline worker between the JetStream ingest log and the store."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from truecourse.errors import InvalidInput, TrueCourseError

if TYPE_CHECKING:
    from truecourse.config import TrueCourseConfig

out = Console(soft_wrap=True)

LEDGER_PRUNE_INTERVAL_S = 600.0


def _fail(exc: TrueCourseError) -> typer.Exit:
    from truecourse.cli.main import fail

    return fail(exc)


def check_queue(cfg: TrueCourseConfig, url: str) -> None:
    """Start-up check: NATS reachable with JetStream, the stream set up; else QueueUnavailable."""
    from truecourse.queue.log import probe

    asyncio.run(probe(cfg.queue, url))


def require_shared_store(db: str) -> None:
    """With a queue, servers read and workers write the same database: it must be PostgreSQL."""
    if not db.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(
            f"a queue needs a store that servers and workers share, not the DuckDB file {db}",
            hint="pass --db postgresql://user@host/db (DuckDB allows one process per file)")


def worker_command(
    queue: str | None = typer.Option(None, help="nats:// URL of the NATS JetStream server "
                                                "(default: queue.url)."),
    db: str | None = typer.Option(None, help="postgresql:// URL of the store to write to "
                                             "(default: storage.db)."),
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help="truecourse.yaml (default: ./truecourse.yaml when "
                                            "present)."),
    log_level: str = typer.Option("warning", help="Log level (debug, info, warning, error)."),
    metrics_port: int | None = typer.Option(
        None, help="Serve the worker's Prometheus metrics on 127.0.0.1:PORT/metrics (default: "
                   "off; 0 picks a free port)."),
) -> None:
    """Consume the ingest stream, run the stateful stages, write to the store, acknowledge.

    Run as many as you need: they share one durable consumer, so each batch goes to one of
    them. SIGTERM or Ctrl+C finishes the batch in hand and exits 0. Exits 75 when NATS or the
    database cannot be reached at start.
    """
    from truecourse.cli.main import _config_path
    from truecourse.config import load_config

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(_config_path(config))
        queue_url = queue or cfg.queue.url
        if not queue_url:
            raise InvalidInput("truecourse worker needs a queue",
                               hint="pass --queue nats://127.0.0.1:4222 or set queue.url")
        store_url = db or cfg.storage.db
        require_shared_store(store_url)
        asyncio.run(_run(cfg, queue_url, store_url, metrics_port))
    except TrueCourseError as exc:
        raise _fail(exc) from exc


async def _run(cfg: TrueCourseConfig, queue_url: str, db: str,
               metrics_port: int | None = None) -> None:
    from truecourse.coord.leader import LeaderJob, leader_lock
    from truecourse.guard import SafetyMetrics
    from truecourse.measure.prometheus import SliMetrics
    from truecourse.pipeline.metrics import PipelineMetrics
    from truecourse.pipeline.normalize import NormalizeProcessor, pricing_catalog
    from truecourse.pipeline.processors import build_processors
    from truecourse.pipeline.runner import split_stateful
    from truecourse.queue.log import IngestLog, masked_url
    from truecourse.queue.worker import QueueWorker
    from truecourse.store import open_store

    ingest_log = IngestLog(cfg.queue, queue_url)
    await ingest_log.connect()
    try:
        store = await asyncio.to_thread(open_store, db,
                                        checkpoint_mb=cfg.storage.checkpoint_mb)
    except BaseException:
        await ingest_log.close()
        raise
    prune: LeaderJob | None = None
    try:
        await asyncio.to_thread(store.migrate)
        pricing = pricing_catalog(cfg.measure)
        stages, router = build_processors(cfg.pipeline, cfg.catalog,
                                          normalize_factory=lambda: NormalizeProcessor(pricing))
        metrics = PipelineMetrics()
        sli = SliMetrics(metrics.registry)
        safety = SafetyMetrics(metrics.registry)
        worker = QueueWorker(store, ingest_log, split_stateful(stages)[1], router,
                             config=cfg.queue, observers=[sli.observe, safety.observe],
                             metrics=metrics)
        keep = timedelta(seconds=cfg.queue.ledger_keep_s)
        prune = LeaderJob(leader_lock(db, "ingest-ledger-prune"),
                          LEDGER_PRUNE_INTERVAL_S,
                          lambda: store.prune_ledger(datetime.now(UTC) - keep))
        prune.start()
        where = ""
        if metrics_port is not None:
            from prometheus_client import start_http_server

            try:
                httpd, _ = start_http_server(metrics_port, addr="127.0.0.1",
                                             registry=metrics.registry)
            except OSError as exc:
                raise InvalidInput(f"cannot serve metrics on 127.0.0.1:{metrics_port}: {exc}",
                                   hint="pick another --metrics-port") from exc
            where = f"; metrics on http://127.0.0.1:{httpd.server_port}/metrics"
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.request_stop)
        out.print(f"truecourse worker: stream {cfg.queue.stream} on {masked_url(queue_url)} "
                  f"→ {store.url}{where}", highlight=False)
        sys.stdout.flush()
        await worker.run()
        out.print(f"truecourse worker: stopped after {worker.stats.messages} batches "
                  f"({worker.stats.rows_written} rows written)", highlight=False)
    finally:
        if prune is not None:
            await asyncio.to_thread(prune.shutdown)
        await ingest_log.close()
        await asyncio.to_thread(store.close)
