"""The ``truecourse.yaml`` schema: one pydantic model per section.

Every model forbids unknown keys and documents each field; the descriptions are the source of the
configuration reference (:func:`truecourse.config.config_reference_markdown`). Checks that relate
several items (duplicate processors, route destinations) live on the section that holds them all
and report the exact item at fault.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from truecourse.config.alerting import AlertingConfig
from truecourse.config.checks import Loc, located, unknown_name
from truecourse.config.detect import DetectConfig, validate_detect
from truecourse.config.drift import DriftConfig
from truecourse.config.governance import AuthConfig, RetentionConfig
from truecourse.config.measure import MeasureConfig
from truecourse.config.processors import (
    RESERVED_DESTINATIONS,
    ProcessorEntry,
    RouteConfig,
    default_processors,
)


class ServerConfig(BaseModel):
    """The HTTP server: OTLP receivers, REST API, metrics and UI on one port."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(
        default="127.0.0.1", min_length=1,
        description="Bind address. Loopback by default; binding elsewhere requires API keys.",
    )
    port: int = Field(
        default=4318, ge=0, le=65535,
        description="TCP port; 4318 is the OTLP/HTTP default, so OTel SDKs work unchanged. "
        "0 picks a free port.",
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1,
        description="Largest accepted request body (after gzip decoding); bigger OTLP/REST "
        "bodies get 413.",
    )
    queue_max_batches: int = Field(
        default=64, ge=1,
        description="Bound of the ingest queue in batches; when full, senders get 503 with "
        "Retry-After.",
    )
    retry_after_s: int = Field(
        default=1, ge=1, description="Seconds sent in Retry-After when the queue is full."
    )
    writer_max_rows: int = Field(
        default=20_000, ge=1,
        description="Most rows the writer commits in one transaction (group commit).",
    )
    ingest_workers: int = Field(
        default=2, ge=0, le=64,
        description="Worker processes that decode OTLP and run the pipeline stages, so the "
        "database writer keeps the server process to itself. 0 decodes in the server process "
        "(one process, about 30% less throughput than 2 workers). With more than 1, each "
        "worker keeps its own dedupe window; a request goes to a worker by a hash of its first "
        "bytes, so a sender's retry still meets the window of its first attempt.",
    )


class StorageConfig(BaseModel):
    """Where telemetry and state are stored."""

    model_config = ConfigDict(extra="forbid")

    db: str = Field(
        default="./truecourse.duckdb", min_length=1,
        description="A DuckDB file path (embedded, the default) or a `postgresql://` URL.",
    )
    checkpoint_mb: int = Field(
        default=256, ge=1, le=65536,
        description="DuckDB: write-ahead-log size (MiB) that triggers a checkpoint on commit. "
        "Larger values checkpoint in bigger, cheaper steps (faster ingest) but use more memory "
        "and take longer to replay after a crash.",
    )
    idle_checkpoint_s: float = Field(
        default=5.0, ge=0, le=86_400, allow_inf_nan=False,
        description="Checkpoint when no write has arrived for this many seconds, so quiet "
        "periods leave a short log to replay. 0 disables.",
    )

    @field_validator("db")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if "://" in v and not v.startswith(("postgresql://", "postgres://")):
            scheme = v.split("://", 1)[0]
            raise ValueError(f"unsupported database URL scheme {scheme!r}; use a DuckDB file "
                             "path or a postgresql:// URL")
        return v


class QueueConfig(BaseModel):
    """The ingest log (scale-out): NATS JetStream between ingest nodes and pipeline workers.

    Off unless ``url`` (or ``--queue``) names a NATS server; then ``serve`` publishes every
    accepted batch to the stream and ``truecourse worker`` processes write it to the store.
    """

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="`nats://host:port` of the NATS server with JetStream; empty: no queue, the "
        "server writes to the store itself.",
    )
    stream: str = Field(
        default="TRUECOURSE_INGEST", pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="JetStream stream name (created on first use; its limits are updated to "
        "these settings).",
    )
    subject_prefix: str = Field(
        default="truecourse.ingest", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="Batches are published to `<prefix>.<table>`.",
    )
    max_bytes: int = Field(
        default=1024 ** 3, ge=1024,
        description="Most bytes of unprocessed batches the stream holds; when full, receivers "
        "answer 503 with Retry-After.",
    )
    max_age_s: float = Field(
        default=7 * 86_400, gt=0, allow_inf_nan=False,
        description="Unprocessed batches older than this are discarded by JetStream; size it "
        "above the longest outage of the workers or the database you want to ride out.",
    )
    duplicate_window_s: float = Field(
        default=120, ge=0, allow_inf_nan=False,
        description="JetStream drops a republished batch (a sender's retry of the same body) "
        "within this window; the workers' ledger catches later repeats.",
    )
    replicas: int = Field(
        default=1, ge=1, le=5, description="Stream replicas (a NATS cluster: 3 for HA)."
    )
    consumer: str = Field(
        default="truecourse-workers", pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Durable pull consumer that all workers share.",
    )
    ack_wait_s: float = Field(
        default=30, gt=0, allow_inf_nan=False,
        description="A batch not acknowledged this long after delivery (a worker died) is "
        "delivered to another worker. Workers extend it while a write is retried.",
    )
    fetch_batch: int = Field(
        default=32, ge=1, le=10_000,
        description="Most messages a worker takes per fetch and commits in one transaction.",
    )
    publish_timeout_s: float = Field(
        default=5, gt=0, allow_inf_nan=False,
        description="How long a receiver waits for JetStream's acknowledgement before "
        "answering 503.",
    )
    ledger_keep_s: float = Field(
        default=8 * 86_400, gt=0, allow_inf_nan=False,
        description="How long the store remembers which batches it committed (at-least-once "
        "redelivery is skipped by it); keep it above `max_age_s`.",
    )

    @field_validator("url")
    @classmethod
    def _nats_scheme(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("nats://", "tls://")):
            raise ValueError(f"unsupported queue URL {v!r}; use nats://host:4222")
        return v


class ServiceEntry(BaseModel):
    """One service of the catalog: who owns it, how critical it is, what it calls."""

    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(default=None, description="Owning person or group (e.g. email).")
    team: str | None = Field(default=None, description="Owning team; set on every row.")
    oncall: str | None = Field(default=None, description="Where to page: channel or rotation.")
    tier: int | None = Field(
        default=None, ge=1, le=4, description="Criticality, 1 (most critical) to 4."
    )
    environment: str | None = Field(
        default=None, description="Environment set on rows whose telemetry carries none."
    )
    dependencies: list[str] = Field(
        default_factory=list,
        description="Services and external systems it calls; names outside the catalog are "
        "allowed (external dependencies).",
    )
    description: str | None = Field(default=None, description="What the service does.")


class CatalogConfig(BaseModel):
    """The service catalog: ownership and context used by enrich, alerting and incidents."""

    model_config = ConfigDict(extra="forbid")

    services: dict[str, ServiceEntry] = Field(
        default_factory=dict, description="Services by their `service.name`."
    )


class PipelineConfig(BaseModel):
    """The processing pipeline between ingest and the store."""

    model_config = ConfigDict(extra="forbid")

    # consumers comes first so the processors check can see it (pydantic validates in order)
    consumers: list[str] = Field(
        default_factory=list,
        description="Names of downstream consumers that routes may send rows to, besides "
        "`store` and `drop`.",
    )
    processors: list[ProcessorEntry] = Field(
        default_factory=default_processors,
        description="Ordered processors, each a one-key mapping `{type: settings}` (or just the "
        "type name for its defaults); each type at most once, `guard` after `normalize`, "
        "`route` last.",
    )

    @field_validator("consumers")
    @classmethod
    def _consumer_names(cls, v: list[str]) -> list[str]:
        problems: list[tuple[Loc, str, object]] = []
        seen: set[str] = set()
        for i, name in enumerate(v):
            if not name:
                problems.append(((i,), "a consumer name cannot be empty", name))
            elif name in RESERVED_DESTINATIONS:
                problems.append(((i,), f"{name!r} is a built-in destination, not a consumer",
                                 name))
            elif name in seen:
                problems.append(((i,), f"consumer {name!r} is listed twice", name))
            seen.add(name)
        if problems:
            raise located("PipelineConfig", problems)
        return v

    @field_validator("processors")
    @classmethod
    def _cross_references(
        cls, v: list[ProcessorEntry], info: ValidationInfo
    ) -> list[ProcessorEntry]:
        problems: list[tuple[Loc, str, object]] = []
        first: dict[str, int] = {}
        for i, entry in enumerate(v):
            kind = entry.type
            if kind in first:
                problems.append(((i,), f"duplicate processor {kind!r} (first at "
                                       f"processors[{first[kind]}]); merge their settings", kind))
            first.setdefault(kind, i)
            if kind == "route" and i != len(v) - 1:
                problems.append(((i,), "'route' must be the last processor: it hands rows to "
                                       "their destinations", kind))
        if "guard" in first and first["guard"] < first.get("normalize", -1):
            problems.append(((first["guard"],), "'guard' must come after 'normalize': normalize "
                             "copies prompt and completion text out of the span attributes, "
                             "and what it copies after guard ran would be stored unmasked",
                             "guard"))
        consumers = info.data.get("consumers")
        if consumers is not None:  # None: consumers itself is invalid and already reported
            for i, entry in enumerate(v):
                if entry.route is not None:
                    problems += _unknown_destinations(entry.route, consumers, (i, "route"))
        if problems:
            raise located("PipelineConfig", problems)
        return v

    @property
    def router(self) -> RouteConfig:
        """The route settings (no routes when ``route`` is not configured)."""
        for entry in self.processors:
            if entry.route is not None:
                return entry.route
        return RouteConfig()


def _unknown_destinations(
    cfg: RouteConfig, consumers: list[str], at: Loc
) -> list[tuple[Loc, str, object]]:
    valid = [*RESERVED_DESTINATIONS, *consumers]
    return [
        ((*at, "routes", j, "to", k), unknown_name("destination", d, valid, list_valid=True)
         + ("" if consumers else "; declare consumers in pipeline.consumers"), d)
        for j, rule in enumerate(cfg.routes)
        for k, d in enumerate(rule.to)
        if d not in valid
    ]


class TrueCourseConfig(BaseModel):
    """The whole ``truecourse.yaml``; every section is optional."""

    model_config = ConfigDict(extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig, description=ServerConfig.__doc__)
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description=StorageConfig.__doc__
    )
    pipeline: PipelineConfig = Field(
        default_factory=PipelineConfig, description=PipelineConfig.__doc__
    )
    catalog: CatalogConfig = Field(
        default_factory=CatalogConfig, description=CatalogConfig.__doc__
    )
    measure: MeasureConfig = Field(
        default_factory=MeasureConfig, description=MeasureConfig.__doc__
    )
    queue: QueueConfig = Field(default_factory=QueueConfig, description=QueueConfig.__doc__)
    detect: DetectConfig = Field(default_factory=DetectConfig, description=DetectConfig.__doc__)
    alerting: AlertingConfig = Field(
        default_factory=AlertingConfig, description=AlertingConfig.__doc__
    )
    drift: DriftConfig = Field(default_factory=DriftConfig, description=DriftConfig.__doc__)
    auth: AuthConfig = Field(default_factory=AuthConfig, description=AuthConfig.__doc__)
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description=RetentionConfig.__doc__
    )

    @model_validator(mode="after")
    def _services_in_the_catalog(self) -> TrueCourseConfig:
        # SLOs and rules name services; with a catalog, each must be in it (checked here, the
        # one place that sees both sections)
        problems = validate_detect(self.detect, self.catalog)
        if problems:
            raise located("TrueCourseConfig", [(_loc(p), p.split(": ", 1)[1], None)
                                               for p in problems])
        return self

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # `catalog:` with nothing under it is YAML null; read it as an empty section
        if isinstance(data, dict):
            return {k: ({} if v is None and k in cls.model_fields else v) for k, v in data.items()}
        return data


def _loc(problem: str) -> Loc:
    """``("detect", "rules", 2, "metric")`` from ``"detect.rules[2].metric: ..."``."""
    path = problem.split(": ", 1)[0]
    out: list[str | int] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        out.append(int(part) if part.isdigit() else part)
    return tuple(out)
