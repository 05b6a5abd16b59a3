"""The ``auth`` and ``retention`` sections: API-key checks and how long each kind of record
is kept, per project."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from truecourse.config.detect import Duration, parse_duration

#: What a retention TTL can apply to, and what expiry does to it.
RETENTION_KINDS: dict[str, str] = {
    "text": "raw prompt and completion text: spans' input_text/output_text and log bodies are "
            "cleared (set NULL); the rest of the row stays",
    "spans": "span rows are deleted",
    "logs": "log rows are deleted",
    "metric_points": "metric points are deleted",
    "events": "change, feedback and label events are deleted",
    "predictions": "classic-ML predictions are deleted",
    "aggregates": "stored drift reports and drift sketches are deleted",
}


class AuthConfig(BaseModel):
    """API keys (`truecourse keys create`): how the server checks them. With no key created,
    the server is open to whoever reaches it and may only bind to loopback."""

    model_config = ConfigDict(extra="forbid")

    key_cache_s: float = Field(
        default=2.0, ge=0.0, le=300.0,
        description="Seconds a server trusts its copy of the key table; a key revoked by "
        "another process stops working within this time.")
    ingest_rate_per_s: float | None = Field(
        default=None, gt=0,
        description="Default ingest requests per second per key (token bucket) for keys "
        "created without `--rate`; over it the server answers 429 with Retry-After. None: "
        "unlimited.")
    ingest_burst: float | None = Field(
        default=None, gt=0,
        description="Default bucket size (requests) for keys created without `--burst`; "
        "default: twice the rate, at least 1.")


class RetentionTTLs(BaseModel):
    """Time to live per kind of record; a kind left out is kept forever."""

    model_config = ConfigDict(extra="forbid")

    text: Duration | None = Field(default=None, description=RETENTION_KINDS["text"] + ".")
    spans: Duration | None = Field(default=None, description="Spans: " +
                                   RETENTION_KINDS["spans"] + ".")
    logs: Duration | None = Field(default=None, description="Logs.")
    metric_points: Duration | None = Field(default=None, description="Metric points.")
    events: Duration | None = Field(default=None, description="Events.")
    predictions: Duration | None = Field(default=None, description="Predictions.")
    aggregates: Duration | None = Field(default=None,
                                        description="Drift reports and drift sketches.")

    def seconds(self) -> dict[str, int]:
        """Each TTL given, in seconds, by kind."""
        return {k: parse_duration(v) for k, v in self.model_dump().items() if v is not None}


class RetentionConfig(BaseModel):
    """How long records are kept. A leader-run job (one per cluster) deletes what expired
    every `interval` and reports what it removed in `/metrics` and the audit log. With no TTL
    configured nothing is ever deleted."""

    model_config = ConfigDict(extra="forbid")

    interval: Duration = Field(default="1h", description="How often the retention job runs.")
    defaults: RetentionTTLs = Field(
        default_factory=RetentionTTLs,
        description="TTLs of every project without its own entry, e.g. `{text: 7d, spans: "
        "30d, aggregates: 400d}`.")
    projects: dict[str, RetentionTTLs] = Field(
        default_factory=dict,
        description="Per-project TTLs; a kind a project leaves out falls back to `defaults`.")

    def ttls(self, project: str) -> dict[str, int]:
        """The TTL in seconds of each kind for ``project`` (kinds kept forever left out)."""
        merged = self.defaults.seconds()
        if project in self.projects:
            merged.update(self.projects[project].seconds())
        return merged

    @property
    def enabled(self) -> bool:
        return bool(self.defaults.seconds()) or any(t.seconds() for t in self.projects.values())
