"""The composition root: config + ``--db`` → store, pipeline stages, router, writer.

Faces (the API server, the CLI) build one :class:`Runtime` and call its ``start``/``shutdown``;
no face wires components itself.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from truecourse.alerting import AlertEngine, Dispatcher
from truecourse.config import TrueCourseConfig, load_config
from truecourse.context import DeployWindows
from truecourse.coord.leader import LeaderJob, leader_lock
from truecourse.detect import Evaluator
from truecourse.drift.schedule import DriftChecks
from truecourse.errors import StoreUnavailable
from truecourse.governance import Gatekeeper, RetentionJob, RetentionMetrics, audit
from truecourse.guard import SafetyMetrics
from truecourse.measure.prometheus import SliMetrics
from truecourse.pipeline.metrics import PipelineMetrics
from truecourse.pipeline.normalize import NormalizeProcessor, pricing_catalog
from truecourse.pipeline.processors import build_processors
from truecourse.pipeline.runner import Consumer, Pipeline, Router, split_stateful
from truecourse.pipeline.workers import IngestWorkers
from truecourse.queue.log import IngestLog
from truecourse.store import Store, open_store

log = logging.getLogger(__name__)


class DetectionLoop:
    """The evaluation scheduler of a server: on the leader, every ``detect.interval_s``, it
    evaluates the SLOs and rules at every tick due (event time = now), hands the alerts to
    the alerting engine and flushes its groups (external alerts are flushed the same way)."""

    def __init__(self, config: TrueCourseConfig, store: Store, engine: AlertEngine) -> None:
        self.engine = engine
        self.evaluator: Evaluator | None = None
        if config.detect.slos or config.detect.rules:
            self.evaluator = Evaluator(store, config.detect, measure=config.measure)
        self.drift: DriftChecks | None = None
        if config.drift.checks or config.drift.sketch_models:
            self.drift = DriftChecks(store, config.drift)
        self.job = LeaderJob(leader_lock(getattr(store, "dsn", store.url), "detect"),
                             config.detect.interval_s, self.run_once, "detect",
                             retry_s=min(5.0, config.detect.interval_s))

    def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        alerts = self.evaluator.catch_up(now) if self.evaluator is not None else []
        if self.drift is not None:
            alerts = [*alerts, *self.drift.run_due(now)]
        self.engine.receive(alerts, now)
        self.engine.flush(now)


@dataclass
class Runtime:
    """Everything one TrueCourse server process runs, in start order."""

    config: TrueCourseConfig
    store: Store
    pipeline: Pipeline
    metrics: PipelineMetrics
    consumers: dict[str, Consumer] = field(default_factory=dict)
    workers: IngestWorkers | None = None
    #: with ``--queue``: batches go to this JetStream log and ``truecourse worker`` writes them
    ingest_log: IngestLog | None = None
    #: alert state, grouping, silences and notification (external alerts and the detectors')
    alerts: AlertEngine = field(default=None)  # type: ignore[assignment]
    dispatcher: Dispatcher | None = None
    detection: DetectionLoop | None = None
    started: bool = False
    #: API keys: who may send and read (open until the first key is created)
    gate: Gatekeeper = field(default=None)  # type: ignore[assignment]
    #: deletes what outlived its TTL (``retention``), on one leader
    retention: RetentionJob | None = None
    #: what "now" is for the API's alerting routes: the wall clock, or a simulation's event time
    #: (``truecourse demo`` drives detection on an accelerated clock, see ``truecourse.sim``)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        """The current instant of :attr:`clock`."""
        return self.clock()

    @classmethod
    def build(cls, config: TrueCourseConfig | None = None, db: str | None = None,
              consumers: dict[str, Consumer] | None = None,
              queue: str | None = None) -> Runtime:
        """Open the store (``db`` overrides ``storage.db``), migrate it, build the pipeline.

        With a queue (``queue`` or ``queue.url``) this process is an ingest node: it runs the
        stages before the first stateful one and publishes to the ingest log (connected by
        the app's lifespan); ``truecourse worker`` runs the rest and writes. Raises
        ``StoreUnavailable`` when the database cannot be opened and ``ConfigError`` when the
        pipeline config names something unknown.
        """
        cfg = config or load_config(None)
        queue_url = queue or cfg.queue.url
        ingest_log = IngestLog(cfg.queue, queue_url) if queue_url else None
        store = open_store(db or cfg.storage.db, checkpoint_mb=cfg.storage.checkpoint_mb)
        try:
            store.migrate()
            pricing = pricing_catalog(cfg.measure)
            router: Router | None
            stages, router = build_processors(
                cfg.pipeline, cfg.catalog,
                normalize_factory=lambda: NormalizeProcessor(pricing))
            if ingest_log is not None:
                stages, router = split_stateful(stages)[0], None
        except BaseException:
            store.close()
            raise
        metrics = PipelineMetrics()
        sli = SliMetrics(metrics.registry)
        safety = SafetyMetrics(metrics.registry)
        pipeline = Pipeline(
            store, stages, router,
            consumers=consumers,
            observers=[sli.observe, safety.observe],
            queue_max_batches=cfg.server.queue_max_batches,
            writer_max_rows=cfg.server.writer_max_rows,
            retry_after_s=cfg.server.retry_after_s,
            idle_checkpoint_s=cfg.storage.idle_checkpoint_s,
            metrics=metrics,
        )
        workers = None
        if cfg.server.ingest_workers > 0:
            workers = IngestWorkers(cfg, cfg.server.ingest_workers,
                                    max_inflight=cfg.server.queue_max_batches,
                                    retry_after_s=cfg.server.retry_after_s,
                                    front_only=ingest_log is not None)
        dispatcher = Dispatcher(cfg.alerting)
        try:
            engine = AlertEngine(cfg.alerting, cfg.catalog, store=store, dispatcher=dispatcher)
        except BaseException:
            store.close()
            raise
        engine.set_deploy_window_source(DeployWindows(store))
        detection = DetectionLoop(cfg, store, engine)
        return cls(cfg, store, pipeline, metrics, dict(consumers or {}), workers, ingest_log,
                   engine, dispatcher, detection, gate=Gatekeeper(store, cfg.auth),
                   retention=RetentionJob(store, cfg.retention,
                                          RetentionMetrics(metrics.registry)))

    def start(self, *, detection: bool = True) -> None:
        """Start downstream-first: the writer, then the ingest workers; the leader-run
        detection loop too unless ``detection`` is False (a simulation ticks it on event time
        and calls :meth:`start_detection` once its clock has caught up with the wall clock)."""
        if not self.started:
            if self.dispatcher is not None:
                self.dispatcher.start()
            self.pipeline.start()
            if self.workers is not None:
                self.workers.start()
            if self.detection is not None and detection:
                self.detection.job.start()
            if self.gate is not None:  # a runtime Runtime.build made (not a bare test one)
                self._audit_config()
            if self.retention is not None:
                self.retention.start()
            self.started = True

    def _audit_config(self) -> None:
        """Record the configuration this server runs with (its SHA-256) in the audit log."""
        text = self.config.model_dump_json().encode()
        try:
            audit.record(self.store, "server", "config.load",
                         details={"config_sha256": hashlib.sha256(text).hexdigest()})
        except StoreUnavailable as exc:
            log.warning("could not record the config load in the audit log: %s", exc)

    def start_detection(self) -> None:
        """Start the wall-clock detection loop (after ``start(detection=False)``)."""
        if self.detection is not None:
            self.detection.job.start()

    def shutdown(self) -> None:
        """Stop upstream-first: workers, then drain the writer, then close the store.

        Safe to call twice.
        """
        if self.started:
            if self.detection is not None:
                self.detection.job.shutdown()
            if self.retention is not None:
                self.retention.shutdown()
            if self.workers is not None:
                self.workers.shutdown()
            self.pipeline.shutdown()
            if self.dispatcher is not None:
                self.dispatcher.shutdown()
            self.started = False
        self.store.close()
