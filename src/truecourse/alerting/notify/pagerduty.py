"""PagerDuty Events API v2: trigger on firing, resolve on resolved, acknowledge on
``AlertEngine.acknowledge``; one incident per group through a stable ``dedup_key``."""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.alerting.notification import Notification
from truecourse.alerting.notify.base import Outcome, http_client, post_json
from truecourse.config.alerting import PagerDutyConfig

_SEVERITY = {"page": "critical", "critical": "critical", "ticket": "error", "error": "error",
             "warning": "warning", "info": "info"}
_ACTION = {"firing": "trigger", "resolved": "resolve", "acknowledged": "acknowledge"}


def event(cfg: PagerDutyConfig, n: Notification) -> dict[str, Any]:
    """The Events API v2 body for a notification."""
    body: dict[str, Any] = {"routing_key": cfg.routing_key, "event_action": _ACTION[n.status],
                            "dedup_key": n.dedup_key}
    if n.status == "firing":
        severity = n.common_labels().get("severity", "")
        body["payload"] = {
            "summary": f"{n.title()} ({n.owner_line()})"[:1024],
            "source": n.group_labels.get("service") or "truecourse",
            "severity": _SEVERITY.get(severity, "error"),
            "custom_details": {"owner": n.owner, "alerts": n.text(),
                               "group_labels": n.group_labels}}
        body["links"] = [{"href": link, "text": "evidence"} for link in n.evidence_links()]
        body["client"] = "TrueCourse"
        body["client_url"] = n.external_url
    return body


class PagerDutyNotifier:
    integration = "pagerduty"

    def __init__(self, cfg: PagerDutyConfig, timeout: float) -> None:
        self.cfg, self.client = cfg, http_client(timeout)

    def notify(self, notification: Notification) -> Outcome:
        return post_json(self.client, self.cfg.url, orjson.dumps(event(self.cfg, notification)))
