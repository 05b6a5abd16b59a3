"""External alerts in: Alertmanager's webhook (version 4) and Grafana's alert webhook.

A body that is not a webhook at all raises ``InvalidInput`` naming the JSON path. Bad alerts
inside a good body are reported one by one (``alerts[3].labels: ...``) and the valid ones are
kept; only a body whose alerts are ALL bad raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from truecourse.errors import InvalidInput
from truecourse.model.alerts import Alert

_ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass
class Rejected:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class ExternalAlerts:
    """The alerts a webhook body carried: ``accepted`` to receive, ``rejected`` to report."""

    accepted: list[Alert] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _time(value: Any, path: str) -> datetime | None:
    if value in (None, "", _ZERO_TIME) or (isinstance(value, str) and value.startswith("0001-")):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{path}: expected an RFC 3339 time string, got {value!r}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{path}: not an RFC 3339 time: {value!r}") from None
    if t.tzinfo is None:
        raise ValueError(f"{path}: time {value!r} has no timezone")
    return t


def _str_map(value: Any, path: str, *, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or (required and not value):
        raise ValueError(f"{path}: expected a non-empty object of string values"
                         if required else f"{path}: expected an object of string values")
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{path}.{bad[0]}: expected a string, got {value[bad[0]]!r}")
    return dict(value)


def _alert(item: Any, path: str, grafana: bool) -> Alert:
    if not isinstance(item, dict):
        raise ValueError(f"{path}: expected an object")
    labels = _str_map(item.get("labels"), f"{path}.labels", required=True)
    annotations = _str_map(item.get("annotations"), f"{path}.annotations", required=False)
    status = item.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise ValueError(f"{path}.status: expected 'firing' or 'resolved', got {status!r}")
    starts = _time(item.get("startsAt"), f"{path}.startsAt")
    if starts is None:
        raise ValueError(f"{path}.startsAt: required")
    ends = _time(item.get("endsAt"), f"{path}.endsAt")
    evidence = item.get("generatorURL") or None
    value = None
    if grafana:
        evidence = item.get("panelURL") or item.get("dashboardURL") or evidence
        values = item.get("values")
        if isinstance(values, dict) and len(values) == 1:
            v = next(iter(values.values()))
            value = float(v) if isinstance(v, int | float) else None
        for key in ("dashboardURL", "panelURL", "silenceURL"):
            if isinstance(item.get(key), str) and item[key]:
                annotations.setdefault(key, item[key])
    if evidence is not None and not isinstance(evidence, str):
        raise ValueError(f"{path}.generatorURL: expected a string")
    return Alert(labels=labels, starts_at=starts,
                 ends_at=(ends or starts) if status == "resolved" else None,
                 annotations=annotations, source="external", value=value, evidence=evidence)


def _parse(body: Any, grafana: bool) -> ExternalAlerts:
    kind = "Grafana" if grafana else "Alertmanager"
    if not isinstance(body, dict):
        raise InvalidInput(f"$: an {kind} webhook body is a JSON object, got "
                           f"{type(body).__name__}")
    if not grafana and str(body.get("version", "4")) != "4":
        raise InvalidInput(f"version: expected Alertmanager webhook version '4', got "
                           f"{body.get('version')!r}")
    items = body.get("alerts")
    if not isinstance(items, list):
        raise InvalidInput("alerts: expected a list of alerts")
    out = ExternalAlerts()
    for i, item in enumerate(items):
        try:
            out.accepted.append(_alert(item, f"alerts[{i}]", grafana))
        except ValueError as exc:
            path, _, message = str(exc).partition(": ")
            out.rejected.append(Rejected(path, message))
    if out.rejected and not out.accepted:
        raise InvalidInput(f"no valid alert in the {kind} webhook: "
                           + "; ".join(str(r) for r in out.rejected[:10]))
    return out


def parse_alertmanager_webhook(body: Any) -> ExternalAlerts:
    """Alerts of an Alertmanager webhook (version 4) body; see the module contract."""
    return _parse(body, grafana=False)


def parse_grafana_webhook(body: Any) -> ExternalAlerts:
    """Alerts of a Grafana unified-alerting webhook body (Alertmanager-shaped, plus
    ``values``, ``dashboardURL``, ``panelURL``, ``silenceURL``)."""
    return _parse(body, grafana=True)
