"""The server's own Prometheus metrics: what was accepted, rejected, queued and written."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class PipelineMetrics:
    """One registry per server (tests can run several servers in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.accepted = Counter("truecourse_ingest_accepted_total",
                                "Items accepted and durably stored, by signal.",
                                ["signal"], registry=r)
        self.rejected = Counter("truecourse_ingest_rejected_total",
                                "Items rejected, by signal and reason.",
                                ["signal", "reason"], registry=r)
        self.requests = Counter("truecourse_ingest_requests_total",
                                "Ingest requests answered, by signal and HTTP status.",
                                ["signal", "status"], registry=r)
        self.dropped = Counter("truecourse_pipeline_dropped_total",
                               "Rows removed by a pipeline stage (filter, sample, dedupe, route).",
                               ["stage", "table"], registry=r)
        self.queue_depth = Gauge("truecourse_queue_depth",
                                 "Batches waiting for the writer.", registry=r)
        self.queue_capacity = Gauge("truecourse_queue_capacity",
                                    "Batches the ingest queue holds at most.", registry=r)
        self.batch_seconds = Histogram(
            "truecourse_write_batch_seconds", "Seconds to commit one group of batches.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r)
        self.batch_rows = Histogram(
            "truecourse_write_batch_rows", "Rows committed per transaction.",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000), registry=r)
        self.process_seconds = Histogram(
            "truecourse_pipeline_process_seconds",
            "Seconds spent decoding and in pipeline stages per batch (in a worker or in-process).",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
            registry=r)
        self.write_errors = Counter("truecourse_write_errors_total",
                                    "Transactions that failed to commit.", registry=r)
