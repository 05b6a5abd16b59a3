"""What a receiver is sent: one aggregation group's alerts at one flush."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from truecourse.model.alerts import Alert

NotificationStatus = Literal["firing", "resolved", "acknowledged"]


def dedup_key(group_key: str) -> str:
    """A stable id of a group (PagerDuty's ``dedup_key``): the same for trigger, acknowledge
    and resolve of one group, across restarts."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:32]


def evidence_link(external_url: str, evidence: str | None) -> str | None:
    """An absolute link to an alert's evidence (``external_url`` + a path, or a full URL)."""
    if not evidence:
        return None
    if "://" in evidence:
        return evidence
    return external_url.rstrip("/") + "/" + evidence.lstrip("/")


@dataclass(frozen=True)
class Notification:
    """A group's firing and (newly) resolved alerts, for one receiver."""

    receiver: str
    route: str
    group_key: str
    status: NotificationStatus
    group_labels: dict[str, str]
    alerts: tuple[Alert, ...]
    at: datetime
    #: who owns the service: owner, team, oncall from the catalog (values may be None)
    owner: dict[str, str | None] = field(default_factory=dict)
    external_url: str = ""

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.group_key)

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if not a.resolved]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.resolved]

    def common_labels(self) -> dict[str, str]:
        if not self.alerts:
            return {}
        first = dict(self.alerts[0].labels)
        return {k: v for k, v in first.items() if all(a.labels.get(k) == v for a in self.alerts)}

    def common_annotations(self) -> dict[str, str]:
        if not self.alerts:
            return {}
        first = dict(self.alerts[0].annotations)
        return {k: v for k, v in first.items()
                if all(a.annotations.get(k) == v for a in self.alerts)}

    def evidence_links(self) -> list[str]:
        links = [evidence_link(self.external_url, a.evidence) for a in self.alerts]
        return list(dict.fromkeys(x for x in links if x))

    def title(self) -> str:
        labels = " ".join(f"{k}={v}" for k, v in sorted(self.group_labels.items()))
        count = len(self.firing) if self.status == "firing" else len(self.alerts)
        return f"[{self.status.upper()}:{count}] {labels}".rstrip()

    def owner_line(self) -> str:
        o = self.owner
        if not any(o.values()):
            return "owner: unknown (no catalog entry)"
        return ("owner: " + (o.get("owner") or "?") + (f", team {o['team']}" if o.get("team")
                else "") + (f", oncall {o['oncall']}" if o.get("oncall") else ""))

    def text(self) -> str:
        """Plain-text body: title, owner, each alert with its summary and evidence link."""
        lines = [self.title(), self.owner_line(), ""]
        for a in self.alerts:
            state = "resolved" if a.resolved else "firing"
            summary = a.annotations.get("summary") or a.annotations.get("description") or ""
            labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))
            lines.append(f"- [{state}] {a.name} {{{labels}}} since {a.starts_at.isoformat()}"
                         + (f": {summary}" if summary else ""))
            link = evidence_link(self.external_url, a.evidence)
            if link:
                lines.append(f"  evidence: {link}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The webhook body (Alertmanager's webhook shape plus owner and evidence)."""
        return {
            "version": "1",
            "receiver": self.receiver,
            "status": self.status,
            "groupKey": self.group_key,
            "dedupKey": self.dedup_key,
            "groupLabels": dict(self.group_labels),
            "commonLabels": self.common_labels(),
            "commonAnnotations": self.common_annotations(),
            "externalURL": self.external_url,
            "owner": dict(self.owner),
            "alerts": [{**a.to_dict(),
                        "evidenceURL": evidence_link(self.external_url, a.evidence)}
                       for a in self.alerts],
        }
