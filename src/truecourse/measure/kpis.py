"""Operational KPIs: how fast incidents are found and fixed, how noisy alerting is, how often
changes fail, what incidents cost, how far the AI is trusted to act, and how often models drift.

Every KPI is a pure function: records (:mod:`truecourse.measure.kpi_records`) and a half-open
window ``[since, until)`` in, one :class:`KpiResult` out. Each record is counted in the window that
holds the timestamp its formula names, so the figure for a window in the past does not change as
later records arrive (an incident resolved next week moves next week's MTTR, not this one's).

A KPI with nothing to measure has ``value=None`` and says why in ``undefined_reason``; it is never
reported as 0. :data:`KPI_DEFINITIONS` holds each KPI's formula and unit; ``docs/kpis.md`` repeats
them and a test keeps the two in step. Inputs that cannot be right (a window that ends before it
starts, an unknown risk in the weights, an incident blamed on a change it started before) raise
:class:`~truecourse.errors.InvalidInput`. Cost: one pass over the records (sorting for percentiles
and recurrence look-ups), no I/O.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from truecourse.errors import InvalidInput
from truecourse.measure.kpi_records import (
    ACTION_RISKS,
    CHANGE_KINDS,
    ActionRecord,
    AlertRecord,
    Change,
    DriftCheck,
    Incident,
    KpiRecords,
    load_records,
    parse_records,
    unique_ids,
    unknown_value,
)

__all__ = [
    "DEFAULT_CHANGE_ATTRIBUTION",
    "DEFAULT_RECURRENCE_LOOKBACK",
    "DEFAULT_RISK_WEIGHTS",
    "KPI_DEFINITIONS",
    "ActionRecord",
    "AlertRecord",
    "Change",
    "DriftCheck",
    "Incident",
    "KpiDefinition",
    "KpiRecords",
    "KpiResult",
    "actionable_alert_share",
    "ai_override_share",
    "alert_noise_reduction",
    "autonomy_score",
    "change_failure_rate",
    "compute_all",
    "cost_per_incident",
    "incident_recurrence_rate",
    "load_records",
    "model_drift_rate",
    "mtta",
    "mttd",
    "mttr",
    "parse_records",
]

DEFAULT_RECURRENCE_LOOKBACK = timedelta(days=30)
DEFAULT_CHANGE_ATTRIBUTION = timedelta(hours=24)
#: Each risk level counts twice the one below it in the autonomy score.
DEFAULT_RISK_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"low": 1.0, "medium": 2.0, "high": 4.0})


@dataclass(frozen=True)
class KpiDefinition:
    """What a KPI means: the registry entry that ``docs/kpis.md`` documents."""

    name: str
    title: str
    unit: str
    formula: str
    lower_is_better: bool
    fed_by: str


_IN = "in [since, until)"
KPI_DEFINITIONS: Mapping[str, KpiDefinition] = MappingProxyType({d.name: d for d in (
    KpiDefinition("mttd", "Mean time to detect", "seconds",
                  f"mean(detected_at - started_at) over incidents with detected_at {_IN}",
                  True, "incidents"),
    KpiDefinition("mtta", "Mean time to acknowledge", "seconds",
                  f"mean(acknowledged_at - detected_at) over incidents with acknowledged_at {_IN}",
                  True, "incidents"),
    KpiDefinition("mttr", "Mean time to resolve (restore)", "seconds",
                  f"mean(resolved_at - started_at) over incidents with resolved_at {_IN}",
                  True, "incidents"),
    KpiDefinition("alert_noise_reduction", "Alert noise reduction", "ratio",
                  f"1 - notified / fired over alerts with fired_at {_IN}",
                  False, "alerts"),
    KpiDefinition("actionable_alert_share", "Actionable alert share", "ratio",
                  f"alerts with an incident_id / fired over alerts with fired_at {_IN}",
                  False, "alerts"),
    KpiDefinition("incident_recurrence_rate", "Incident recurrence rate", "ratio",
                  f"recurrent / incidents over incidents with started_at {_IN}; recurrent = "
                  "another incident with the same fingerprint started in "
                  "[started_at - lookback, started_at)",
                  True, "incidents"),
    KpiDefinition("change_failure_rate", "Change failure rate", "ratio",
                  f"failed / changes over changes with at {_IN}; failed = rolled_back_at, or "
                  "the started_at of an incident whose cause_change_id is the change, falls in "
                  "[at, at + attribution)",
                  True, "changes, incidents"),
    KpiDefinition("cost_per_incident", "Cost per incident", "usd_per_incident",
                  "sum(extra_model_cost_usd + responder_hours * hourly_rate_usd + "
                  f"assistant_cost_usd) / incidents over incidents with resolved_at {_IN}",
                  True, "incidents"),
    KpiDefinition("autonomy_score", "Autonomy score", "ratio",
                  "sum(weight(risk) of autonomous successful actions) / sum(weight(risk) of "
                  f"executed actions) over actions with decided_at {_IN}; autonomous = "
                  "proposed_by ai, decision allowed, executed_by auto; successful = verified "
                  "and not rolled_back; weight = risk_weights, default low 1, medium 2, high 4",
                  False, "actions"),
    KpiDefinition("ai_override_share", "Share of AI actions overridden", "ratio",
                  "overridden / decided over actions with proposed_by ai, decided_at "
                  f"{_IN} and decision other than denied; overridden = decision rejected or "
                  "modified, or rolled_back",
                  True, "actions"),
    KpiDefinition("model_drift_rate", "Model drift rate", "ratio",
                  f"drifted / checks over drift checks with at {_IN}, per model and pooled",
                  True, "drift_checks"),
)})

Details = Mapping[str, float | int | None]


@dataclass(frozen=True)
class KpiResult:
    """One KPI over one window.

    ``value`` is None when the KPI is undefined (``undefined_reason`` says why). ``samples`` is
    how many records fed it; ``numerator``/``denominator`` are the two sides of the value (for a
    mean: the sum of durations in seconds and the sample count; for a weighted ratio: weights).
    ``details`` holds the extras each KPI documents (median and p90, cost parts, per-model rates).
    """

    name: str
    value: float | None
    unit: str
    samples: int
    numerator: float
    denominator: float
    details: Details = field(default_factory=dict, hash=False)
    undefined_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps are not involved; numbers stay numbers)."""
        return {"name": self.name, "value": self.value, "unit": self.unit,
                "samples": self.samples, "numerator": self.numerator,
                "denominator": self.denominator, "details": dict(self.details),
                "undefined_reason": self.undefined_reason}


def _result(name: str, numerator: float, denominator: float, samples: int, *,
            details: Details | None = None, empty: str) -> KpiResult:
    value = numerator / denominator if denominator > 0 else None
    return KpiResult(name, value, KPI_DEFINITIONS[name].unit, samples, float(numerator),
                     float(denominator), dict(details or {}),
                     None if value is not None else empty)


def _window(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    for label, when in (("since", since), ("until", until)):
        if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
            raise InvalidInput(f"window {label} must be a datetime with a UTC offset, "
                               f"not {when!r}")
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if since >= until:
        raise InvalidInput(f"window since {since.isoformat()} is not before until "
                           f"{until.isoformat()}")
    return since, until


def _positive(name: str, span: timedelta) -> None:
    if not isinstance(span, timedelta) or span <= timedelta(0):
        raise InvalidInput(f"{name} must be a positive timedelta, not {span!r}")


def _durations(name: str, seconds: Sequence[float], empty: str) -> KpiResult:
    ordered = sorted(seconds)
    n = len(ordered)
    if n == 0:
        return _result(name, 0.0, 0.0, 0, details={"median": None, "p90": None}, empty=empty)
    # p90 by nearest rank: the smallest sample with at least 90 % of samples at or below it.
    p90 = ordered[(90 * n + 99) // 100 - 1]
    return _result(name, math.fsum(ordered), n, n,
                   details={"median": statistics.median(ordered), "p90": p90}, empty=empty)


def _incident_durations(name: str, incidents: Sequence[Incident], since: datetime,
                        until: datetime, end: str, start: str) -> KpiResult:
    since, until = _window(since, until)
    unique_ids("incident", incidents)
    seconds = [(getattr(i, end) - getattr(i, start)).total_seconds() for i in incidents
               if getattr(i, end) is not None and since <= getattr(i, end) < until]
    return _durations(name, seconds, f"no incident has {end} in the window")


def mttd(incidents: Sequence[Incident], since: datetime, until: datetime) -> KpiResult:
    """Mean seconds from impact start to detection, over incidents detected in the window;
    ``details`` has ``median`` and ``p90`` (nearest rank)."""
    return _incident_durations("mttd", incidents, since, until, "detected_at", "started_at")


def mtta(incidents: Sequence[Incident], since: datetime, until: datetime) -> KpiResult:
    """Mean seconds from detection to acknowledgement, over incidents acknowledged in the
    window; unacknowledged incidents are not counted. ``details``: ``median``, ``p90``."""
    return _incident_durations("mtta", incidents, since, until, "acknowledged_at", "detected_at")


def mttr(incidents: Sequence[Incident], since: datetime, until: datetime) -> KpiResult:
    """Mean seconds from impact start (not detection) to resolution, over incidents resolved
    in the window; open incidents are not counted. ``details``: ``median``, ``p90``."""
    return _incident_durations("mttr", incidents, since, until, "resolved_at", "started_at")


def _fired(alerts: Sequence[AlertRecord], since: datetime, until: datetime) -> list[AlertRecord]:
    since, until = _window(since, until)
    unique_ids("alert", alerts)
    return [a for a in alerts if since <= a.fired_at < until]


def alert_noise_reduction(alerts: Sequence[AlertRecord], since: datetime,
                          until: datetime) -> KpiResult:
    """The share of alert firings in the window that sent no notification (grouped, deduped,
    silenced or inhibited away); the numerator is the firings suppressed."""
    fired = _fired(alerts, since, until)
    notified = sum(a.notified for a in fired)
    return _result("alert_noise_reduction", len(fired) - notified, len(fired), len(fired),
                   details={"notified": notified}, empty="no alert fired in the window")


def actionable_alert_share(alerts: Sequence[AlertRecord], since: datetime,
                           until: datetime) -> KpiResult:
    """The share of alert firings in the window that are linked to an incident."""
    fired = _fired(alerts, since, until)
    linked = sum(a.incident_id is not None for a in fired)
    return _result("actionable_alert_share", linked, len(fired), len(fired),
                   empty="no alert fired in the window")


def incident_recurrence_rate(incidents: Sequence[Incident], since: datetime, until: datetime,
                             *, lookback: timedelta = DEFAULT_RECURRENCE_LOOKBACK) -> KpiResult:
    """The share of incidents started in the window that repeat an earlier one: an incident
    with the same fingerprint started within ``lookback`` before it (the earlier one may lie
    before ``since``, so pass incidents from ``since - lookback`` on). An incident without a
    fingerprint counts in the denominator and never recurs; ``details`` counts them."""
    since, until = _window(since, until)
    _positive("lookback", lookback)
    unique_ids("incident", incidents)
    starts: dict[str, list[datetime]] = defaultdict(list)
    for incident in incidents:
        if incident.fingerprint is not None:
            starts[incident.fingerprint].append(incident.started_at)
    for times in starts.values():
        times.sort()
    current = [i for i in incidents if since <= i.started_at < until]
    recurrent = 0
    for incident in current:
        if incident.fingerprint is None:
            continue
        times = starts[incident.fingerprint]
        first_in_lookback = bisect_left(times, incident.started_at - lookback)
        if first_in_lookback < len(times) and times[first_in_lookback] < incident.started_at:
            recurrent += 1
    unmatched = sum(i.fingerprint is None for i in current)
    return _result("incident_recurrence_rate", recurrent, len(current), len(current),
                   details={"without_fingerprint": unmatched},
                   empty="no incident started in the window")


def change_failure_rate(changes: Sequence[Change], incidents: Sequence[Incident],
                        since: datetime, until: datetime, *,
                        attribution: timedelta = DEFAULT_CHANGE_ATTRIBUTION,
                        kinds: Collection[str] | None = None) -> KpiResult:
    """DORA change failure rate: the share of changes made in the window (of ``kinds``, default
    all) that were rolled back, or blamed for an incident (``cause_change_id``) that started,
    within ``attribution`` after the change. Final only once ``until + attribution`` has passed.
    Raises InvalidInput when an incident is blamed on a change made after it started."""
    since, until = _window(since, until)
    _positive("attribution", attribution)
    unique_ids("change", changes)
    unique_ids("incident", incidents)
    if isinstance(kinds, str):
        raise InvalidInput(f"change_failure_rate kinds must be a collection of kinds, not the "
                           f"string {kinds!r}", hint=f"e.g. kinds=[{kinds!r}]")
    for kind in kinds or ():
        if kind not in CHANGE_KINDS:
            raise InvalidInput("change_failure_rate kinds: " +
                               unknown_value("change kind", kind, CHANGE_KINDS))
    made = {c.id: c for c in changes
            if since <= c.at < until and (kinds is None or c.kind in kinds)}
    blamed: set[str] = set()
    for incident in incidents:
        change = made.get(incident.cause_change_id or "")
        if change is None:
            continue
        if incident.started_at < change.at:
            raise InvalidInput(f"incident {incident.id!r}: cause_change_id {change.id!r} names a "
                               f"change made at {change.at.isoformat()}, after the incident "
                               f"started at {incident.started_at.isoformat()}")
        if incident.started_at < change.at + attribution:
            blamed.add(change.id)
    rolled_back = {c.id for c in made.values()
                   if c.rolled_back_at is not None and c.rolled_back_at < c.at + attribution}
    return _result("change_failure_rate", len(blamed | rolled_back), len(made), len(made),
                   details={"rolled_back": len(rolled_back), "caused_incident": len(blamed)},
                   empty="no change was made in the window")


def cost_per_incident(incidents: Sequence[Incident], since: datetime, until: datetime, *,
                      hourly_rate_usd: float) -> KpiResult:
    """Mean USD attributed to incidents resolved in the window: extra model spend, responder
    hours at ``hourly_rate_usd``, and AI assistant spend; ``details`` has the three sums."""
    since, until = _window(since, until)
    if (isinstance(hourly_rate_usd, bool) or not isinstance(hourly_rate_usd, int | float)
            or not math.isfinite(hourly_rate_usd) or hourly_rate_usd < 0):
        raise InvalidInput(f"hourly_rate_usd must be a finite number >= 0, not "
                           f"{hourly_rate_usd!r}")
    unique_ids("incident", incidents)
    resolved = [i for i in incidents
                if i.resolved_at is not None and since <= i.resolved_at < until]
    model = math.fsum(i.extra_model_cost_usd for i in resolved)
    hours = math.fsum(i.responder_hours for i in resolved)
    assistant = math.fsum(i.assistant_cost_usd for i in resolved)
    people = hours * hourly_rate_usd
    return _result("cost_per_incident", math.fsum((model, people, assistant)), len(resolved),
                   len(resolved), details={
                       "extra_model_cost_usd": model, "responder_hours": hours,
                       "responder_cost_usd": people, "assistant_cost_usd": assistant},
                   empty="no incident was resolved in the window")


def _decided(actions: Sequence[ActionRecord], since: datetime,
             until: datetime) -> list[ActionRecord]:
    since, until = _window(since, until)
    unique_ids("action", actions)
    return [a for a in actions if a.decided_at is not None and since <= a.decided_at < until]


def autonomy_score(actions: Sequence[ActionRecord], since: datetime, until: datetime, *,
                   risk_weights: Mapping[str, float] = DEFAULT_RISK_WEIGHTS) -> KpiResult:
    """The risk-weighted share of actions executed (decided in the window) that ran with no
    person involved and stood: proposed by the AI, allowed by policy without approval, executed
    automatically, verified, not rolled back. Raises InvalidInput when ``risk_weights`` lacks a
    risk level, names an unknown one, or holds a weight that is not a positive number."""
    for risk, weight in risk_weights.items():
        if risk not in ACTION_RISKS:
            raise InvalidInput("risk_weights: " + unknown_value("risk", risk, ACTION_RISKS))
        if (isinstance(weight, bool) or not isinstance(weight, int | float)
                or not math.isfinite(weight) or weight <= 0):
            raise InvalidInput(f"risk_weights[{risk!r}] must be a positive number, "
                               f"not {weight!r}")
    for risk in ACTION_RISKS:
        if risk not in risk_weights:
            raise InvalidInput(f"risk_weights has no weight for risk {risk!r}")
    executed = [a for a in _decided(actions, since, until) if a.executed_by is not None]
    autonomous = [a for a in executed if a.proposed_by == "ai" and a.decision == "allowed"
                  and a.executed_by == "auto"]
    stood = [a for a in autonomous if a.verified is True and not a.rolled_back]
    return _result("autonomy_score", math.fsum(risk_weights[a.risk] for a in stood),
                   math.fsum(risk_weights[a.risk] for a in executed), len(executed),
                   details={"autonomous": len(autonomous), "autonomous_successful": len(stood)},
                   empty="no action decided in the window was executed")


def ai_override_share(actions: Sequence[ActionRecord], since: datetime,
                      until: datetime) -> KpiResult:
    """The share of AI-proposed actions decided in the window that a person overrode: rejected,
    modified, or rolled back after running. Actions policy denied are left out of both sides
    (no person judged them) and counted in ``details['denied_by_policy']``."""
    ai = [a for a in _decided(actions, since, until) if a.proposed_by == "ai"]
    judged = [a for a in ai if a.decision != "denied"]
    overridden = [a for a in judged if a.decision in ("rejected", "modified") or a.rolled_back]
    return _result("ai_override_share", len(overridden), len(judged), len(judged), details={
        "rejected": sum(a.decision == "rejected" for a in judged),
        "modified": sum(a.decision == "modified" for a in judged),
        "rolled_back": sum(a.rolled_back for a in judged),
        "denied_by_policy": len(ai) - len(judged)},
        empty="no AI-proposed action reached a person's decision in the window")


def model_drift_rate(checks: Sequence[DriftCheck], since: datetime, until: datetime, *,
                     model: str | None = None) -> KpiResult:
    """The share of drift checks run in the window that found drift, pooled over every model
    (or only ``model``); ``details`` maps each model checked to its own rate."""
    since, until = _window(since, until)
    ran = [c for c in checks
           if since <= c.at < until and (model is None or c.model == model)]
    per_model: dict[str, list[bool]] = defaultdict(list)
    for check in ran:
        per_model[check.model].append(check.drifted)
    drifted = sum(c.drifted for c in ran)
    return _result("model_drift_rate", drifted, len(ran), len(ran),
                   details={m: sum(found) / len(found) for m, found in sorted(per_model.items())},
                   empty=f"no drift check of {'model ' + repr(model) if model else 'any model'} "
                         "ran in the window")


def compute_all(records: KpiRecords, since: datetime, until: datetime, *,
                hourly_rate_usd: float,
                recurrence_lookback: timedelta = DEFAULT_RECURRENCE_LOOKBACK,
                change_attribution: timedelta = DEFAULT_CHANGE_ATTRIBUTION,
                change_kinds: Collection[str] | None = None,
                risk_weights: Mapping[str, float] = DEFAULT_RISK_WEIGHTS,
                ) -> dict[str, KpiResult]:
    """Every KPI in :data:`KPI_DEFINITIONS` over one window, keyed by name in registry order."""
    r = records
    kpis: dict[str, Callable[[], KpiResult]] = {
        "mttd": lambda: mttd(r.incidents, since, until),
        "mtta": lambda: mtta(r.incidents, since, until),
        "mttr": lambda: mttr(r.incidents, since, until),
        "alert_noise_reduction": lambda: alert_noise_reduction(r.alerts, since, until),
        "actionable_alert_share": lambda: actionable_alert_share(r.alerts, since, until),
        "incident_recurrence_rate": lambda: incident_recurrence_rate(
            r.incidents, since, until, lookback=recurrence_lookback),
        "change_failure_rate": lambda: change_failure_rate(
            r.changes, r.incidents, since, until, attribution=change_attribution,
            kinds=change_kinds),
        "cost_per_incident": lambda: cost_per_incident(
            r.incidents, since, until, hourly_rate_usd=hourly_rate_usd),
        "autonomy_score": lambda: autonomy_score(r.actions, since, until,
                                                 risk_weights=risk_weights),
        "ai_override_share": lambda: ai_override_share(r.actions, since, until),
        "model_drift_rate": lambda: model_drift_rate(r.drift_checks, since, until),
    }
    return {name: kpis[name]() for name in KPI_DEFINITIONS}
