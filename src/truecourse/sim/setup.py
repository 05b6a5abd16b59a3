"""The ``truecourse.yaml`` a simulated fleet runs under: its catalog, SLOs, rules and routing.

This is the configuration a team running the fleet would write, not one tuned per fault: one
availability SLO per entry service and a latency SLO on the latency-sensitive recommender,
threshold rules on the signals with an absolute meaning (errors, tool failures, refusals), and
EWMA anomaly rules per service on the ones without (latency, cost, tokens, retrieval, feedback).
Every notification goes to the owning team's on-call receiver: a webhook into the run's inbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from truecourse.config import TrueCourseConfig
from truecourse.config.loader import parse_config

__all__ = ["ENTRY_SERVICES", "fleet_config", "fleet_config_dict", "write_fleet_config"]

#: the services users call; each has an availability SLO
ENTRY_SERVICES = ("support-assistant", "fraud-scorer", "recommender", "order-agent")

# anomaly rules: the last five minutes against an EWMA of the 5-minute buckets of the two hours
# before, four deviations for three evaluations in a row (one outlying minute is not a page)
_ANOMALY = {"kind": "anomaly", "baseline": "ewma", "window": "5m", "history": "2h",
            "min_history": 12, "sensitivity": 4.0, "for": "2m", "group_by": ["service"],
            "severity": "ticket"}
#: availability objectives: agents retry and give up more often than single-call services
_OBJECTIVE = {"order-agent": 0.97}


def _rules() -> list[dict[str, Any]]:
    return [
        {"name": "HighErrorRate", "kind": "threshold", "metric": "error_rate",
         "group_by": ["service"], "op": ">", "value": 0.05, "window": "5m", "for": "2m",
         "severity": "page"},
        {"name": "ToolFailing", "kind": "threshold", "metric": "tool_success_rate",
         "group_by": ["service", "tool_name"], "op": "<", "value": 0.8, "window": "5m",
         "for": "2m", "severity": "page"},
        {"name": "RefusalRateHigh", "kind": "threshold", "metric": "refusal_rate",
         "group_by": ["service"], "op": ">", "value": 0.1, "window": "10m", "for": "5m",
         "severity": "ticket"},
        {**_ANOMALY, "name": "LatencyP95Anomaly", "metric": "latency_p95", "direction": "up"},
        {**_ANOMALY, "name": "CostPerRequestAnomaly", "metric": "cost_per_request",
         "direction": "up"},
        {**_ANOMALY, "name": "InputTokensAnomaly", "metric": "input_tokens_per_call",
         "direction": "up"},
        {**_ANOMALY, "name": "RetrievalDocumentsDrop", "metric": "documents_per_retrieval",
         "direction": "down"},
        {**_ANOMALY, "name": "NegativeFeedbackAnomaly", "metric": "negative_feedback_rate",
         "direction": "up", "window": "15m"},
    ]


def _slos() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": f"{s}-availability", "service": s, "objective": _OBJECTIVE.get(s, 0.99),
         "window": "7d",
         "good": [{"field": "status_code", "op": "!=", "value": "error"}]}
        for s in ENTRY_SERVICES]
    out.append({"name": "recommender-latency", "service": "recommender", "objective": 0.99,
                "window": "7d", "good": [{"field": "duration_ms", "op": "<", "value": 250}]})
    return out


def fleet_config_dict(inbox_url: str | None = None, *, ingest_workers: int = 0,
                      interval_s: int = 60) -> dict[str, Any]:
    """The fleet's ``truecourse.yaml`` as a mapping. ``inbox_url``: where the on-call webhooks
    post (none: notifications are produced and counted but have nowhere to go)."""
    from truecourse.sim.fleet import SERVICES

    catalog = {name: dict(entry) for name, entry in SERVICES.items()}
    oncalls = sorted({str(e["oncall"]) for e in catalog.values() if e.get("oncall")})
    alerting: dict[str, Any] = {
        "route": {"group_by": ["alertname", "service"], "group_wait_s": 30,
                  "group_interval_s": 300, "repeat_interval_s": 4 * 3600},
        # a dependency that is down explains its callers' pages: page its owner, not theirs
        "inhibit_rules": [{"source_matchers": ["alertname=HighErrorRate",
                                               "service=feature-store"],
                           "target_matchers": ["alertname=HighErrorRate"],
                           "equal": []}],
    }
    if inbox_url:
        alerting["receivers"] = [{"name": name, "webhook": {"url": f"{inbox_url}/{name}"}}
                                 for name in oncalls]
    else:
        for entry in catalog.values():
            entry.pop("oncall", None)
    return {
        "server": {"ingest_workers": ingest_workers},
        "catalog": {"services": catalog},
        "detect": {"interval_s": interval_s, "slos": _slos(), "rules": _rules()},
        "alerting": alerting,
    }


def fleet_config(inbox_url: str | None = None, **kw: Any) -> TrueCourseConfig:
    """:func:`fleet_config_dict`, validated (through the YAML loader, as a user's file is)."""
    return parse_config(yaml.safe_dump(fleet_config_dict(inbox_url, **kw), sort_keys=False),
                        "<simulated fleet>")


def write_fleet_config(path: Path, inbox_url: str | None = None, **kw: Any) -> Path:
    """Write the fleet's config to ``path`` (a documented YAML a user can edit and reuse)."""
    doc = fleet_config_dict(inbox_url, **kw)
    header = ("# truecourse.yaml of the simulated fleet (`truecourse demo`): its service catalog,\n"
              "# SLOs, detection rules and on-call routing. Edit it and run\n"
              "#   truecourse serve --config truecourse.yaml --db truecourse.duckdb\n"
              "# to keep looking at the demo's data.\n")
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=100))
    return path
