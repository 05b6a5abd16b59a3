"""The alert record: what detectors (SLO burn rates, rules, drift) and external systems
(Alertmanager, Grafana) hand to the alerting engine.

An ``Alert`` is one *instance*, identified by its labels (the fingerprint), as in Prometheus
and Alertmanager: ``{"alertname": "LatencyP95High", "service": "checkout", "severity": "page"}``.
Detectors send the alerts that are firing on every evaluation and a resolved alert (``ends_at``
set) once a condition clears; the engine deduplicates by fingerprint, groups, silences, inhibits,
routes and notifies. Times are event time (timezone-aware UTC), so a simulated clock works.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

AlertSource = Literal["slo", "rule", "anomaly", "drift", "external"]
SEVERITIES = ("page", "ticket", "info")


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex-digit id of a label set (order-independent)."""
    h = hashlib.blake2b(digest_size=8)
    for key in sorted(labels):
        h.update(key.encode())
        h.update(b"\0")
        h.update(str(labels[key]).encode())
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Alert:
    """One alert instance at one moment of event time."""

    labels: Mapping[str, str]
    starts_at: datetime
    #: None while firing; set when the condition cleared (resolved)
    ends_at: datetime | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    source: AlertSource = "rule"
    #: the value that crossed the condition (burn rate, metric value, score), when known
    value: float | None = None
    #: link back to the evidence (a scorecard/trace query URL path), lineage for incidents
    evidence: str | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def resolved(self) -> bool:
        return self.ends_at is not None

    def resolve(self, at: datetime) -> Alert:
        return replace(self, ends_at=at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "status": "resolved" if self.resolved else "firing",
            "source": self.source,
            "value": self.value,
            "evidence": self.evidence,
        }
